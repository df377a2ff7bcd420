//! Simplified → Traditional for model output.
//!
//! When a citizen writes Traditional (Taipei, Hong Kong), the answer should be Traditional too, but a
//! small model often slips into Simplified mid-answer. [`to_traditional`] converts the output
//! afterwards. No crate in the workspace converts in this direction, so the conversion is a character
//! table generated once from fast2s's Traditional → Simplified table (`data/s2t.txt`, see
//! `examples/gen_s2t.rs` for how each one-to-many case was decided: 发 → 發, 后 → 後, 面 stays 面),
//! plus a list of words that need the other reading (`data/s2t_phrases.txt`: 頭髮, 乾淨, 公里, 批准…).
//! Text that is already Traditional passes through unchanged except where a character is also a
//! Simplified one with a different common Traditional form.
//!
//! The output follows Taiwan usage where forms differ (為, 裡, 眾, 台), which Hong Kong readers
//! read without trouble.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

/// The generated character table.
pub const CHARACTER_TABLE: &str = include_str!("../data/s2t.txt");

/// The word-level exceptions.
pub const PHRASES: &str = include_str!("../data/s2t_phrases.txt");

struct Converter {
    characters: HashMap<char, char>,
    phrases: AhoCorasick,
    replacements: Vec<String>,
}

/// Pairs `简 繁` of a data file, skipping comments and blank lines.
fn pairs(source: &str) -> impl Iterator<Item = (&str, &str)> {
    source.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some(s), Some(t)) => Some((s, t)),
            _ => None,
        }
    })
}

fn converter() -> &'static Converter {
    static CONVERTER: OnceLock<Converter> = OnceLock::new();
    CONVERTER.get_or_init(|| {
        let characters = pairs(CHARACTER_TABLE)
            .filter_map(|(s, t)| Some((s.chars().next()?, t.chars().next()?)))
            .collect();
        let (keys, replacements): (Vec<&str>, Vec<String>) =
            pairs(PHRASES).map(|(s, t)| (s, t.to_string())).unzip();
        let phrases = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(keys)
            .expect("the bundled phrase list compiles (tested)");
        Converter {
            characters,
            phrases,
            replacements,
        }
    })
}

/// Converts Simplified Chinese to Traditional; other text is left as it is.
pub fn to_traditional(text: &str) -> String {
    let converter = converter();
    let convert_chars = |out: &mut String, part: &str| {
        out.extend(
            part.chars()
                .map(|c| converter.characters.get(&c).copied().unwrap_or(c)),
        );
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in converter.phrases.find_iter(text) {
        convert_chars(&mut out, &text[at..m.start()]);
        out.push_str(&converter.replacements[m.pattern().as_usize()]);
        at = m.end();
    }
    convert_chars(&mut out, &text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_through_fast2s() {
        // Every Traditional form must fold back to its Simplified key, or the knowledge base (which
        // folds with fast2s) would not find what the converted answer says.
        for line in CHARACTER_TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with('!'))
        {
            let (s, t) = line.split_once(' ').expect("`简 繁`");
            assert_eq!(fast2s::convert(t), s, "table: {s} → {t}");
        }
        for (s, t) in pairs(PHRASES) {
            // fast2s deliberately leaves a few words alone (答覆, 批覆, 回覆 are also Simplified).
            let folded = fast2s::convert(t);
            assert!(
                folded == s || folded == t,
                "phrase: {s} → {t} folds to {folded}"
            );
            assert_eq!(s.chars().count(), t.chars().count(), "phrase: {s} → {t}");
        }
    }

    #[test]
    fn one_to_many_characters_take_the_common_form() {
        // (Simplified, expected Traditional) for characters with several Traditional forms, or
        // whose Simplified form is itself the usual Traditional one.
        let cases = [
            ("发", "發"),
            ("后", "後"),
            ("面", "面"),
            ("里", "裡"),
            ("干", "幹"),
            ("台", "台"),
            ("只", "只"),
            ("于", "於"),
            ("系", "系"),
            ("复", "復"),
            ("钟", "鐘"),
            ("历", "歷"),
            ("余", "餘"),
            ("准", "準"),
            ("云", "雲"),
            ("范", "範"),
            ("丑", "醜"),
            ("松", "松"),
            ("为", "為"),
            ("众", "眾"),
            ("出", "出"),
            ("表", "表"),
            ("制", "制"),
            ("几", "幾"),
            ("向", "向"),
            ("周", "周"),
            ("注", "注"),
            ("托", "托"),
            ("匹", "匹"),
            ("燕", "燕"),
        ];
        for (s, t) in cases {
            assert_eq!(to_traditional(s), t, "{s}");
        }
    }

    #[test]
    fn overrides_are_honoured_by_the_generated_table() {
        let table: HashMap<&str, &str> = pairs(CHARACTER_TABLE).collect();
        let overrides = include_str!("../data/s2t_overrides.txt");
        for (s, t) in pairs(overrides) {
            let t = t.trim_end_matches('!');
            if s == t {
                assert!(!table.contains_key(s), "{s} should stay {s}");
            } else {
                assert_eq!(table.get(s), Some(&t), "{s}");
            }
        }
    }
}
