//! The XLM-RoBERTa SentencePiece-unigram tokenizer, ported from `tok_content` in the reference
//! `e5.c` so that our token ids equal the reference's (and with them the vectors).
//!
//! The pipeline, step by step as in the reference:
//! 1. every code point found in the container's normalisation map is replaced by its output
//!    (possibly nothing: control characters are deleted; tabs, newlines and the ideographic space
//!    become spaces; full-width forms become ASCII, …); other code points pass through;
//! 2. runs of two or more U+0020 spaces collapse into one;
//! 3. a leading space is added unless there is one, and every space becomes the metaspace `▁`
//!    (U+2581) — so `query: ` yields `▁query:▁`: unlike the Python tokenizer, trailing
//!    whitespace is *kept*, exactly as the reference does;
//! 4. Viterbi over the unigram pieces picks the segmentation with the highest total score; a code
//!    point that no piece covers becomes `<unk>` on its own (one `<unk>` per code point, not one
//!    per run), scored `min(score) - 10`.
//!
//! The only intended difference: the reference reads C strings, so a NUL byte ends its input;
//! here NUL is deleted like the other control characters and the rest of the text is kept.

use super::container::{NormMap, Specials, Vocab};

/// SentencePiece's metaspace marker, which stands for a space inside pieces.
const METASPACE: char = '\u{2581}';
/// Viterbi's "not reachable yet" score (the reference's `-1e30f`).
const UNREACHED: f32 = -1e30;

/// A tokenizer built from the container's vocabulary and normalisation map.
pub(crate) struct Tokenizer {
    /// All pieces' bytes, back to back; piece `i` is `blob[offsets[i]..offsets[i + 1]]`.
    blob: Vec<u8>,
    offsets: Vec<u32>,
    scores: Vec<f32>,
    /// Open-addressing hash table (FNV-1a, linear probing) of piece index + 1, 0 = empty. Compact
    /// (4 bytes a slot) where a `HashMap` of 250,000 owned strings would cost megabytes of small
    /// allocations; it keeps the lowest index for duplicated pieces, as the reference's does.
    table: Vec<u32>,
    mask: usize,
    specials: Specials,
    unk_score: f32,
    max_piece_bytes: usize,
    norm: NormMap,
}

impl Tokenizer {
    pub fn new(vocab: &Vocab<'_>, norm: NormMap) -> Self {
        let n = vocab.scores.len();
        let piece_len = |i: usize| (vocab.offsets[i + 1] - vocab.offsets[i]) as usize;
        let min_score = vocab.scores.iter().copied().fold(f32::INFINITY, f32::min);
        let max_piece_bytes = (0..n).map(piece_len).max().unwrap_or(1).max(1);

        let size = (n * 2).next_power_of_two().max(2);
        let mask = size - 1;
        let mut table = vec![0u32; size];
        for i in 0..n {
            let piece = &vocab.blob[vocab.offsets[i] as usize..vocab.offsets[i + 1] as usize];
            if piece.is_empty() {
                continue;
            }
            let mut slot = fnv1a(piece) as usize & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            // n ≤ vocab rows, which the container bounds far below u32::MAX.
            table[slot] = i as u32 + 1;
        }
        Tokenizer {
            blob: vocab.blob.to_vec(),
            offsets: vocab.offsets.clone(),
            scores: vocab.scores.clone(),
            table,
            mask,
            specials: vocab.specials,
            unk_score: min_score - 10.0,
            max_piece_bytes,
            norm,
        }
    }

    pub fn specials(&self) -> Specials {
        self.specials
    }

    /// The content token ids of `text` (no `<s>`/`</s>`), in order.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let chars = self.normalize(text);

