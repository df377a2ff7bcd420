//! A configurable list of sensitive words: finding them in text and censoring them in place.
//!
//! The district decides what is unacceptable (it maintains its own list; [`DEFAULT_WORDS`] is a
//! modest starting point of slurs, threats and fraud solicitations). People evade lists by switching
//! script (`詐騙`), width (`ＦＵＣＫ`), case, or by spacing characters out (`傻 逼`, `傻*逼`), so words
//! and text are both folded (Traditional → Simplified, full-width → half-width, lower case) and
//! spaces and punctuation inside a match are ignored. Positions always refer to the *original* text,
//! so [`SensitiveWords::censor`] keeps everything else exactly as written.
//!
//! A word made of Latin letters only matches as a whole word (`ass` never fires inside `class`).

use aho_corasick::{AhoCorasick, MatchKind};

use crate::fold::{fold, Folded};

/// The bundled default list (`data/sensitive_words.txt`): one word per line, `#` starts a comment.
pub const DEFAULT_WORDS: &str = include_str!("../data/sensitive_words.txt");

/// The character a censored character becomes.
pub const CENSOR: char = '＊';

/// Why a word list could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SensitiveError {
    /// The list is too large for the matcher (millions of words).
    #[error("the sensitive-word list cannot be compiled: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

impl SensitiveError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SensitiveError::Build(_) => "sensitive_words_invalid",
        }
    }
}

/// One occurrence of a listed word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Byte range in the original text (from the first to the last character of the word, with any
    /// spacing in between).
    pub range: std::ops::Range<usize>,
    /// The listed word, as configured.
    pub word: String,
}

/// A compiled sensitive-word list.
#[derive(Clone, Debug)]
pub struct SensitiveWords {
    /// `None` for an empty list: every operation is then a no-op.
    matcher: Option<AhoCorasick>,
    /// The configured words, by pattern id.
    words: Vec<String>,
    /// Per pattern: whether it is Latin-only and must match a whole word.
    whole_word: Vec<bool>,
}

/// Characters ignored inside a match: spacing and the symbols people insert to dodge a list
/// (`傻 逼`, `傻*逼`, `f.u.c.k`). Sentence punctuation (`。，！？`) is not ignored, so a word never
/// matches across two clauses.
fn ignorable(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\u{a0}'
            | '*'
            | '.'
            | '-'
            | '_'
            | '~'
            | '|'
            | '/'
            | '\\'
            | '\''
            | '"'
            | '`'
            | '^'
            | '+'
            | '='
            | '#'
            | '·'
            | '•'
            | '、'
            | '\u{200B}'..='\u{200D}' | '\u{FEFF}'
    )
}

impl SensitiveWords {
    /// Compiles a list. Words are folded like text; empty words (after folding and removing spacing)
    /// and duplicates are dropped.
    pub fn new(words: impl IntoIterator<Item = String>) -> Result<Self, SensitiveError> {
        let mut folded_words: Vec<String> = Vec::new();
        let mut originals = Vec::new();
        for word in words {
            let word = word.trim().to_string();
            let folded: String = fold(&word).chars().filter(|&c| !ignorable(c)).collect();
            if folded.is_empty() || folded_words.contains(&folded) {
                continue;
            }
            folded_words.push(folded);
            originals.push(word);
        }
        if folded_words.is_empty() {
            return Ok(SensitiveWords::empty());
        }
        let whole_word = folded_words
            .iter()
            .map(|w| w.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&folded_words)?;
        Ok(SensitiveWords {
            matcher: Some(matcher),
            words: originals,
            whole_word,
        })
    }

