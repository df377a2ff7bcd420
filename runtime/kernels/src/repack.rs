//! Weights repacked once at load time into tiles of [`TILE_ROWS`] interleaved rows.
//!
//! A weight matrix `[n, k]` (GGUF stores a linear layer's weight as `n` rows of `k` inputs) is cut
//! into `ceil(n / 16)` tiles of 16 rows (the last one padded with zero rows); each tile is cut
//! along `k` into blocks of 32. One *tile-block* (16 rows × 32 weights) stores its quants 64-byte
//! aligned, as groups of 4 consecutive `k` positions: for group `g` (0..8, positions `4g..4g+4`)
//! the 64 bytes `[row 0: 4 bytes][row 1: 4 bytes]…[row 15: 4 bytes]`.
//!
//! - Q8_0: 8 groups × 64 = 512 bytes, each weight stored as the unsigned byte `w + 128`;
//! - Q4_0, Q4_K: 4 vectors × 64 = 256 bytes; vector `p` holds group `p` in the low nibbles and
//!   group `p + 4` in the high nibbles, each weight as its unsigned 4-bit ggml quant;
//! - Q6_K: the low 4 bits of the 6-bit quants as Q4_0 (256 bytes), then 2 vectors (128 bytes) of
//!   high bits: vector `u` holds bits 4–5 of group `4u + s` in bits `2s..2s+2` of each byte.
//!
//! Scales, in arrays of their own, tile-major like the quants:
//! - Q8_0, Q4_0: one f16 per row per block, `[tile][block][row]`;
//! - Q4_K: per 256-weight super-block, `d[16]` then `dmin[16]` (f16), and the sub-block scales
//!   `sc[8][16]` then mins `m[8][16]` (6-bit, one byte each): weight = `(d·sc)·q − dmin·m`;
//! - Q6_K: per super-block `d[16]` (f16) and the sixteen 16-weight sub-block scales
//!   `scale[16][16]` (i8): weight = `(d·scale)·(q − 32)`.
//!
//! The K-quants keep their integer sub-block scales (4.625 and 6.5625 bits per weight, as in
//! GGUF) rather than one f32 per 32 weights, because decode is bound by memory traffic; the
//! kernels turn them into f32 once per tile-block, shared by all the tokens of a call.
//!
//! So one 512-bit load gives 4 weights of each of 16 rows, and one broadcast of 4 activation
//! bytes feeds them all: `vpdpbusd` (u8 × i8, 4 products summed per 32-bit lane) then leaves the
//! 16 rows' partial dots in 16 lanes with no horizontal reduction. AVX2 uses each 64-byte vector
//! as two 32-byte halves (rows 0..8, rows 8..16). Weights are stored unsigned because `vpdpbusd`
//! and `vpmaddubsw` take u8 × i8; the offset is taken back through the activations' block sums
//! (see [`crate::activation`]).
//!
//! Tile-blocks are laid out tile-major (`[tile][block]`), so a thread that owns a range of tiles
//! reads one contiguous stretch of memory, and one tile's whole `k` extent is contiguous.

use crate::aligned::AlignedBytes;
use crate::portable::{nibble, six_bits};
use crate::{q4_0, q4_k, q6_k, q8_0, KernelError};
use half::f16;
use rayon::prelude::*;

/// Weight rows per tile (one 512-bit vector holds 4 bytes of each).
pub const TILE_ROWS: usize = 16;
/// Weights per block along `k` (the kernels' unit; K-quant super-blocks hold 8 of them).
pub const QK: usize = 32;

/// The GGUF block format a [`PackedMatrix`] was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    /// ggml `Q8_0`: f16 scale + 32 × i8.
    Q8_0,
    /// ggml `Q4_0`: f16 scale + 16 bytes of nibbles.
    Q4_0,
    /// ggml `Q4_K`: 256-weight super-blocks of 4-bit quants with 6-bit sub-block scales and mins.
    Q4K,
    /// ggml `Q6_K`: 256-weight super-blocks of 6-bit quants with 8-bit sub-block scales.
    Q6K,
}

