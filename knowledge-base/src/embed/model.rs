//! The BERT encoder of multilingual-e5-small on candle CPU tensors, following `forward_batch` in
//! the reference `e5.c`: embeddings (word + position + token type 0, LayerNorm), then per layer
//! self-attention → add & LayerNorm → feed-forward with erf-GELU → add & LayerNorm; the
//! sentence vector is the mean of all token states (`<s>` and `</s>` included), L2-normalised.
//!
//! Precision: the reference quantises activations to 8 bits before each matmul; we dequantise the
//! 4-bit weights once and multiply in f32. Against the reference our vectors have a cosine of
//! ≥ 0.9997; against the reference with its activation quantisation replaced by f32, ≥ 0.99999
//! (`tests/embed.rs`): the remaining difference is the reference's rounding, not ours.
//!
//! Memory: the 250,037 × 384 word-embedding table stays in its Q4_0 bytes (54 MB); only the rows
//! of the tokens being embedded are dequantised. As f32 it would be 384 MB. The layer weights
//! (21 M parameters) are dequantised to f32 (85 MB): candle's f32 GEMM multiplies a
//! `[rows, 384] × [384, 1536]` product 2.5× (20 rows) to 6× (2,048 rows) faster than its Q4_0
//! `QMatMul`, which has no batched CPU path.
//!
//! Speed: the matmuls are candle's; the elementwise steps around them are fused custom ops
//! ([`ops`]) because candle's generic ones (libm `erf` and `exp`, one allocation per step) cost
//! as much as a third of the matmuls.

use candle_core::{Device, Tensor};

use super::container::{dequantize_q4_0, Container, DType, ModelConfig, Q4_BLOCK_BYTES, QK};
use super::{ops, FormatError, LoadError};

/// A dense layer: `x · Wᵀ`, its bias applied by whichever op follows (fused where possible).
struct Linear {
    /// `Wᵀ`, `[in, out]` and contiguous: candle's GEMM multiplies a query's ~20 rows by it
    /// 10 % (weights streamed from memory) to 2× (weights in cache) faster than by a transposed
    /// view of the stored `[out, in]` matrix, and batches no slower. (`(W · xᵀ)ᵀ` was tried too:
    /// no gain at 20 rows, slower at 30 and up.)
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    fn matmul(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)
    }
}

/// "Add the sublayer's bias and the residual, then LayerNorm", fused (see [`ops::add_norm`]).
struct AddNorm {
    /// `[bias; gamma; beta]`, `[3, hidden]`.
    params: Tensor,
    eps: f32,
}

impl AddNorm {
    fn forward(&self, y: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        ops::add_norm(y, residual, &self.params, self.eps)
    }
}

struct Layer {
    /// Query, key and value projections fused into one `[hidden, 3·hidden]` matmul: one GEMM call
    /// over three times the columns is cheaper than three, above all for short queries.
    qkv: Linear,
    /// Its bias lives in `attention_norm`.
    attention_out: Tensor,
    attention_norm: AddNorm,
    ff_in: Linear,
    /// Its bias lives in `output_norm`.
    ff_out: Tensor,
    output_norm: AddNorm,
}

/// The encoder. Immutable after loading; `Send + Sync`.
pub(crate) struct Bert {
    config: ModelConfig,
    /// Q4_0 rows of the word-embedding table, `row_bytes` each.
    word: Vec<u8>,
    row_bytes: usize,
    /// `[max_positions, hidden]`; position ids start at 0 (the converter dropped XLM-R's offset).
    position: Vec<f32>,
    /// Row 0 of the token-type table: every token has type 0.
    token_type: Vec<f32>,
    /// The embeddings' LayerNorm, as an [`AddNorm`] with zero bias over a zero residual.
    embedding_norm: AddNorm,
    layers: Vec<Layer>,
    device: Device,
}

