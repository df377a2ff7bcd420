//! Importing sources: files and directories given by a person, or the data bundled in the binary.
//!
//! Import is forgiving line by line and strict about the whole: a malformed line or an unreadable
//! file becomes an [`ImportProblem`] (file, line, message) while everything else is imported, but a
//! path that does not exist at all is an error before anything is written, since it is almost always
//! a typo.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::document::{self, SourceDocument};
use crate::KbError;

/// What an import did.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Source documents (service items, FAQs, staff documents) imported, each replacing any earlier
    /// version with the same id.
    pub imported: usize,
    /// Documents deleted by a `{"id": …, "deleted": true}` record (an id that was not indexed
    /// counts too: afterwards it is not in the index either way).
    pub deleted: usize,
    /// Entries whose vector was computed by the embedding model during this import (the others
    /// came from the vector cache, or no model was configured).
    pub embedded: usize,
    /// Index entries written (a staff document is several passages).
    pub entries: usize,
    /// Lines or files that were skipped, with the reason.
    pub problems: Vec<ImportProblem>,
}

/// A line or a file that could not be imported.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ImportProblem {
    pub file: PathBuf,
    /// 1-based line number, for problems with one line of a `*.jsonl` file.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// How a source's content is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// One JSON record a line: service items or FAQs.
    JsonLines,
    /// One staff document.
    Text,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => Some(Format::JsonLines),
            Some("txt") => Some(Format::Text),
            _ => None,
        }
    }
}

/// Documents parsed from sources, with the problems met on the way.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub documents: Vec<SourceDocument>,
    pub problems: Vec<ImportProblem>,
}

impl Parsed {
    pub fn report(self, entries: usize, embedded: usize) -> ImportReport {
        let deleted = self
            .documents
            .iter()
            .filter(|d| d.entries.is_empty())
            .count();
        ImportReport {
            imported: self.documents.len() - deleted,
            deleted,
            embedded,
            entries,
            problems: self.problems,
        }
    }

    fn problem(&mut self, file: &Path, line: Option<usize>, message: impl Into<String>) {
        let problem = ImportProblem {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        };
        tracing::warn!(%problem, "skipped while importing");
        self.problems.push(problem);
    }

    /// Parses the content of one source named `path`.
    fn add_source(&mut self, path: &Path, format: Format, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.problem(path, None, "the file is not UTF-8 text");
            return;
        };
        match format {
            Format::JsonLines => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match document::parse_record(line) {
                        Ok(doc) => self.documents.push(doc),
                        Err(e) => self.problem(path, Some(i + 1), e.to_string()),
                    }
                }
            }
            Format::Text => {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                match document::staff_document(name, text) {
                    Ok(doc) => self.documents.push(doc),
                    Err(e) => self.problem(path, None, e.to_string()),
                }
            }
        }
    }
}

/// Parses files and directories (recursively, in name order). In a directory, files other than
/// `*.jsonl` and `*.txt` are ignored; a file named explicitly with another extension is a problem.
pub(crate) fn parse_paths(paths: &[PathBuf]) -> Result<Parsed, KbError> {
    for path in paths {
        std::fs::metadata(path).map_err(|e| KbError::io(path, e))?;
    }
    let mut parsed = Parsed::default();
    for path in paths {
        if path.is_dir() {
            let mut files = Vec::new();
            collect_files(path, &mut files, &mut parsed);
            for file in files {
                if let Some(format) = Format::of(&file) {
                    read_file(&file, format, &mut parsed);
                } else {
                    tracing::debug!(file = %file.display(), "not a .jsonl or .txt file; ignored");
                }
            }
        } else if let Some(format) = Format::of(path) {
            read_file(path, format, &mut parsed);
        } else {
            parsed.problem(path, None, "unsupported file type: expected *.jsonl (service items, FAQ) or *.txt (staff document)");
        }
    }
    Ok(parsed)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>, parsed: &mut Parsed) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return parsed.problem(dir, None, format!("cannot list the directory: {e}")),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_files(&path, files, parsed);
        } else {
            files.push(path);
        }
    }
}

fn read_file(path: &Path, format: Format, parsed: &mut Parsed) {
    match std::fs::read(path) {
        Ok(bytes) => parsed.add_source(path, format, &bytes),
        Err(e) => parsed.problem(path, None, format!("cannot read the file: {e}")),
    }
}

/// The data bundled in the binary, with the file names it has under `knowledge-base/data/`.
macro_rules! bundled {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/", $path)) as &[u8])),*]
    };
}

/// Every bundled source. A test checks that this list matches the files under `data/`.
pub(crate) const BUNDLED: &[(&str, &[u8])] = bundled![
    "service-items/guangdong_service_items.jsonl",
    "faq/taipei_faq.jsonl",
    "staff-docs/000_280c3507d73d2e9a.txt",
    "staff-docs/001_c9a0fe50c5e1e5b1.txt",
    "staff-docs/002_43a773ce63cc62c0.txt",
    "staff-docs/003_3f77eba0168a8ce9.txt",
    "staff-docs/004_c97af90f293ef706.txt",
];

/// Parses the bundled data; problems are reported under `bundled:<path>`.
pub(crate) fn parse_bundled() -> Parsed {
    let mut parsed = Parsed::default();
    for (name, bytes) in BUNDLED {
        let path = PathBuf::from(format!("bundled:{name}"));
        match Format::of(Path::new(name)) {
            Some(format) => parsed.add_source(&path, format, bytes),
            None => parsed.problem(&path, None, "unsupported bundled file type"),
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_matches_the_data_directory() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let mut files = Vec::new();
        collect_files(&data, &mut files, &mut Parsed::default());
        let mut on_disk: Vec<String> = files
            .iter()
            .filter(|f| Format::of(f).is_some())
            .filter_map(|f| f.strip_prefix(&data).ok()?.to_str().map(str::to_string))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED.iter().map(|(name, _)| name.to_string()).collect();
        bundled.sort();
        assert_eq!(bundled, on_disk);
    }

    #[test]
    fn bundled_data_parses_without_problems() {
        let parsed = parse_bundled();
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.documents.len(), 2_262 + 1_867 + 5);
    }
}
