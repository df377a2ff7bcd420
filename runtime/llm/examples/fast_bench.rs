//! Prefill and decode speed of the fast forward pass (`govassist_llm::fast`) against candle's
//! quantized `ModelWeights`, on the cached models (nothing is downloaded).
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run -p govassist-llm --release --example fast_bench
//! RAYON_NUM_THREADS=2 cargo run -p govassist-llm --release --example fast_bench
//! ```
//! candle takes its thread count from `RAYON_NUM_THREADS`; the fast pass uses the same number.
//! Arguments, if any, are GGUF paths to time instead of the cached smollm2-135m and
//! qwen2.5-coder-0.5b-instruct. `--decode-only` times only our decode (256 tokens after an empty
//! prompt, as llama-bench's tg does), without candle: a loop to run under `perf`.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};
use govassist_llm::fast::FastModel;
use govassist_llm::{cached_path, Architecture};

enum Candle {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

impl Candle {
    fn load(path: &std::path::Path) -> Self {
        let mut file = std::fs::File::open(path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        match arch.as_str() {
            "qwen2" => Self::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap(),
            ),
            _ => Self::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap(),
            ),
        }
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Vec<f32> {
        let input = Tensor::new(tokens, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let out = match self {
            Self::Llama(m) => m.forward(&input, pos),
            Self::Qwen2(m) => m.forward(&input, pos),
        };
        out.unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    fn clear(&mut self) {
        match self {
            Self::Llama(m) => m.clear_kv_cache(),
            Self::Qwen2(m) => m.clear_kv_cache(),
        }
    }
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Tokens per second of `f` over `n` tokens, best of `reps`.
fn rate(n: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn bench(path: &std::path::Path, threads: usize) {
    let t = Instant::now();
    let mut fast = FastModel::load(path, threads).unwrap();
    let fast_load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut candle = Candle::load(path);
    let candle_load = t.elapsed().as_secs_f64();
    let vocab = fast.config().vocab_size as u32;
    let arch = match fast.config().architecture {
        Architecture::Llama => "llama",
        Architecture::Qwen2 => "qwen2",
    };
    println!(
        "{} ({arch}), threads {threads}, kernel {}: load fast {fast_load:.1} s, candle {candle_load:.1} s",
        path.file_name().unwrap().to_string_lossy(),
        govassist_kernels_name(),
    );
    let prompt: Vec<u32> = (0..512u32)
        .map(|i| 200 + (i * 7919) % (vocab.min(30000) - 200))
        .collect();
    for n in [128usize, 512] {
        let p = &prompt[..n];
        let reps = if n == 128 { 2 } else { 1 };
        let ours = rate(n, reps, || {
            fast.forward(p, 0).unwrap();
        });
        let theirs = rate(n, reps, || {
            candle.clear();
            candle.forward(p, 0);
        });
        println!(
            "  prefill {n:>3} tokens: fast {ours:>7.1} t/s   candle {theirs:>7.1} t/s   x{:.1}",
            ours / theirs
        );
    }
    let decode = 32;
    let p = &prompt[..128];
    let mut logits = fast.forward(p, 0).unwrap();
    let ours = rate(decode, 1, || {
        for i in 0..decode {
            logits = fast.forward(&[argmax(&logits)], 128 + i).unwrap();
        }
    });
    candle.clear();
    let mut logits = candle.forward(p, 0);
    let theirs = rate(decode, 1, || {
        for i in 0..decode {
            logits = candle.forward(&[argmax(&logits)], 128 + i);
        }
    });
    println!("  decode {decode} tokens after 128: fast {ours:>7.1} t/s   candle {theirs:>7.1} t/s   x{:.1}", ours / theirs);
}

/// Our decode alone: 256 greedy tokens from position 0 (`FAST_BENCH_TOKENS` to change; with
/// `FAST_BENCH_REPS` > 1, that many runs from position 0, each printed, as llama-bench's tg does).
fn decode_only(path: &std::path::Path, threads: usize) {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, reps) = (env("FAST_BENCH_TOKENS", 256), env("FAST_BENCH_REPS", 1));
    let mut fast = FastModel::load(path, threads).unwrap();
    for _ in 0..reps {
        let mut logits = fast.forward(&[200], 0).unwrap();
        let ours = rate(n, 1, || {
            for i in 0..n {
                logits = fast.forward(&[argmax(&logits)], 1 + i).unwrap();
            }
        });
        println!(
            "{}: decode {n} tokens at {threads} threads: {ours:.1} t/s",
            path.display()
        );
    }
}

fn govassist_kernels_name() -> String {
    std::env::var("GOVASSIST_KERNELS").unwrap_or_else(|_| "best".into())
}

fn main() {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let decode = args.iter().any(|a| a == "--decode-only");
    let mut paths: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if paths.is_empty() {
        paths = ["smollm2-135m", "qwen2.5-coder-0.5b-instruct"]
            .into_iter()
            .filter_map(|name| {
                let p = cached_path(name, None);
                if p.is_none() {
                    println!("{name}: not cached, skipped");
                }
                p
            })
            .collect();
    }
    for path in paths {
        if decode {
            decode_only(&path, threads);
        } else {
            bench(&path, threads);
        }
    }
}
