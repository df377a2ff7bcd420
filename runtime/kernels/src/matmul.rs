//! The driver: validation, activation quantization, the split of work over threads, and the loop
//! over tiles and token tiles that calls one kernel per (tile, token tile).
//!
//! Threads: [`crate::parallel_for`] (a pool of spinning workers per thread count, see `pool.rs`)
//! runs the parts on the calling thread and its workers, so a call costs no thread creation and,
//! during decode, no wake-up either. The rows are cut into [`PARTS_PER_THREAD`] parts per thread,
//! taken by whichever thread is free: a thread that loses its core for a moment delays the call
//! by one part, not by its whole share. Several matrices that share an input (Q, K, V;
//! gate, up) can go as one job ([`matmul_quantized_many`]): one synchronization instead of one
//! per matrix, and the threads' shares are balanced over all of them. Tiny matmuls run on one
//! thread: involving another costs more than it saves.

use crate::activation::QuantizedActivations;
use crate::dispatch::Kernel;
use crate::pool::parallel_for;
use crate::repack::{PackedMatrix, WeightFormat, TILE_ROWS};
use crate::{portable, KernelError};
use std::cell::RefCell;
use std::ops::Range;

/// One kernel call: tile `tile` (16 weight rows) × `tn` tokens, over the whole `k` extent.
///
/// Contract (what every kernel may assume):
/// - `wq` points to the tile's `nb` tile-blocks of quants (`tile_block_bytes` each), 64-byte
///   aligned; `wd` to its `d_per_tile(nb)` f16 scales, `ws` to its `sub_per_tile(nb)` sub-block
///   scales (K-quants; `nb` is then a multiple of 8), laid out as [`crate::repack`] says;
/// - `aq`, `ad`, `asum`, `ahalf` point to the first token's block 0 of quants (32 bytes per
///   block), scales, sums and half sums; token `t` starts `t * nb` blocks further;
///   `1 <= tn <= ` the kernel's `MAX_T`;
/// - `out` points to output row `t0`, column `tile * 16`; for each `t < tn`, `rows` floats at
///   `out + t * ldo` are writable and written by no one else during the call (`1 <= rows <= 16`).
pub(crate) struct TileArgs {
    pub(crate) wq: *const u8,
    pub(crate) wd: *const u16,
    pub(crate) ws: *const u8,
    pub(crate) nb: usize,
    pub(crate) aq: *const u8,
    pub(crate) ad: *const f32,
    pub(crate) asum: *const i32,
    pub(crate) ahalf: *const i32,
    pub(crate) tn: usize,
    pub(crate) out: *mut f32,
    pub(crate) ldo: usize,
    pub(crate) rows: usize,
}

type TileFn = unsafe fn(&TileArgs);

/// The kernel function and its most tokens per call.
fn tile_fn(kernel: Kernel, format: WeightFormat) -> (TileFn, usize) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            use crate::x86::avx512 as k;
            let f: TileFn = match format {
                WeightFormat::Q8_0 => k::tile_q8_0,
                WeightFormat::Q4_0 => k::tile_q4_0,
                WeightFormat::Q4K => k::tile_q4_k,
                WeightFormat::Q6K => k::tile_q6_k,
            };
            (f, k::MAX_T)
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            use crate::x86::avx2 as k;
            let f: TileFn = match format {
                WeightFormat::Q8_0 => k::tile_q8_0,
                WeightFormat::Q4_0 => k::tile_q4_0,
                WeightFormat::Q4K => k::tile_q4_k,
                WeightFormat::Q6K => k::tile_q6_k,
            };
            (f, k::MAX_T)
        }
        _ => {
            let f: TileFn = match format {
                WeightFormat::Q8_0 => portable::tile_q8_0,
                WeightFormat::Q4_0 => portable::tile_q4_0,
                WeightFormat::Q4K => portable::tile_q4_k,
                WeightFormat::Q6K => portable::tile_q6_k,
            };
            (f, portable::MAX_T)
        }
    }
}

/// Parts per thread when a matmul's rows are split (see the module doc).
const PARTS_PER_THREAD: usize = 4;

/// Activation bytes a thread keeps hot while it sweeps its tiles (L2 is 1 MiB per core on Zen 4;
/// leave room for the weights of a tile).
const TOKEN_CHUNK_BYTES: usize = 256 * 1024;
/// Below this many (token × tile-block) kernel steps per thread (~8 `vpdpbusd` each), the
/// matmul runs on fewer threads.
const MIN_STEPS_PER_THREAD: usize = 1024;