impl WeightFormat {
    /// All formats.
    pub const ALL: [WeightFormat; 4] = [
        WeightFormat::Q8_0,
        WeightFormat::Q4_0,
        WeightFormat::Q4K,
        WeightFormat::Q6K,
    ];

    /// Weights per GGUF block (32, or 256 for the K-quants); a row's `k` must be a multiple.
    pub fn block_len(self) -> usize {
        match self {
            WeightFormat::Q8_0 | WeightFormat::Q4_0 => QK,
            WeightFormat::Q4K | WeightFormat::Q6K => q4_k::QK_K,
        }
    }

    /// Bytes per GGUF block of [`WeightFormat::block_len`] weights.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightFormat::Q8_0 => q8_0::BLOCK_BYTES,
            WeightFormat::Q4_0 => q4_0::BLOCK_BYTES,
            WeightFormat::Q4K => q4_k::BLOCK_BYTES,
            WeightFormat::Q6K => q6_k::BLOCK_BYTES,
        }
    }

    /// Dequantizes whole GGUF blocks of this format: `bytes` holds
    /// `out.len() / block_len` of them (e.g. one row of an embedding table).
    ///
    /// # Panics
    /// If `out.len()` is not a multiple of [`WeightFormat::block_len`] or `bytes` has the wrong
    /// length.
    pub fn dequantize(self, bytes: &[u8], out: &mut [f32]) {
        match self {
            WeightFormat::Q8_0 => q8_0::dequantize(bytes, out),
            WeightFormat::Q4_0 => q4_0::dequantize(bytes, out),
            WeightFormat::Q4K => q4_k::dequantize(bytes, out),
            WeightFormat::Q6K => q6_k::dequantize(bytes, out),
        }
    }

    /// Bytes of quants per packed tile-block (16 rows × 32 weights).
    pub(crate) fn tile_block_bytes(self) -> usize {
        match self {
            WeightFormat::Q8_0 => TILE_ROWS * QK,
            WeightFormat::Q4_0 | WeightFormat::Q4K => TILE_ROWS * QK / 2,
            WeightFormat::Q6K => TILE_ROWS * QK / 2 + TILE_ROWS * QK / 4,
        }
    }

    /// f16 scales per tile for `nb` blocks of 32 along `k`.
    pub(crate) fn d_per_tile(self, nb: usize) -> usize {
        match self {
            WeightFormat::Q8_0 | WeightFormat::Q4_0 => nb * TILE_ROWS,
            WeightFormat::Q4K => nb / 8 * 2 * TILE_ROWS,
            WeightFormat::Q6K => nb / 8 * TILE_ROWS,
        }
    }

    /// Sub-block scale bytes per tile for `nb` blocks of 32 along `k` (K-quants only).
    pub(crate) fn sub_per_tile(self, nb: usize) -> usize {
        match self {
            WeightFormat::Q8_0 | WeightFormat::Q4_0 => 0,
            WeightFormat::Q4K | WeightFormat::Q6K => nb / 8 * 16 * TILE_ROWS,
        }
    }
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightFormat::Q8_0 => "Q8_0",
            WeightFormat::Q4_0 => "Q4_0",
            WeightFormat::Q4K => "Q4_K",
            WeightFormat::Q6K => "Q6_K",
        })
    }
}

/// A quantized weight matrix `[n_rows, k]`, repacked for the kernels (see the module doc).
#[derive(Clone)]
pub struct PackedMatrix {
    format: WeightFormat,
    n: usize,
    k: usize,
    /// One buffer holding the quants (`[tile][block]`, from byte 0), the K-quant sub-block scales
    /// (`[tile][super-block][..][row]`, none for Q8_0 and Q4_0, from `sub_at`) and the f16 scale
    /// bit patterns (`[tile][..]` as the module doc says per format, from `d_at`), each part
    /// 64-byte aligned. One buffer rather than three, so that the scales share the quants' huge
    /// pages (see `aligned.rs`; the sub-block scales of a 1.5B layer's gate are 0.9 MB, too small
    /// to get huge pages alone).
    buf: AlignedBytes,
    qs_len: usize,
    sub_at: usize,
    sub_len: usize,
    d_at: usize,
    /// Count of f16 scales.
    d_len: usize,
}

