//! The host's capabilities as a trait, so that skill logic runs unchanged
//! against the real host (in WebAssembly) and a fake one (in native tests).

/// Severity of a [`Host::log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One knowledge-base hit.
#[derive(Debug, Clone, PartialEq)]
pub struct KbHit {
    /// Document id (事项编码, `GIP_…`, or `file#N` for a passage).
    pub id: String,
    pub title: String,
    pub passage: String,
    pub score: f32,
}

/// What a skill may ask of the host. Each method needs the matching
/// capability in `skill.toml` (`log`, `clock`, `kv`, `kb`); without it the
/// host ends the call with a "capability not granted" error.
pub trait Host {
    fn log(&self, level: Level, msg: &str);
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Read `key` from this skill's own persistent namespace.
    fn kv_get(&self, key: &str) -> Option<Vec<u8>>;
    /// Store `value` only if the current value equals `expect` (`None`: the
    /// key must be absent). Returns whether it stored.
    fn kv_put_if(&self, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool;
    fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit>;
}

/// The real host, reached through the component's imports.
#[cfg(target_arch = "wasm32")]
pub(crate) struct WasmHost;

#[cfg(target_arch = "wasm32")]
impl Host for WasmHost {
    fn log(&self, level: Level, msg: &str) {
        use crate::bindings::govassist::skill::host::Level as L;
        let level = match level {
            Level::Trace => L::Trace,
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        crate::bindings::govassist::skill::host::log(level, msg);
    }

    fn now_ms(&self) -> u64 {
        crate::bindings::govassist::skill::host::now_ms()
    }

    fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        crate::bindings::govassist::skill::host::kv_get(key)
    }

    fn kv_put_if(&self, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        crate::bindings::govassist::skill::host::kv_put_if(key, expect, value)
    }

    fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit> {
        crate::bindings::govassist::skill::host::kb_search(query, k)
            .into_iter()
            .map(|h| KbHit {
                id: h.id,
                title: h.title,
                passage: h.passage,
                score: h.score,
            })
            .collect()
    }
}