impl Bert {
    pub fn load(container: &Container<'_>) -> Result<Self, LoadError> {
        let c = &container.config;
        let (h, ff) = (c.hidden, c.ff);
        let device = Device::Cpu;

        let word = container.tensor("emb.word", DType::Q4_0, c.vocab_size * h)?;
        let position = f32_values(container.tensor("emb.pos", DType::F32, c.max_positions * h)?);
        let mut token_type =
            f32_values(container.tensor("emb.type", DType::F32, c.type_vocab * h)?);
        token_type.truncate(h);

        let values = |name: &str, n: usize| -> Result<Vec<f32>, FormatError> {
            Ok(f32_values(container.tensor(name, DType::F32, n)?))
        };
        // Dequantised `[rows, cols]` matrices stacked by rows, stored transposed.
        let matrix = |names: &[&str], rows: usize, cols: usize| -> Result<Tensor, LoadError> {
            let mut values = vec![0f32; names.len() * rows * cols];
            for (name, out) in names.iter().zip(values.chunks_exact_mut(rows * cols)) {
                let t = container.tensor(name, DType::Q4_0, rows * cols)?;
                dequantize_q4_0(t.data, out);
            }
            let weight = Tensor::from_vec(values, (names.len() * rows, cols), &device)?;
            Ok(weight.t()?.contiguous()?)
        };
        let add_norm = |bias: Vec<f32>, norm: &str| -> Result<AddNorm, LoadError> {
            let gamma = values(&format!("{norm}.w"), h)?;
            let beta = values(&format!("{norm}.b"), h)?;
            let params = [bias, gamma, beta].concat();
            Ok(AddNorm {
                params: Tensor::from_vec(params, (3, h), &device)?,
                eps: c.eps,
            })
        };

        let embedding_norm = add_norm(vec![0.0; h], "emb.ln")?;
        let mut layers = Vec::with_capacity(c.layers);
        for l in 0..c.layers {
            let name = |suffix: &str| format!("l{l}.{suffix}");
            let qkv_bias = [
                values(&name("q.b"), h)?,
                values(&name("k.b"), h)?,
                values(&name("v.b"), h)?,
            ]
            .concat();
            layers.push(Layer {
                qkv: Linear {
                    weight_t: matrix(&[&name("q.w"), &name("k.w"), &name("v.w")], h, h)?,
                    bias: Tensor::from_vec(qkv_bias, 3 * h, &device)?,
                },
                attention_out: matrix(&[&name("ao.w")], h, h)?,
                attention_norm: add_norm(values(&name("ao.b"), h)?, &name("aln"))?,
                ff_in: Linear {
                    weight_t: matrix(&[&name("fi.w")], ff, h)?,
                    bias: Tensor::from_vec(values(&name("fi.b"), ff)?, ff, &device)?,
                },
                ff_out: matrix(&[&name("fo.w")], h, ff)?,
                output_norm: add_norm(values(&name("fo.b"), h)?, &name("oln"))?,
            });
        }

        Ok(Bert {
            config: c.clone(),
            word: word.data.to_vec(),
            row_bytes: h / QK * Q4_BLOCK_BYTES,
            position,
            token_type,
            embedding_norm,
            layers,
            device,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Mean-pooled, L2-normalised vectors of a batch of complete token sequences (with `<s>` and
    /// `</s>`). Sequences may differ in length: shorter ones are padded and masked out of
    /// attention and pooling, so each result equals running that sequence alone. The caller
    /// guarantees every sequence is non-empty, at most `max_positions` long, and has ids below
    /// the vocabulary size (the tokenizer's ids always are).
    pub fn embed(&self, batch: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let h = self.config.hidden;
        let b = batch.len();
        let t = batch.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || t == 0 {
            return Ok(vec![Vec::new(); b]);
        }

        let lengths: Vec<usize> = batch.iter().map(Vec::len).collect();
        let mut x = self.embeddings(batch, t)?;
        for layer in &self.layers {
            x = self.layer(layer, &x, &lengths, t)?;
        }

        let states = x.flatten_all()?.to_vec1::<f32>()?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, ids)| {
                let rows = &states[i * t * h..(i * t + ids.len()) * h];
                mean_pool_normalized(rows, h)
            })
            .collect())
    }

    /// Word (dequantised row) + position + token type, then LayerNorm: `[b·t, hidden]`. Padding
    /// rows stay zero; they are masked out later.
    fn embeddings(&self, batch: &[Vec<u32>], t: usize) -> candle_core::Result<Tensor> {
        let h = self.config.hidden;
        let mut x = vec![0f32; batch.len() * t * h];
        for (i, ids) in batch.iter().enumerate() {
            for (pos, &id) in ids.iter().enumerate() {
                let row = &mut x[(i * t + pos) * h..][..h];
                let start = id as usize * self.row_bytes;
                dequantize_q4_0(&self.word[start..start + self.row_bytes], row);
                let position = &self.position[pos * h..(pos + 1) * h];
                for ((v, p), ty) in row.iter_mut().zip(position).zip(&self.token_type) {
                    *v += p + ty;
                }
            }
        }
        let x = Tensor::from_vec(x, (batch.len() * t, h), &self.device)?;
        self.embedding_norm.forward(&x, &x.zeros_like()?)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        lengths: &[usize],
        t: usize,
    ) -> candle_core::Result<Tensor> {
        let b = lengths.len();
        let c = &self.config;
        let (h, nh, hd) = (c.hidden, c.heads, c.head_dim());
        let scale = 1.0 / (hd as f64).sqrt();

        // [b·t, 3h] → [3, b, heads, t, head_dim]
        let qkv = layer
            .qkv
            .matmul(x)?
            .broadcast_add(&layer.qkv.bias)?
            .reshape((b, t, 3, nh, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.affine(scale, 0.0)?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        // Padding keys get probability 0, so each text attends only to its own tokens.
        let probs = ops::masked_softmax(q.matmul(&k.t()?)?, lengths)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * t, h))?;

        let x = layer
            .attention_norm
            .forward(&context.matmul(&layer.attention_out)?, x)?;
        let mid = ops::bias_gelu(&layer.ff_in.matmul(&x)?, &layer.ff_in.bias)?;
        layer.output_norm.forward(&mid.matmul(&layer.ff_out)?, &x)
    }
}

/// Mean of `rows` (each `h` wide), scaled to unit length. The norm is floored at 1e-6 like the
/// reference's, so a zero vector stays zero instead of becoming NaN.
fn mean_pool_normalized(rows: &[f32], h: usize) -> Vec<f32> {
    let mut mean = vec![0f32; h];
    let n = rows.len() / h;
    for row in rows.chunks_exact(h) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    let inv_n = 1.0 / n.max(1) as f32;
    mean.iter_mut().for_each(|m| *m *= inv_n);
    let norm_sq: f32 = mean.iter().map(|m| m * m).sum();
    let inv_norm = 1.0 / norm_sq.max(1e-12).sqrt();
    mean.iter_mut().for_each(|m| *m *= inv_norm);
    mean
}

fn f32_values(entry: &super::container::TensorEntry<'_>) -> Vec<f32> {
    entry
        .data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
