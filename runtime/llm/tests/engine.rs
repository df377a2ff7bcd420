//! Loading and generation on the real SmolLM2-135M fixture.

mod common;


use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use govassist_llm::{
    cached_path, fetch, ChatMessage, Engine, FetchOptions, FinishReason, GenerationParams,
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
    assert_eq!(modified(&again), before, "a second fetch must reuse the cached file, not rewrite it");
    assert_eq!(cached_path(common::FIXTURE, None), Some(first));

    let err = fetch("llama-9000", &FetchOptions::default()).unwrap_err();
    assert_eq!(err.code(), "unknown_model");
    assert!(err.to_string().contains("smollm2-135m"), "{err}");
}
