//! The x86-64 SIMD kernels. Both compute one tile (16 weight rows) × up to `MAX_T` tokens per
//! call, over the whole `k` extent; see [`crate::repack`] for the layout they read.

pub(crate) mod avx2;
pub(crate) mod avx512;
