//! AVX2 kernel: each 64-byte weight vector of the packed layout is used as two 256-bit halves
//! (rows 0..8 and 8..16), processed one after the other with up to `MAX_T` tokens each (16 ymm
//! registers: 8 weights, 4 accumulators, temporaries).
//!
//! - Q4_0: the weights are unsigned nibbles (0..=15), so `vpmaddubsw(w, a)` applies directly;
//!   each of its i16 pair sums is at most 2·15·127 = 3810 in magnitude, so the 8 groups of a
//!   block are summed in i16 (≤ 30480 < 32767) before one `vpmaddwd` widens them to i32. The
//!   offset 8 is removed by subtracting `8 · Σq`.
//! - Q8_0: `w + 128` does not fit `vpmaddubsw` (255·127·2 overflows i16), so it uses ggml's sign
//!   trick: `vpmaddubsw(|w|, sign(a, w))`, pair sums ≤ 2·128·127 = 32512; `vpmaddwd` with ones
//!   widens each group to i32.
//! - Q4_K (`tile_k`): unsigned nibbles as Q4_0, no offset; the sub-block scale and min become f32
//!   factors (`d·sc`, `dmin·m`) once per tile-block and the min is taken back as `dmin·m · Σa`.
//! - Q6_K (`tile_k`): 6-bit quants (0..=63), pair sums ≤ 2·63·127 = 16002, so two groups are
//!   summed in i16 (≤ 32004) before `vpmaddwd` widens them; each 16-weight half keeps its own i32
//!   dot (offset `32 · Σ` of the half's activations) for its own scale.

use crate::matmul::TileArgs;
use std::arch::x86_64::*;

/// Most tokens per kernel call.
pub(crate) const MAX_T: usize = 4;

/// Runs one tile for `args.tn` tokens.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and `args` must satisfy [`TileArgs`]'s contract.
pub(crate) unsafe fn tile_q8_0(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { dispatch::<false>(args) }
}

/// As [`tile_q8_0`], for Q4_0 weights.
///
/// # Safety
/// As [`tile_q8_0`].
pub(crate) unsafe fn tile_q4_0(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { dispatch::<true>(args) }
}

unsafe fn dispatch<const Q4: bool>(a: &TileArgs) {
    // SAFETY: forwarded from the caller; `tn` selects the instantiation with exactly `tn` tokens.
    unsafe {
        match a.tn {
            1 => tile::<Q4, 1>(a),
            2 => tile::<Q4, 2>(a),
            3 => tile::<Q4, 3>(a),
            4 => tile::<Q4, 4>(a),
            tn => unreachable!("tile of {tn} tokens"),
        }
    }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bcast4(ap: *const u8, g: usize) -> __m256i {
    // SAFETY: the caller passes a block of 32 readable bytes and g < 8.
    _mm256_set1_epi32(unsafe { ap.add(4 * g).cast::<i32>().read_unaligned() })
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile<const Q4: bool, const T: usize>(a: &TileArgs) {
    let nb = a.nb;
    let tbb = if Q4 { 256 } else { 512 };
    let low4 = _mm256_set1_epi8(0x0F);
    let flip = _mm256_set1_epi8(-128);
    let ones = _mm256_set1_epi16(1);
    for h in 0..2 {
        if h * 8 >= a.rows {
            break;
        }
        let mut acc = [_mm256_setzero_ps(); T];
        for b in 0..nb {
            // `w`: Q4_0 → the unsigned nibbles; Q8_0 → |w|, with the signed weights in `sw`.
            let mut w = [_mm256_setzero_si256(); 8];
            let mut sw = [_mm256_setzero_si256(); 8];
            // SAFETY: `wq` points to `nb` 64-byte-aligned tile-blocks of `tbb` bytes, `wd` to
            // `nb * 16` scales (TileArgs); `h * 32` stays inside each 64-byte vector.
            let dw = unsafe {
                let wp = a.wq.add(b * tbb + h * 32);
                if Q4 {
                    for p in 0..4 {
                        let raw = _mm256_load_si256(wp.add(p * 64).cast());
                        w[p] = _mm256_and_si256(raw, low4);
                        w[p + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(raw), low4);
                    }
                } else {
                    for g in 0..8 {
                        let raw = _mm256_load_si256(wp.add(g * 64).cast());
                        sw[g] = _mm256_xor_si256(raw, flip);
                        w[g] = _mm256_abs_epi8(sw[g]);
                    }
                }
                _mm256_cvtph_ps(_mm_loadu_si128(a.wd.add(b * 16 + h * 8).cast()))
            };
            for (t, acc) in acc.iter_mut().enumerate() {
                let i = t * nb + b;
                // SAFETY: token `t < tn` has `nb` blocks of 32 quants, a scale and a sum each.
                let (s, da) = unsafe {
                    let ap = a.aq.add(i * 32);
                    let s = if Q4 {
                        let mut s16 = _mm256_maddubs_epi16(w[0], bcast4(ap, 0));
                        for (g, wg) in w.iter().enumerate().skip(1) {
                            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(*wg, bcast4(ap, g)));
                        }
                        let s = _mm256_madd_epi16(s16, ones);
                        _mm256_sub_epi32(s, _mm256_set1_epi32(8 * *a.asum.add(i)))
                    } else {
                        let mut s = _mm256_setzero_si256();
                        for g in 0..8 {
                            let sa = _mm256_sign_epi8(bcast4(ap, g), sw[g]);
                            let p = _mm256_maddubs_epi16(w[g], sa);
                            s = _mm256_add_epi32(s, _mm256_madd_epi16(p, ones));
                        }
                        s
                    };
                    (s, *a.ad.add(i))
                };
                let scale = _mm256_mul_ps(dw, _mm256_set1_ps(da));
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, *acc);
            }
        }
        let rows = (a.rows - h * 8).min(8);
        for (t, acc) in acc.iter().enumerate() {
            // SAFETY: row `t` of the output has `a.rows` writable floats at `out + t * ldo`;
            // this half writes `rows` of them starting at `h * 8`.
            unsafe {
                let dst = a.out.add(t * a.ldo + h * 8);
                if rows == 8 {
                    _mm256_storeu_ps(dst, *acc);
                } else {
                    let mut tmp = [0f32; 8];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), *acc);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, rows);
                }
            }
        }
    }
}

