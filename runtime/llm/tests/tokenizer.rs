//! The tokenizer rebuilt from GGUF metadata, on the real SmolLM2 file (and on
//! the default Qwen model when it is already in the cache).

mod common;

use govassist_llm::{cached_path, Engine, GgufTokenizer, DEFAULT_CHAT_MODEL};

const SAMPLES: &[&str] = &[
    "Hello, world! How are you doing today?",
    "请问办理居住证需要哪些材料？",
    "深圳市福田区 Futian District: 营业执照 business licence, 2024年3月15日 10:30.",
    "  leading spaces,\ttabs\nand\n\nnewlines  ",
    "emoji 😀 and full-width ＡＢＣ１２３",
];

fn assert_round_trips(tok: &GgufTokenizer) {
    for text in SAMPLES {
        let ids = tok.encode(text).unwrap();
        assert!(!ids.is_empty());
        assert_eq!(&tok.decode(&ids, false).unwrap(), text, "ids {ids:?}");
        // Streaming relies on per-token bytes: their concatenation is the text.
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| tok.token_bytes(id).to_vec())
            .collect();
        assert_eq!(String::from_utf8(bytes).unwrap(), *text);
    }
}

fn assert_chatml_tokens_are_single(tok: &GgufTokenizer) -> (u32, u32) {
    let start = tok.token_id("<|im_start|>").expect("<|im_start|> in vocab");
    let end = tok.token_id("<|im_end|>").expect("<|im_end|> in vocab");
    let ids = tok.encode("<|im_start|>user\nhi<|im_end|>\n").unwrap();
    assert_eq!(ids.first(), Some(&start), "{ids:?}");
    assert_eq!(ids.iter().filter(|&&i| i == start).count(), 1);
    assert_eq!(ids.iter().filter(|&&i| i == end).count(), 1);
    assert!(tok.eos_ids().contains(&end));
    // Control tokens are never shown as text.
    assert!(tok.token_bytes(end).is_empty());
    (start, end)
}

#[test]
fn smollm2_round_trips_english_chinese_and_mixed_text() {
    assert_round_trips(common::fixture_engine().tokenizer());
}

#[test]
fn smollm2_chatml_markers_are_single_special_tokens() {
    let tok = common::fixture_engine().tokenizer();
    assert_eq!(tok.pre_tokenizer_name(), "smollm");
    assert_eq!(assert_chatml_tokens_are_single(tok), (1, 2));
}

#[test]
fn smollm2_splits_digits_individually() {
    // SmolLM2's pre-tokenizer isolates each digit (llama.cpp `smollm`).
    let tok = common::fixture_engine().tokenizer();
    let ids = tok.encode("12345").unwrap();
    assert_eq!(ids.len(), 5, "{ids:?}");
}

#[test]
fn count_tokens_matches_encode() {
    let engine = common::fixture_engine();
    let text = "How do I renew my business licence?";
    assert_eq!(
        engine.count_tokens(text),
        engine.tokenizer().encode(text).unwrap().len()
    );
}

#[test]
fn qwen_tokenizer_when_cached() {
    let Some(path) = cached_path(DEFAULT_CHAT_MODEL, None) else {
        eprintln!("skipped: {DEFAULT_CHAT_MODEL} not cached (run the chat example first)");
        return;
    };
    let engine = Engine::load(&path).unwrap();
    let tok = engine.tokenizer();
    assert_eq!(tok.pre_tokenizer_name(), "qwen2");
    assert_round_trips(tok);
    assert_eq!(assert_chatml_tokens_are_single(tok), (151644, 151645));
    // Qwen's vocabulary has whole Chinese words: far fewer tokens than characters.
    let text = "请问办理居住证需要哪些材料";
    assert!(tok.encode(text).unwrap().len() < text.chars().count());
    assert_eq!(tok.encode("你好").unwrap().len(), 1);
    let hello = tok.encode("Hello world").unwrap();
    assert_eq!(
        hello,
        [
            tok.token_id("Hello").unwrap(),
            tok.token_id("Ġworld").unwrap()
        ]
    );
    // The qwen2 pre-tokenizer isolates every digit.
    assert_eq!(tok.encode("2024").unwrap().len(), 4);
}
