//! The precompiled-component cache: each installed component is compiled
//! once per version and kept beside it as `<component stem>.cwasm`, so a
//! restart, a reload by the watcher or a rollback loads in milliseconds.
//!
//! Deserialising native code is `unsafe` in wasmtime (the bytes are trusted to
//! be its own output), so a cache file is only used when it is one *we* wrote
//! for *these* component bytes and *this* engine:
//!
//! ```text
//! magic  "GASKCW01"                          8 bytes
//! key    sha256(component ‖ wasmtime version ‖ engine compatibility hash)  32 bytes
//! check  sha256(payload)                     32 bytes
//! payload  Engine::precompile_component output
//! ```
//!
//! Anything else (wrong magic, other key, checksum mismatch, or wasmtime
//! refusing the payload) is a miss: the component is compiled again and the
//! file rewritten (atomically: temporary file, then rename).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

const MAGIC: &[u8; 8] = b"GASKCW01";
const HEADER: usize = 8 + 32 + 32;
/// The cache file's extension; the watcher ignores such files.
pub const CACHE_EXT: &str = "cwasm";

/// How a component was obtained, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// A valid cache entry was deserialised.
    Hit,
    /// No usable entry: compiled, and the entry (re)written.
    Compiled,
    /// An entry existed but was corrupt or stale: compiled again, rewritten.
    Replaced,
    /// Compiled; the entry could not be written (read-only directory?).
    CompiledUncached,
}

/// Where the cache entry for `component_path` lives.
pub fn cache_path(component_path: &Path) -> PathBuf {
    component_path.with_extension(CACHE_EXT)
}

/// The sha256 of a component's bytes, hex-encoded (also shown in listings).
pub fn component_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The cache key: the component's digest, wasmtime's version and everything
/// about the engine's configuration that affects compiled code.
fn cache_key(engine: &Engine, digest: &[u8; 32]) -> [u8; 32] {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0 // never used: the digest is read with `finalize`
        }
    }
    let mut h = ShaHasher(Sha256::new());
    h.write(digest);
    h.write(WASMTIME_VERSION.as_bytes());
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.finalize().into()
}

/// The wasmtime this host is built with (the workspace pins its major).
const WASMTIME_VERSION: &str = "wasmtime-48";

/// Load `bytes` (the component at `component_path`) through the cache.
/// Compile errors are returned as wasmtime errors; cache I/O problems are
/// only logged, never fatal.
pub fn load_component(
    engine: &Engine,
    component_path: &Path,
    bytes: &[u8],
    digest: &[u8; 32],
) -> wasmtime::Result<(Component, CacheStatus)> {
    let path = cache_path(component_path);
    let key = cache_key(engine, digest);
    let mut existed = false;
    match std::fs::read(&path) {
        Ok(file) => {
            existed = true;
            if let Some(payload) = verified_payload(&file, &key) {
                // SAFETY: the payload carries our magic, our key for exactly
                // these component bytes and this engine, and an intact
                // checksum, so it is `precompile_component` output that this
                // process wrote; wasmtime checks its own header again.
                match unsafe { Component::deserialize(engine, payload) } {
                    Ok(component) => return Ok((component, CacheStatus::Hit)),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), "precompiled skill rejected by wasmtime, recompiling: {e:#}")
                    }
                }
            } else {
                tracing::warn!(path = %path.display(), "precompiled skill is stale or corrupt, recompiling");
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot read precompiled skill, recompiling: {e}")
        }
    }

    let payload = engine.precompile_component(bytes)?;
    // SAFETY: produced just above by this engine.
    let component = unsafe { Component::deserialize(engine, &payload)? };
    let status = match write_entry(&path, &key, &payload) {
        Ok(()) if existed => CacheStatus::Replaced,
        Ok(()) => CacheStatus::Compiled,
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot write the precompiled skill (it will be compiled again next time): {e}");
            CacheStatus::CompiledUncached
        }
    };
    Ok((component, status))
}

fn verified_payload<'a>(file: &'a [u8], key: &[u8; 32]) -> Option<&'a [u8]> {
    if file.len() < HEADER || &file[..8] != MAGIC || &file[8..40] != key {
        return None;
    }
    let payload = &file[HEADER..];
    (Sha256::digest(payload).as_slice() == &file[40..72]).then_some(payload)
}

fn write_entry(path: &Path, key: &[u8; 32], payload: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut file = Vec::with_capacity(HEADER + payload.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(key);
    file.extend_from_slice(&Sha256::digest(payload));
    file.extend_from_slice(payload);
    let tmp = path.with_extension(format!(
        "{CACHE_EXT}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, &file)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_intact_entries_for_this_key_are_accepted() {
        let key = [7u8; 32];
        let payload = b"native code".to_vec();
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&key);
        file.extend_from_slice(&Sha256::digest(&payload));
        file.extend_from_slice(&payload);
        assert_eq!(verified_payload(&file, &key), Some(&payload[..]));
        assert_eq!(verified_payload(&file, &[8u8; 32]), None, "other component");
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(verified_payload(&flipped, &key), None, "bit flip");
        assert_eq!(
            verified_payload(&file[..HEADER - 1], &key),
            None,
            "truncated"
        );
        assert_eq!(verified_payload(b"\0asm....", &key), None);
    }
}
