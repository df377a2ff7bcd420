//! Everything one call knows besides its input: language, granted personal
//! fields, and the host.

use crate::{Host, KbHit, Level};

/// The user's language, as the host passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    ZhHans,
    /// Traditional Chinese.
    ZhHant,
    En,
}

impl Lang {
    /// Parse a BCP 47 tag leniently (`zh-Hant`, `zh-TW`, `zh-HK` → Traditional;
    /// `en*` → English; anything else → Simplified Chinese).
    pub fn from_tag(tag: &str) -> Lang {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("en") {
            Lang::En
        } else if tag.starts_with("zh-hant") || tag == "zh-tw" || tag == "zh-hk" || tag == "zh-mo" {
            Lang::ZhHant
        } else {
            Lang::ZhHans
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhHans => "zh-Hans",
            Lang::ZhHant => "zh-Hant",
            Lang::En => "en",
        }
    }

    /// Pick the text for this language.
    pub fn pick<'a>(self, zh_hans: &'a str, zh_hant: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhHans => zh_hans,
            Lang::ZhHant => zh_hant,
            Lang::En => en,
        }
    }
}

/// One call's context. Skills reach the host only through it.
pub struct Context<'h> {
    lang: Lang,
    personal: Vec<(String, String)>,
    host: &'h dyn Host,
}

impl<'h> Context<'h> {
    pub fn new(lang: Lang, host: &'h dyn Host) -> Self {
        Context {
            lang,
            personal: Vec::new(),
            host,
        }
    }

    /// Personal fields (name → value) that the manifest grants.
    pub fn with_personal(mut self, personal: Vec<(String, String)>) -> Self {
        self.personal = personal;
        self
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// A granted personal field, e.g. `personal("phone")`; `None` when the
    /// manifest does not grant it or the user has not given it.
    pub fn personal(&self, field: &str) -> Option<&str> {
        self.personal
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }

    /// Capability `log`. Never log personal data: the host's log is not the
    /// place for it.
    pub fn log(&self, level: Level, msg: &str) {
        self.host.log(level, msg)
    }

    /// Capability `clock`: milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.host.now_ms()
    }

    /// Capability `kv`.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.host.kv_get(key)
    }

    /// Capability `kv`: compare-and-set, see [`Host::kv_put_if`].
    pub fn kv_put_if(&self, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        self.host.kv_put_if(key, expect, value)
    }

    /// Capability `kb`.
    pub fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit> {
        self.host.kb_search(query, k)
    }
}
