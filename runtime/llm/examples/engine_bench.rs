//! Time to first token of a grounded prompt whose system part is cached, and resident memory,
//! through the real [`Engine`] (the issue's goals: p50 ≤ 1.0 s for a ~600-token prompt with a
//! ~300-token cached system part at 2 threads on the default model; ≤ 1.2 GB resident).
//!
//! ```text
//! cargo run -p govassist-llm --release --example engine_bench -- [MODEL-OR-PATH] [THREADS]
//! ```
//! Defaults: the cached default chat model, 2 threads. Nothing is downloaded.

use std::path::PathBuf;
use std::time::Instant;

use govassist_llm::bench::{cpu_seconds, TtftWorkload, QUESTIONS};
use govassist_llm::{
    cached_path, ChatMessage, Engine, EngineOptions, GenerationParams, GenerationStats,
    DEFAULT_CHAT_MODEL,
};

/// A `/proc/self/status` value as the kernel writes it (`123456 kB`).
fn vm(key: &str) -> String {
    govassist_llm::bench::proc_status_kb(key).map_or_else(|| "?".into(), |kb| format!("{kb} kB"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let model = args.next().unwrap_or_else(|| DEFAULT_CHAT_MODEL.to_owned());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    let path = cached_path(&model, None).unwrap_or_else(|| PathBuf::from(&model));
    println!("VmRSS before load: {}", vm("VmRSS:"));

    let t = Instant::now();
    let engine = Engine::load_with(
        &path,
        &EngineOptions {
            threads,
            ..EngineOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!(
        "{} loaded in {:.1} s, {threads} threads, context {}: VmRSS {}",
        engine.model_name(),
        t.elapsed().as_secs_f64(),
        engine.context_length(),
        vm("VmRSS:")
    );

    // The prompts (system part ≥ 300 tokens, whole prompt ≥ 600) are `govassist bench llm`'s.
    let workload = TtftWorkload::new(&engine, 300, 600);
    let system = workload.system().to_owned();
    let prompt = |i: usize| workload.messages(&engine, i);
    let params = GenerationParams::greedy(32);
    // Time to first token only (prefill + one sampling step), with the CPU time it took.
    let first_token = GenerationParams::greedy(1);
    let ttft_only = |messages: &[ChatMessage]| -> (GenerationStats, f64) {
        let cpu = cpu_seconds();
        let s = engine
            .generate(messages, &first_token, &mut |_| true)
            .unwrap();
        (s, cpu_seconds() - cpu)
    };
    let run = |messages: &[ChatMessage]| -> GenerationStats {
        engine.generate(messages, &params, &mut |_| true).unwrap()
    };
    let show = |label: &str, s: &GenerationStats| {
        let computed = s.prompt_tokens - s.cached_prompt_tokens;
        println!(
            "{label}: prompt {} tokens ({} cached), TTFT {:.0} ms, prefill {:.0} tok/s over {computed}, \
             decode {:.1} tok/s over {} tokens",
            s.prompt_tokens,
            s.cached_prompt_tokens,
            s.time_to_first_token_ms,
            computed as f64 / (s.prompt_ms / 1000.0),
            s.decode_tokens_per_s,
            s.generated_tokens
        );
    };

    println!(
        "system part: {} tokens",
        engine.prompt_tokens(&[ChatMessage::system(system.clone())])
    );
    let cold = run(&prompt(0));
    show("cold (nothing cached)", &cold);
    let mut ttft = Vec::new();
    let mut cpu = Vec::new();
    for i in 1..QUESTIONS.len() {
        // First a TTFT-only request (its CPU time is the prefill's), then the same prompt again
        // for decode speed (all but its last token cached).
        let (s, c) = ttft_only(&prompt(i));
        show(&format!("warm {i}"), &s);
        println!("  CPU {:.0} ms", c * 1000.0);
        ttft.push(s.time_to_first_token_ms);
        cpu.push(c * 1000.0);
        let s = run(&prompt(i));
        show("  again, to time decoding", &s);
    }
    ttft.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "TTFT with the system part cached: p50 {:.0} ms, max {:.0} ms over {} requests; \
         CPU per request p50 {:.0} ms ({threads} threads: ≥ {:.0} ms wall on an idle machine)",
        ttft[ttft.len() / 2],
        ttft[ttft.len() - 1],
        ttft.len(),
        cpu[cpu.len() / 2],
        cpu[cpu.len() / 2] / threads as f64
    );
    println!(
        "VmRSS after the runs: {}, peak (VmHWM): {}",
        vm("VmRSS:"),
        vm("VmHWM:")
    );
}
