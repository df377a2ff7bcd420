//! Activations quantized once per matmul into 8-bit blocks, as llama.cpp does with `Q8_0`.
//!
//! Each row of `k` f32 values becomes `k / 32` blocks: 32 signed bytes `q` (in -127..=127), a scale
//! `d = max|x| / 127` kept in f32 (ggml keeps an f16; f32 costs nothing here and is more exact)
//! and the block's sum `Σ q`. The sum lets the kernels multiply *unsigned* weight bytes by these
//! signed bytes (`vpdpbusd`, `vpmaddubsw` take u8 × i8): for weights stored as `w + o`
//! (o = 128 for Q8_0, 8 for Q4_0), `Σ w·q = Σ (w + o)·q − o·Σ q`. The sum of each block's first
//! 16 quants is kept too: Q6_K weights (`q − 32`) have a scale per 16, so their offset is taken
//! back per half block; Q4_K's min (`− dmin·m` per 32) needs only the block sum.
//!
//! One quantization serves every weight format, so Q, K and V (or gate and up) share it even when
//! a K-quant file mixes Q4_K and Q6_K tensors. (llama.cpp quantizes activations per 256 for the
//! K-quants; per 32 is finer, so its error is smaller.)
//!
//! Rounding is to nearest, ties to even (`vroundps`), in the portable and the AVX2 code alike, so
//! every path sees bit-identical activations.

use crate::aligned::AlignedBytes;
use crate::dispatch::Kernel;
use crate::KernelError;

/// Values per activation block (equal to the weight block size).
pub const QK: usize = 32;

/// Rows of activations quantized to 8-bit blocks; reusable across calls (it keeps its buffers).
#[derive(Clone, Default)]
pub struct QuantizedActivations {
    m: usize,
    k: usize,
    /// `[m][k / 32][32]` signed bytes.
    qs: AlignedBytes,
    /// `[m][k / 32]` scales.
    d: Vec<f32>,
    /// `[m][k / 32]` sums of the block's quants.
    sums: Vec<i32>,
    /// `[m][k / 32]` sums of the block's first 16 quants.
    half_sums: Vec<i32>,
}

impl std::fmt::Debug for QuantizedActivations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantizedActivations")
            .field("m", &self.m)
            .field("k", &self.k)
            .finish()
    }
}

impl QuantizedActivations {
    /// An empty buffer, to be filled by [`QuantizedActivations::quantize_into`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Quantizes `input` (`m` rows of `k` values, row-major) with the selected kernel.
    pub fn quantize(input: &[f32], m: usize, k: usize) -> Result<Self, KernelError> {
        let mut qa = Self::new();
        qa.quantize_into(Kernel::selected(), input, m, k)?;
        Ok(qa)
    }

    /// Quantizes `input` (`m` rows of `k` values, row-major) into this buffer, reusing its memory.
    /// Every kernel gives bit-identical results; `kernel` only picks the code that computes them.
    pub fn quantize_into(
        &mut self,
        kernel: Kernel,
        input: &[f32],
        m: usize,
        k: usize,
    ) -> Result<(), KernelError> {
        if k == 0 || !k.is_multiple_of(QK) {
            return Err(KernelError::BadK { k, block: QK });
        }
        if input.len() != m * k {
            return Err(KernelError::InputLength {
                expected: m * k,
                actual: input.len(),
            });
        }
        if !kernel.is_supported() {
            return Err(KernelError::Unsupported(kernel));
        }
        let nb = k / QK;
        self.m = m;
        self.k = k;
        self.qs.resize_zeroed(m * k);
        self.d.resize(m * nb, 0.0);
        self.sums.resize(m * nb, 0);
        self.half_sums.resize(m * nb, 0);
        let qs = self.qs.as_mut_slice();
        let blocks = input
            .chunks_exact(QK)
            .zip(qs.chunks_exact_mut(QK))
            .zip(self.d.iter_mut())
            .zip(self.sums.iter_mut().zip(self.half_sums.iter_mut()));
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx512 => {
                for (((x, q), d), (s, h)) in blocks {
                    // SAFETY: `is_supported` checked AVX2 (Avx512 implies Avx2); `x` and `q` are
                    // 32 elements long.
                    (*d, *s, *h) = unsafe { x86::quantize_block_avx2(x.as_ptr(), q.as_mut_ptr()) };
                }
            }
            _ => {
                for (((x, q), d), (s, h)) in blocks {
                    (*d, *s, *h) = quantize_block_portable(x, q);
                }
            }
        }
        Ok(())
    }

    /// Rows.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Values per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Block `b` of row `t`: its scale, quants and their sum.
    ///
    /// # Panics
    /// If `t >= m` or `b >= k / 32`.
    pub fn block(&self, t: usize, b: usize) -> (f32, [i8; QK], i32) {
        let nb = self.k / QK;
        assert!(t < self.m && b < nb, "block ({t}, {b}) out of range");
        let i = t * nb + b;
        let mut q = [0i8; QK];
        for (dst, &src) in q.iter_mut().zip(&self.qs.as_slice()[i * QK..(i + 1) * QK]) {
            *dst = src as i8;
        }
        (self.d[i], q, self.sums[i])
    }

    pub(crate) fn qs(&self) -> &[u8] {
        self.qs.as_slice()
    }

    pub(crate) fn scales(&self) -> &[f32] {
        &self.d
    }

    pub(crate) fn sums(&self) -> &[i32] {
        &self.sums
    }

    pub(crate) fn half_sums(&self) -> &[i32] {
        &self.half_sums
    }
}

