//! Terms as the rule and place files write them, and finding them in folded text.
//!
//! A term is matched as a substring of folded text, except that a term starting (ending) with a Latin
//! letter or digit must not be glued to another one on that side — `eth` must not fire inside
//! `method` — unless it ends with `*`, which lets the word go on (`stock*`).

use crate::fold::fold;

/// One term, folded, with its word-boundary requirements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    pub text: String,
    start_boundary: bool,
    end_boundary: bool,
}

impl Term {
    /// Parses a term as written in a data file; `None` for an empty one.
    pub fn parse(written: &str) -> Option<Term> {
        let written = written.trim();
        let (body, prefix_only) = match written.strip_suffix('*') {
            Some(body) => (body, true),
            None => (written, false),
        };
        let text = fold_question(body);
        let first = text.chars().next()?;
        let last = text.chars().next_back()?;
        Some(Term {
            start_boundary: first.is_ascii_alphanumeric(),
            end_boundary: last.is_ascii_alphanumeric() && !prefix_only,
            text,
        })
    }

    /// Whether an occurrence of this term at `start..end` of `text` respects its word boundaries.
    /// `non-` glues to the word after it: a non-local resident is not local.
    pub fn fits(&self, text: &str, start: usize, end: usize) -> bool {
        let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        let negated = text[..start].ends_with("non-");
        let glued_before =
            self.start_boundary && (negated || glued(text[..start].chars().next_back()));
        let glued_after = self.end_boundary && glued(text[end..].chars().next());
        !glued_before && !glued_after
    }

    /// Where the term occurs in `text` (start and end), at its word boundaries.
    pub fn occurrences<'t>(&'t self, text: &'t str) -> impl Iterator<Item = (usize, usize)> + 't {
        text.match_indices(self.text.as_str())
            .map(|(at, m)| (at, at + m.len()))
            .filter(move |&(start, end)| self.fits(text, start, end))
    }

    /// Whether the term occurs anywhere in `text`.
    pub fn occurs_in(&self, text: &str) -> bool {
        self.occurrences(text).next().is_some()
    }

    /// Whether `text` starts with the term (at a word boundary if the term needs one).
    pub fn starts(&self, text: &str) -> bool {
        text.starts_with(self.text.as_str()) && self.fits(text, 0, self.text.len())
    }

    /// Whether `text` ends with the term (at a word boundary if the term needs one).
    pub fn ends(&self, text: &str) -> bool {
        text.ends_with(self.text.as_str())
            && self.fits(text, text.len() - self.text.len(), text.len())
    }
}

/// Whether a character is a Han (CJK unified) ideograph.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// Parses `a|b|c` into terms, dropping empty ones.
pub(crate) fn parse_list(written: &str) -> Vec<Term> {
    written.split('|').filter_map(Term::parse).collect()
}

/// Spellings that differ between Taiwan and the mainland beyond what script conversion covers
/// (`身分證` → `身分证`, `紀錄` → `纪录`), mapped onto the mainland form the rules are written in.
const VARIANTS: [(&str, &str); 3] = [("身分", "身份"), ("纪录", "记录"), ("资讯", "信息")];

/// Folds user text for rule matching: the shared folding, typographic apostrophes (`don’t`), and
/// [`VARIANTS`]. Terms of the rule files go through the same function.
pub(crate) fn fold_question(text: &str) -> String {
    let mut folded = fold(text).replace(['’', '‘'], "'");
    for (variant, mainland) in VARIANTS {
        if folded.contains(variant) {
            folded = folded.replace(variant, mainland);
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_terms_respect_word_boundaries() {
        let eth = Term::parse("eth").unwrap();
        assert!(!eth.occurs_in("the method"));
        assert!(eth.occurs_in("buy eth now"));
        let stock = Term::parse("stock*").unwrap();
        assert!(stock.occurs_in("which stocks"));
        assert!(!stock.occurs_in("livestock"));
        let a_share = Term::parse("A股").unwrap();
        assert!(a_share.occurs_in("a股什么时候见底"));
        assert!(!a_share.occurs_in("ba股"));
        let chinese = Term::parse("股票").unwrap();
        assert!(chinese.occurs_in("买股票"));
        // `non-` negates: a non-local resident is not local.
        let local = Term::parse("local").unwrap();
        assert!(local.occurs_in("a local school"));
        assert!(!local.occurs_in("as non-local residents"));
    }
}