        // Step 3: the metaspaced byte string and the byte offset where each character starts
        // (Viterbi moves from character to character, pieces are looked up by bytes).
        let mut buf = String::with_capacity(chars.len() * 3 + 3);
        let mut starts = Vec::with_capacity(chars.len() + 2);
        if chars.first() != Some(&' ') {
            starts.push(0);
            buf.push(METASPACE);
        }
        for &c in &chars {
            starts.push(buf.len());
            buf.push(if c == ' ' { METASPACE } else { c });
        }
        starts.push(buf.len());
        self.viterbi(buf.as_bytes(), &starts)
    }

    /// Steps 1 and 2: the normalisation map, then collapsing runs of spaces.
    fn normalize(&self, text: &str) -> Vec<char> {
        let mut chars = Vec::with_capacity(text.len());
        for c in text.chars() {
            if c == '\0' {
                continue;
            }
            match self.norm.code_points.binary_search(&(c as u32)) {
                Ok(i) => {
                    let (from, to) = (self.norm.offsets[i], self.norm.offsets[i + 1]);
                    chars.extend_from_slice(&self.norm.outputs[from as usize..to as usize]);
                }
                Err(_) => chars.push(c),
            }
        }
        chars.dedup_by(|c, previous| *c == ' ' && *previous == ' ');
        chars
    }

    /// Step 4: the best-scoring segmentation of `bytes` into pieces, with characters starting at
    /// `starts[..n]` and `starts[n] == bytes.len()`. Scores are summed in `f32` in the reference's
    /// order and ties keep the first candidate, so equal-scoring segmentations resolve the same way.
    fn viterbi(&self, bytes: &[u8], starts: &[usize]) -> Vec<u32> {
        /// Marks a single-character `<unk>` step in `piece`.
        const UNK_STEP: u32 = u32::MAX;
        let n = starts.len() - 1;
        let mut best = vec![UNREACHED; n + 1];
        let mut piece = vec![UNK_STEP; n + 1];
        let mut from = vec![0usize; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            let begin = starts[i];
            for e in i + 1..=n {
                if starts[e] - begin > self.max_piece_bytes {
                    break;
                }
                if let Some(id) = self.lookup(&bytes[begin..starts[e]]) {
                    if id != self.specials.unk {
                        let score = best[i] + self.scores[id as usize];
                        if score > best[e] {
                            best[e] = score;
                            piece[e] = id;
                            from[e] = i;
                        }
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                piece[i + 1] = UNK_STEP;
                from[i + 1] = i;
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            ids.push(match piece[i] {
                UNK_STEP => self.specials.unk,
                id => id,
            });
            i = from[i];
        }
        ids.reverse();
        ids
    }

    fn lookup(&self, bytes: &[u8]) -> Option<u32> {
        let mut slot = fnv1a(bytes) as usize & self.mask;
        loop {
            let entry = self.table[slot];
            if entry == 0 {
                return None;
            }
            let i = (entry - 1) as usize;
            let piece = &self.blob[self.offsets[i] as usize..self.offsets[i + 1] as usize];
            if piece == bytes {
                return Some(entry - 1);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: enough to check normalisation, metaspace, Viterbi and `<unk>`.
    fn toy() -> Tokenizer {
        let pieces: &[(&str, f32)] = &[
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁", -2.0),
            ("▁ab", -1.0),
            ("a", -3.0),
            ("b", -3.0),
            ("c", -3.0),
            ("▁abc", -2.5),
            ("bc", -0.5),
        ];
        let mut blob = Vec::new();
        let mut offsets = vec![0u32];
        for (p, _) in pieces {
            blob.extend_from_slice(p.as_bytes());
            offsets.push(blob.len() as u32);
        }
        let vocab = Vocab {
            specials: Specials {
                bos: 0,
                eos: 2,
                unk: 3,
            },
            offsets,
            scores: pieces.iter().map(|p| p.1).collect(),
            blob: &blob,
        };
        // Tab → space, U+0001 → nothing, 'Ａ' (U+FF21) → "a".
        let norm = NormMap {
            code_points: vec![0x01, 0x09, 0xff21],
            offsets: vec![0, 0, 1, 2],
            outputs: vec![' ', 'a'],
        };
        Tokenizer::new(&vocab, norm)
    }

    #[test]
    fn viterbi_picks_best_total_score() {
        let t = toy();
        // "▁abc": ▁ab + c = -4.0, ▁abc = -2.5, ▁ + a + bc = -5.5 → ▁abc
        assert_eq!(t.encode("abc"), vec![9]);
        // "▁ab▁bc"
        assert_eq!(t.encode("ab bc"), vec![5, 4, 10]);
    }

    #[test]
    fn normalisation_spaces_and_unknowns() {
        let t = toy();
        // tab → space, runs collapse, a leading space is not doubled, trailing space kept.
        assert_eq!(t.encode(" ab\t \u{1} bc "), vec![5, 4, 10, 4]);
        assert_eq!(t.encode("\u{ff21}b"), vec![5]);
        // Each unknown code point is its own <unk>.
        assert_eq!(t.encode("ab好的"), vec![5, 3, 3]);
        assert_eq!(t.encode(""), vec![4]);
        assert_eq!(t.encode("a\0b"), vec![5]);
    }
}
