//! AVX-512 VNNI kernel: `vpdpbusd` multiplies the unsigned weight bytes (`w + o`, see
//! [`crate::repack`]) by the signed activation bytes, 4 products summed into each of 16 i32
//! lanes, one lane per weight row. The offset `o` is corrected by starting each block's i32
//! accumulator at `−o · Σq` (the activation block's sum), so the integer dot is exact; it is then
//! converted to f32 and scaled by `d_w · d_a` with one FMA.
//!
//! Register tiling: one tile-block of weights (8 × 512-bit vectors, unpacked from 4 for Q4_0)
//! is loaded once and reused for `T` tokens (`T ≤ 8`): 8 weight and 8 accumulator registers plus
//! temporaries fit the 32 zmm registers. Each token's 8 `vpdpbusd` form a dependency chain; the
//! `T` chains are independent, which keeps the VNNI unit busy.
//!
//! K-quants (`tile_k`): the same 8 `vpdpbusd` per block and token over the unsigned 4-bit (Q4_K)
//! or 6-bit (Q6_K, low nibbles OR'd with the high bits shifted into bits 4–5) quants; the integer
//! sub-block scales become f32 factors once per tile-block (`d·sc` and `dmin·m`, or `d·s₀` and
//! `d·s₁` for Q6_K's two 16-weight halves, which get one i32 accumulator each, started at
//! `−32 · Σ` of the half's activations), shared by all `T` tokens.

use crate::matmul::TileArgs;
use std::arch::x86_64::*;

/// Most tokens per kernel call.
pub(crate) const MAX_T: usize = 8;

/// Runs one tile for `args.tn` tokens.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI and F16C, and `args` must satisfy [`TileArgs`]'s
/// contract.
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
            5 => tile::<Q4, 5>(a),
            6 => tile::<Q4, 6>(a),
            7 => tile::<Q4, 7>(a),
            8 => tile::<Q4, 8>(a),
            tn => unreachable!("tile of {tn} tokens"),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn tile<const Q4: bool, const T: usize>(a: &TileArgs) {
    let nb = a.nb;
    let tbb = if Q4 { 256 } else { 512 };
    let offset: i32 = if Q4 { 8 } else { 128 };
    let low4 = _mm512_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); T];
    for b in 0..nb {
        let mut w = [_mm512_setzero_si512(); 8];
        // SAFETY: `wq` points to `nb` tile-blocks of `tbb` bytes, 64-byte aligned (TileArgs);
        // `wd` to `nb * 16` scales.
        let dw = unsafe {
            let wp = a.wq.add(b * tbb);
            if Q4 {
                for p in 0..4 {
                    let raw = _mm512_load_si512(wp.add(p * 64).cast());
                    w[p] = _mm512_and_si512(raw, low4);
                    w[p + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(raw), low4);
                }
            } else {
                for (g, wg) in w.iter_mut().enumerate() {
                    *wg = _mm512_load_si512(wp.add(g * 64).cast());
                }
            }
            _mm512_cvtph_ps(_mm256_loadu_si256(a.wd.add(b * 16).cast()))
        };
        for (t, acc) in acc.iter_mut().enumerate() {
            let i = t * nb + b;
            // SAFETY: token `t < tn` has `nb` blocks of 32 quants, a scale and a sum each
            // (TileArgs).
            let (s, da) = unsafe {
                let ap = a.aq.add(i * 32);
                let mut s = _mm512_set1_epi32(-offset * *a.asum.add(i));
                for (g, wg) in w.iter().enumerate() {
                    let a4 = ap.add(4 * g).cast::<i32>().read_unaligned();
                    s = _mm512_dpbusd_epi32(s, *wg, _mm512_set1_epi32(a4));
                }
                (s, *a.ad.add(i))
            };
            let scale = _mm512_mul_ps(dw, _mm512_set1_ps(da));
            *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, *acc);
        }
    }
    let mask: __mmask16 = if a.rows >= 16 {
        0xFFFF
    } else {
        (1u16 << a.rows) - 1
    };
    for (t, acc) in acc.iter().enumerate() {
        // SAFETY: row `t` of the output has `rows` writable floats at `out + t * ldo`
        // (TileArgs); the mask stores only those.
        unsafe { _mm512_mask_storeu_ps(a.out.add(t * a.ldo), mask, *acc) };
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
            5 => tile_k::<Q6, 5>(a),
            6 => tile_k::<Q6, 6>(a),
            7 => tile_k::<Q6, 7>(a),
            8 => tile_k::<Q6, 8>(a),
            tn => unreachable!("tile of {tn} tokens"),
        }
    }
}

