//! The ggml `Q4_K` block format, byte for byte as in GGUF files: a super-block of 256 weights is
//! 144 bytes: `d` and `dmin` (little-endian f16), 12 bytes packing eight 6-bit sub-block scales
//! `sc[j]` and mins `m[j]`, then 128 bytes of 4-bit quants. Sub-block `j` (weights `32j..32j+32`)
//! takes its quants from bytes `32⌊j/2⌋..+32` of the 128, low nibbles for even `j`, high nibbles
//! for odd `j`; weight `i` of sub-block `j` is `(d · sc[j]) · q − dmin · m[j]` (`q` in 0..=15).

use half::f16;

/// Weights per super-block.
pub const QK_K: usize = 256;
/// Bytes per super-block: 2 + 2 (d, dmin) + 12 (scales and mins) + 128 (nibbles).
pub const BLOCK_BYTES: usize = 4 + 12 + QK_K / 2;

/// One super-block, unpacked.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// f16 bit pattern of the super-block scale.
    pub d: u16,
    /// f16 bit pattern of the super-block scale of the mins.
    pub dmin: u16,
    /// 6-bit scale of each sub-block of 32.
    pub scales: [u8; 8],
    /// 6-bit min of each sub-block of 32.
    pub mins: [u8; 8],
    /// The 256 quants (0..=15), in weight order.
    pub q: [u8; QK_K],
}

/// Unpacks one super-block (`block` holds at least [`BLOCK_BYTES`] bytes).
pub fn unpack(block: &[u8]) -> Block {
    let sc = &block[4..16];
    let mut scales = [0u8; 8];
    let mut mins = [0u8; 8];
    for j in 0..8 {
        // ggml's get_scale_min_k4
        (scales[j], mins[j]) = if j < 4 {
            (sc[j] & 63, sc[j + 4] & 63)
        } else {
            (
                (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4),
                (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4),
            )
        };
    }
    let mut q = [0u8; QK_K];
    for (pair, bytes) in block[16..BLOCK_BYTES].chunks_exact(32).enumerate() {
        for (l, &byte) in bytes.iter().enumerate() {
            q[64 * pair + l] = byte & 0x0F;
            q[64 * pair + 32 + l] = byte >> 4;
        }
    }
    Block {
        d: u16::from_le_bytes([block[0], block[1]]),
        dmin: u16::from_le_bytes([block[2], block[3]]),
        scales,
        mins,
        q,
    }
}

/// Dequantizes whole super-blocks: `bytes` holds `out.len() / 256` of them. The arithmetic is
/// ggml's (and candle's) to the bit: `(d · sc) · q − dmin · m` in f32.
///
/// # Panics
/// If `out.len()` is not a multiple of 256 or `bytes` has the wrong length.
pub fn dequantize(bytes: &[u8], out: &mut [f32]) {
    for (block, out) in crate::dequantize_blocks(bytes, out, QK_K, BLOCK_BYTES) {
        let b = unpack(block);
        let (d, dmin) = (
            f16::from_bits(b.d).to_f32(),
            f16::from_bits(b.dmin).to_f32(),
        );
        for (j, (out, q)) in out
            .chunks_exact_mut(32)
            .zip(b.q.chunks_exact(32))
            .enumerate()
        {
            let (d1, m1) = (d * b.scales[j] as f32, dmin * b.mins[j] as f32);
            for (o, &q) in out.iter_mut().zip(q) {
                *o = d1 * q as f32 - m1;
            }
        }
    }
}
