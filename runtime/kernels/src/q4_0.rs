//! The ggml `Q4_0` block format, byte for byte as in GGUF files: per block of 32 weights, the scale
//! `d` as a little-endian IEEE f16, then 16 bytes of 4-bit quants. Byte `j` holds element `j` in
//! its low nibble and element `j + 16` in its high nibble; element `i` is `d * (q[i] - 8)`.

use half::f16;

/// Weights per block.
pub const QK: usize = 32;
/// Bytes per block: 2 (f16 scale) + 16 (nibbles).
pub const BLOCK_BYTES: usize = 2 + QK / 2;

/// The scale of a block (its first two bytes).
#[inline]
pub fn scale(block: &[u8]) -> f32 {
    f16::from_le_bytes([block[0], block[1]]).to_f32()
}

/// The 32 unsigned quants (0..=15, value = `d * (q - 8)`) of a block, in element order.
#[inline]
pub fn quants(block: &[u8]) -> [u8; QK] {
    let mut q = [0u8; QK];
    for (j, &byte) in block[2..BLOCK_BYTES].iter().enumerate() {
        q[j] = byte & 0x0F;
        q[j + QK / 2] = byte >> 4;
    }
    q
}

/// Dequantizes whole blocks: `bytes` holds `out.len() / 32` blocks.
///
/// # Panics
/// If `out.len()` is not a multiple of 32 or `bytes` has the wrong length.
pub fn dequantize(bytes: &[u8], out: &mut [f32]) {
    for (block, out) in crate::dequantize_blocks(bytes, out, QK, BLOCK_BYTES) {
        let d = scale(block);
        for (o, q) in out.iter_mut().zip(quants(block)) {
            *o = d * (q as i32 - 8) as f32;
        }
    }
}

/// Quantizes `x` (a multiple of 32 values) into Q4_0 blocks the way ggml's reference does
/// (`d = max / -8` where `max` is the value of largest magnitude, `q = min(15, x / d + 8.5)`).
///
/// # Panics
/// If `x.len()` is not a multiple of 32.
pub fn quantize(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "input length must be a multiple of {QK}");
    let mut out = Vec::with_capacity(x.len() / QK * BLOCK_BYTES);
    for block in x.chunks_exact(QK) {
        let max = block
            .iter()
            .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        let q = |v: f32| ((v * id + 8.5) as u8).min(15);
        for j in 0..QK / 2 {
            out.push(q(block[j]) | (q(block[j + QK / 2]) << 4));
        }
    }
    out
}
