//! Cross-language query expansion: English questions get the Chinese terms of the government
//! services they name.
//!
//! The bundled knowledge base is Chinese; the embedding model (multilingual-e5-small) does map
//! English near Chinese, but too loosely to tell "replace a lost permanent-residence ID card" from
//! any Taipei FAQ about a lost permit, and BM25 cannot match across languages at all. A bilingual
//! glossary of the domain's vocabulary (`glossary_en_zh.tsv`: documents, permits, agencies, life
//! events; never the wording of particular questions) closes the gap for both rankings: the Chinese
//! terms are put before the question before it is tokenized and embedded.
//!
//! Matching is on lowercase words, longest phrase first (up to [`MAX_PHRASE_WORDS`] words), with a
//! plural fallback (`permits` → `permit`, `policies` → `policy`, `buses` → `bus`).
//!
//! Chinese questions have the same gap within one language: citizens say 回乡证, 驾照, 户口本,
//! 丢了, the guides say 港澳居民来往内地通行证, 机动车驾驶证, 居民户口簿, 遗失/补发. A second table
//! (`glossary_colloquial_zh.tsv`) maps everyday words to the guides' words; they are found in the
//! folded question (Traditional → Simplified) and their official terms put before it in the same way.

use std::collections::HashMap;

/// The glossaries, compiled into the binary.
const GLOSSARY: &str = include_str!("glossary_en_zh.tsv");
const COLLOQUIAL: &str = include_str!("glossary_colloquial_zh.tsv");

/// Longest English phrase in the glossary, in words.
const MAX_PHRASE_WORDS: usize = 4;

/// The English → Chinese glossary; see the module documentation.
#[derive(Debug)]
pub struct Glossary {
    terms: HashMap<String, Vec<String>>,
    /// Everyday Chinese term (folded) → official terms, longest term first.
    colloquial: Vec<(String, Vec<String>)>,
}

impl Default for Glossary {
    fn default() -> Self {
        Self::parse(GLOSSARY).with_colloquial(COLLOQUIAL)
    }
}

/// `key<TAB>term term…` lines; `#` starts a comment line.
fn entries(text: &str) -> impl Iterator<Item = (&str, Vec<String>)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(key, terms)| {
            (
                key.trim(),
                terms.split_whitespace().map(str::to_string).collect(),
            )
        })
}

impl Glossary {
    /// Parses `english<TAB>中文 中文…` lines; `#` starts a comment line.
    pub fn parse(text: &str) -> Self {
        let terms = entries(text)
            .map(|(en, zh)| (words(en).join(" "), zh))
            .collect();
        Glossary {
            terms,
            colloquial: Vec::new(),
        }
    }

    /// Adds `口语<TAB>官方用语 官方用语…` lines (see the module documentation).
    pub fn with_colloquial(mut self, text: &str) -> Self {
        let mut colloquial: Vec<(String, Vec<String>)> = entries(text)
            .map(|(everyday, official)| (crate::text::fold(everyday), official))
            .collect();
        colloquial.sort_by_key(|(everyday, _)| std::cmp::Reverse(everyday.chars().count()));
        colloquial.dedup_by(|a, b| a.0 == b.0);
        self.colloquial = colloquial;
        self
    }