impl std::fmt::Debug for PackedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedMatrix")
            .field("format", &self.format)
            .field("n_rows", &self.n)
            .field("k", &self.k)
            .finish()
    }
}

/// One tile's destination arrays, and the row being written.
struct TileOut<'a> {
    q: &'a mut [u8],
    d: &'a mut [u16],
    sub: &'a mut [u8],
    r: usize,
}

impl TileOut<'_> {
    /// Stores the 32 4-bit quants of block `b` (Q4_0 layout, also Q4_K's and Q6_K's low bits).
    fn nibbles(&mut self, tbb: usize, b: usize, q: &[u8]) {
        let dst = &mut self.q[b * tbb..];
        for p in 0..4 {
            for j in 0..4 {
                dst[(p * TILE_ROWS + self.r) * 4 + j] =
                    (q[4 * p + j] & 0x0F) | ((q[4 * (p + 4) + j] & 0x0F) << 4);
            }
        }
    }

    /// Stores bits 4–5 of the 32 6-bit quants of block `b` (Q6_K).
    fn high_bits(&mut self, tbb: usize, b: usize, q: &[u8]) {
        let dst = &mut self.q[b * tbb + TILE_ROWS * QK / 2..];
        for g in 0..8 {
            let (u, s) = (g / 4, g % 4);
            for j in 0..4 {
                dst[(u * TILE_ROWS + self.r) * 4 + j] |= ((q[4 * g + j] >> 4) & 3) << (2 * s);
            }
        }
    }
}

impl PackedMatrix {
    /// Repacks the raw GGUF bytes of a Q8_0 tensor with `n_rows` rows of `k` weights.
    pub fn from_q8_0(bytes: &[u8], n_rows: usize, k: usize) -> Result<Self, KernelError> {
        Self::new(WeightFormat::Q8_0, bytes, n_rows, k)
    }

    /// Repacks the raw GGUF bytes of a Q4_0 tensor with `n_rows` rows of `k` weights.
    pub fn from_q4_0(bytes: &[u8], n_rows: usize, k: usize) -> Result<Self, KernelError> {
        Self::new(WeightFormat::Q4_0, bytes, n_rows, k)
    }