/// As [`tile_q8_0`], for Q4_K weights.
///
/// # Safety
/// As [`tile_q8_0`].
pub(crate) unsafe fn tile_q4_k(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { dispatch_k::<false>(args) }
}

/// As [`tile_q8_0`], for Q6_K weights.
///
/// # Safety
/// As [`tile_q8_0`].
pub(crate) unsafe fn tile_q6_k(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { dispatch_k::<true>(args) }
}

unsafe fn dispatch_k<const Q6: bool>(a: &TileArgs) {
    // SAFETY: forwarded from the caller; `tn` selects the instantiation with exactly `tn` tokens.
    unsafe {
        match a.tn {
            1 => tile_k::<Q6, 1>(a),
            2 => tile_k::<Q6, 2>(a),
            3 => tile_k::<Q6, 3>(a),
            4 => tile_k::<Q6, 4>(a),
            tn => unreachable!("tile of {tn} tokens"),
        }
    }
}

/// 8 sub-block scale bytes (one per row) as f32, signed (Q6_K) or not (Q4_K).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn scales8<const SIGNED: bool>(p: *const u8) -> __m256 {
    // SAFETY: the caller passes 8 readable bytes.
    let raw = unsafe { _mm_loadl_epi64(p.cast()) };
    _mm256_cvtepi32_ps(if SIGNED {
        _mm256_cvtepi8_epi32(raw)
    } else {
        _mm256_cvtepu8_epi32(raw)
    })
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile_k<const Q6: bool, const T: usize>(a: &TileArgs) {
    let nb = a.nb;
    let tbb = if Q6 { 384 } else { 256 };
    let low4 = _mm256_set1_epi8(0x0F);
    let bits45 = _mm256_set1_epi8(0x30);
    let ones = _mm256_set1_epi16(1);
    for h in 0..2 {
        if h * 8 >= a.rows {
            break;
        }
        let mut acc = [_mm256_setzero_ps(); T];
        for s in 0..nb / 8 {
            // SAFETY: super-block `s < nb / 8` has its f16 scales at `wd + s * (16 or 32)` and
            // its 256 sub-block bytes at `ws + s * 256` (TileArgs); `h * 8` picks a half.
            let (dv, mv, ws) = unsafe {
                if Q6 {
                    let dv = _mm256_cvtph_ps(_mm_loadu_si128(a.wd.add(s * 16 + h * 8).cast()));
                    (dv, dv, a.ws.add(s * 256 + h * 8))
                } else {
                    (
                        _mm256_cvtph_ps(_mm_loadu_si128(a.wd.add(s * 32 + h * 8).cast())),
                        _mm256_cvtph_ps(_mm_loadu_si128(a.wd.add(s * 32 + 16 + h * 8).cast())),
                        a.ws.add(s * 256 + h * 8),
                    )
                }
            };
            for j in 0..8 {
                let b = s * 8 + j;
                let mut w = [_mm256_setzero_si256(); 8];
                // SAFETY: tile-block `b < nb` of `tbb` bytes, 64-byte aligned (TileArgs); `h * 32`
                // stays inside each 64-byte vector; the scale bytes lie in the super-block's 256.
                let (f0, f1) = unsafe {
                    let wp = a.wq.add(b * tbb + h * 32);
                    for p in 0..4 {
                        let raw = _mm256_load_si256(wp.add(p * 64).cast());
                        w[p] = _mm256_and_si256(raw, low4);
                        w[p + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(raw), low4);
                    }
                    if Q6 {
                        for u in 0..2 {
                            let hb = _mm256_load_si256(wp.add(256 + u * 64).cast());
                            let hi = [
                                _mm256_slli_epi16::<4>(hb),
                                _mm256_slli_epi16::<2>(hb),
                                hb,
                                _mm256_srli_epi16::<2>(hb),
                            ];
                            for (sh, hv) in hi.iter().enumerate() {
                                let g = 4 * u + sh;
                                w[g] = _mm256_or_si256(w[g], _mm256_and_si256(*hv, bits45));
                            }
                        }
                        (
                            _mm256_mul_ps(dv, scales8::<true>(ws.add(2 * j * 16))),
                            _mm256_mul_ps(mv, scales8::<true>(ws.add((2 * j + 1) * 16))),
                        )
                    } else {
                        (
                            _mm256_mul_ps(dv, scales8::<false>(ws.add(j * 16))),
                            _mm256_mul_ps(mv, scales8::<false>(ws.add(128 + j * 16))),
                        )
                    }
                };
                for (t, acc) in acc.iter_mut().enumerate() {
                    let i = t * nb + b;
                    // SAFETY: token `t < tn` has `nb` blocks of 32 quants, a scale, a sum and a
                    // half sum each (TileArgs).
                    unsafe {
                        let ap = a.aq.add(i * 32);
                        let md = |g: usize| _mm256_maddubs_epi16(w[g], bcast4(ap, g));
                        let da = *a.ad.add(i);
                        let sum = *a.asum.add(i);
                        if Q6 {
                            let half = *a.ahalf.add(i);
                            // one half: two i16 pair sums of two groups each, widened to i32
                            let dot = |g: usize, sub: i32| {
                                let p = _mm256_add_epi16(md(g), md(g + 1));
                                let q = _mm256_add_epi16(md(g + 2), md(g + 3));
                                let s = _mm256_add_epi32(
                                    _mm256_madd_epi16(p, ones),
                                    _mm256_madd_epi16(q, ones),
                                );
                                _mm256_cvtepi32_ps(_mm256_sub_epi32(s, _mm256_set1_epi32(sub)))
                            };
                            let x = _mm256_mul_ps(dot(0, 32 * half), f0);
                            let x = _mm256_fmadd_ps(dot(4, 32 * (sum - half)), f1, x);
                            *acc = _mm256_fmadd_ps(x, _mm256_set1_ps(da), *acc);
                        } else {
                            let mut s16 = md(0);
                            for g in 1..8 {
                                s16 = _mm256_add_epi16(s16, md(g));
                            }
                            let dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, ones));
                            let scale = _mm256_mul_ps(f0, _mm256_set1_ps(da));
                            *acc = _mm256_fmadd_ps(dot, scale, *acc);
                            *acc = _mm256_fnmadd_ps(f1, _mm256_set1_ps(da * sum as f32), *acc);
                        }
                    }
                }
            }
        }
        let rows = (a.rows - h * 8).min(8);
        for (t, acc) in acc.iter().enumerate() {
            // SAFETY: row `t` of the output has `a.rows` writable floats at `out + t * ldo`;
            // this half writes `rows` of them starting at `h * 8`.
            unsafe {
                let dst = a.out.add(t * a.ldo + h * 8);
                if rows == 8 {
                    _mm256_storeu_ps(dst, *acc);
                } else {
                    let mut tmp = [0f32; 8];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), *acc);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, rows);
                }
            }
        }
    }
}
