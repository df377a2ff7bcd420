//! Loading and generation on the real SmolLM2-135M fixture.

mod common;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use govassist_llm::{
    cached_path, fetch, ChatMessage, Engine, EngineOptions, FetchOptions, FinishReason,
    GenerationParams,
};

fn question() -> Vec<ChatMessage> {
    vec![ChatMessage::user(
        "What is the capital of France? Answer in one sentence.",
    )]
}

fn run(
    engine: &Engine,
    messages: &[ChatMessage],
    params: &GenerationParams,
) -> (String, govassist_llm::GenerationStats) {
    let mut text = String::new();
    let stats = engine
        .generate(messages, params, &mut |piece| {
            text.push_str(piece);
            true
        })
        .unwrap();
    (text, stats)
}

#[test]
fn greedy_generation_is_deterministic_and_bounded() {
    let engine = common::fixture_engine();
    assert_eq!(engine.model_name(), "smollm2-135m");
    let params = GenerationParams::greedy(40);
    let (a, stats_a) = run(engine, &question(), &params);
    let (b, stats_b) = run(engine, &question(), &params);
    assert!(!a.trim().is_empty(), "empty answer");
    assert_eq!(
        a, b,
        "greedy decoding must not depend on the previous request"
    );
    assert_eq!(stats_a.generated_tokens, stats_b.generated_tokens);
    assert!(stats_a.generated_tokens <= 40);
    assert!(stats_a.prompt_tokens > 10);
    assert!(stats_a.time_to_first_token_ms >= stats_a.prompt_ms);
    assert!(a.contains("Paris"), "answer: {a}");
}

#[test]
fn max_tokens_bounds_generation() {
    let engine = common::fixture_engine();
    let (_, stats) = run(engine, &question(), &GenerationParams::greedy(3));
    assert!(stats.generated_tokens <= 3);
    assert_ne!(stats.finish_reason, FinishReason::Cancelled);
}

#[test]
fn callback_returning_false_stops_generation() {
    let engine = common::fixture_engine();
    let mut calls = 0;
    let stats = engine
        .generate(&question(), &GenerationParams::greedy(40), &mut |_| {
            calls += 1;
            false
        })
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(stats.finish_reason, FinishReason::Cancelled);
    assert!(stats.generated_tokens < 10);
}

#[test]
fn stop_string_ends_output_before_it() {
    let engine = common::fixture_engine();
    let (full, _) = run(engine, &question(), &GenerationParams::greedy(40));
    let stop = "Paris";
    let cut = full.find(stop).expect("answer mentions Paris");
    let params = GenerationParams {
        stop: vec![stop.to_owned()],
        ..GenerationParams::greedy(40)
    };
    let (text, stats) = run(engine, &question(), &params);
    assert_eq!(text, full[..cut]);
    assert_eq!(stats.finish_reason, FinishReason::Stop);
}

#[test]
fn sampling_with_a_seed_is_reproducible() {
    let engine = common::fixture_engine();
    let params = GenerationParams {
        temperature: 0.8,
        top_p: 0.9,
        seed: Some(7),
        ..GenerationParams::greedy(20)
    };
    assert_eq!(
        run(engine, &question(), &params).0,
        run(engine, &question(), &params).0
    );
}

#[test]
fn prompt_longer_than_context_is_an_error_not_a_panic() {
    let engine = common::fixture_engine();
    let long = "word ".repeat(engine.context_length() + 10);
    let err = engine
        .generate(
            &[ChatMessage::user(long)],
            &GenerationParams::greedy(5),
            &mut |_| true,
        )
        .unwrap_err();
    assert_eq!(err.code(), "prompt_too_long", "{err}");
    // The engine stays usable afterwards.
    assert!(!run(engine, &question(), &GenerationParams::greedy(5))
        .0
        .is_empty());
}

#[test]
fn truncated_gguf_is_reported_as_corrupt() {
    let src = std::fs::read(common::fixture_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for len in [0, 64, src.len() / 2, src.len() / 10 * 9] {
        let path = dir.path().join(format!("cut-{len}.gguf"));
        std::fs::write(&path, &src[..len]).unwrap();
        let err = Engine::load(&path).unwrap_err();
        assert_eq!(err.code(), "corrupt_model", "len {len}: {err}");
    }
}

#[test]
fn unsupported_architecture_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bert.gguf");
    let t = QTensor::quantize(
        &Tensor::zeros((4, 32), candle_core::DType::F32, &Device::Cpu).unwrap(),
        GgmlDType::F32,
    )
    .unwrap();
    let arch = gguf_file::Value::String("bert".into());
    let mut f = std::fs::File::create(&path).unwrap();
    gguf_file::write(&mut f, &[("general.architecture", &arch)], &[("w", &t)]).unwrap();
    drop(f);
    let err = Engine::load(&path).unwrap_err();
    assert_eq!(err.code(), "unsupported_architecture");
    assert!(err.to_string().contains("bert"), "{err}");
}

#[test]
fn missing_file_is_an_io_error() {
    let err = Engine::load(std::path::Path::new("/nonexistent/model.gguf")).unwrap_err();
    assert_eq!(err.code(), "io_error");
}

