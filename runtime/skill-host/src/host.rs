//! What skills can reach outside their sandbox: the services the runtime
//! provides ([`HostServices`]) and the per-invocation state that implements
//! the WIT `host` interface, checking the manifest's capabilities on every
//! call.

use std::sync::Arc;

use crate::bindings::govassist::skill::{host, types};
use crate::limits::MemoryLimiter;
use crate::manifest::{Capability, Manifest};

/// Longest guest log line kept; the rest is cut so a skill cannot flood logs.
const MAX_LOG_BYTES: usize = 4096;
/// Limits on a skill's key-value store, per key and per value.
pub const MAX_KV_KEY_BYTES: usize = 256;
pub const MAX_KV_VALUE_BYTES: usize = 64 << 10;
/// Most hits a skill may ask `kb-search` for.
pub const MAX_KB_HITS: u32 = 20;

/// The services the runtime lends to skills. Implementations must be cheap
/// to call from many threads; the skill host never holds locks across them.
pub trait HostServices: Send + Sync + 'static {
    fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit>;
    /// Read `key` in `skill`'s own namespace.
    fn kv_get(&self, skill: &str, key: &str) -> Option<Vec<u8>>;
    /// Compare-and-set in `skill`'s own namespace: store `value` only if the
    /// current value equals `expect` (`None`: the key must be absent).
    fn kv_put_if(&self, skill: &str, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool;
    /// Record one finished invocation in the audit log. Called on the
    /// invoking thread after every call, so it must be cheap (queue the
    /// record, write it elsewhere). The default records nothing.
    fn record_invocation(&self, _record: &InvocationRecord<'_>) {}
}

/// What the audit log keeps about one invocation: who called which skill,
/// when, for how long, and how it ended. Never the input, the output or
/// personal fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationRecord<'a> {
    /// When the call started.
    pub at: std::time::SystemTime,
    pub skill: &'a str,
    /// `None` when no skill of that name was installed.
    pub version: Option<&'a str>,
    /// Who asked: `"http"`, `"cli"`, `"chat"`, `"bench"`, …
    pub caller: &'a str,
    pub duration_us: u64,
    /// `"done"`, `"need_input"`, `"failed"` (the skill declined) or `"error"`.
    pub outcome: &'static str,
    /// The [`crate::SkillError::code`] when `outcome` is `"error"`.
    pub error_code: Option<&'static str>,
}

/// One knowledge-base hit, as the runtime's search returns it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KbHit {
    pub id: String,
    pub title: String,
    pub passage: String,
    pub score: f32,
}

/// Returned from a host import when the manifest does not grant it; ends the
/// invocation and is reported as [`crate::SkillError::CapabilityDenied`].
#[derive(Debug, thiserror::Error)]
#[error("capability `{capability}` not granted to skill `{skill}`")]
pub struct CapabilityDenied {
    pub skill: String,
    pub capability: Capability,
}

/// A host import was called with arguments over the host's limits.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostCallRejected(pub String);

/// The data of one invocation's `Store`.
pub struct HostState {
    manifest: Arc<Manifest>,
    services: Arc<dyn HostServices>,
    pub(crate) limiter: MemoryLimiter,
}

impl HostState {
    pub fn new(manifest: Arc<Manifest>, services: Arc<dyn HostServices>) -> Self {
        let limiter = MemoryLimiter::new(manifest.limits.memory_mb);
        HostState {
            manifest,
            services,
            limiter,
        }
    }

    fn require(&self, capability: Capability) -> wasmtime::Result<()> {
        if self.manifest.grants(capability) {
            Ok(())
        } else {
            Err(wasmtime::Error::new(CapabilityDenied {
                skill: self.manifest.name.clone(),
                capability,
            }))
        }
    }

    fn reject(msg: String) -> wasmtime::Error {
        wasmtime::Error::new(HostCallRejected(msg))
    }

    fn check_key(&self, key: &str) -> wasmtime::Result<()> {
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Err(Self::reject(format!(
                "kv key must be 1-{MAX_KV_KEY_BYTES} bytes, got {}",
                key.len()
            )));
        }
        Ok(())
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, msg: String) -> wasmtime::Result<()> {
        self.require(Capability::Log)?;
        let msg = truncate(&msg, MAX_LOG_BYTES);
        let skill = self.manifest.name.as_str();
        match level {
            host::Level::Trace => tracing::trace!(target: "govassist::skill", skill, "{msg}"),
            host::Level::Debug => tracing::debug!(target: "govassist::skill", skill, "{msg}"),
            host::Level::Info => tracing::info!(target: "govassist::skill", skill, "{msg}"),
            host::Level::Warn => tracing::warn!(target: "govassist::skill", skill, "{msg}"),
            host::Level::Error => tracing::error!(target: "govassist::skill", skill, "{msg}"),
        }
        Ok(())
    }

    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        self.require(Capability::Clock)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| Self::reject(format!("system clock is before 1970: {e}")))?;
        Ok(u64::try_from(now.as_millis()).unwrap_or(u64::MAX))
    }

    fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.require(Capability::Kv)?;
        self.check_key(&key)?;
        Ok(self.services.kv_get(&self.manifest.name, &key))
    }

    fn kv_put_if(
        &mut self,
        key: String,
        expect: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> wasmtime::Result<bool> {
        self.require(Capability::Kv)?;
        self.check_key(&key)?;
        if value.len() > MAX_KV_VALUE_BYTES {
            return Err(Self::reject(format!(
                "kv value is {} bytes; at most {MAX_KV_VALUE_BYTES} allowed",
                value.len()
            )));
        }
        Ok(self
            .services
            .kv_put_if(&self.manifest.name, &key, expect.as_deref(), &value))
    }

    fn kb_search(&mut self, query: String, k: u32) -> wasmtime::Result<Vec<types::Hit>> {
        self.require(Capability::Kb)?;
        let hits = self.services.kb_search(&query, k.min(MAX_KB_HITS));
        Ok(hits
            .into_iter()
            .map(|h| types::Hit {
                id: h.id,
                title: h.title,
                passage: h.passage,
                score: h.score,
            })
            .collect())
    }
}

/// Cut `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_keeps_whole_characters() {
        assert_eq!(truncate("政策计算器", 7), "政策"); // 3 bytes per character
        assert_eq!(truncate("abc", 7), "abc");
    }
}
