//! A fake host for native unit tests of skill logic.
//!
//! ```
//! use govassist_skill_sdk::{testing::FakeHost, Context, Lang};
//! let host = FakeHost::new().with_now_ms(1_767_225_600_000); // 2026-01-01
//! let cx = Context::new(Lang::En, &host);
//! assert_eq!(cx.now_ms(), 1_767_225_600_000);
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use crate::{Context, Host, KbHit, Lang, Level, Outcome, Skill};

/// Call a skill the way the host does (input as JSON, parsed by the SDK),
/// against `host`.
pub fn invoke<S: Skill>(input: &serde_json::Value, lang: Lang, host: &dyn Host) -> Outcome {
    let cx = Context::new(lang, host);
    crate::__private::run(&S::default(), &input.to_string(), &cx)
}

/// An in-memory [`Host`]: a fixed clock, a key-value map, canned search hits,
/// and a record of log lines for assertions.
#[derive(Debug, Default)]
pub struct FakeHost {
    now_ms: u64,
    kv: RefCell<HashMap<String, Vec<u8>>>,
    hits: Vec<KbHit>,
    logs: RefCell<Vec<(Level, String)>>,
}

impl FakeHost {
    pub fn new() -> Self {
        FakeHost::default()
    }

    pub fn with_now_ms(mut self, now_ms: u64) -> Self {
        self.now_ms = now_ms;
        self
    }

    pub fn with_kb_hits(mut self, hits: Vec<KbHit>) -> Self {
        self.hits = hits;
        self
    }

    /// Every line logged so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }
}

impl Host for FakeHost {
    fn log(&self, level: Level, msg: &str) {
        self.logs.borrow_mut().push((level, msg.to_owned()));
    }

    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.kv.borrow().get(key).cloned()
    }

    fn kv_put_if(&self, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        let mut kv = self.kv.borrow_mut();
        if kv.get(key).map(Vec::as_slice) != expect {
            return false;
        }
        kv.insert(key.to_owned(), value.to_vec());
        true
    }

    fn kb_search(&self, _query: &str, k: u32) -> Vec<KbHit> {
        self.hits.iter().take(k as usize).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_put_if_is_compare_and_set() {
        let host = FakeHost::new();
        assert!(host.kv_put_if("n", None, b"1"));
        assert!(
            !host.kv_put_if("n", None, b"2"),
            "key exists, expect=None must fail"
        );
        assert!(!host.kv_put_if("n", Some(b"0"), b"2"));
        assert!(host.kv_put_if("n", Some(b"1"), b"2"));
        assert_eq!(host.kv_get("n").as_deref(), Some(&b"2"[..]));
    }
}