    /// Parses a list in the file format of `data/sensitive_words.txt` (one word per line, `#` starts
    /// a comment) and compiles it.
    pub fn from_list(list: &str) -> Result<Self, SensitiveError> {
        Self::new(
            list.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim().to_string())
                .filter(|line| !line.is_empty()),
        )
    }

    /// The bundled default list.
    pub fn default_list() -> Self {
        Self::from_list(DEFAULT_WORDS).expect("the bundled list compiles (tested)")
    }

    /// A list that matches nothing.
    pub fn empty() -> Self {
        SensitiveWords {
            matcher: None,
            words: Vec::new(),
            whole_word: Vec::new(),
        }
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Finds listed words in `text`, leftmost-longest, without overlaps.
    pub fn find(&self, text: &str) -> Vec<Match> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let folded = Folded::new(text, ignorable);
        let mut found = Vec::new();
        for m in matcher.find_iter(&folded.text) {
            let (start, end) = folded.original_range(m.start(), m.end());
            if self.whole_word[m.pattern().as_usize()] && !whole_word_at(text, start, end) {
                continue;
            }
            found.push(Match {
                range: start..end,
                word: self.words[m.pattern().as_usize()].clone(),
            });
        }
        found
    }

    /// Whether `text` contains any listed word.
    pub fn contains(&self, text: &str) -> bool {
        !self.find(text).is_empty()
    }

    /// Replaces every character of every match with [`CENSOR`] (spacing inside a match included, so
    /// the word cannot be read back), leaving the rest of `text` as written.
    pub fn censor(&self, text: &str) -> String {
        let found = self.find(text);
        if found.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in found {
            out.push_str(&text[at..m.range.start]);
            out.extend(text[m.range.clone()].chars().map(|_| CENSOR));
            at = m.range.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

impl Default for SensitiveWords {
    /// The bundled default list.
    fn default() -> Self {
        Self::default_list()
    }
}

/// Whether `text[start..end]` is not glued to letters or digits on either side.
fn whole_word_at(text: &str, start: usize, end: usize) -> bool {
    let alnum = |c: char| crate::fold::half_width(c).is_ascii_alphanumeric();
    let before = text[..start].chars().next_back().is_some_and(alnum);
    let after = text[end..].chars().next().is_some_and(alnum);
    !before && !after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(words: &[&str]) -> SensitiveWords {
        SensitiveWords::new(words.iter().map(|w| w.to_string())).unwrap()
    }

    #[test]
    fn empty_list_is_a_no_op() {
        let words = list(&[]);
        assert!(words.is_empty());
        assert_eq!(words.censor("任何文字 anything"), "任何文字 anything");
        assert!(words.find("任何文字").is_empty());
        let blank = list(&["  ", "*"]);
        assert!(blank.is_empty());
    }

    #[test]
    fn variants_are_caught_and_censored_in_the_original() {
        let words = list(&["诈骗", "fraud", "傻逼"]);
        // (text, censored)
        let cases = [
            ("这是诈骗吗", "这是＊＊吗"),
            ("這是詐騙嗎", "這是＊＊嗎"),
            ("這是詐 騙嗎", "這是＊＊＊嗎"),
            ("你个傻*逼", "你个＊＊＊"),
            ("It is FRAUD.", "It is ＊＊＊＊＊."),
            ("It is ＦＲＡＵＤ!", "It is ＊＊＊＊＊!"),
            ("fraudulent is a longer word", "fraudulent is a longer word"),
            ("anti-fraud office", "anti-＊＊＊＊＊ office"),
            ("没有问题", "没有问题"),
        ];
        for (text, censored) in cases {
            assert_eq!(words.censor(text), censored, "{text}");
        }
        let found = words.find("這是詐騙嗎");
        assert_eq!(found[0].word, "诈骗");
        assert_eq!(&"這是詐騙嗎"[found[0].range.clone()], "詐騙");
    }

    #[test]
    fn default_list_compiles_and_leaves_service_text_alone() {
        let words = SensitiveWords::default_list();
        assert!(words.len() >= 10);
        for text in [
            "办理营业执照需要哪些材料？",
            "警惕电信网络诈骗，公安机关不会要求转账到安全账户。",
            "不要出租、出借银行卡和电话卡。",
            "Where do I apply for a residence permit in Guangzhou?",
            "如何举报假冒伪劣产品",
        ] {
            assert!(
                words.find(text).is_empty(),
                "{text}: {:?}",
                words.find(text)
            );
        }
        assert!(words.contains("你他妈的"));
        assert!(words.contains("高價收購銀行卡"));
    }
}
