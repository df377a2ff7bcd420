//! The portable kernel: plain Rust over the packed layout, computing exactly what the SIMD
//! kernels compute (integer block dots, offset removed through the activation sums, then
//! `d_w · d_a` in f32). It is the fallback on CPUs without AVX2 and the reference in tests.

use crate::matmul::TileArgs;
use crate::repack::TILE_ROWS;
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
