//! Loading a llama or qwen2 GGUF file into the layout the fast forward pass wants.
//!
//! Linear weights (`attn_q/k/v/output`, `ffn_gate/up/down`, the output head) become
//! [`PackedMatrix`]es for the `govassist-kernels` matmul. Q8_0, Q4_0, Q4_K and Q6_K tensors are
//! repacked as they are (the K-quants when their rows are a multiple of 256 wide, as in the 1.5B
//! Qwen; keeping them costs 4.6 and 6.6 bits per weight where Q8_0 would cost 8.5, and decode
//! time is mostly reading weights). Tensors in any other format the kernels do not run (Q4_1,
//! Q5_0, Q5_1, Q5_K, F16, F32, K-quants of other widths, …) are dequantized to f32 by candle and
//! re-quantized to Q8_0 at load (`QTensor::quantize(.., GgmlDType::Q8_0)`), which costs a little
//! precision and load time and no speed. Norm weights and biases are dequantized to f32. The
//! token embedding keeps its raw bytes in any of the kernels' formats (rows are dequantized on
//! lookup, to the same values candle's dequantized table holds); in other formats it is
//! dequantized to f32 once.

use std::io::{Read, Seek};
use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use govassist_kernels::{PackedMatrix, WeightFormat};

use crate::error::LlmError;
use crate::gguf::{self, Architecture};

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub architecture: Architecture,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub rms_norm_eps: f32,
    pub rope_freq_base: f32,
    /// `true`: NEOX rotate-half pairs `(i, i + d/2)` (qwen2); `false`: interleaved pairs
    /// `(2i, 2i + 1)` (llama, whose GGUF Q/K weights are permuted for it).
    pub rope_is_neox: bool,
}

/// One linear layer: `y = x · Wᵀ (+ b)`.
#[derive(Debug)]
pub struct Linear {
    pub weight: PackedMatrix,
    pub bias: Option<Vec<f32>>,
}

impl Linear {
    /// Output features.
    pub fn n_out(&self) -> usize {
        self.weight.n_rows()
    }
}

/// The token embedding table, kept compact.
#[derive(Debug)]
pub enum Embedding {
    /// Raw GGUF blocks, one row of `n_embd` values per token.
    Quantized {
        format: WeightFormat,
        bytes: Vec<u8>,
    },
    F32(Vec<f32>),
}

impl Embedding {
    /// Writes the `n_embd` values of token `id` to `out`.
    pub fn row(&self, id: usize, out: &mut [f32]) {
        let d = out.len();
        match self {
            Self::Quantized { format, bytes } => {
                let row_bytes = d / format.block_len() * format.block_bytes();
                format.dequantize(&bytes[id * row_bytes..(id + 1) * row_bytes], out);
            }
            Self::F32(v) => out.copy_from_slice(&v[id * d..(id + 1) * d]),
        }
    }
}

/// One transformer block.
#[derive(Debug)]
pub struct Layer {
    pub attn_norm: Vec<f32>,
    pub wq: Linear,
    pub wk: Linear,
    pub wv: Linear,
    pub wo: Linear,
    pub ffn_norm: Vec<f32>,
    pub w_gate: Linear,
    pub w_up: Linear,
    pub w_down: Linear,
}

/// All weights of a model.
#[derive(Debug)]
pub struct Weights {
    pub config: Config,
    pub embedding: Embedding,
    pub layers: Vec<Layer>,
    pub output_norm: Vec<f32>,
    pub output: Linear,
}

struct Loader<'a, R> {
    content: &'a Content,
    reader: &'a mut R,
    path: &'a Path,
}