/// `output = input · weightsᵀ` with the selected kernel ([`Kernel::selected`]).
///
/// `input` is `m × k` row-major f32, `output` `m × n_rows` row-major; the work is split over
/// `threads` threads (0 counts as 1) by ranges of weight rows.
pub fn matmul(
    weights: &PackedMatrix,
    input: &[f32],
    m: usize,
    output: &mut [f32],
    threads: usize,
) -> Result<(), KernelError> {
    matmul_with(Kernel::selected(), weights, input, m, output, threads)
}

/// [`matmul`] with an explicit kernel ([`KernelError::Unsupported`] if this CPU lacks it).
pub fn matmul_with(
    kernel: Kernel,
    weights: &PackedMatrix,
    input: &[f32],
    m: usize,
    output: &mut [f32],
    threads: usize,
) -> Result<(), KernelError> {
    thread_local! {
        static SCRATCH: RefCell<QuantizedActivations> = RefCell::new(QuantizedActivations::new());
    }
    check_output(weights, m, output)?;
    // The calling thread only waits for the other parts (it runs no other work meanwhile), so
    // nothing else borrows its scratch during the call.
    SCRATCH.with_borrow_mut(|qa| {
        qa.quantize_into(kernel, input, m, weights.k())?;
        matmul_quantized_with(kernel, weights, qa, output, threads)
    })
}

/// `output = activations · weightsᵀ` for activations already quantized (quantize once, use for
/// several matrices that share an input, e.g. the Q, K and V projections).
pub fn matmul_quantized(
    weights: &PackedMatrix,
    activations: &QuantizedActivations,
    output: &mut [f32],
    threads: usize,
) -> Result<(), KernelError> {
    matmul_quantized_with(Kernel::selected(), weights, activations, output, threads)
}

/// [`matmul_quantized`] with an explicit kernel.
pub fn matmul_quantized_with(
    kernel: Kernel,
    weights: &PackedMatrix,
    activations: &QuantizedActivations,
    output: &mut [f32],
    threads: usize,
) -> Result<(), KernelError> {
    matmul_quantized_many_with(kernel, &[weights], activations, &mut [output], threads)
}

/// `outputs[i] = activations · weights[i]ᵀ` for several matrices that share one input (the Q, K
/// and V projections; gate and up), as one parallel job: the threads meet once, not once per
/// matrix, and their shares are balanced over all the matrices' rows. The matrices may differ in
/// format and size (not in `k`).
pub fn matmul_quantized_many(
    weights: &[&PackedMatrix],
    activations: &QuantizedActivations,
    outputs: &mut [&mut [f32]],
    threads: usize,
) -> Result<(), KernelError> {
    matmul_quantized_many_with(Kernel::selected(), weights, activations, outputs, threads)
}

/// [`matmul_quantized_many`] with an explicit kernel.
pub fn matmul_quantized_many_with(
    kernel: Kernel,
    weights: &[&PackedMatrix],
    activations: &QuantizedActivations,
    outputs: &mut [&mut [f32]],
    threads: usize,
) -> Result<(), KernelError> {
    if !kernel.is_supported() {
        return Err(KernelError::Unsupported(kernel));
    }
    if weights.len() != outputs.len() {
        return Err(KernelError::OutputCount {
            matrices: weights.len(),
            outputs: outputs.len(),
        });
    }
    let m = activations.m();
    for (w, out) in weights.iter().zip(outputs.iter()) {
        if activations.k() != w.k() {
            return Err(KernelError::KMismatch {
                expected: w.k(),
                actual: activations.k(),
            });
        }
        check_output(w, m, out)?;
    }
    if m == 0 || weights.is_empty() {
        return Ok(());
    }
    // Per matrix: kernel, token limit, tiles, cost of one tile (its quant bytes: what decode
    // reads; prefill's compute is about proportional), output.
    let mats: Vec<Mat<'_>> = weights
        .iter()
        .zip(outputs.iter_mut())
        .map(|(w, out)| {
            let (f, max_t) = tile_fn(kernel, w.format());
            Mat {
                f,
                max_t,
                w,
                cost: w.blocks_per_row() * w.format().tile_block_bytes(),
                out: SendPtr(out.as_mut_ptr()),
            }
        })
        .collect();
    let n_tiles: usize = mats.iter().map(|x| x.w.n_tiles()).sum();
    let steps: usize = mats
        .iter()
        .map(|x| m * x.w.n_tiles() * x.w.blocks_per_row())
        .sum();
    let threads = threads.clamp(1, (steps / MIN_STEPS_PER_THREAD).max(1));
    let total: usize = mats.iter().map(|x| x.w.n_tiles() * x.cost).sum();
    // Split weight rows (tiles, by cost) when there are enough of them; else split tokens.
    let by_tiles = n_tiles >= threads;
    let parts = if by_tiles {
        n_tiles.min(threads * PARTS_PER_THREAD)
    } else {
        threads.min(m)
    };
    let part = |j: usize| {
        if by_tiles {
            let (lo, hi) = (total * j / parts, total * (j + 1) / parts);
            let mut start = 0;
            for x in &mats {
                // the tiles whose cost range starts in [lo, hi)
                let first = lo.saturating_sub(start).div_ceil(x.cost);
                let end = hi.saturating_sub(start).div_ceil(x.cost);
                let tiles = first.min(x.w.n_tiles())..end.min(x.w.n_tiles());
                start += x.w.n_tiles() * x.cost;
                if !tiles.is_empty() {
                    // SAFETY: the parts' tile ranges are disjoint (each tile belongs to the part
                    // its cost range starts in), so they write disjoint columns of the output,
                    // which outlives the call; run_part establishes the rest of TileArgs.
                    unsafe { run_part(x.f, x.max_t, x.w, activations, tiles, 0..m, x.out) };
                }
            }
        } else {
            let tokens = split(m, parts, j);
            for x in &mats {
                // SAFETY: disjoint token ranges write disjoint rows of each output.
                unsafe {
                    run_part(
                        x.f,
                        x.max_t,
                        x.w,
                        activations,
                        0..x.w.n_tiles(),
                        tokens.clone(),
                        x.out,
                    )
                };
            }
        }
    };
    parallel_for(threads, parts, &part);
    Ok(())
}

