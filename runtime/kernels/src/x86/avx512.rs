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