/// 16 sub-block scale bytes (one per row) as f32, signed (Q6_K) or not (Q4_K).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn scales16<const SIGNED: bool>(p: *const u8) -> __m512 {
    // SAFETY: the caller passes 16 readable bytes.
    let raw = unsafe { _mm_loadu_si128(p.cast()) };
    _mm512_cvtepi32_ps(if SIGNED {
        _mm512_cvtepi8_epi32(raw)
    } else {
        _mm512_cvtepu8_epi32(raw)
    })
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn tile_k<const Q6: bool, const T: usize>(a: &TileArgs) {
    let nb = a.nb;
    let tbb = if Q6 { 384 } else { 256 };
    let low4 = _mm512_set1_epi8(0x0F);
    let bits45 = _mm512_set1_epi8(0x30);
    let mut acc = [_mm512_setzero_ps(); T];
    for s in 0..nb / 8 {
        // SAFETY: super-block `s < nb / 8` has its f16 scales at `wd + s * (16 or 32)` and its
        // 256 sub-block bytes at `ws + s * 256` (TileArgs).
        let (dv, mv, ws) = unsafe {
            if Q6 {
                let dv = _mm512_cvtph_ps(_mm256_loadu_si256(a.wd.add(s * 16).cast()));
                (dv, dv, a.ws.add(s * 256))
            } else {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(a.wd.add(s * 32).cast())),
                    _mm512_cvtph_ps(_mm256_loadu_si256(a.wd.add(s * 32 + 16).cast())),
                    a.ws.add(s * 256),
                )
            }
        };
        for j in 0..8 {
            let b = s * 8 + j;
            let mut w = [_mm512_setzero_si512(); 8];
            // SAFETY: tile-block `b < nb` of `tbb` bytes, 64-byte aligned (TileArgs); the
            // scale bytes read lie inside the super-block's 256.
            let (f0, f1) = unsafe {
                let wp = a.wq.add(b * tbb);
                for p in 0..4 {
                    let raw = _mm512_load_si512(wp.add(p * 64).cast());
                    w[p] = _mm512_and_si512(raw, low4);
                    w[p + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(raw), low4);
                }
                if Q6 {
                    for u in 0..2 {
                        let hb = _mm512_load_si512(wp.add(256 + u * 64).cast());
                        let hi = [
                            _mm512_slli_epi16::<4>(hb),
                            _mm512_slli_epi16::<2>(hb),
                            hb,
                            _mm512_srli_epi16::<2>(hb),
                        ];
                        for (sh, h) in hi.iter().enumerate() {
                            let g = 4 * u + sh;
                            w[g] = _mm512_or_si512(w[g], _mm512_and_si512(*h, bits45));
                        }
                    }
                    (
                        _mm512_mul_ps(dv, scales16::<true>(ws.add(2 * j * 16))),
                        _mm512_mul_ps(mv, scales16::<true>(ws.add((2 * j + 1) * 16))),
                    )
                } else {
                    (
                        _mm512_mul_ps(dv, scales16::<false>(ws.add(j * 16))),
                        _mm512_mul_ps(mv, scales16::<false>(ws.add(128 + j * 16))),
                    )
                }
            };
            for (t, acc) in acc.iter_mut().enumerate() {
                let i = t * nb + b;
                // SAFETY: token `t < tn` has `nb` blocks of 32 quants, a scale, a sum and a
                // half sum each (TileArgs).
                unsafe {
                    let ap = a.aq.add(i * 32);
                    let a4 =
                        |g: usize| _mm512_set1_epi32(ap.add(4 * g).cast::<i32>().read_unaligned());
                    let da = *a.ad.add(i);
                    let sum = *a.asum.add(i);
                    if Q6 {
                        let half = *a.ahalf.add(i);
                        let mut lo = _mm512_set1_epi32(-32 * half);
                        let mut hi = _mm512_set1_epi32(-32 * (sum - half));
                        for g in 0..4 {
                            lo = _mm512_dpbusd_epi32(lo, w[g], a4(g));
                            hi = _mm512_dpbusd_epi32(hi, w[g + 4], a4(g + 4));
                        }
                        let x = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), f0);
                        let x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), f1, x);
                        *acc = _mm512_fmadd_ps(x, _mm512_set1_ps(da), *acc);
                    } else {
                        let mut d0 = _mm512_setzero_si512();
                        let mut d1 = _mm512_setzero_si512();
                        for g in 0..4 {
                            d0 = _mm512_dpbusd_epi32(d0, w[g], a4(g));
                            d1 = _mm512_dpbusd_epi32(d1, w[g + 4], a4(g + 4));
                        }
                        let dot = _mm512_cvtepi32_ps(_mm512_add_epi32(d0, d1));
                        let scale = _mm512_mul_ps(f0, _mm512_set1_ps(da));
                        *acc = _mm512_fmadd_ps(dot, scale, *acc);
                        *acc = _mm512_fnmadd_ps(f1, _mm512_set1_ps(da * sum as f32), *acc);
                    }
                }
            }
        }
    }
    let mask: __mmask16 = if a.rows >= 16 {
        0xFFFF
    } else {
        (1u16 << a.rows) - 1
    };
    for (t, acc) in acc.iter().enumerate() {
        // SAFETY: row `t` of the output has `rows` writable floats at `out + t * ldo`
        // (TileArgs); the mask stores only those.
        unsafe { _mm512_mask_storeu_ps(a.out.add(t * a.ldo), mask, *acc) };
    }
}
