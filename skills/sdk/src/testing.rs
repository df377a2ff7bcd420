//! A fake host for native unit tests of skill logic.
//!
//! ```
//! use govassist_skill_sdk::{testing::FakeHost, Context, Lang};
//! let host = FakeHost::new().with_now_ms(1_767_225_600_000); // 2026-01-01
//! let cx = Context::new(Lang::En, &host);
//! assert_eq!(cx.now_ms(), 1_767_225_600_000);
//! ```
//!
//! Concurrency is simulated, not real: [`FakeHost::race_next_put`] lands
//! another caller's write on a key just before this call's next
//! compare-and-set on it, which is exactly the window a skill's retry loop
//! must survive.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use crate::{Context, Host, KbHit, Lang, Level, Outcome, Skill};

/// Call a skill the way the host does (input as JSON, parsed by the SDK),
/// against `host`.
pub fn invoke<S: Skill>(input: &serde_json::Value, lang: Lang, host: &dyn Host) -> Outcome {
    invoke_with_personal::<S>(input, lang, &[], host)
}

/// [`invoke`] with the personal fields the host would pass (those the
/// manifest's `personal_fields` grants and the user has given).
pub fn invoke_with_personal<S: Skill>(
    input: &serde_json::Value,
    lang: Lang,
    personal: &[(&str, &str)],
    host: &dyn Host,
) -> Outcome {
    let personal = personal
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let cx = Context::new(lang, host).with_personal(personal);
    crate::__private::run(&S::default(), &input.to_string(), &cx)
}

/// An in-memory [`Host`]: a fixed clock, a key-value map, canned search hits,
/// and a record of log lines and search queries for assertions.
#[derive(Debug, Default)]
pub struct FakeHost {
    now_ms: u64,
    kv: RefCell<HashMap<String, Vec<u8>>>,
    hits: Vec<KbHit>,
    hits_for: HashMap<String, Vec<KbHit>>,
    queries: RefCell<Vec<String>>,
    races: RefCell<VecDeque<(String, Vec<u8>)>>,
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

    /// Hits for every query that has none of its own ([`FakeHost::with_kb_hits_for`]).
    pub fn with_kb_hits(mut self, hits: Vec<KbHit>) -> Self {
        self.hits = hits;
        self
    }

    /// Hits for exactly this query text, e.g. to check that a skill falls
    /// back from one query to another.
    pub fn with_kb_hits_for(mut self, query: &str, hits: Vec<KbHit>) -> Self {
        self.hits_for.insert(query.to_owned(), hits);
        self
    }

    /// Every `kb_search` query so far, in order.
    pub fn kb_queries(&self) -> Vec<String> {
        self.queries.borrow().clone()
    }

    /// Set a key directly, as an earlier call (or a restart's persisted
    /// state) would have left it.
    pub fn set_kv(&self, key: &str, value: &[u8]) {
        self.kv.borrow_mut().insert(key.to_owned(), value.to_vec());
    }

    /// Another caller writes `value` to `key` just before this call's next
    /// `kv_put_if` on that key: the read-then-compare-and-set race. Races
    /// queue up and each fires once.
    pub fn race_next_put(&self, key: &str, value: &[u8]) {
        self.races
            .borrow_mut()
            .push_back((key.to_owned(), value.to_vec()));
    }

    /// Races queued with [`FakeHost::race_next_put`] that have not fired.
    pub fn pending_races(&self) -> usize {
        self.races.borrow().len()
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
        let mut races = self.races.borrow_mut();
        if let Some(i) = races.iter().position(|(k, _)| k == key) {
            let (k, v) = races.remove(i).expect("position is in range");
            kv.insert(k, v);
        }
        if kv.get(key).map(Vec::as_slice) != expect {
            return false;
        }
        kv.insert(key.to_owned(), value.to_vec());
        true
    }

    fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit> {
        self.queries.borrow_mut().push(query.to_owned());
        self.hits_for
            .get(query)
            .unwrap_or(&self.hits)
            .iter()
            .take(k as usize)
            .cloned()
            .collect()
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

    #[test]
    fn a_race_lands_just_before_the_next_put_on_its_key() {
        let host = FakeHost::new();
        host.race_next_put("n", b"theirs");
        assert!(
            host.kv_put_if("other", None, b"x"),
            "other keys are not raced"
        );
        assert_eq!(host.pending_races(), 1);
        assert_eq!(host.kv_get("n"), None, "nothing happens before the put");
        assert!(!host.kv_put_if("n", None, b"mine"), "their write won");
        assert_eq!(host.kv_get("n").as_deref(), Some(&b"theirs"[..]));
        assert!(
            host.kv_put_if("n", Some(b"theirs"), b"mine"),
            "a retry succeeds"
        );
        assert_eq!(host.pending_races(), 0);
    }

    #[test]
    fn canned_hits_per_query_and_a_record_of_queries() {
        let hit = |id: &str| KbHit {
            id: id.into(),
            title: String::new(),
            passage: String::new(),
            score: 1.0,
        };
        let host = FakeHost::new()
            .with_kb_hits(vec![hit("any")])
            .with_kb_hits_for("exact", vec![hit("a"), hit("b")]);
        assert_eq!(host.kb_search("exact", 1), vec![hit("a")]);
        assert_eq!(host.kb_search("other", 5), vec![hit("any")]);
        assert_eq!(host.kb_queries(), ["exact", "other"]);
    }
}