impl<R: Read + Seek> Loader<'_, R> {
    fn corrupt(&self, detail: String) -> LlmError {
        LlmError::CorruptModel {
            path: self.path.to_owned(),
            detail,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn qtensor(&mut self, name: &str) -> Result<QTensor, LlmError> {
        self.content
            .tensor(self.reader, name, &Device::Cpu)
            .map_err(|e| LlmError::CorruptModel {
                path: self.path.to_owned(),
                detail: format!("tensor {name}: {e}"),
            })
    }

    fn f32s(&mut self, name: &str) -> Result<Vec<f32>, LlmError> {
        let t = self.qtensor(name)?;
        Ok(t.dequantize(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// `(n_rows, k)` of a 2-D GGUF tensor (candle's order: rows first).
    fn dims2(&self, t: &QTensor, name: &str) -> Result<(usize, usize), LlmError> {
        t.shape()
            .dims2()
            .map_err(|_| self.corrupt(format!("tensor {name} is not a matrix")))
    }

    fn linear(&mut self, name: &str, bias: Option<&str>) -> Result<Linear, LlmError> {
        let t = self.qtensor(name)?;
        let weight = self.pack(&t, name)?;
        let bias = match bias {
            Some(b) => Some(self.f32s(b)?),
            None => None,
        };
        Ok(Linear { weight, bias })
    }

    fn pack(&self, t: &QTensor, name: &str) -> Result<PackedMatrix, LlmError> {
        let (n, k) = self.dims2(t, name)?;
        let kernel_err =
            |e: govassist_kernels::KernelError| self.corrupt(format!("tensor {name}: {e}"));
        match kernel_format(t.dtype(), k) {
            Some(format) => PackedMatrix::new(format, &t.data()?, n, k).map_err(kernel_err),
            None => {
                // Not run by the kernels: requantize to Q8_0 (see the module docs).
                let f = t.dequantize(&Device::Cpu)?;
                let q = QTensor::quantize(&f, GgmlDType::Q8_0)?;
                PackedMatrix::from_q8_0(&q.data()?, n, k).map_err(kernel_err)
            }
        }
    }
}

/// The kernels' format for a tensor of `dtype` with rows of `k` weights, if they run it as is.
fn kernel_format(dtype: GgmlDType, k: usize) -> Option<WeightFormat> {
    let format = match dtype {
        GgmlDType::Q8_0 => WeightFormat::Q8_0,
        GgmlDType::Q4_0 => WeightFormat::Q4_0,
        GgmlDType::Q4K => WeightFormat::Q4K,
        GgmlDType::Q6K => WeightFormat::Q6K,
        _ => return None,
    };
    (k > 0 && k.is_multiple_of(format.block_len())).then_some(format)
}

impl Weights {
    /// Opens and loads `path` (architectures llama and qwen2).
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        let gguf::GgufFile {
            content,
            mut reader,
        } = gguf::open(path)?;
        Self::from_gguf(&content, &mut reader, path)
    }

    /// Loads from a parsed header; `path` only names the file in errors.
    pub fn from_gguf<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        path: &Path,
    ) -> Result<Self, LlmError> {
        let architecture = gguf::architecture(content, path)?;
        let arch = architecture.as_str();
        let corrupt = |detail: String| LlmError::CorruptModel {
            path: path.to_owned(),
            detail,
        };
        let md_usize = |key: &str| {
            gguf::metadata_usize(content, &format!("{arch}.{key}"))
                .ok_or_else(|| corrupt(format!("no {arch}.{key} in metadata")))
        };
        let md_f32 = |key: &str| {
            content
                .metadata
                .get(&format!("{arch}.{key}"))
                .and_then(|v| v.to_f32().ok())
        };
        let n_layer = md_usize("block_count")?;
        let n_embd = md_usize("embedding_length")?;
        let n_head = md_usize("attention.head_count")?;
        let n_kv_head = md_usize("attention.head_count_kv").unwrap_or(n_head);
        let n_ff = md_usize("feed_forward_length")?;
        let context_length = md_usize("context_length").unwrap_or(4096);
        let rms_norm_eps = md_f32("attention.layer_norm_rms_epsilon")
            .ok_or_else(|| corrupt(format!("no {arch}.attention.layer_norm_rms_epsilon")))?;
        let rope_freq_base = md_f32("rope.freq_base").unwrap_or(10000.0);
        if n_head == 0 || n_kv_head == 0 || n_embd % n_head != 0 || n_head % n_kv_head != 0 {
            return Err(corrupt(format!(
                "bad head counts: {n_head} heads, {n_kv_head} kv heads, width {n_embd}"
            )));
        }
        let head_dim = n_embd / n_head;
        if let Some(rope_dim) =
            gguf::metadata_usize(content, &format!("{arch}.rope.dimension_count"))
        {
            if rope_dim != head_dim {
                return Err(corrupt(format!(
                    "partial RoPE ({rope_dim} of {head_dim} dims) is not supported"
                )));
            }
        }

        let mut l = Loader {
            content,
            reader,
            path,
        };
        let embd = l.qtensor("token_embd.weight")?;
        let (vocab_size, embd_k) = l.dims2(&embd, "token_embd.weight")?;
        if embd_k != n_embd {
            return Err(corrupt(format!(
                "token_embd.weight has width {embd_k}, expected {n_embd}"
            )));
        }
        let output = if l.has("output.weight") {
            l.linear("output.weight", None)?
        } else {
            // Tied embeddings.
            Linear {
                weight: l.pack(&embd, "token_embd.weight")?,
                bias: None,
            }
        };
        let embedding = match kernel_format(embd.dtype(), embd_k) {
            Some(format) => Embedding::Quantized {
                format,
                bytes: embd.data()?.into_owned(),
            },
            None => Embedding::F32(
                embd.dequantize(&Device::Cpu)?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            ),
        };
        drop(embd);
        let output_norm = l.f32s("output_norm.weight")?;

        let qkv_bias = architecture == Architecture::Qwen2;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let p = format!("blk.{i}");
            let bias = |name: &str| qkv_bias.then(|| format!("{p}.{name}.bias"));
            let layer = Layer {
                attn_norm: l.f32s(&format!("{p}.attn_norm.weight"))?,
                wq: l.linear(&format!("{p}.attn_q.weight"), bias("attn_q").as_deref())?,
                wk: l.linear(&format!("{p}.attn_k.weight"), bias("attn_k").as_deref())?,
                wv: l.linear(&format!("{p}.attn_v.weight"), bias("attn_v").as_deref())?,
                wo: l.linear(&format!("{p}.attn_output.weight"), None)?,
                ffn_norm: l.f32s(&format!("{p}.ffn_norm.weight"))?,
                w_gate: l.linear(&format!("{p}.ffn_gate.weight"), None)?,
                w_up: l.linear(&format!("{p}.ffn_up.weight"), None)?,
                w_down: l.linear(&format!("{p}.ffn_down.weight"), None)?,
            };
            let kv = n_kv_head * head_dim;
            let shapes_ok = layer.wq.n_out() == n_embd
                && layer.wk.n_out() == kv
                && layer.wv.n_out() == kv
                && layer.wo.n_out() == n_embd
                && layer.wo.weight.k() == n_embd
                && layer.w_gate.n_out() == n_ff
                && layer.w_up.n_out() == n_ff
                && layer.w_down.n_out() == n_embd
                && layer.w_down.weight.k() == n_ff
                && layer.attn_norm.len() == n_embd
                && layer.ffn_norm.len() == n_embd;
            if !shapes_ok {
                return Err(corrupt(format!("block {i} has unexpected tensor shapes")));
            }
            layers.push(layer);
        }
        let config = Config {
            architecture,
            n_layer,
            n_embd,
            n_head,
            n_kv_head,
            head_dim,
            n_ff,
            vocab_size,
            context_length,
            rms_norm_eps,
            rope_freq_base,
            rope_is_neox: architecture == Architecture::Qwen2,
        };
        Ok(Self {
            config,
            embedding,
            layers,
            output_norm,
            output,
        })
    }
}
