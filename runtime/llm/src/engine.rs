//! The in-process inference engine: a quantized GGUF model run by candle.
//!
//! One generation runs at a time (the model and its KV cache sit behind a
//! mutex); on 2 CPU cores parallel requests would only slow each other down.
//! Every request starts with a cleared KV cache, so no state leaks between
//! conversations.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use crate::catalog;
use crate::error::LlmError;
use crate::gguf::{self, Architecture};
use crate::sampling::{GenerationParams, Sampler};
use crate::stream::TextStream;
use crate::template::{ChatMessage, ChatTemplate};
use crate::tokenizer::GgufTokenizer;

/// Prompt tokens fed per forward pass. Bounds the attention scratch memory
/// (heads × chunk × context floats) for long RAG prompts.
const PREFILL_CHUNK: usize = 512;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn or a stop string was reached.
    Stop,
    /// `max_tokens` or the context length was reached.
    Length,
    /// The token callback asked to stop (e.g. the client went away).
    Cancelled,
}

/// Timings and counts of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    /// Tokens sampled, including a final end-of-turn token.
    pub generated_tokens: usize,
    /// Time to process the prompt (prefill).
    pub prompt_ms: f64,
    /// From the start of the call until the first token was sampled.
    pub time_to_first_token_ms: f64,
    /// Tokens per second after the first token (0 when fewer than two).
    pub decode_tokens_per_s: f64,
    pub finish_reason: FinishReason,
}

