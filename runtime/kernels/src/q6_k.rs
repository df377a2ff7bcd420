//! The ggml `Q6_K` block format, byte for byte as in GGUF files: a super-block of 256 weights is
//! 210 bytes: 128 bytes of low 4-bit quants `ql`, 64 bytes of high 2-bit quants `qh`, sixteen
//! signed 8-bit scales (one per sub-block of 16 weights), then `d` (little-endian f16). Weight `i`
//! is `(d · scale[i / 16]) · (q − 32)` with the 6-bit `q` in 0..=63.
//!
//! Bit positions, per half of 128 weights (`ql` advances 64 bytes, `qh` 32, per half): for
//! `l < 32`, weight `l` is `ql[l] & 15` with `qh[l]` bits 0–1, weight `l + 32` is `ql[l + 32] & 15`
//! with bits 2–3, weight `l + 64` is `ql[l] >> 4` with bits 4–5, weight `l + 96` is
//! `ql[l + 32] >> 4` with bits 6–7.

use half::f16;

/// Weights per super-block.
pub const QK_K: usize = 256;
/// Bytes per super-block: 128 (`ql`) + 64 (`qh`) + 16 (scales) + 2 (`d`).
pub const BLOCK_BYTES: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;

/// One super-block, unpacked.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// f16 bit pattern of the super-block scale.
    pub d: u16,
    /// Scale of each sub-block of 16 weights.
    pub scales: [i8; 16],
    /// The 256 unsigned quants (0..=63; the weight is `d · scale · (q − 32)`), in weight order.
    pub q: [u8; QK_K],
}

/// Unpacks one super-block (`block` holds at least [`BLOCK_BYTES`] bytes).
pub fn unpack(block: &[u8]) -> Block {
    let (ql, rest) = block.split_at(QK_K / 2);
    let (qh, rest) = rest.split_at(QK_K / 4);
    let mut scales = [0i8; 16];
    for (s, &b) in scales.iter_mut().zip(&rest[..16]) {
        *s = b as i8;
    }
    let mut q = [0u8; QK_K];
    for half in 0..2 {
        let (ql, qh) = (&ql[64 * half..], &qh[32 * half..]);
        let q = &mut q[128 * half..];
        for l in 0..32 {
            q[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            q[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    Block {
        d: u16::from_le_bytes([rest[16], rest[17]]),
        scales,
        q,
    }
}

/// Dequantizes whole super-blocks: `bytes` holds `out.len() / 256` of them. The arithmetic is
/// ggml's (and candle's) to the bit: `(d · scale) · (q − 32)` in f32.
///
/// # Panics
/// If `out.len()` is not a multiple of 256 or `bytes` has the wrong length.
pub fn dequantize(bytes: &[u8], out: &mut [f32]) {
    for (block, out) in crate::dequantize_blocks(bytes, out, QK_K, BLOCK_BYTES) {
        let b = unpack(block);
        let d = f16::from_bits(b.d).to_f32();
        for (i, (out, q)) in out
            .chunks_exact_mut(16)
            .zip(b.q.chunks_exact(16))
            .enumerate()
        {
            let ds = d * b.scales[i] as f32;
            for (o, &q) in out.iter_mut().zip(q) {
                *o = ds * (q as i32 - 32) as f32;
            }
        }
    }
}
