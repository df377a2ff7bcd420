//! Our quantized matmul against candle 0.11.1's `QMatMul::forward` on the same weights, for the
//! matmul shapes of Qwen2.5-0.5B (Q8_0, Q4_0) or Qwen2.5-1.5B (Q4_K, Q6_K: their rows must be
//! multiples of 256), prompt sizes m = 1, 128, 512, at 1 and 2 threads.
//!
//! ```text
//! cargo run --release -p govassist-kernels --example matmul_bench            # full table
//! cargo run --release -p govassist-kernels --example matmul_bench -- --quick # no m = 512 head
//! ```
//!
//! Options: `--threads 1,2`, `--format q8_0|q4_0|q4_k|q6_k` (default: all), `--only NAME`
//! (shapes whose name contains NAME, e.g. `head`), `--no-decode` (skip the decode sweep).
//!
//! Candle sizes its thread pool once per process from `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS`,
//! so the bench runs itself once per thread count with those set (`--child`). Weights are random
//! blocks (random f16 scales and quants), built directly as GGUF bytes: the speed of a kernel
//! does not depend on the values. Times include our activation quantization; each cell is the
//! median of several calls after a warm-up. `GOVASSIST_KERNELS` picks our kernel as usual.

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};
use govassist_kernels::{matmul, Kernel, PackedMatrix, QuantizedActivations, WeightFormat};
use half::f16;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// (k, n, what) — Qwen2.5-0.5B: hidden 896, 2 KV heads × 64, FFN 4864, vocabulary 151936.
const SHAPES: &[(usize, usize, &str)] = &[
    (896, 896, "q/o proj"),
    (896, 128, "k/v proj"),
    (896, 4864, "gate/up"),
    (4864, 896, "down"),
    (896, 151936, "lm head"),
];
/// (k, n, what) — Qwen2.5-1.5B: hidden 1536, 2 KV heads × 128, FFN 8960, vocabulary 151936.
const K_SHAPES: &[(usize, usize, &str)] = &[
    (1536, 1536, "q/o proj"),
    (1536, 256, "k/v proj"),
    (1536, 8960, "gate/up"),
    (8960, 1536, "down"),
    (1536, 151936, "lm head"),
];
const MS: &[usize] = &[1, 128, 512];

fn shapes(format: WeightFormat) -> &'static [(usize, usize, &'static str)] {
    if format.block_len() == 256 {
        K_SHAPES
    } else {
        SHAPES
    }
}

fn dtype(format: WeightFormat) -> GgmlDType {
    match format {
        WeightFormat::Q8_0 => GgmlDType::Q8_0,
        WeightFormat::Q4_0 => GgmlDType::Q4_0,
        WeightFormat::Q4K => GgmlDType::Q4K,
        WeightFormat::Q6K => GgmlDType::Q6K,
    }
}

/// Random GGUF blocks with small random f16 scales (every other byte pattern is a valid quant).
fn random_blocks(format: WeightFormat, n: usize, k: usize, rng: &mut StdRng) -> Vec<u8> {
    let bb = format.block_bytes();
    let mut out = vec![0u8; n * k / format.block_len() * bb];
    rng.fill(&mut out[..]);
    // where the f16 scales sit: Q8_0/Q4_0 `d` first, Q4_K `d` and `dmin` first, Q6_K `d` last
    let scales: &[usize] = match format {
        WeightFormat::Q8_0 | WeightFormat::Q4_0 => &[0],
        WeightFormat::Q4K => &[0, 2],
        WeightFormat::Q6K => &[bb - 2],
    };
    for block in out.chunks_exact_mut(bb) {
        for &at in scales {
            let d = f16::from_f32(rng.gen_range(0.001f32..0.01));
            block[at..at + 2].copy_from_slice(&d.to_le_bytes());
        }
    }
    out
}

/// Median seconds per call: one warm-up, then at least 3 calls (1 if a call takes > 1 s) and up
/// to `budget`.
fn time(mut f: impl FnMut(), budget: Duration) -> f64 {
    let t = Instant::now();
    f();
    let first = t.elapsed();
    let min_reps = if first > Duration::from_secs(1) { 1 } else { 3 };
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < min_reps || (start.elapsed() < budget && samples.len() < 50) {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

fn child(threads: usize, quick: bool, formats: &[WeightFormat], only: Option<&str>) {
    let mut rng = StdRng::seed_from_u64(42);
    for &format in formats {
        let dtype = dtype(format);
        for &(k, n, what) in shapes(format) {
            if only.is_some_and(|o| !what.contains(o)) {
                continue;
            }
            let bytes = random_blocks(format, n, k, &mut rng);
            let packed = PackedMatrix::new(format, &bytes, n, k).unwrap();
            let storage = QStorage::from_data(Cow::Borrowed(&bytes), &Device::Cpu, dtype).unwrap();
            let qmm = QMatMul::from_qtensor(QTensor::new(storage, (n, k)).unwrap()).unwrap();
            drop(bytes);
            for &m in MS {
                if quick && m == 512 && n > 100_000 {
                    continue;
                }
                let input: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1f32..1.0)).collect();
                let x = Tensor::from_vec(input.clone(), (m, k), &Device::Cpu).unwrap();
                let mut out = vec![0f32; m * n];
                let budget = Duration::from_millis(if quick { 300 } else { 700 });
                let ours = time(
                    || matmul(&packed, &input, m, &mut out, threads).unwrap(),
                    budget,
                );
                let mut qa = QuantizedActivations::new();
                let quant = time(
                    || qa.quantize_into(Kernel::selected(), &input, m, k).unwrap(),
                    Duration::from_millis(50),
                );
                let candle = time(
                    || {
                        std::hint::black_box(qmm.forward(&x).unwrap());
                    },
                    budget,
                );
                let gflop = 2.0 * (m * n * k) as f64 / 1e9;
                println!(
                    "| {format} | {k:>4} → {n:<6} {what:<8} | {m:>3} | {threads} | {:>9.3} | {:>9.3} | {:>7.3} | {:>7.1} | {:>7.1} | {:>5.2}x |",
                    candle * 1e3,
                    ours * 1e3,
                    quant * 1e3,
                    gflop / candle,
                    gflop / ours,
                    candle / ours
                );
            }
        }
    }
}

