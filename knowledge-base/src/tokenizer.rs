//! The analyzer used for every text field and for every query: [`crate::text::fold`], then jieba in
//! search mode, then dropping tokens that carry no meaning for retrieval.
//!
//! Search mode emits a long word together with the dictionary words inside it (`营业执照` →
//! `营业`, `执照`, `营业执照`), so a query that uses only part of an item's name still meets it.
//! The same analyzer runs on both sides, registered under [`ANALYZER_NAME`]; the name is persisted in
//! the index schema, so changing what the analyzer does means rebuilding the index.
//!
//! jieba's dictionary is loaded once per process, lazily, by `tantivy-jieba`'s own global instance.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy_jieba::JiebaTokenizer;

use crate::text::fold;

/// The name under which the analyzer is registered with the index.
pub const ANALYZER_NAME: &str = "govassist_zh";

/// Tokens longer than this (in characters) are dropped: they are runs of digits, URLs or junk, and
/// tantivy rejects terms above 64 KiB anyway.
const MAX_TOKEN_CHARS: usize = 40;

/// Function words and question words that appear in almost every citizen's question and in many
/// documents; matching them only adds noise to BM25. Kept short on purpose: a word belongs here only
/// when it never distinguishes one service from another.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "么",
    "是",
    "在",
    "和",
    "与",
    "及",
    "或",
    "我",
    "我们",
    "你",
    "您",
    "他",
    "她",
    "它",
    "要",
    "想",
    "能",
    "可以",
    "可",
    "会",
    "有",
    "没有",
    "什么",
    "哪些",
    "哪",
    "哪里",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "需要",
    "还",
    "还要",
    "就",
    "都",
    "也",
    "这",
    "那",
    "一个",
    "个",
    "请问",
    "该",
    "去",
    "办",
    "到",
    "对",
    "为",
    "被",
    "让",
    "给",
    "从",
    "上",
    "下",
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "for",
    "and",
    "or",
    "is",
    "are",
    "i",
    "my",
    "me",
    "we",
    "what",
    "how",
    "do",
    "does",
    "can",
    "need",
    "want",
];

/// jieba (search mode) over folded text; see the module documentation.
///
/// The folded copy of the text is owned by the token stream, so tokens are collected eagerly; offsets
/// refer to the folded text (we keep no positions or highlights, so nothing reads them).
#[derive(Clone, Default)]
pub struct FoldingJiebaTokenizer {
    jieba: JiebaTokenizer,
}

impl std::fmt::Debug for FoldingJiebaTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoldingJiebaTokenizer")
            .finish_non_exhaustive()
    }
}

impl FoldingJiebaTokenizer {
    /// A tokenizer using jieba's global dictionary, in search mode.
    pub fn new() -> Self {
        Self {
            jieba: JiebaTokenizer::with_search_mode(true),
        }
    }

    /// The terms of `text`, in order, with repetitions; what the index stores for it.
    pub fn terms(&mut self, text: &str) -> Vec<String> {
        let mut stream = self.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }
}

impl Tokenizer for FoldingJiebaTokenizer {
    type TokenStream<'a> = CollectedTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CollectedTokenStream {
        let folded = fold(text);
        let mut tokens = Vec::new();
        let mut inner = self.jieba.token_stream(&folded);
        while inner.advance() {
            let token = inner.token();
            if is_meaningful(&token.text) {
                tokens.push(token.clone());
            }
        }
        // Positions as ordinals: tantivy requires them to be non-decreasing, and we never run
        // phrase queries, so character offsets buy nothing.
        for (i, token) in tokens.iter_mut().enumerate() {
            token.position = i;
            token.position_length = 1;
        }
        CollectedTokenStream {
            tokens,
            cursor: None,
        }
    }
}

/// Whether a token may become a term: it has a letter or digit, is not a stop word and not absurdly
/// long.
fn is_meaningful(token: &str) -> bool {
    token.chars().any(char::is_alphanumeric)
        && token.chars().count() <= MAX_TOKEN_CHARS
        && !STOP_WORDS.contains(&token)
}

/// A token stream over tokens collected in advance.
#[derive(Debug)]
pub struct CollectedTokenStream {
    tokens: Vec<Token>,
    cursor: Option<usize>,
}

impl TokenStream for CollectedTokenStream {
    fn advance(&mut self) -> bool {
        let next = self.cursor.map_or(0, |i| i + 1);
        self.cursor = Some(next);
        next < self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.cursor.unwrap_or(0)]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.cursor.unwrap_or(0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_simplified_give_the_same_terms() {
        let mut t = FoldingJiebaTokenizer::new();
        assert_eq!(t.terms("申請營業執照"), t.terms("申请营业执照"));
        assert!(t.terms("申请营业执照").contains(&"营业执照".to_string()));
    }

    #[test]
    fn drops_punctuation_emoji_and_stop_words() {
        let mut t = FoldingJiebaTokenizer::new();
        let terms = t.terms("请问😀，残疾证怎么补办？？“AND”");
        assert!(terms.contains(&"残疾证".to_string()), "{terms:?}");
        for junk in ["😀", "，", "？", "怎么", "请问", "“"] {
            assert!(
                !terms.contains(&junk.to_string()),
                "{junk} kept in {terms:?}"
            );
        }
        assert!(t.terms("？！…… 😀").is_empty());
    }

    #[test]
    fn full_width_latin_is_folded() {
        let mut t = FoldingJiebaTokenizer::new();
        assert_eq!(t.terms("ＡＰＰ下载"), t.terms("app下载"));
    }
}