/// One matrix of a [`matmul_quantized_many_with`] job.
struct Mat<'a> {
    f: TileFn,
    max_t: usize,
    w: &'a PackedMatrix,
    cost: usize,
    out: SendPtr,
}

fn check_output(weights: &PackedMatrix, m: usize, output: &[f32]) -> Result<(), KernelError> {
    let expected = m
        .checked_mul(weights.n_rows())
        .ok_or(KernelError::TooLarge)?;
    if output.len() != expected {
        return Err(KernelError::OutputLength {
            expected,
            actual: output.len(),
        });
    }
    Ok(())
}

/// Part `j` of `0..len` cut into `parts` near-equal ranges.
fn split(len: usize, parts: usize, j: usize) -> Range<usize> {
    len * j / parts..len * (j + 1) / parts
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: the pointer is only used to write disjoint parts of one output slice (see
// `matmul_quantized_with`), while the call that borrows the slice is running.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Computes `tiles × tokens` of the output.
///
/// # Safety
/// `out` must point to the `m × n` output, and no one else may access the elements of these
/// tiles × tokens during the call. `tiles` and `tokens` must lie within the matrix and the
/// activations, and `f` must be a kernel this CPU runs, with `max_t` its token limit.
unsafe fn run_part(
    f: TileFn,
    max_t: usize,
    w: &PackedMatrix,
    qa: &QuantizedActivations,
    tiles: Range<usize>,
    tokens: Range<usize>,
    out: SendPtr,
) {
    let nb = w.blocks_per_row();
    let tbb = w.format().tile_block_bytes();
    let (d_tile, sub_tile) = (w.format().d_per_tile(nb), w.format().sub_per_tile(nb));
    let n = w.n_rows();
    let chunk = (TOKEN_CHUNK_BYTES / w.k()).max(max_t) / max_t * max_t;
    let (wq, wd, ws) = (w.qs(), w.scales(), w.sub_scales());
    let (aq, ad, asum, ahalf) = (qa.qs(), qa.scales(), qa.sums(), qa.half_sums());
    let mut c0 = tokens.start;
    while c0 < tokens.end {
        let c1 = (c0 + chunk).min(tokens.end);
        for tile in tiles.clone() {
            let rows = (n - tile * TILE_ROWS).min(TILE_ROWS);
            let mut t0 = c0;
            while t0 < c1 {
                let tn = (c1 - t0).min(max_t);
                let args = TileArgs {
                    wq: wq[tile * nb * tbb..].as_ptr(),
                    wd: wd[tile * d_tile..].as_ptr(),
                    ws: ws[tile * sub_tile..].as_ptr(),
                    nb,
                    aq: aq[t0 * nb * 32..].as_ptr(),
                    ad: ad[t0 * nb..].as_ptr(),
                    asum: asum[t0 * nb..].as_ptr(),
                    ahalf: ahalf[t0 * nb..].as_ptr(),
                    tn,
                    // SAFETY: t0 < m and tile * 16 < n, so the offset lies inside the output.
                    out: unsafe { out.0.add(t0 * n + tile * TILE_ROWS) },
                    ldo: n,
                    rows,
                };
                // SAFETY: the slices above hold the extents TileArgs promises (the packed
                // matrix is tile-major with 64-byte-aligned tile-blocks, the activations are
                // token-major), `tn <= max_t`, and the caller owns these output elements.
                unsafe { f(&args) };
                t0 += tn;
            }
        }
        c0 = c1;
    }
}
