//! CPU kernels for the LLM engine: batched matrix multiplication of quantized weights, the way
//! llama.cpp does it on x86. Per matmul the f32 activations are quantized once into 8-bit blocks;
//! weights, repacked at load time into tiles of 16 interleaved rows, are multiplied by them with
//! integer SIMD dot products (AVX-512 VNNI `vpdpbusd`, or AVX2 `vpmaddubsw`), several weight rows
//! × several tokens per inner loop, and scaled to f32 once per 32-value block (for the K-quants,
//! with their sub-block scales and mins applied per 32 or per 16 values).
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
//! - [`q8_0`], [`q4_0`], [`q4_k`], [`q6_k`]: the ggml block formats as found in GGUF (parse,
//!   dequantize; quantize for the 32-blocks, used to build test weights);
//! - [`activation`]: [`QuantizedActivations`], f32 rows → 8-bit blocks with scales and sums;
//! - [`repack`]: [`PackedMatrix`], the load-time layout (16 rows interleaved 4 bytes at a time);
//! - [`dispatch`]: [`Kernel`], run-time CPU detection and the `GOVASSIST_KERNELS` override;
//! - `matmul`: [`matmul`] and friends: validation, work split over threads, the tile loop;
//!   [`matmul_quantized_many`] runs several matrices that share an input as one job;
//! - `pool`: [`parallel_for`], the spinning worker threads every parallel call runs on;
//! - `x86::avx512`, `x86::avx2`, `portable`: the kernels, one tile × a few tokens per call.
//!
//! Formats covered: Q8_0, Q4_0, Q4_K and Q6_K weights (the K-quants with rows a multiple of 256
//! wide). Not run here: Q4_1, Q5_0, Q5_1, Q5_K and the float types; the engine converts those
//! (the 0.5B Qwen's Q5_0 tensors already at fetch time, to Q8_0).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
mod aligned;
pub mod dispatch;
mod matmul;
mod pool;
mod portable;
pub mod q4_0;
pub mod q4_k;
pub mod q6_k;
pub mod q8_0;
pub mod repack;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use activation::QuantizedActivations;
pub use dispatch::Kernel;
pub use matmul::{
    matmul, matmul_quantized, matmul_quantized_many, matmul_quantized_many_with,
    matmul_quantized_with, matmul_with,
};
pub use pool::parallel_for;
pub use repack::{PackedMatrix, WeightFormat};

/// The blocks of a dequantization: `bytes` split into blocks of `block_bytes`, each paired with its
/// `block_values` outputs. Shared by the formats' `dequantize`.
///
/// # Panics
/// If `out.len()` is not a multiple of `block_values` or `bytes` has the wrong length.
pub(crate) fn dequantize_blocks<'a>(
    bytes: &'a [u8],
    out: &'a mut [f32],
    block_values: usize,
    block_bytes: usize,
) -> impl Iterator<Item = (&'a [u8], &'a mut [f32])> {
    assert_eq!(
        out.len() % block_values,
        0,
        "output length must be a multiple of {block_values}"
    );
    assert_eq!(
        bytes.len(),
        out.len() / block_values * block_bytes,
        "byte length mismatch"
    );
    bytes
        .chunks_exact(block_bytes)
        .zip(out.chunks_exact_mut(block_values))
}

/// Bad shapes, lengths and kernels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// `k` is zero or not a multiple of the block size.
    #[error("k = {k} is not a positive multiple of the block size {block}")]
    BadK {
        /// The offending `k`.
        k: usize,
        /// The block size it must be a multiple of (32, or 256 for K-quant weights).
        block: usize,
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
    /// A call with more (or fewer) outputs than matrices.
    #[error("{matrices} matrices but {outputs} outputs")]
    OutputCount {
        /// Matrices given.
        matrices: usize,
        /// Outputs given.
        outputs: usize,
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
