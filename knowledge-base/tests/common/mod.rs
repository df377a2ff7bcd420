//! Shared by the test files that need the embedding model.
//!
//! The model file is found through `GOVASSIST_EMBED_MODEL` (set by `scripts/test.sh`), else
//! `$GOVASSIST_CACHE_DIR/multilingual-e5-small-q4.bin`, else
//! `~/.cache/govassist/models/multilingual-e5-small-q4.bin`. Without it the tests fail (they never
//! skip): run `govassist models fetch multilingual-e5-small`.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use govassist_kb::embed::{Embedder, MODEL_FILE_NAME};

pub fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("GOVASSIST_EMBED_MODEL") {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("GOVASSIST_CACHE_DIR") {
        return PathBuf::from(dir).join(MODEL_FILE_NAME);
    }
    let home = std::env::var_os("HOME").expect("HOME is not set: set GOVASSIST_EMBED_MODEL");
    PathBuf::from(home)
        .join(".cache/govassist/models")
        .join(MODEL_FILE_NAME)
}

/// The model, loaded once per test binary.
pub fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let path = model_path();
            assert!(
                path.is_file(),
                "the embedding model is not at {}: run `govassist models fetch multilingual-e5-small` \
                 (or set GOVASSIST_EMBED_MODEL to the file)",
                path.display()
            );
            Arc::new(Embedder::load(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display())))
        })
        .clone()
}