/// One decode step's matmuls (m = 1) over a whole model's worth of weights, so that they come
/// from memory as in real decoding rather than from cache: all layers × (q, k, v, o, gate, up,
/// down) + the output head, Qwen2.5-0.5B shapes (24 layers) or 1.5B shapes (28, K-quants).
fn decode_sweep(threads: usize, formats: &[WeightFormat]) {
    let mut rng = StdRng::seed_from_u64(7);
    for &format in formats {
        let dtype = dtype(format);
        let (d, kv, ff, layers) = if format.block_len() == 256 {
            (1536, 256, 8960, 28)
        } else {
            (896, 128, 4864, 24)
        };
        let layer = [(d, d), (d, kv), (d, kv), (d, d), (d, ff), (d, ff), (ff, d)];
        let mut mats = Vec::new();
        let shapes = (0..layers).flat_map(|_| layer).chain([(d, 151936)]);
        for (k, n) in shapes {
            let bytes = random_blocks(format, n, k, &mut rng);
            let packed = PackedMatrix::new(format, &bytes, n, k).unwrap();
            let storage = QStorage::from_data(Cow::Borrowed(&bytes), &Device::Cpu, dtype).unwrap();
            let qmm = QMatMul::from_qtensor(QTensor::new(storage, (n, k)).unwrap()).unwrap();
            mats.push((k, n, packed, qmm));
        }
        let xd: Vec<f32> = (0..d).map(|_| rng.gen_range(-1f32..1.0)).collect();
        let xff: Vec<f32> = (0..ff).map(|_| rng.gen_range(-1f32..1.0)).collect();
        let td = Tensor::from_vec(xd.clone(), (1, d), &Device::Cpu).unwrap();
        let tff = Tensor::from_vec(xff.clone(), (1, ff), &Device::Cpu).unwrap();
        let mut out = vec![0f32; 151936];
        let budget = Duration::from_secs(2);
        let ours = time(
            || {
                for (k, n, packed, _) in &mats {
                    let x = if *k == d { &xd } else { &xff };
                    matmul(packed, x, 1, &mut out[..*n], threads).unwrap();
                }
            },
            budget,
        );
        let candle = time(
            || {
                for (k, _, _, qmm) in &mats {
                    let x = if *k == d { &td } else { &tff };
                    std::hint::black_box(qmm.forward(x).unwrap());
                }
            },
            budget,
        );
        let bytes: usize = mats.iter().map(|(_, _, p, _)| p.size_in_bytes()).sum();
        println!(
            "| {format} | {threads} | {:>7.2} | {:>7.2} | {:>6.1} | {:>6.1} | {:>5.2}x |",
            candle * 1e3,
            ours * 1e3,
            bytes as f64 / candle / 1e9,
            bytes as f64 / ours / 1e9,
            candle / ours
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let formats: Vec<WeightFormat> = match value("--format").as_deref() {
        Some("q8_0") => vec![WeightFormat::Q8_0],
        Some("q4_0") => vec![WeightFormat::Q4_0],
        Some("q4_k") => vec![WeightFormat::Q4K],
        Some("q6_k") => vec![WeightFormat::Q6K],
        _ => WeightFormat::ALL.to_vec(),
    };
    let decode = args.iter().any(|a| a == "--decode");
    if args.iter().any(|a| a == "--child") {
        let threads = value("--threads").and_then(|t| t.parse().ok()).unwrap_or(1);
        if decode {
            decode_sweep(threads, &formats);
        } else {
            child(threads, quick, &formats, value("--only").as_deref());
        }
        return;
    }
    let thread_counts: Vec<usize> = value("--threads")
        .map(|t| t.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    println!(
        "our kernel: {} (available: {:?})",
        Kernel::selected(),
        Kernel::available()
    );
    println!();
    println!("| fmt | k → n | m | thr | candle ms | ours ms | of which quantize ms | candle GFLOP/s | ours GFLOP/s | speed-up |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    let mut runs: Vec<(bool, usize)> = thread_counts.iter().map(|&t| (false, t)).collect();
    if !args.iter().any(|a| a == "--no-decode") {
        runs.extend(thread_counts.iter().map(|&t| (true, t)));
    }
    for (decode, threads) in runs {
        if decode && threads == thread_counts[0] {
            println!();
            println!(
                "Decode step: the m = 1 matmuls of all layers + head, weights cold (from memory):"
            );
            println!();
            println!("| fmt | thr | candle ms | ours ms | candle GB/s | ours GB/s | speed-up |");
            println!("|---|---:|---:|---:|---:|---:|---:|");
        }
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--child", "--threads", &threads.to_string()])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("CANDLE_NUM_THREADS", threads.to_string());
        if quick {
            cmd.arg("--quick");
        }
        if decode {
            cmd.arg("--decode");
        }
        for flag in ["--format", "--only"] {
            if let Some(v) = value(flag) {
                cmd.args([flag, &v]);
            }
        }
        let status = cmd.status().expect("run the bench child");
        assert!(status.success(), "bench child failed: {status}");
    }
}
