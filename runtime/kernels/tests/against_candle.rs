//! The kernels against candle 0.11.1 (the engine's current matmul) and against an f64 matmul of
//! the dequantized weights, on random data, for every kernel this CPU runs.
//!
//! Error measure: `max |ours − reference| / max |reference|` over the whole output.
//!
//! Bounds, and why:
//! - vs the dequantized f64 matmul: ≤ 1e-2. The weights are exactly the reference's, so the only
//!   error is the 8-bit activation quantization: each value moves by at most `d_a / 2 =
//!   max|x_block| / 254`, i.e. up to 0.4 % of its block's largest value, uniformly distributed.
//!   Summed over `k` products with random signs it grows like √k, like the outputs themselves,
//!   so the relative error stays well under 1 % (measured over the shapes below: 0.9e-3 … 4.9e-3).
//! - vs candle's `QMatMul`: ≤ 1e-2. Candle also quantizes the activations to 8 bits, so both sides
//!   carry an error of the kind above. Where candle uses Q8_0 activations like ours the two errors
//!   nearly coincide (measured ≤ 3.4e-4); where it takes its AVX-512 Q8_K path (Q8_0 weights,
//!   k % 256 = 0, n % 16 = 0) they are independent (measured 4.8e-3).
//! - between our kernels: ≤ 1e-5. All run exact integer block dots on bit-identical quantized
//!   activations; they differ only in f32 rounding (FMA or not) when adding up the blocks.
//!
//! The K-quants (Q4_K, Q6_K; `k` a multiple of 256, up to the 1.5B Qwen's 8960) are held to the
//! same bounds for the same reasons: their weights are again exactly the reference's (the packed
//! layout dequantizes bit for bit like candle), and only our 8-bit activations differ. Candle runs
//! them against Q8_K activations (one scale per 256 values, coarser than our per-32 scales), so
//! the two errors are independent. Measured: vs f32 3.1e-3 … 6.0e-3, vs candle 2.2e-3 … 7.9e-3,
//! identical on the portable, AVX2 and AVX-512 paths to the printed digits.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use govassist_kernels::{
    matmul_quantized_many_with, matmul_quantized_with, matmul_with, Kernel, KernelError,
    PackedMatrix, QuantizedActivations, WeightFormat,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BOUND_VS_F32: f32 = 1e-2;
const BOUND_VS_CANDLE: f32 = 1e-2;
const BOUND_BETWEEN_KERNELS: f32 = 1e-5;

fn random(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn rel_err(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len());
    let scale = reference
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let err = ours
        .iter()
        .zip(reference)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err.is_finite(), "non-finite output");
    err / scale
}

fn ggml(format: WeightFormat) -> GgmlDType {
    match format {
        WeightFormat::Q8_0 => GgmlDType::Q8_0,
        WeightFormat::Q4_0 => GgmlDType::Q4_0,
        WeightFormat::Q4K => GgmlDType::Q4K,
        WeightFormat::Q6K => GgmlDType::Q6K,
    }
}

struct Case {
    packed: PackedMatrix,
    input: Vec<f32>,
    candle: Vec<f32>,
    exact: Vec<f32>,
}

/// Random weights quantized by candle; our matrix from candle's raw bytes; the two references.
fn case(format: WeightFormat, m: usize, n: usize, k: usize, seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let w = Tensor::from_vec(random(&mut rng, n * k), (n, k), &Device::Cpu).unwrap();
    let qt = QTensor::quantize(&w, ggml(format)).unwrap();
    let bytes = qt.data().unwrap().into_owned();
    let packed = PackedMatrix::new(format, &bytes, n, k).unwrap();
    let deq = qt
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // our packed layout must give back exactly the weights candle decodes from the same bytes
    assert_eq!(
        packed.dequantize(),
        deq,
        "repacked weights differ ({format} {n}x{k})"
    );
    let input = random(&mut rng, m * k);
    let x = Tensor::from_vec(input.clone(), (m, k), &Device::Cpu).unwrap();
    let candle = QMatMul::from_qtensor(qt)
        .unwrap()
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mut exact = vec![0f32; m * n];
    for t in 0..m {
        for r in 0..n {
            let dot: f64 = (0..k)
                .map(|i| input[t * k + i] as f64 * deq[r * k + i] as f64)
                .sum();
            exact[t * n + r] = dot as f32;
        }
    }
    Case {
        packed,
        input,
        candle,
        exact,
    }
}

