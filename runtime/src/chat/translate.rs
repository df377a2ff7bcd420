//! English questions, translated into Chinese for retrieval.
//!
//! The guides are Chinese. BM25 cannot match across languages, the knowledge base's glossary
//! knows only the terms it lists, and e5-small maps English near Chinese loosely. The chat model
//! translates well enough for search ("I want to scrap my old two-stroke motorbike" → 报废…摩托车),
//! so an English question is searched as its translation followed by the question itself: the
//! glossary still expands the English words, and a poor translation cannot remove what the
//! question already matched. The answer is still written from the user's own words.

use govassist_kb::search::MAX_QUERY_CHARS;
use govassist_llm::{ChatMessage, GenerationParams, Role};

use super::grounding::SYSTEM_PROMPT;

/// Longest translation, in tokens: a search query, not a document.
pub const MAX_TOKENS: usize = 64;

/// The prompt: the answer's own system prompt, so that the engine's prefix cache keeps serving
/// both, and the request in the user turn.
pub fn prompt(question: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage {
            role: Role::System,
            content: SYSTEM_PROMPT.to_owned(),
        },
        ChatMessage {
            role: Role::User,
            content: format!("把下面这句英文翻译成中文，只输出译文，不要回答它：{question}"),
        },
    ]
}

/// Greedy decoding: the same question always searches the same way.
pub fn params() -> GenerationParams {
    GenerationParams {
        max_tokens: MAX_TOKENS,
        temperature: 0.0,
        seed: Some(0),
        ..GenerationParams::default()
    }
}

/// Words of the request itself: a line holding one echoes the prompt (`将下面这句英文翻译成中文：`,
/// over and over) and translates nothing.
const ECHOED_REQUEST: [&str; 3] = ["翻译成中文", "英文翻译", "只输出译文"];

/// The search query for `question` given the model's `output`: the translation's first line (with
/// the province kept, [`keep_the_province`]), then the question. Output without a Chinese
/// character (the model answered in English, or said nothing), or one that echoes the request
/// ([`ECHOED_REQUEST`]), is no translation, and the question is searched alone; so is a question
/// too long to search with its translation (the knowledge base refuses queries over
/// [`MAX_QUERY_CHARS`] characters, and the user's message may be that long already).
pub fn search_query(output: &str, question: &str) -> String {
    let translation = output
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    let translation = keep_the_province(translation, question);
    let fits = translation.chars().count() + 1 + question.chars().count() <= MAX_QUERY_CHARS;
    let echoed = ECHOED_REQUEST.iter().any(|w| translation.contains(w));
    if fits && !echoed && translation.chars().any(is_han) {
        format!("{translation} {question}")
    } else {
        question.to_owned()
    }
}

/// The translation with the province for its city where the question names only the province.
/// The small model often writes 广州 (the city) for "Guangdong" (the province): it did in 56 of 118
/// such questions of the banked English sets, and the guides name both, so the city's copies of an
/// item then outrank the province's.
fn keep_the_province(translation: &str, question: &str) -> String {
    let names = |word: &str| {
        question
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if names("guangdong") && !names("guangzhou") {
        translation
            .replace("广州市", "广东省")
            .replace("广州", "广东")
    } else {
        translation.to_owned()
    }
}

/// Whether `c` is a Chinese character.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_translation_goes_before_the_question() {
        let q = "How do I scrap my old motorbike?";
        assert_eq!(
            search_query("我怎么报废旧摩托车？\n", q),
            format!("我怎么报废旧摩托车？ {q}")
        );
        assert_eq!(
            search_query("\n  译文：报废摩托车\n多余的解释", q),
            format!("译文：报废摩托车 {q}")
        );
    }

    #[test]
    fn a_question_about_the_province_keeps_the_province() {
        let q =
            "I teach at a university in Guangdong. Where do I apply for the teacher qualification?";
        assert_eq!(
            search_query("我在广州市的大学任教，在广州哪里申请教师资格？", q),
            format!("我在广东省的大学任教，在广东哪里申请教师资格？ {q}")
        );
        // The city stays where the question names it.
        let q = "I moved from Guangzhou to Shenzhen in Guangdong. How do I transfer my pension?";
        assert_eq!(
            search_query("我从广州搬到广东深圳，怎么转养老保险？", q),
            format!("我从广州搬到广东深圳，怎么转养老保险？ {q}")
        );
    }

    #[test]
    fn output_without_chinese_is_no_translation() {
        let q = "How do I scrap my old motorbike?";
        assert_eq!(search_query("You can scrap it at the DMV.", q), q);
        assert_eq!(search_query("", q), q);
        // The small model sometimes repeats the request instead of answering it.
        assert_eq!(
            search_query(
                "根据用户消息中的内容，将下面这句英文翻译成中文：\n\n根据",
                q
            ),
            q
        );
    }

    #[test]
    fn a_question_at_the_length_limit_is_searched_alone() {
        let long = "a".repeat(MAX_QUERY_CHARS - 3);
        assert_eq!(search_query("报废摩托车", &long), long);
        let fits = "a".repeat(MAX_QUERY_CHARS - 6);
        assert_eq!(
            search_query("报废摩托车", &fits),
            format!("报废摩托车 {fits}")
        );
    }

    #[test]
    fn the_prompt_shares_the_answers_system_prompt() {
        let messages = prompt("Where do I pay my parking fine?");
        assert_eq!(messages[0].content, SYSTEM_PROMPT);
        assert!(messages[1]
            .content
            .ends_with("Where do I pay my parking fine?"));
    }
}
