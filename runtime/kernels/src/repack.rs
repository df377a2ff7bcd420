//! Weights repacked once at load time into tiles of [`TILE_ROWS`] interleaved rows.
//!
//! A weight matrix `[n, k]` (GGUF stores a linear layer's weight as `n` rows of `k` inputs) is cut
//! into `ceil(n / 16)` tiles of 16 rows (the last one padded with zero rows); each tile is cut
//! along `k` into blocks of 32. One *tile-block* (16 rows × 32 weights) is stored as:
//!
//! - scales: 16 f16 (bit patterns), row order, in [`PackedMatrix`]'s separate scale array;
//! - quants, 64-byte aligned, as groups of 4 consecutive `k` positions: for group `g` (0..8,
//!   positions `4g..4g+4`) the 64 bytes `[row 0: 4 bytes][row 1: 4 bytes]…[row 15: 4 bytes]`.
//!   - Q8_0: 8 groups × 64 = 512 bytes, each weight stored as the unsigned byte `w + 128`;
//!   - Q4_0: 4 vectors × 64 = 256 bytes; vector `p` holds group `p` in the low nibbles and group
//!     `p + 4` in the high nibbles, each weight as the unsigned nibble `w + 8` (ggml's own `q`).
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
use crate::{q4_0, q8_0, KernelError};
use half::f16;
use rayon::prelude::*;

/// Weight rows per tile (one 512-bit vector holds 4 bytes of each).
pub const TILE_ROWS: usize = 16;
/// Weights per block along `k`.
pub const QK: usize = 32;

/// The GGUF block format a [`PackedMatrix`] was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    /// ggml `Q8_0`: f16 scale + 32 × i8.
    Q8_0,
    /// ggml `Q4_0`: f16 scale + 16 bytes of nibbles.
    Q4_0,
}

impl WeightFormat {
    /// Bytes per 32-weight block in GGUF.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightFormat::Q8_0 => q8_0::BLOCK_BYTES,
            WeightFormat::Q4_0 => q4_0::BLOCK_BYTES,
        }
    }

    /// Bytes of quants per packed tile-block (16 rows × 32 weights).
    pub(crate) fn tile_block_bytes(self) -> usize {
        match self {
            WeightFormat::Q8_0 => TILE_ROWS * QK,
            WeightFormat::Q4_0 => TILE_ROWS * QK / 2,
        }
    }
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightFormat::Q8_0 => "Q8_0",
            WeightFormat::Q4_0 => "Q4_0",
        })
    }
}

/// A quantized weight matrix `[n_rows, k]`, repacked for the kernels (see the module doc).
#[derive(Clone)]
pub struct PackedMatrix {
    format: WeightFormat,
    n: usize,
    k: usize,
    qs: AlignedBytes,
    /// f16 bit patterns, `[tile][block][row in tile]`.
    d: Vec<u16>,
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

impl PackedMatrix {
    /// Repacks the raw GGUF bytes of a Q8_0 tensor with `n_rows` rows of `k` weights.
    pub fn from_q8_0(bytes: &[u8], n_rows: usize, k: usize) -> Result<Self, KernelError> {
        Self::new(WeightFormat::Q8_0, bytes, n_rows, k)
    }

    /// Repacks the raw GGUF bytes of a Q4_0 tensor with `n_rows` rows of `k` weights.
    pub fn from_q4_0(bytes: &[u8], n_rows: usize, k: usize) -> Result<Self, KernelError> {
        Self::new(WeightFormat::Q4_0, bytes, n_rows, k)
    }