    /// `query` with the Chinese terms of the English words and phrases it contains put before it, or
    /// `query` unchanged when it contains none.
    pub fn expand(&self, query: &str) -> String {
        let words = words(query);
        let mut added: Vec<&str> = Vec::new();
        // Longest everyday terms first; a shorter one inside a longer one found already is skipped.
        let mut folded = crate::text::fold(query);
        for (everyday, official) in &self.colloquial {
            if folded.contains(everyday.as_str()) {
                folded = folded.replace(everyday.as_str(), "\u{0}");
                for term in official {
                    // Already in the question: nothing to add.
                    if !added.contains(&term.as_str()) && !query.contains(term.as_str()) {
                        added.push(term);
                    }
                }
            }
        }
        let mut i = 0;
        while i < words.len() {
            let longest = (1..=MAX_PHRASE_WORDS.min(words.len() - i))
                .rev()
                .find_map(|n| self.lookup(&words[i..i + n]).map(|zh| (n, zh)));
            match longest {
                Some((n, zh)) => {
                    for term in zh {
                        if !added.contains(&term.as_str()) {
                            added.push(term);
                        }
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        if added.is_empty() {
            query.to_string()
        } else {
            // Terms first: a long question is cut at the analyser's and the model's limits, and the
            // terms are what the Chinese knowledge base can match.
            format!("{} {query}", added.join(" "))
        }
    }

    fn lookup(&self, phrase: &[String]) -> Option<&Vec<String>> {
        let joined = phrase.join(" ");
        if let Some(zh) = self.terms.get(&joined) {
            return Some(zh);
        }
        // Plural of the last word.
        let singular = if let Some(stem) = joined.strip_suffix("ies") {
            format!("{stem}y")
        } else if let Some(stem) = joined.strip_suffix('s') {
            stem.to_string()
        } else {
            return None;
        };
        // `buses`, `branches`: the `-es` plurals drop two letters.
        let es_plural = || singular.strip_suffix('e').and_then(|s| self.terms.get(s));
        self.terms.get(&singular).or_else(es_plural)
    }
}

/// Lowercase ASCII words (letters, digits and `'` inside a word) of `text`. A hyphen separates
/// words, so that `private-affairs` and `private affairs` meet the same entry (the glossary's own
/// keys are split the same way).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_ascii_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_phrases_win_and_plurals_fold() {
        let g = Glossary::parse(
            "# comment\nresidence\t居留\nresidence permit\t居留许可\npermit\t许可\nfee\t收费\nbus\t公交\n",
        );
        assert_eq!(
            g.expand("Residence permits: what fees?"),
            "居留许可 收费 Residence permits: what fees?"
        );
        assert_eq!(g.expand("between buses"), "公交 between buses");
        assert_eq!(g.expand("busses"), "busses");
        // Hyphenated and spaced spellings meet one entry.
        let g = Glossary::parse("private affairs\t私人事务\nvisa-free\t免签\n");
        assert_eq!(
            g.expand("a private-affairs permit"),
            "私人事务 a private-affairs permit"
        );
        assert_eq!(g.expand("visa free entry"), "免签 visa free entry");
        assert_eq!(g.expand("营业执照"), "营业执照");
        assert_eq!(g.expand("hello world"), "hello world");
    }

    #[test]
    fn the_bundled_glossary_parses() {
        let g = Glossary::default();
        assert!(g.terms.len() > 200);
        // Each key once: a second line for a key (`day care` and `day-care` split alike) would
        // silently replace the first.
        assert_eq!(g.terms.len(), entries(GLOSSARY).count());
        assert!(g.terms.values().all(|zh| !zh.is_empty()));
        // A longer key would never be looked up: `expand` tries phrases of at most that many words.
        let too_long: Vec<_> = g
            .terms
            .keys()
            .filter(|en| en.split(' ').count() > MAX_PHRASE_WORDS)
            .collect();
        assert!(
            too_long.is_empty(),
            "keys over {MAX_PHRASE_WORDS} words: {too_long:?}"
        );
        let expanded = g.expand("I lost my driving licence");
        assert!(
            expanded.contains("驾驶证") && expanded.contains("补发"),
            "{expanded}"
        );
        assert!(g
            .colloquial
            .iter()
            .all(|(everyday, official)| !everyday.is_empty() && !official.is_empty()));
    }

    #[test]
    fn everyday_chinese_words_bring_the_guides_words() {
        let g = Glossary::parse("").with_colloquial(
            "回乡证\t港澳居民来往内地通行证\n丢了\t遗失 补发\n公积金\t住房公积金\n",
        );
        // Traditional and Cantonese wording is folded before matching.
        assert_eq!(
            g.expand("回鄉證丢了點算"),
            "港澳居民来往内地通行证 遗失 补发 回鄉證丢了點算"
        );
        // An official term already in the question is not repeated.
        assert_eq!(g.expand("住房公积金怎么提取"), "住房公积金怎么提取");
        assert_eq!(g.expand("营业执照"), "营业执照");
    }
}