    /// Repacks the raw GGUF bytes of a tensor in `format`; `k` must be a multiple of the
    /// format's block length (32, or 256 for the K-quants). Runs on rayon's global pool (it is
    /// load-time work, and the output head is 150 MB).
    pub fn new(
        format: WeightFormat,
        bytes: &[u8],
        n_rows: usize,
        k: usize,
    ) -> Result<Self, KernelError> {
        let block = format.block_len();
        if k == 0 || !k.is_multiple_of(block) {
            return Err(KernelError::BadK { k, block });
        }
        if n_rows == 0 {
            return Err(KernelError::NoRows);
        }
        let expected = n_rows
            .checked_mul(k / block)
            .and_then(|b| b.checked_mul(format.block_bytes()))
            .ok_or(KernelError::TooLarge)?;
        if bytes.len() != expected {
            return Err(KernelError::WeightBytes {
                format,
                n_rows,
                k,
                expected,
                actual: bytes.len(),
            });
        }
        let nb = k / QK;
        let n_tiles = n_rows.div_ceil(TILE_ROWS);
        let tbb = format.tile_block_bytes();
        let (d_tile, sub_tile) = (format.d_per_tile(nb), format.sub_per_tile(nb));
        let qs_len = n_tiles * nb * tbb;
        let (sub_len, d_len) = (n_tiles * sub_tile, n_tiles * d_tile);
        let sub_at = qs_len.next_multiple_of(64);
        let d_at = (sub_at + sub_len).next_multiple_of(64);
        let mut buf = AlignedBytes::zeroed(d_at + 2 * d_len);
        let (qs, rest) = buf.as_mut_slice().split_at_mut(sub_at);
        let qs = &mut qs[..qs_len];
        let (sub, d) = rest.split_at_mut(d_at - sub_at);
        let sub = &mut sub[..sub_len];
        // SAFETY: every bit pattern is a valid u16; `align_to_mut` puts any misaligned bytes in
        // the prefix, which is empty here (the buffer and `d_at` are 64-byte aligned).
        let (prefix, d, _) = unsafe { d.align_to_mut::<u16>() };
        assert!(prefix.is_empty(), "scales are aligned");
        let row_bytes = k / block * format.block_bytes();
        let fill = |tile: usize, tq: &mut [u8], td: &mut [u16], ts: &mut [u8]| {
            for r in 0..TILE_ROWS {
                let row = tile * TILE_ROWS + r;
                if row >= n_rows {
                    // padding rows keep zero quants and zero scales: they come out as zeros
                    break;
                }
                let src = &bytes[row * row_bytes..(row + 1) * row_bytes];
                let mut out = TileOut {
                    q: tq,
                    d: td,
                    sub: ts,
                    r,
                };
                pack_row(format, src, tbb, &mut out);
            }
        };
        if sub_tile == 0 {
            qs.par_chunks_mut(nb * tbb)
                .zip(d.par_chunks_mut(d_tile))
                .enumerate()
                .for_each(|(tile, (tq, td))| fill(tile, tq, td, &mut []));
        } else {
            qs.par_chunks_mut(nb * tbb)
                .zip(d.par_chunks_mut(d_tile))
                .zip(sub.par_chunks_mut(sub_tile))
                .enumerate()
                .for_each(|(tile, ((tq, td), ts))| fill(tile, tq, td, ts));
        }
        Ok(PackedMatrix {
            format,
            n: n_rows,
            k,
            buf,
            qs_len,
            sub_at,
            sub_len,
            d_at,
            d_len,
        })
    }

    /// The source format.
    pub fn format(&self) -> WeightFormat {
        self.format
    }

    /// Rows (outputs of the linear layer).
    pub fn n_rows(&self) -> usize {
        self.n
    }

    /// Columns (inputs of the linear layer).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Bytes held (quants and scales, padding included).
    pub fn size_in_bytes(&self) -> usize {
        self.qs_len + 2 * self.d_len + self.sub_len
    }

    pub(crate) fn n_tiles(&self) -> usize {
        self.n.div_ceil(TILE_ROWS)
    }

    pub(crate) fn blocks_per_row(&self) -> usize {
        self.k / QK
    }

    pub(crate) fn qs(&self) -> &[u8] {
        &self.buf.as_slice()[..self.qs_len]
    }

    pub(crate) fn scales(&self) -> &[u16] {
        let bytes = &self.buf.as_slice()[self.d_at..][..2 * self.d_len];
        // SAFETY: every bit pattern is a valid u16; the prefix is empty (64-byte aligned start).
        let (prefix, d, _) = unsafe { bytes.align_to::<u16>() };
        assert!(prefix.is_empty(), "scales are aligned");
        d
    }

    pub(crate) fn sub_scales(&self) -> &[u8] {
        &self.buf.as_slice()[self.sub_at..][..self.sub_len]
    }

