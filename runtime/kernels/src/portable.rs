//! The portable kernel: plain Rust over the packed layout, computing exactly what the SIMD
//! kernels compute (integer block dots, offset removed through the activation sums, then
//! `d_w · d_a` in f32; for the K-quants the sub-block scales and mins as the SIMD kernels apply
//! them). It is the fallback on CPUs without AVX2 and the reference in tests.

use crate::matmul::TileArgs;
use crate::repack::{QK, TILE_ROWS};
use half::f16;

/// Tokens per call: any count works; 4 keeps the accumulators small.
pub(crate) const MAX_T: usize = 4;

/// Runs one tile for `args.tn` tokens over Q8_0 weights.
///
/// # Safety
/// `args` must satisfy [`TileArgs`]'s contract.
pub(crate) unsafe fn tile_q8_0(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { tile::<false>(args) }
}

/// Runs one tile for `args.tn` tokens over Q4_0 weights.
///
/// # Safety
/// `args` must satisfy [`TileArgs`]'s contract.
pub(crate) unsafe fn tile_q4_0(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { tile::<true>(args) }
}

unsafe fn tile<const Q4: bool>(a: &TileArgs) {
    let nb = a.nb;
    let tbb = if Q4 { 256 } else { 512 };
    let offset: i32 = if Q4 { 8 } else { 128 };
    // SAFETY: TileArgs guarantees these extents: `nb` tile-blocks of quants and of 16 scales;
    // `tn` tokens of `nb` blocks (32 quants, a scale, a sum each), token stride `nb` blocks.
    let (wq, wd, aq, ad, asum) = unsafe {
        (
            std::slice::from_raw_parts(a.wq, nb * tbb),
            std::slice::from_raw_parts(a.wd, nb * TILE_ROWS),
            std::slice::from_raw_parts(a.aq, a.tn * nb * 32),
            std::slice::from_raw_parts(a.ad, a.tn * nb),
            std::slice::from_raw_parts(a.asum, a.tn * nb),
        )
    };
    let mut acc = vec![[0f32; TILE_ROWS]; a.tn];
    for b in 0..nb {
        let q = &wq[b * tbb..(b + 1) * tbb];
        let dw: [f32; TILE_ROWS] =
            std::array::from_fn(|r| f16::from_bits(wd[b * TILE_ROWS + r]).to_f32());
        for (t, acc) in acc.iter_mut().enumerate() {
            let i = t * nb + b;
            let x = &aq[i * 32..(i + 1) * 32];
            let mut dot = [-offset * asum[i]; TILE_ROWS];
            for g in 0..8 {
                for j in 0..4 {
                    let xv = x[4 * g + j] as i8 as i32;
                    for (r, dot) in dot.iter_mut().enumerate() {
                        let wv = if Q4 {
                            let byte = q[((g % 4) * TILE_ROWS + r) * 4 + j];
                            if g < 4 {
                                byte & 0x0F
                            } else {
                                byte >> 4
                            }
                        } else {
                            q[(g * TILE_ROWS + r) * 4 + j]
                        };
                        *dot += wv as i32 * xv;
                    }
                }
            }
            for r in 0..TILE_ROWS {
                acc[r] += dot[r] as f32 * (dw[r] * ad[i]);
            }
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        // SAFETY: output row `t` has `rows` writable floats at `out + t * ldo` (TileArgs).
        unsafe { std::ptr::copy_nonoverlapping(acc.as_ptr(), a.out.add(t * a.ldo), a.rows) };
    }
}

/// Runs one tile for `args.tn` tokens over Q4_K weights.
///
/// # Safety
/// `args` must satisfy [`TileArgs`]'s contract.
pub(crate) unsafe fn tile_q4_k(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { tile_k::<false>(args) }
}

/// Runs one tile for `args.tn` tokens over Q6_K weights.
///
/// # Safety
/// `args` must satisfy [`TileArgs`]'s contract.
pub(crate) unsafe fn tile_q6_k(args: &TileArgs) {
    // SAFETY: forwarded from the caller.
    unsafe { tile_k::<true>(args) }
}

/// The K-quants. Per block of 32 and row: Q4_K adds `d_a · (d·sc · Σ q·a − dmin·m · Σ a)`;
/// Q6_K adds `d_a · (d·s₀ · Σ₀ (q − 32)·a + d·s₁ · Σ₁ (q − 32)·a)` over its two halves of 16.
unsafe fn tile_k<const Q6: bool>(a: &TileArgs) {
    let nb = a.nb;
    let nsb = nb / 8;
    let tbb = if Q6 { 384 } else { 256 };
    let d_len = if Q6 { 16 } else { 32 };
    // SAFETY: TileArgs guarantees these extents (see `tile`; K-quant scales per super-block:
    // `d_len` f16 and 256 sub-block bytes).
    let (wq, wd, ws, aq, ad, asum, ahalf) = unsafe {
        (
            std::slice::from_raw_parts(a.wq, nb * tbb),
            std::slice::from_raw_parts(a.wd, nsb * d_len),
            std::slice::from_raw_parts(a.ws, nsb * 256),
            std::slice::from_raw_parts(a.aq, a.tn * nb * 32),
            std::slice::from_raw_parts(a.ad, a.tn * nb),
            std::slice::from_raw_parts(a.asum, a.tn * nb),
            std::slice::from_raw_parts(a.ahalf, a.tn * nb),
        )
    };
    let h = |i: usize| f16::from_bits(wd[i]).to_f32();
    let mut acc = vec![[0f32; TILE_ROWS]; a.tn];
    for b in 0..nb {
        let (s, j) = (b / 8, b % 8);
        let q = &wq[b * tbb..(b + 1) * tbb];
        let ws = &ws[s * 256..(s + 1) * 256];
        // per row: the two f32 factors of this block (Q4_K: d·sc, dmin·m; Q6_K: d·s₀, d·s₁)
        let f: [(f32, f32); TILE_ROWS] = std::array::from_fn(|r| {
            if Q6 {
                let d = h(s * 16 + r);
                (
                    d * ws[2 * j * 16 + r] as i8 as f32,
                    d * ws[(2 * j + 1) * 16 + r] as i8 as f32,
                )
            } else {
                (
                    h(s * 32 + r) * ws[j * 16 + r] as f32,
                    h(s * 32 + 16 + r) * ws[128 + j * 16 + r] as f32,
                )
            }
        });
        for (t, acc) in acc.iter_mut().enumerate() {
            let i = t * nb + b;
            let x = &aq[i * 32..(i + 1) * 32];
            let (da, sum, half) = (ad[i], asum[i], ahalf[i]);
            for (r, acc) in acc.iter_mut().enumerate() {
                let mut dots = [0i32; 2];
                for (e, &xv) in x.iter().enumerate() {
                    let w = if Q6 {
                        six_bits(q, r, e)
                    } else {
                        nibble(q, r, e)
                    };
                    dots[e / 16] += w as i32 * xv as i8 as i32;
                }
                let (f0, f1) = f[r];
                if Q6 {
                    let lo = (dots[0] - 32 * half) as f32;
                    let hi = (dots[1] - 32 * (sum - half)) as f32;
                    *acc += (lo * f0 + hi * f1) * da;
                } else {
                    *acc += (dots[0] + dots[1]) as f32 * (f0 * da) - f1 * (da * sum as f32);
                }
            }
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        // SAFETY: output row `t` has `rows` writable floats at `out + t * ldo` (TileArgs).
        unsafe { std::ptr::copy_nonoverlapping(acc.as_ptr(), a.out.add(t * a.ldo), a.rows) };
    }
}

/// Weight `e` (0..32) of row `r` in a tile-block of nibbles (the Q4_0 layout).
pub(crate) fn nibble(q: &[u8], r: usize, e: usize) -> u8 {
    let (g, j) = (e / 4, e % 4);
    let byte = q[((g % 4) * TILE_ROWS + r) * 4 + j];
    if g < 4 {
        byte & 0x0F
    } else {
        byte >> 4
    }
}

/// The 6-bit quant `e` (0..32) of row `r` in a Q6_K tile-block.
pub(crate) fn six_bits(q: &[u8], r: usize, e: usize) -> u8 {
    let (g, j) = (e / 4, e % 4);
    let hi = (q[TILE_ROWS * QK / 2 + ((g / 4) * TILE_ROWS + r) * 4 + j] >> (2 * (g % 4))) & 3;
    nibble(q, r, e) | (hi << 4)
}
