//! A persistent cache of passage vectors, keyed by the exact text that was embedded.
//!
//! Embedding the bundled knowledge base takes minutes on a 2-core machine; everything else about an
//! import takes a second. The vectors depend only on the model and the text, so they are kept
//! outside any one index (in the model cache directory): a new data directory, a rebuilt index or a
//! re-import of unchanged documents reuses them instead of recomputing.
//!
//! The file is append-only: a header (magic, dimension, [`ModelId`]), then records
//! `key (16 B) | vector (dim x f32 LE) | check (4 B)`, where `key` is the first 16 bytes of the
//! SHA-256 of the text and `check` the first 4 bytes of the SHA-256 of key and vector. A file made
//! by another model is started afresh. Concurrent processes (tests, `kb import` beside `serve`)
//! take an exclusive lock on the file to read it, repair it or append a batch, so nobody reads or
//! cuts off another's half-written batch. A torn or corrupt tail (a crash mid-write) is detected by
//! the check and cut off on open; a cache can always be deleted — it is rebuilt on the next import.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::embed::ModelId;
use crate::KbError;

const MAGIC: &[u8; 8] = b"GAVEC02\n";
const KEY_BYTES: usize = 16;
const CHECK_BYTES: usize = 4;

type Key = [u8; KEY_BYTES];

/// See the module documentation.
pub struct VectorCache {
    path: PathBuf,
    dim: usize,
    vectors: Mutex<HashMap<Key, Vec<f32>>>,
}

impl std::fmt::Debug for VectorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorCache")
            .field("path", &self.path)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl VectorCache {
    /// Opens (or creates) the cache file for vectors of `dim` dimensions made by `model`. A file
    /// written for another model or dimension, or one that is not a cache file at all, is replaced.
    pub fn open(path: &Path, dim: usize, model: ModelId) -> Result<Self, KbError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| KbError::io(parent, e))?;
        }
        let io = |e| KbError::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        // Released when `file` is dropped at the end of this function.
        file.lock().map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let header = header(dim, model);
        let mut vectors = HashMap::new();
        if bytes.starts_with(&header) {
            let record = KEY_BYTES + dim * 4 + CHECK_BYTES;
            let body = &bytes[header.len()..];
            let mut good = 0;
            for chunk in body.chunks_exact(record) {
                let (key, rest) = chunk.split_at(KEY_BYTES);
                let (vector, check) = rest.split_at(dim * 4);
                if checksum(key, vector) != check {
                    break;
                }
                let key: Key = key.try_into().unwrap_or_default();
                vectors.insert(key, crate::dense::decode(vector).unwrap_or_default());
                good += record;
            }
            if good != body.len() {
                tracing::warn!(path = %path.display(), kept = vectors.len(), "vector cache has a damaged tail; cutting it off");
                file.set_len((header.len() + good) as u64).map_err(io)?;
            }
        } else {
            if !bytes.is_empty() {
                tracing::warn!(path = %path.display(), %model, "not a vector cache of this model; starting a new one");
            }
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(&header).map_err(io)?;
        }
        tracing::debug!(path = %path.display(), vectors = vectors.len(), "vector cache opened");
        Ok(VectorCache {
            path: path.to_path_buf(),
            dim,
            vectors: Mutex::new(vectors),
        })
    }

    /// Number of cached vectors.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached vector of exactly this text.
    pub fn get(&self, text: &str) -> Option<Vec<f32>> {
        self.lock().get(&key(text)).cloned()
    }

    /// Adds vectors (of the cache's dimension) for texts, appending them to the file in one write.
    pub fn insert_many(&self, items: &[(&str, &[f32])]) -> Result<(), KbError> {
        let mut bytes = Vec::with_capacity(items.len() * (KEY_BYTES + self.dim * 4 + CHECK_BYTES));
        let mut vectors = self.lock();
        for (text, vector) in items {
            if vector.len() != self.dim {
                continue;
            }
            let key = key(text);
            let encoded = crate::dense::encode(vector);
            bytes.extend_from_slice(&key);
            bytes.extend_from_slice(&encoded);
            bytes.extend_from_slice(&checksum(&key, &encoded));
            vectors.insert(key, vector.to_vec());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let io = |e| KbError::io(&self.path, e);
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        file.write_all(&bytes).map_err(io)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<f32>>> {
        self.vectors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn header(dim: usize, model: ModelId) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&(dim as u32).to_le_bytes());
    h.extend_from_slice(&model.0);
    h
}

fn key(text: &str) -> Key {
    let digest = Sha256::digest(text.as_bytes());
    let mut key = [0; KEY_BYTES];
    key.copy_from_slice(&digest[..KEY_BYTES]);
    key
}

fn checksum(key: &[u8], vector: &[u8]) -> [u8; CHECK_BYTES] {
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update(vector)
        .finalize();
    let mut check = [0; CHECK_BYTES];
    check.copy_from_slice(&digest[..CHECK_BYTES]);
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: ModelId = ModelId([7; 8]);

    #[test]
    fn vectors_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let cache = VectorCache::open(&path, 3, MODEL).unwrap();
        cache
            .insert_many(&[("营业执照", &[1.0, 0.0, 0.0]), ("驾驶证", &[0.0, 1.0, 0.0])])
            .unwrap();
        drop(cache);

        // A crash in the middle of the next append leaves half a record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[7; 20]).unwrap();
        drop(file);

        let cache = VectorCache::open(&path, 3, MODEL).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("驾驶证"), Some(vec![0.0, 1.0, 0.0]));
        assert_eq!(cache.get("护照"), None);
        // Appends after the cut land on a record boundary again.
        cache.insert_many(&[("护照", &[0.0, 0.0, 1.0])]).unwrap();
        let cache = VectorCache::open(&path, 3, MODEL).unwrap();
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_cache_of_another_dimension_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        VectorCache::open(&path, 2, MODEL)
            .unwrap()
            .insert_many(&[("a", &[1.0, 2.0])])
            .unwrap();
        let cache = VectorCache::open(&path, 3, MODEL).unwrap();
        assert!(cache.is_empty());
        assert_eq!(cache.get("a"), None);
    }

    #[test]
    fn a_cache_of_another_model_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        VectorCache::open(&path, 2, MODEL)
            .unwrap()
            .insert_many(&[("a", &[1.0, 2.0])])
            .unwrap();
        assert_eq!(VectorCache::open(&path, 2, MODEL).unwrap().len(), 1);
        let other = VectorCache::open(&path, 2, ModelId([8; 8])).unwrap();
        assert_eq!(other.get("a"), None);
        // And what the other model adds is read back as its own.
        other.insert_many(&[("b", &[3.0, 4.0])]).unwrap();
        let reopened = VectorCache::open(&path, 2, ModelId([8; 8])).unwrap();
        assert_eq!(
            (reopened.len(), reopened.get("b")),
            (1, Some(vec![3.0, 4.0]))
        );
    }
}
