//! The driver: validation, activation quantization, the split of work over threads, and the loop
//! over tiles and token tiles that calls one kernel per (tile, token tile).
//!
//! Threads: a dedicated rayon pool per thread count (created once, kept for the process). A call
//! with `threads = t` runs part 0 on the calling thread and hands `t − 1` parts to the pool's
//! `t − 1` workers through `in_place_scope`, so a call costs one wake-up per extra thread and no
//! thread creation: `std::thread::scope` would spawn OS threads on every call (tens of µs each),
//! which matters at decode (m = 1), where one matmul is 10–200 µs and a token runs ~170 of them.
//! A pool of our own (rather than rayon's global one) honours `threads` exactly and does not
//! queue behind whatever else the process runs on the global pool (candle runs its ops there).
//! Tiny matmuls run on one thread: waking another costs more than it saves.

use crate::activation::QuantizedActivations;
use crate::dispatch::Kernel;
use crate::repack::{PackedMatrix, WeightFormat, TILE_ROWS};
use crate::{portable, KernelError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

/// One kernel call: tile `tile` (16 weight rows) × `tn` tokens, over the whole `k` extent.
///
/// Contract (what every kernel may assume):
/// - `wq` points to the tile's `nb` tile-blocks of quants (`tile_block_bytes` each), 64-byte
///   aligned; `wd` to its `nb * 16` f16 scales;
/// - `aq`, `ad`, `asum` point to the first token's block 0 of quants (32 bytes per block), scales
///   and sums; token `t` starts `t * nb` blocks further; `1 <= tn <= ` the kernel's `MAX_T`;
/// - `out` points to output row `t0`, column `tile * 16`; for each `t < tn`, `rows` floats at
///   `out + t * ldo` are writable and written by no one else during the call (`1 <= rows <= 16`).
pub(crate) struct TileArgs {
    pub(crate) wq: *const u8,
    pub(crate) wd: *const u16,
    pub(crate) nb: usize,
    pub(crate) aq: *const u8,
    pub(crate) ad: *const f32,
    pub(crate) asum: *const i32,
    pub(crate) tn: usize,
    pub(crate) out: *mut f32,
    pub(crate) ldo: usize,
    pub(crate) rows: usize,
}

type TileFn = unsafe fn(&TileArgs);

/// The kernel function and its most tokens per call.
fn tile_fn(kernel: Kernel, format: WeightFormat) -> (TileFn, usize) {
    match (kernel, format) {
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, WeightFormat::Q8_0) => {
            (crate::x86::avx512::tile_q8_0, crate::x86::avx512::MAX_T)
        }
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, WeightFormat::Q4_0) => {
            (crate::x86::avx512::tile_q4_0, crate::x86::avx512::MAX_T)
        }
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, WeightFormat::Q8_0) => {
            (crate::x86::avx2::tile_q8_0, crate::x86::avx2::MAX_T)
        }
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, WeightFormat::Q4_0) => {
            (crate::x86::avx2::tile_q4_0, crate::x86::avx2::MAX_T)
        }
        (_, WeightFormat::Q8_0) => (portable::tile_q8_0, portable::MAX_T),
        (_, WeightFormat::Q4_0) => (portable::tile_q4_0, portable::MAX_T),
    }
}

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
    // Taken out of the cell for the call, not borrowed: a caller that is itself a rayon worker
    // may run another job (and another matmul) on this thread while it waits for our parts.
    let mut qa = SCRATCH.with(|cell| cell.take());
    let result = qa
        .quantize_into(kernel, input, m, weights.k())
        .and_then(|()| matmul_quantized_with(kernel, weights, &qa, output, threads));
    SCRATCH.with(|cell| cell.replace(qa));
    result
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
    if !kernel.is_supported() {
        return Err(KernelError::Unsupported(kernel));
    }
    if activations.k() != weights.k() {
        return Err(KernelError::KMismatch {
            expected: weights.k(),
            actual: activations.k(),
        });
    }
    let m = activations.m();
    check_output(weights, m, output)?;
    if m == 0 {
        return Ok(());
    }
    let (f, max_t) = tile_fn(kernel, weights.format());
    let n_tiles = weights.n_tiles();
    let steps = m * n_tiles * weights.blocks_per_row();
    let threads = threads.clamp(1, (steps / MIN_STEPS_PER_THREAD).max(1));
    let out = SendPtr(output.as_mut_ptr());
    let part = |j: usize| {
        // Split weight rows (tiles) when there are enough of them; else split tokens.
        let (tiles, tokens) = if n_tiles >= threads {
            (split(n_tiles, threads, j), 0..m)
        } else {
            (0..n_tiles, split(m, threads, j))
        };
        // SAFETY: the parts write disjoint output elements (disjoint tiles = disjoint columns,
        // or disjoint tokens = disjoint rows) of `output`, which outlives the call; the other
        // TileArgs requirements are established in `run_part`.
        unsafe { run_part(f, max_t, weights, activations, tiles, tokens, out) };
    };
    run_parallel(threads, &part);
    Ok(())
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
    let n = w.n_rows();
    let chunk = (TOKEN_CHUNK_BYTES / w.k()).max(max_t) / max_t * max_t;
    let (wq, wd) = (w.qs(), w.scales());
    let (aq, ad, asum) = (qa.qs(), qa.scales(), qa.sums());
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
                    wd: wd[tile * nb * TILE_ROWS..].as_ptr(),
                    nb,
                    aq: aq[t0 * nb * 32..].as_ptr(),
                    ad: ad[t0 * nb..].as_ptr(),
                    asum: asum[t0 * nb..].as_ptr(),
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

/// Runs `part(0..threads)`, part 0 on this thread, the others on a pool of `threads - 1` workers.
fn run_parallel(threads: usize, part: &(dyn Fn(usize) + Sync)) {
    if threads <= 1 {
        part(0);
        return;
    }
    let pool = pool(threads - 1);
    pool.in_place_scope(|s| {
        for j in 1..threads {
            s.spawn(move |_| part(j));
        }
        part(0);
    });
}

/// The pool with `workers` threads, created on first use and kept for the process.
fn pool(workers: usize) -> &'static rayon::ThreadPool {
    static POOLS: OnceLock<Mutex<HashMap<usize, &'static rayon::ThreadPool>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools.entry(workers).or_insert_with(|| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("govassist-kernels-{i}"))
            .build()
            .expect("cannot start kernel threads");
        Box::leak(Box::new(pool))
    })
}