enum Model {
    Qwen2(quantized_qwen2::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

impl Model {
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        match self {
            Self::Qwen2(m) => m.forward(input, position),
            Self::Llama(m) => m.forward(input, position),
        }
    }

    fn clear_kv_cache(&mut self) {
        match self {
            Self::Qwen2(m) => m.clear_kv_cache(),
            Self::Llama(m) => m.clear_kv_cache(),
        }
    }
}

/// A loaded chat model. `Send + Sync`: share it in an `Arc`. `generate`
/// blocks for seconds; call it from a blocking thread in async code.
pub struct Engine {
    name: String,
    path: PathBuf,
    architecture: Architecture,
    context_length: usize,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    device: Device,
    model: Mutex<Model>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("architecture", &self.architecture)
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads a GGUF chat model (architectures qwen2 and llama).
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        let started = Instant::now();
        let gguf::GgufFile {
            content,
            mut reader,
        } = gguf::open(path)?;
        let architecture = gguf::architecture(&content, path)?;
        let tokenizer = GgufTokenizer::from_gguf_metadata(&content.metadata).map_err(|e| {
            LlmError::Tokenizer {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        })?;
        let jinja = gguf::metadata_str(&content, "tokenizer.chat_template");
        let template = ChatTemplate::from_jinja(jinja);
        let has_chat_template = jinja.is_some();
        let name = display_name(path, gguf::metadata_str(&content, "general.name"));
        let declared_context = gguf::metadata_usize(
            &content,
            &format!("{}.context_length", architecture.as_str()),
        )
        .ok_or_else(|| LlmError::CorruptModel {
            path: path.to_owned(),
            detail: "no context_length in metadata".into(),
        })?;

        let device = Device::Cpu;
        let corrupt = |e: candle_core::Error| LlmError::CorruptModel {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let (model, context_length) = match architecture {
            Architecture::Qwen2 => (
                Model::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &device)
                        .map_err(corrupt)?,
                ),
                declared_context,
            ),
            Architecture::Llama => (
                Model::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device)
                        .map_err(corrupt)?,
                ),
                // candle precomputes RoPE tables for at most MAX_SEQ_LEN positions.
                declared_context.min(quantized_llama::MAX_SEQ_LEN),
            ),
        };
        tracing::info!(
            model = %name,
            architecture = architecture.as_str(),
            context_length,
            has_chat_template,
            default_system = template.default_system.is_some(),
            secs = started.elapsed().as_secs_f64(),
            "model loaded"
        );
        Ok(Self {
            name,
            path: path.to_owned(),
            architecture,
            context_length,
            tokenizer,
            template,
            device,
            model: Mutex::new(model),
        })
    }

    /// Catalog name when loaded from the cache, else the GGUF's `general.name`.
    pub fn model_name(&self) -> &str {
        &self.name
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Maximum tokens of prompt plus answer.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// Tokens `text` takes (for the caller's context budget).
    pub fn count_tokens(&self, text: &str) -> usize {
        // Encoding cannot fail for a valid tokenizer; if it ever does,
        // over-estimating by bytes keeps budgets safe.
        self.tokenizer
            .encode(text)
            .map(|ids| ids.len())
            .unwrap_or(text.len())
    }

    /// The exact prompt text `generate` would feed for `messages`.
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> String {
        self.template.render(messages)
    }

    /// Tokens of the rendered prompt for `messages`, template included.
    pub fn prompt_tokens(&self, messages: &[ChatMessage]) -> usize {
        self.count_tokens(&self.render_prompt(messages))
    }

    /// Answers the conversation, streaming text pieces to `on_token`
    /// (complete UTF-8 characters only; stop strings are never emitted).
    /// `on_token` returning `false` stops generation.
    pub fn generate(
        &self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<GenerationStats, LlmError> {
        let started = Instant::now();
        let prompt = self.template.render(messages);
        let prompt_ids = self
            .tokenizer
            .encode(&prompt)
            .map_err(|e| LlmError::Tokenizer {
                path: self.path.clone(),
                detail: e.to_string(),
            })?;
        let prompt_tokens = prompt_ids.len();
        if prompt_tokens >= self.context_length {
            return Err(LlmError::PromptTooLong {
                prompt_tokens,
                context_length: self.context_length,
            });
        }
        let budget = params.max_tokens.min(self.context_length - prompt_tokens);

        // A panic in an earlier generation poisons the lock; the model is
        // still usable because every request clears the KV cache first.
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        model.clear_kv_cache();

        let mut logits = self.prefill(&mut model, &prompt_ids)?;
        let prompt_ms = ms(started);
        tracing::debug!(prompt_tokens, prompt_ms, "prompt processed");

        let mut sampler = Sampler::new(params);
        let mut stream = TextStream::new(&params.stop);
        let mut history = prompt_ids;
        let mut generated = 0usize;
        let mut first_token_ms = 0.0;
        let mut first_token_at = None;
        let mut finish_reason = FinishReason::Length;

        while generated < budget {
            let next = sampler.sample(&logits, &history)?;
            generated += 1;
            if first_token_at.is_none() {
                first_token_ms = ms(started);
                first_token_at = Some(Instant::now());
            }
            if self.tokenizer.eos_ids().contains(&next) {
                finish_reason = FinishReason::Stop;
                break;
            }
            history.push(next);
            let piece = stream.push(self.tokenizer.token_bytes(next));
            if !piece.text.is_empty() && !on_token(&piece.text) {
                finish_reason = FinishReason::Cancelled;
                break;
            }
            if piece.stopped {
                finish_reason = FinishReason::Stop;
                break;
            }
            if generated == budget {
                break;
            }
            let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
            logits = model.forward(&input, history.len() - 1)?.squeeze(0)?;
        }
        drop(model);

        if finish_reason != FinishReason::Cancelled {
            let rest = stream.finish();
            if !rest.is_empty() {
                on_token(&rest);
            }
        }
        let decode_tokens_per_s = match first_token_at {
            Some(t) if generated > 1 => (generated - 1) as f64 / t.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        let stats = GenerationStats {
            prompt_tokens,
            generated_tokens: generated,
            prompt_ms,
            time_to_first_token_ms: first_token_ms,
            decode_tokens_per_s,
            finish_reason,
        };
        tracing::info!(?stats, "generation finished");
        Ok(stats)
    }

    /// Runs the prompt through the model in chunks; returns the logits of
    /// its last position.
    fn prefill(&self, model: &mut Model, ids: &[u32]) -> Result<Tensor, LlmError> {
        let mut logits = None;
        for (i, chunk) in ids.chunks(PREFILL_CHUNK).enumerate() {
            let input = Tensor::new(chunk, &self.device)?.unsqueeze(0)?;
            logits = Some(model.forward(&input, i * PREFILL_CHUNK)?);
        }
        let logits = logits.ok_or_else(|| LlmError::Inference("empty prompt".into()))?;
        Ok(logits.squeeze(0)?)
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The catalog name when `path` is a cached catalog file; else the GGUF's
/// own name; else the file stem.
fn display_name(path: &Path, general_name: Option<&str>) -> String {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    catalog::models()
        .iter()
        .find(|m| m.cached_file == file_name)
        .map(|m| m.name.to_owned())
        .or_else(|| general_name.map(str::to_owned))
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }

    #[test]
    fn cached_catalog_files_are_named_by_catalog_name() {
        let p = Path::new("/c/qwen2.5-coder-0.5b-instruct-q8_0.gguf");
        assert_eq!(display_name(p, Some("Qwen")), "qwen2.5-coder-0.5b-instruct");
        assert_eq!(display_name(Path::new("/x/m.gguf"), Some("Qwen")), "Qwen");
        assert_eq!(display_name(Path::new("/x/m.gguf"), None), "m");
    }
}
