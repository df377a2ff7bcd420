//! A faster CPU forward pass for the llama and qwen2 architectures, over the
//! `govassist-kernels` quantized matmul (weights repacked at load, activations quantized to
//! 8-bit blocks, a batched GEMM for the whole prompt chunk instead of candle's token-at-a-time
//! quantized matmul).
//!
//! [`crate::Engine`] runs every model with it (its KV cache, truncated to the shared prompt
//! prefix, is the engine's prefix cache). `tests/fast_forward.rs` checks it against candle's
//! `quantized_llama` / `quantized_qwen2` on the SmolLM2 fixture, `tests/golden.rs` checks the
//! engine's greedy tokens against candle's, and `examples/fast_bench.rs` times both.
//!
//! ```no_run
//! # fn main() -> Result<(), govassist_llm::LlmError> {
//! use govassist_llm::fast::FastModel;
//! let mut model = FastModel::load(std::path::Path::new("model.gguf"), 2)?;
//! let prompt = [1u32, 2, 3];
//! let logits = model.forward(&prompt, 0)?; // prefill; logits of the last token
//! let next = 42u32; // sampled from `logits`
//! let logits = model.forward(&[next], prompt.len())?; // one decode step
//! # let _ = logits; Ok(())
//! # }
//! ```

mod forward;
mod weights;

pub use forward::{FastModel, KvCache};
pub use weights::{Config, Embedding, Layer, Linear, Weights};