#[test]
fn fetch_is_idempotent_and_unknown_names_are_rejected() {
    let first = common::fixture_path().clone();
    let modified = |path: &std::path::Path| std::fs::metadata(path).unwrap().modified().unwrap();
    let before = modified(&first);
    let again = fetch(common::FIXTURE, &common::fetch_options()).unwrap();
    assert_eq!(again, first);
    assert_eq!(
        modified(&again),
        before,
        "a second fetch must reuse the cached file, not rewrite it"
    );
    assert_eq!(cached_path(common::FIXTURE, None), Some(first));

    let err = fetch("llama-9000", &FetchOptions::default()).unwrap_err();
    assert_eq!(err.code(), "unknown_model");
    assert!(err.to_string().contains("smollm2-135m"), "{err}");
}

/// A system prompt of ~200 tokens, like the grounded-answer rules (kept short: this crate's
/// own code is not optimised in test builds).
fn long_system_prompt() -> String {
    let mut s = String::from("You are the assistant of a district government service centre. ");
    for i in 1..=6 {
        s.push_str(&format!(
            "Rule {i}: answer only from the numbered passages, cite them as [n], keep the \
             answer short and polite, and say when the passages do not cover the question. "
        ));
    }
    s
}

/// An engine of its own, so that no other test touches its prefix cache in between.
fn private_engine(max_context: Option<usize>) -> Engine {
    Engine::load_with(
        common::fixture_path(),
        &EngineOptions {
            threads: 2,
            max_context,
        },
    )
    .unwrap()
}

#[test]
fn a_shared_system_prompt_is_computed_once_and_answers_are_unchanged() {
    let engine = private_engine(None);
    assert_eq!(engine.threads(), 2);
    let system = ChatMessage::system(long_system_prompt());
    let first = [
        system.clone(),
        ChatMessage::user("What is the capital of France?"),
    ];
    let second = [system, ChatMessage::user("How do I renew my passport?")];
    let params = GenerationParams::greedy(16);
    // The system turn, without the assistant turn `render_prompt` opens after it.
    let system_tokens =
        engine.prompt_tokens(&first[..1]) - engine.count_tokens("<|im_start|>assistant\n");
    assert!(system_tokens > 150, "{system_tokens} system tokens");

    engine.clear_cache();
    let (cold, cold_stats) = run(&engine, &second, &params);
    assert_eq!(cold_stats.cached_prompt_tokens, 0);

    engine.clear_cache();
    run(&engine, &first, &params);
    let (warm, warm_stats) = run(&engine, &second, &params);
    assert_eq!(warm, cold, "a reused prefix must not change the answer");
    assert!(
        warm_stats.cached_prompt_tokens >= system_tokens,
        "{} of {} prompt tokens reused, the system part is {system_tokens}",
        warm_stats.cached_prompt_tokens,
        warm_stats.prompt_tokens
    );
    assert!(warm_stats.cached_prompt_tokens < warm_stats.prompt_tokens);

    // The same prompt again: everything but the last token is reused, and the answer is the same.
    let (again, again_stats) = run(&engine, &second, &params);
    assert_eq!(again, cold);
    assert_eq!(
        again_stats.cached_prompt_tokens,
        again_stats.prompt_tokens - 1
    );
}

#[test]
fn the_context_bounds_prompt_and_answer_without_panicking() {
    let engine = private_engine(Some(64));
    assert_eq!(engine.context_length(), 64);
    let question = [ChatMessage::user("Tell me a long story about a dragon.")];
    let prompt_tokens = engine.prompt_tokens(&question);
    assert!(prompt_tokens < 60, "{prompt_tokens}");
    // max_tokens beyond the context is clamped to what is left of it.
    let (_, stats) = run(&engine, &question, &GenerationParams::greedy(1000));
    assert!(
        stats.prompt_tokens + stats.generated_tokens <= 64,
        "{stats:?}"
    );
    // A prompt of exactly the context, and one over it, are errors.
    for extra in [0, 1] {
        let filler = "dragon ".repeat(200);
        let mut text = String::new();
        for word in filler.split_inclusive(' ') {
            let candidate = format!("{text}{word}");
            if engine.prompt_tokens(&[ChatMessage::user(candidate.clone())]) > 64 + extra {
                break;
            }
            text = candidate;
        }
        let messages = [ChatMessage::user(text)];
        assert!(engine.prompt_tokens(&messages) >= 64);
        let err = engine
            .generate(&messages, &GenerationParams::greedy(5), &mut |_| true)
            .unwrap_err();
        assert_eq!(err.code(), "prompt_too_long", "{err}");
    }
    // One token short of the context: exactly one token may be generated.
    let ids: Vec<u32> = engine
        .tokenizer()
        .encode(&engine.render_prompt(&question))
        .unwrap();
    let mut long = ids.clone();
    while long.len() < 63 {
        long.insert(1, ids[1]);
    }
    let stats = engine
        .generate_tokens(&long, &GenerationParams::greedy(10), &mut |_| true)
        .unwrap();
    assert!(stats.generated_tokens <= 1, "{stats:?}");
    // max_tokens 0 generates nothing.
    let (text, stats) = run(&engine, &question, &GenerationParams::greedy(0));
    assert_eq!((text.as_str(), stats.generated_tokens), ("", 0));
    assert_eq!(stats.finish_reason, FinishReason::Length);
}