const SHAPES: &[(usize, usize, usize)] = &[
    // (m, n, k): m = 1, 3, 17, 128; n off the 16-row tile; k = 32, 896, 4864
    (1, 1, 32),
    (3, 17, 32),
    (17, 40, 32),
    (1, 100, 896),
    (3, 15, 896),
    (17, 33, 896),
    (128, 100, 896),
    (128, 15, 896), // one tile, enough work for two threads: the split goes over tokens
    (1, 51, 4864),
    (3, 16, 4864),
    (17, 47, 4864),
    (128, 34, 4864),
];

/// For the K-quants `k` is a multiple of 256: 1536 and 8960 are the 1.5B Qwen's widths.
const K_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 256),
    (3, 17, 256),
    (17, 40, 512),
    (1, 100, 1536),
    (3, 15, 1536),
    (17, 33, 1536),
    (128, 100, 1536),
    (128, 15, 1536),
    (1, 51, 8960),
    (3, 16, 8960),
    (17, 47, 8960),
    (128, 34, 8960),
];

fn check_format(format: WeightFormat) {
    let kernels = Kernel::available();
    eprintln!("{format}: kernels on this CPU: {kernels:?}");
    let shapes = if format.block_len() == 256 {
        K_SHAPES
    } else {
        SHAPES
    };
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        let c = case(format, m, n, k, 1000 + i as u64);
        let mut first: Option<Vec<f32>> = None;
        for &kernel in &kernels {
            for threads in [1, 2, 3] {
                let mut out = vec![f32::NAN; m * n];
                matmul_with(kernel, &c.packed, &c.input, m, &mut out, threads).unwrap();
                let e_exact = rel_err(&out, &c.exact);
                let e_candle = rel_err(&out, &c.candle);
                if threads == 1 {
                    eprintln!(
                        "{format} {kernel:>8} m={m:<3} n={n:<3} k={k:<4}: vs f32 {e_exact:.1e}, vs candle {e_candle:.1e}"
                    );
                }
                assert!(
                    e_exact <= BOUND_VS_F32,
                    "{format} {kernel} {m}x{n}x{k} t{threads}: vs f32 {e_exact}"
                );
                assert!(
                    e_candle <= BOUND_VS_CANDLE,
                    "{format} {kernel} {m}x{n}x{k} t{threads}: vs candle {e_candle}"
                );
                match &first {
                    None => first = Some(out),
                    Some(reference) => {
                        let e = rel_err(&out, reference);
                        assert!(
                            e <= BOUND_BETWEEN_KERNELS,
                            "{format} {kernel} {m}x{n}x{k} t{threads}: vs portable {e}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn q8_0_matches_candle_and_f32() {
    check_format(WeightFormat::Q8_0);
}

#[test]
fn q4_0_matches_candle_and_f32() {
    check_format(WeightFormat::Q4_0);
}

#[test]
fn q4_k_matches_candle_and_f32() {
    check_format(WeightFormat::Q4K);
}

#[test]
fn q6_k_matches_candle_and_f32() {
    check_format(WeightFormat::Q6K);
}

#[test]
fn k_quant_rows_dequantize_like_candle() {
    let mut rng = StdRng::seed_from_u64(5);
    for format in [WeightFormat::Q4K, WeightFormat::Q6K] {
        let w = Tensor::from_vec(random(&mut rng, 3 * 512), (3, 512), &Device::Cpu).unwrap();
        let qt = QTensor::quantize(&w, ggml(format)).unwrap();
        let bytes = qt.data().unwrap().into_owned();
        let want = qt
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut got = vec![0f32; 3 * 512];
        format.dequantize(&bytes, &mut got);
        assert_eq!(got, want, "{format}");
    }
}

#[test]
fn quantized_activations_are_identical_on_every_kernel() {
    let mut rng = StdRng::seed_from_u64(7);
    let (m, k) = (5, 896);
    let mut x = random(&mut rng, m * k);
    x[..32].fill(0.0); // an all-zero block: scale 0, quants 0
    x[32..64].iter_mut().for_each(|v| *v *= 1e-30); // tiny values
    x[64] = 127.0 * 0.5 / 127.0; // nothing special, but exercise exact multiples
    for (i, v) in x[96..128].iter_mut().enumerate() {
        *v = (i as f32 - 16.0) * 0.5; // ties at x / d = ±0.5 steps
    }
    let reference = {
        let mut qa = QuantizedActivations::new();
        qa.quantize_into(Kernel::Portable, &x, m, k).unwrap();
        qa
    };
    let (d0, q0, s0) = reference.block(0, 0);
    assert_eq!((d0, q0, s0), (0.0, [0; 32], 0));
    for kernel in Kernel::available() {
        let mut qa = QuantizedActivations::new();
        qa.quantize_into(kernel, &x, m, k).unwrap();
        for t in 0..m {
            for b in 0..k / 32 {
                let (d, q, s) = qa.block(t, b);
                assert_eq!(
                    (d, q, s),
                    reference.block(t, b),
                    "{kernel} block ({t}, {b})"
                );
                assert_eq!(s, q.iter().map(|&v| v as i32).sum::<i32>());
                assert!(q.iter().all(|&v| v != i8::MIN));
                let amax = x[(t * k + b * 32)..][..32]
                    .iter()
                    .fold(0f32, |m, v| m.max(v.abs()));
                for (i, &qv) in q.iter().enumerate() {
                    let err = (qv as f32 * d - x[t * k + b * 32 + i]).abs();
                    assert!(
                        err <= amax / 254.0 * 1.0001 + f32::MIN_POSITIVE,
                        "{kernel} ({t},{b},{i})"
                    );
                }
            }
        }
    }
}

#[test]
fn quantize_once_use_twice() {
    let (m, k) = (9, 896);
    let a = case(WeightFormat::Q8_0, m, 64, k, 11);
    let b = case(WeightFormat::Q4_0, m, 40, k, 12);
    for kernel in Kernel::available() {
        let mut qa = QuantizedActivations::new();
        qa.quantize_into(kernel, &a.input, m, k).unwrap();
        let mut out = vec![0f32; m * 64];
        matmul_quantized_with(kernel, &a.packed, &qa, &mut out, 2).unwrap();
        assert!(rel_err(&out, &a.exact) <= BOUND_VS_F32);
        // b's input differs from a's; reuse the buffer
        qa.quantize_into(kernel, &b.input, m, k).unwrap();
        let mut out = vec![0f32; m * 40];
        matmul_quantized_with(kernel, &b.packed, &qa, &mut out, 1).unwrap();
        assert!(rel_err(&out, &b.exact) <= BOUND_VS_F32);
    }
}

/// Several matrices in one call (mixed formats, as the 1.5B Qwen's Q4_K Q and K with its Q6_K V)
/// give exactly what one call per matrix gives, however the work is split.
#[test]
fn many_matrices_in_one_call_equal_one_call_each() {
    let k = 512;
    let formats = [
        (WeightFormat::Q4K, 48),
        (WeightFormat::Q4K, 16),
        (WeightFormat::Q6K, 17),
        (WeightFormat::Q8_0, 5),
    ];
    let cases: Vec<Case> = formats
        .iter()
        .enumerate()
        .map(|(i, &(f, n))| case(f, 1, n, k, 40 + i as u64))
        .collect();
    let mut rng = StdRng::seed_from_u64(41);
    for m in [1, 3, 17] {
        let input = random(&mut rng, m * k);
        for kernel in Kernel::available() {
            let mut qa = QuantizedActivations::new();
            qa.quantize_into(kernel, &input, m, k).unwrap();
            let single: Vec<Vec<f32>> = cases
                .iter()
                .map(|c| {
                    let mut out = vec![0f32; m * c.packed.n_rows()];
                    matmul_quantized_with(kernel, &c.packed, &qa, &mut out, 1).unwrap();
                    out
                })
                .collect();
            for threads in [1, 2, 3, 5] {
                let weights: Vec<&PackedMatrix> = cases.iter().map(|c| &c.packed).collect();
                let mut outs: Vec<Vec<f32>> = cases
                    .iter()
                    .map(|c| vec![f32::NAN; m * c.packed.n_rows()])
                    .collect();
                let mut views: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[..]).collect();
                matmul_quantized_many_with(kernel, &weights, &qa, &mut views, threads).unwrap();
                assert_eq!(outs, single, "{kernel} m={m} threads={threads}");
            }
        }
    }
    let w = &cases[0].packed;
    let qa = QuantizedActivations::quantize(&vec![0.0; k], 1, k).unwrap();
    assert_eq!(
        matmul_quantized_many_with(
            Kernel::Portable,
            &[w, w],
            &qa,
            &mut [&mut [0f32; 48][..]],
            1
        )
        .unwrap_err(),
        KernelError::OutputCount {
            matrices: 2,
            outputs: 1
        }
    );
}

#[test]
fn bad_shapes_give_typed_errors() {
    let q8 = |n: usize, k: usize| vec![0u8; n * k / 32 * 34];
    assert_eq!(
        PackedMatrix::from_q8_0(&[0; 34], 1, 33).unwrap_err(),
        KernelError::BadK { k: 33, block: 32 }
    );
    assert_eq!(
        PackedMatrix::from_q4_0(&[], 1, 0).unwrap_err(),
        KernelError::BadK { k: 0, block: 32 }
    );
    assert_eq!(
        PackedMatrix::new(WeightFormat::Q4K, &[0; 144], 1, 96).unwrap_err(),
        KernelError::BadK { k: 96, block: 256 }
    );
    assert!(matches!(
        PackedMatrix::new(WeightFormat::Q6K, &[0; 209], 1, 256).unwrap_err(),
        KernelError::WeightBytes {
            expected: 210,
            actual: 209,
            ..
        }
    ));
    assert_eq!(
        PackedMatrix::from_q8_0(&[], 0, 32).unwrap_err(),
        KernelError::NoRows
    );
    assert_eq!(
        PackedMatrix::from_q8_0(&q8(4, 64)[1..], 4, 64).unwrap_err(),
        KernelError::WeightBytes {
            format: WeightFormat::Q8_0,
            n_rows: 4,
            k: 64,
            expected: 272,
            actual: 271
        }
    );
    assert!(matches!(
        PackedMatrix::from_q4_0(&q8(4, 64), 4, 64).unwrap_err(),
        KernelError::WeightBytes {
            expected: 144,
            actual: 272,
            ..
        }
    ));
    let w = PackedMatrix::from_q8_0(&q8(4, 64), 4, 64).unwrap();
    let mut out = vec![0f32; 2 * 4];
    for kernel in Kernel::available() {
        assert_eq!(
            matmul_with(kernel, &w, &[0.0; 127], 2, &mut out, 1).unwrap_err(),
            KernelError::InputLength {
                expected: 128,
                actual: 127
            }
        );
        assert_eq!(
            matmul_with(kernel, &w, &[0.0; 128], 2, &mut out[..7], 1).unwrap_err(),
            KernelError::OutputLength {
                expected: 8,
                actual: 7
            }
        );
        let qa = QuantizedActivations::quantize(&[0.0; 96], 1, 96).unwrap();
        assert_eq!(
            matmul_quantized_with(kernel, &w, &qa, &mut out[..4], 1).unwrap_err(),
            KernelError::KMismatch {
                expected: 64,
                actual: 96
            }
        );
        assert_eq!(
            QuantizedActivations::new()
                .quantize_into(kernel, &[0.0; 40], 1, 40)
                .unwrap_err(),
            KernelError::BadK { k: 40, block: 32 }
        );
        // m = 0 is a valid, empty product
        matmul_with(kernel, &w, &[], 0, &mut [], 2).unwrap();
    }
    for kernel in Kernel::ALL.into_iter().filter(|k| !k.is_supported()) {
        assert_eq!(
            matmul_with(kernel, &w, &[0.0; 128], 2, &mut out, 1).unwrap_err(),
            KernelError::Unsupported(kernel)
        );
    }
}

#[test]
fn kernel_names_parse() {
    for kernel in Kernel::ALL {
        assert_eq!(kernel.name().parse::<Kernel>().unwrap(), kernel);
    }
    assert!("amx".parse::<Kernel>().is_err());
    assert!(Kernel::available().contains(&Kernel::Portable));
    assert!(Kernel::available().contains(&Kernel::best()));
}

#[test]
fn matmuls_from_inside_a_rayon_pool() {
    use rayon::prelude::*;
    // Callers may be rayon workers themselves (candle runs its ops on rayon): a worker that
    // waits for our parts can run another job that calls matmul on the same thread.
    let c = case(WeightFormat::Q8_0, 17, 100, 896, 21);
    let results: Vec<f32> = (0..16)
        .into_par_iter()
        .map(|i| {
            let mut out = vec![0f32; 17 * 100];
            govassist_kernels::matmul(&c.packed, &c.input, 17, &mut out, 1 + i % 3).unwrap();
            rel_err(&out, &c.exact)
        })
        .collect();
    assert!(results.iter().all(|&e| e <= BOUND_VS_F32), "{results:?}");
}