    /// The weights as f32, `[n_rows][k]` row-major, read back from the packed layout (for tests
    /// and reference computations). Bit-identical to ggml's (and candle's) dequantization of the
    /// source bytes.
    pub fn dequantize(&self) -> Vec<f32> {
        let nb = self.blocks_per_row();
        let tbb = self.format.tile_block_bytes();
        let (d_tile, sub_tile) = (self.format.d_per_tile(nb), self.format.sub_per_tile(nb));
        let mut out = vec![0f32; self.n * self.k];
        for (row, out) in out.chunks_exact_mut(self.k).enumerate() {
            let (tile, r) = (row / TILE_ROWS, row % TILE_ROWS);
            let td = &self.scales()[tile * d_tile..][..d_tile];
            let ts = &self.sub_scales()[tile * sub_tile..][..sub_tile];
            let h = |i: usize| f16::from_bits(td[i]).to_f32();
            for b in 0..nb {
                let q = &self.qs()[(tile * nb + b) * tbb..][..tbb];
                let (s, j) = (b / 8, b % 8);
                for i in 0..QK {
                    let out = &mut out[b * QK + i];
                    match self.format {
                        WeightFormat::Q8_0 => {
                            let w = q[((i / 4) * TILE_ROWS + r) * 4 + i % 4] as i32 - 128;
                            *out = h(b * TILE_ROWS + r) * w as f32;
                        }
                        WeightFormat::Q4_0 => {
                            let w = nibble(q, r, i) as i32 - 8;
                            *out = h(b * TILE_ROWS + r) * w as f32;
                        }
                        WeightFormat::Q4K => {
                            let sb = s * 256;
                            let d1 = h(s * 32 + r) * ts[sb + j * 16 + r] as f32;
                            let m1 = h(s * 32 + 16 + r) * ts[sb + 128 + j * 16 + r] as f32;
                            *out = d1 * nibble(q, r, i) as f32 - m1;
                        }
                        WeightFormat::Q6K => {
                            let sc = ts[s * 256 + (2 * j + i / 16) * 16 + r] as i8;
                            let ds = h(s * 16 + r) * sc as f32;
                            *out = ds * (six_bits(q, r, i) as i32 - 32) as f32;
                        }
                    }
                }
            }
        }
        out
    }
}

/// Packs one row's GGUF bytes (`src`) into its tile's arrays.
fn pack_row(format: WeightFormat, src: &[u8], tbb: usize, out: &mut TileOut<'_>) {
    let r = out.r;
    match format {
        WeightFormat::Q8_0 => {
            for (b, blk) in src.chunks_exact(q8_0::BLOCK_BYTES).enumerate() {
                out.d[b * TILE_ROWS + r] = u16::from_le_bytes([blk[0], blk[1]]);
                let q = q8_0::quants(blk);
                let dst = &mut out.q[b * tbb..];
                for g in 0..QK / 4 {
                    for j in 0..4 {
                        dst[(g * TILE_ROWS + r) * 4 + j] = (q[4 * g + j] as u8) ^ 0x80;
                    }
                }
            }
        }
        WeightFormat::Q4_0 => {
            for (b, blk) in src.chunks_exact(q4_0::BLOCK_BYTES).enumerate() {
                out.d[b * TILE_ROWS + r] = u16::from_le_bytes([blk[0], blk[1]]);
                out.nibbles(tbb, b, &q4_0::quants(blk));
            }
        }
        WeightFormat::Q4K => {
            for (s, blk) in src.chunks_exact(q4_k::BLOCK_BYTES).enumerate() {
                let u = q4_k::unpack(blk);
                out.d[s * 32 + r] = u.d;
                out.d[s * 32 + 16 + r] = u.dmin;
                for j in 0..8 {
                    out.sub[s * 256 + j * 16 + r] = u.scales[j];
                    out.sub[s * 256 + 128 + j * 16 + r] = u.mins[j];
                    out.nibbles(tbb, s * 8 + j, &u.q[j * QK..][..QK]);
                }
            }
        }
        WeightFormat::Q6K => {
            for (s, blk) in src.chunks_exact(q6_k::BLOCK_BYTES).enumerate() {
                let u = q6_k::unpack(blk);
                out.d[s * 16 + r] = u.d;
                for (i, &sc) in u.scales.iter().enumerate() {
                    out.sub[s * 256 + i * 16 + r] = sc as u8;
                }
                for j in 0..8 {
                    let q = &u.q[j * QK..][..QK];
                    out.nibbles(tbb, s * 8 + j, q);
                    out.high_bits(tbb, s * 8 + j, q);
                }
            }
        }
    }
}
