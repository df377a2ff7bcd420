//! The ggml `Q8_0` block format, byte for byte as in GGUF files: per block of 32 weights, the scale
//! `d` as a little-endian IEEE f16, then 32 signed bytes `q`; weight `i` is `d * q[i]`.

use half::f16;

/// Weights per block.
pub const QK: usize = 32;
/// Bytes per block: 2 (f16 scale) + 32 (i8 quants).
pub const BLOCK_BYTES: usize = 2 + QK;

/// The scale of a block (its first two bytes).
#[inline]
pub fn scale(block: &[u8]) -> f32 {
    f16::from_le_bytes([block[0], block[1]]).to_f32()
}

/// The 32 quants of a block, in element order.
#[inline]
pub fn quants(block: &[u8]) -> [i8; QK] {
    let mut q = [0i8; QK];
    for (dst, &src) in q.iter_mut().zip(&block[2..BLOCK_BYTES]) {
        *dst = src as i8;
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
            *o = d * q as f32;
        }
    }
}

/// Quantizes `x` (a multiple of 32 values) into Q8_0 blocks the way ggml's reference does
/// (`d = max|x| / 127`, stored as f16; `q = round(x / d)`). Used to build weights in tests and
/// benchmarks without a GGUF file.
///
/// # Panics
/// If `x.len()` is not a multiple of 32.
pub fn quantize(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "input length must be a multiple of {QK}");
    let mut out = Vec::with_capacity(x.len() / QK * BLOCK_BYTES);
    for block in x.chunks_exact(QK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}
