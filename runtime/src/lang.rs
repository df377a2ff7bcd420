//! Which language and script a user writes in, so the reply can match it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[serde(rename = "zh-Hans")]
    Simplified,
    #[serde(rename = "zh-Hant")]
    Traditional,
    #[serde(rename = "en")]
    English,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Simplified => "zh-Hans",
            Lang::Traditional => "zh-Hant",
            Lang::English => "en",
        }
    }

    /// Accepts the codes clients commonly send (`zh-CN`, `zh-TW`, `en-US`, …).
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        match code.as_str() {
            "zh-hans" | "zh-cn" | "zh-sg" | "zh" | "cmn" => Some(Lang::Simplified),
            "zh-hant" | "zh-tw" | "zh-hk" | "zh-mo" | "yue" => Some(Lang::Traditional),
            _ if code == "en" || code.starts_with("en-") => Some(Lang::English),
            _ => None,
        }
    }

    /// Guesses from the text: mostly Latin letters → English; Chinese that
    /// changes under Traditional→Simplified folding → Traditional.
    pub fn detect(text: &str) -> Lang {
        let han = text.chars().filter(|c| is_han(*c)).count();
        let latin = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
        if han == 0 || latin > han * 3 {
            return Lang::English;
        }
        if govassist_kb::text::to_simplified(text) != text {
            Lang::Traditional
        } else {
            Lang::Simplified
        }
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_script_and_language() {
        assert_eq!(Lang::detect("营业执照怎么办理"), Lang::Simplified);
        assert_eq!(Lang::detect("營業執照怎麼辦理"), Lang::Traditional);
        assert_eq!(
            Lang::detect("How do I exchange my foreign driving licence?"),
            Lang::English
        );
    }

    #[test]
    fn parses_client_codes() {
        assert_eq!(Lang::parse("zh-TW"), Some(Lang::Traditional));
        assert_eq!(Lang::parse("en-GB"), Some(Lang::English));
        assert_eq!(Lang::parse("fr"), None);
    }
}
