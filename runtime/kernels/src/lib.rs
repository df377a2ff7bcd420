//! CPU kernels for the LLM engine: batched matrix multiplication of quantized weights, the way
//! llama.cpp does it on x86. Per matmul the f32 activations are quantized once into 8-bit blocks;
//! weights, repacked at load time into tiles of 16 interleaved rows, are multiplied by them with
//! integer SIMD dot products (AVX-512 VNNI `vpdpbusd`, or AVX2 `vpmaddubsw`), several weight rows
//! × several tokens per inner loop, and scaled to f32 once per 32-value block.
//!
//! ```
//! use govassist_kernels::{matmul, q8_0, PackedMatrix};
//! # fn main() -> Result<(), govassist_kernels::KernelError> {
//! let (n, k, m) = (48, 64, 3);
//! let w: Vec<f32> = (0..n * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
//! let packed = PackedMatrix::from_q8_0(&q8_0::quantize(&w), n, k)?; // GGUF bytes in real use
//! let x = vec![0.5f32; m * k];
//! let mut y = vec![0f32; m * n];
//! matmul(&packed, &x, m, &mut y, 2)?; // y = x · wᵀ
//! # Ok(())
//! # }
//! ```
//!
//! Map of the crate:
//! - [`q8_0`], [`q4_0`]: the ggml block formats as found in GGUF (parse, dequantize, quantize);
//! - [`activation`]: [`QuantizedActivations`], f32 rows → 8-bit blocks with scales and sums;
//! - [`repack`]: [`PackedMatrix`], the load-time layout (16 rows interleaved 4 bytes at a time);
//! - [`dispatch`]: [`Kernel`], run-time CPU detection and the `GOVASSIST_KERNELS` override;
//! - `matmul`: [`matmul`] and friends: validation, work split over threads, the tile loop;
//! - `x86::avx512`, `x86::avx2`, `portable`: the kernels, one tile × a few tokens per call.
//!
//! Formats covered: Q8_0 and Q4_0 weights. Not yet: Q4_K, Q5_0, Q6_K (the Qwen "Q4_K_M" files).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
mod aligned;
pub mod dispatch;
mod matmul;
mod portable;
pub mod q4_0;
pub mod q8_0;
pub mod repack;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use activation::QuantizedActivations;
pub use dispatch::Kernel;
pub use matmul::{matmul, matmul_quantized, matmul_quantized_with, matmul_with};
pub use repack::{PackedMatrix, WeightFormat};

/// Bad shapes, lengths and kernels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// `k` is zero or not a multiple of the block size.
    #[error("k = {k} is not a positive multiple of the block size 32")]
    BadK {
        /// The offending `k`.
        k: usize,
    },
    /// A weight matrix with no rows.
    #[error("a weight matrix needs at least one row")]
    NoRows,
    /// Sizes whose product overflows `usize`.
    #[error("matrix size overflows usize")]
    TooLarge,
    /// The weight bytes do not match the shape.
    #[error("{format} weights of {n_rows} x {k} take {expected} bytes, got {actual}")]
    WeightBytes {
        /// The block format.
        format: WeightFormat,
        /// Rows.
        n_rows: usize,
        /// Columns.
        k: usize,
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The input does not hold `m × k` values.
    #[error("input has {actual} values, expected m * k = {expected}")]
    InputLength {
        /// `m * k`.
        expected: usize,
        /// The input's length.
        actual: usize,
    },
    /// The output does not hold `m × n_rows` values.
    #[error("output has {actual} values, expected m * n_rows = {expected}")]
    OutputLength {
        /// `m * n_rows`.
        expected: usize,
        /// The output's length.
        actual: usize,
    },
    /// Quantized activations whose `k` differs from the weights'.
    #[error("activations have k = {actual}, the weights k = {expected}")]
    KMismatch {
        /// The weights' `k`.
        expected: usize,
        /// The activations' `k`.
        actual: usize,
    },
    /// A kernel this CPU cannot run.
    #[error("kernel {0} is not supported by this CPU")]
    Unsupported(Kernel),
}
