//! The govassist knowledge base: the district's service items (办事指南), FAQs and internal staff
//! documents in a persistent tantivy index, searched with BM25 over jieba-tokenized, script-folded
//! text.
//!
//! ```no_run
//! use govassist_kb::KnowledgeBase;
//! # fn main() -> Result<(), govassist_kb::KbError> {
//! let kb = KnowledgeBase::open(std::path::Path::new("data/kb"))?;
//! if kb.doc_count() == 0 {
//!     kb.import_bundled()?;
//! }
//! for hit in kb.search("营业执照怎么办理", 5)? {
//!     println!("{} {:.2} {}", hit.id, hit.score, hit.title);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Map of the crate, one module per concept:
//! - [`document`]: the three source kinds and how each becomes index entries (ids, passages);
//! - [`text`]: folding (Traditional → Simplified, full-width → half-width, lowercase) and splitting;
//! - [`tokenizer`]: the analyzer (folding + jieba search mode) shared by index and queries;
//! - [`schema`]: fields and the entry ↔ tantivy document mapping;
//! - `index`: the on-disk index, opened or created, written one commit per import;
//! - [`import`]: reading files, directories and the bundled data, reporting bad lines;
//! - [`search`]: safe query construction and hits;
//! - [`eval`]: recall/MRR/latency over a question file.

pub mod document;
mod error;
pub mod eval;
pub mod import;
mod index;
pub mod schema;
pub mod search;
pub mod text;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

pub use document::{DocKind, ServiceItemFields};
pub use error::KbError;
pub use eval::{EvalMetrics, EvalReport};
pub use import::{ImportProblem, ImportReport};
pub use search::Hit;

use index::KbIndex;

/// The knowledge base behind one index directory. `Send + Sync`: share it in an `Arc`; searches run
/// concurrently, imports are serialised.
pub struct KnowledgeBase {
    index: KbIndex,
    /// Serialises imports within this process; tantivy's directory lock guards against other
    /// processes.
    import_lock: Mutex<()>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("path", &self.index.path)
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// Opens the index in `index_dir`, creating the directory and an empty index if absent.
    pub fn open(index_dir: &Path) -> Result<Self, KbError> {
        let index = KbIndex::open(index_dir)?;
        tracing::debug!(path = %index_dir.display(), entries = index.reader.searcher().num_docs(), "knowledge base opened");
        Ok(KnowledgeBase {
            index,
            import_lock: Mutex::new(()),
        })
    }

    /// The directory of the index.
    pub fn path(&self) -> &Path {
        &self.index.path
    }

    /// Number of index entries (a staff document counts once per passage).
    pub fn doc_count(&self) -> u64 {
        self.index.reader.searcher().num_docs()
    }

    /// Imports files or directories: `*.jsonl` whose records are service items (have `事项名称`) or
    /// FAQs (have `question` and `answer`), and `*.txt` as staff documents. Documents are added or
    /// replaced by id in one commit. A malformed line is reported in
    /// [`ImportReport::problems`] with its file and line number and the rest is imported; nothing
    /// already indexed is lost. A path that does not exist fails the whole import before writing.
    pub fn import_paths(&self, paths: &[PathBuf]) -> Result<ImportReport, KbError> {
        let parsed = import::parse_paths(paths)?;
        self.write(parsed)
    }

    /// Imports the data bundled in the binary (`knowledge-base/data`, see its `SOURCES.md`).
    pub fn import_bundled(&self) -> Result<ImportReport, KbError> {
        self.write(import::parse_bundled())
    }

    fn write(&self, parsed: import::Parsed) -> Result<ImportReport, KbError> {
        // A poisoned lock only means an earlier import panicked; its writer was dropped uncommitted.
        let _guard = self
            .import_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let started = Instant::now();
        let entries = self.index.replace(&parsed.documents)?;
        let report = parsed.report(entries);
        tracing::info!(
            imported = report.imported,
            entries = report.entries,
            problems = report.problems.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import committed"
        );
        Ok(report)
    }

    /// The `k` best hits for a citizen's query, best first.
    ///
    /// Any text is safe: it is tokenized like the index, never parsed as query syntax. Errors:
    /// [`KbError::EmptyQuery`] for an empty or blank query, [`KbError::QueryTooLong`] above
    /// [`search::MAX_QUERY_CHARS`] characters (rejected, not truncated), [`KbError::InvalidQuery`]
    /// when nothing searchable remains (only punctuation or emoji), [`KbError::InvalidK`] for `k`
    /// outside `1..=100`.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, KbError> {
        search::run(&self.index, query, k)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn knowledge_base_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::KnowledgeBase>();
    }
}