    /// Repacks the raw GGUF bytes of a tensor in `format`. Runs on rayon's global pool (it is
    /// load-time work, and the output head is 150 MB).
    pub fn new(
        format: WeightFormat,
        bytes: &[u8],
        n_rows: usize,
        k: usize,
    ) -> Result<Self, KernelError> {
        if k == 0 || !k.is_multiple_of(QK) {
            return Err(KernelError::BadK { k });
        }
        if n_rows == 0 {
            return Err(KernelError::NoRows);
        }
        let nb = k / QK;
        let expected = n_rows
            .checked_mul(nb)
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
        let n_tiles = n_rows.div_ceil(TILE_ROWS);
        let tbb = format.tile_block_bytes();
        let mut qs = AlignedBytes::zeroed(n_tiles * nb * tbb);
        let mut d = vec![0u16; n_tiles * nb * TILE_ROWS];
        let row_bytes = nb * format.block_bytes();
        qs.as_mut_slice()
            .par_chunks_mut(nb * tbb)
            .zip(d.par_chunks_mut(nb * TILE_ROWS))
            .enumerate()
            .for_each(|(tile, (tq, td))| {
                for r in 0..TILE_ROWS {
                    let row = tile * TILE_ROWS + r;
                    let src =
                        (row < n_rows).then(|| &bytes[row * row_bytes..(row + 1) * row_bytes]);
                    for b in 0..nb {
                        let dst = &mut tq[b * tbb..(b + 1) * tbb];
                        let block = src.map(|s| &s[b * format.block_bytes()..]);
                        td[b * TILE_ROWS + r] =
                            block.map_or(0, |blk| u16::from_le_bytes([blk[0], blk[1]]));
                        match format {
                            WeightFormat::Q8_0 => {
                                let q = block.map_or([0; QK], q8_0::quants);
                                for g in 0..QK / 4 {
                                    for j in 0..4 {
                                        dst[(g * TILE_ROWS + r) * 4 + j] =
                                            (q[4 * g + j] as u8) ^ 0x80;
                                    }
                                }
                            }
                            WeightFormat::Q4_0 => {
                                let q = block.map_or([8; QK], q4_0::quants);
                                for p in 0..4 {
                                    for j in 0..4 {
                                        dst[(p * TILE_ROWS + r) * 4 + j] =
                                            q[4 * p + j] | (q[4 * (p + 4) + j] << 4);
                                    }
                                }
                            }
                        }
                    }
                }
            });
        Ok(PackedMatrix {
            format,
            n: n_rows,
            k,
            qs,
            d,
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
        self.qs.as_slice().len() + 2 * self.d.len()
    }

    pub(crate) fn n_tiles(&self) -> usize {
        self.n.div_ceil(TILE_ROWS)
    }

    pub(crate) fn blocks_per_row(&self) -> usize {
        self.k / QK
    }

    pub(crate) fn qs(&self) -> &[u8] {
        self.qs.as_slice()
    }

    pub(crate) fn scales(&self) -> &[u16] {
        &self.d
    }

    /// The weights as f32, `[n_rows][k]` row-major, read back from the packed layout (for tests
    /// and reference computations).
    pub fn dequantize(&self) -> Vec<f32> {
        let nb = self.blocks_per_row();
        let tbb = self.format.tile_block_bytes();
        let mut out = vec![0f32; self.n * self.k];
        for (row, out) in out.chunks_exact_mut(self.k).enumerate() {
            let (tile, r) = (row / TILE_ROWS, row % TILE_ROWS);
            for b in 0..nb {
                let tb = tile * nb + b;
                let d = f16::from_bits(self.d[tb * TILE_ROWS + r]).to_f32();
                let q = &self.qs.as_slice()[tb * tbb..(tb + 1) * tbb];
                for i in 0..QK {
                    let (g, j) = (i / 4, i % 4);
                    let w = match self.format {
                        WeightFormat::Q8_0 => q[(g * TILE_ROWS + r) * 4 + j] as i32 - 128,
                        WeightFormat::Q4_0 => {
                            let byte = q[((g % 4) * TILE_ROWS + r) * 4 + j];
                            let nib = if g < 4 { byte & 0x0F } else { byte >> 4 };
                            nib as i32 - 8
                        }
                    };
                    out[b * QK + i] = d * w as f32;
                }
            }
        }
        out
    }
}