/// Quantizes one block of 32 values; returns its scale, the sum of its quants and the sum of
/// its first 16 quants.
fn quantize_block_portable(x: &[f32], q: &mut [u8]) -> (f32, i32, i32) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (mut sum, mut half) = (0i32, 0i32);
    for (i, (q, &v)) in q.iter_mut().zip(x).enumerate() {
        let r = (v * id).round_ties_even() as i32;
        sum += r;
        if i < QK / 2 {
            half += r;
        }
        *q = r as i8 as u8;
    }
    (d, sum, half)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// AVX2 version of `quantize_block_portable`, bit-identical to it.
    ///
    /// # Safety
    /// The CPU must support AVX2; `x` must point to 32 readable f32, `q` to 32 writable bytes.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quantize_block_avx2(x: *const f32, q: *mut u8) -> (f32, i32, i32) {
        // SAFETY: the caller guarantees 32 readable floats at `x`.
        let v = unsafe {
            [
                _mm256_loadu_ps(x),
                _mm256_loadu_ps(x.add(8)),
                _mm256_loadu_ps(x.add(16)),
                _mm256_loadu_ps(x.add(24)),
            ]
        };
        let sign = _mm256_set1_ps(-0.0);
        let mut amax = _mm256_andnot_ps(sign, v[0]);
        for vi in &v[1..] {
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, *vi));
        }
        let m128 = _mm_max_ps(
            _mm256_castps256_ps128(amax),
            _mm256_extractf128_ps::<1>(amax),
        );
        let m64 = _mm_max_ps(m128, _mm_movehl_ps(m128, m128));
        let m32 = _mm_max_ss(m64, _mm_movehdup_ps(m64));
        let amax = _mm_cvtss_f32(m32);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let idv = _mm256_set1_ps(id);
        let r: [__m256i; 4] = std::array::from_fn(|i| {
            let s = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                _mm256_mul_ps(v[i], idv),
            );
            _mm256_cvtps_epi32(s)
        });
        let half = _mm256_add_epi32(r[0], r[1]);
        let sum = _mm256_add_epi32(half, _mm256_add_epi32(r[2], r[3]));
        // packs work per 128-bit lane: undo the lane interleaving with a permute, as ggml does
        let p16a = _mm256_packs_epi32(r[0], r[1]);
        let p16b = _mm256_packs_epi32(r[2], r[3]);
        let p8 = _mm256_packs_epi16(p16a, p16b);
        let p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        // SAFETY: the caller guarantees 32 writable bytes at `q`.
        unsafe { _mm256_storeu_si256(q.cast::<__m256i>(), p8) };
        (d, hsum(sum), hsum(half))
    }

    /// The sum of the eight lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256i) -> i32 {
        let s128 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s64 = _mm_add_epi32(s128, _mm_unpackhi_epi64(s128, s128));
        let s32 = _mm_add_epi32(s64, _mm_shuffle_epi32::<0b01>(s64));
        _mm_cvtsi128_si32(s32)
    }
}
