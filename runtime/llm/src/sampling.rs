//! Choosing the next token from the model's logits.

use candle_core::{DType, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};

use crate::error::LlmError;

/// How to generate. `Default` is greedy-free, moderately creative chat.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Upper bound on generated tokens (the context may bound it further).
    pub max_tokens: usize,
    /// 0 → greedy (deterministic); otherwise softmax temperature.
    pub temperature: f64,
    /// Nucleus sampling mass in (0, 1); 1 disables it.
    pub top_p: f64,
    /// Seed of the sampler; `None` draws a fresh one per request.
    pub seed: Option<u64>,
    /// Generation ends before any of these strings; they are not emitted.
    pub stop: Vec<String>,
    /// Penalty (>1) on tokens seen in the last `repeat_last_n` tokens; 1 disables it.
    /// Small models loop without it.
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.7,
            top_p: 0.8,
            seed: None,
            stop: Vec::new(),
            repeat_penalty: 1.05,
            repeat_last_n: 64,
        }
    }
}

impl GenerationParams {
    /// Deterministic decoding (temperature 0), e.g. for tests and evaluations.
    pub fn greedy(max_tokens: usize) -> Self {
        Self {
            max_tokens,
            temperature: 0.0,
            ..Self::default()
        }
    }
}

/// Wraps candle's `LogitsProcessor` with the repeat penalty.
pub(crate) struct Sampler {
    processor: LogitsProcessor,
    repeat_penalty: f32,
    repeat_last_n: usize,
}

impl Sampler {
    pub(crate) fn new(params: &GenerationParams) -> Self {
        let sampling = if params.temperature <= 0.0 || !params.temperature.is_finite() {
            Sampling::ArgMax
        } else if params.top_p > 0.0 && params.top_p < 1.0 {
            Sampling::TopP {
                p: params.top_p,
                temperature: params.temperature,
            }
        } else {
            Sampling::All {
                temperature: params.temperature,
            }
        };
        let seed = params.seed.unwrap_or_else(rand::random);
        Self {
            processor: LogitsProcessor::from_sampling(seed, sampling),
            repeat_penalty: params.repeat_penalty,
            repeat_last_n: params.repeat_last_n,
        }
    }

    /// Samples from 1-D `logits`; `history` is every token so far.
    pub(crate) fn sample(&mut self, logits: &Tensor, history: &[u32]) -> Result<u32, LlmError> {
        let logits = logits.to_dtype(DType::F32)?;
        let logits = if self.repeat_penalty == 1.0 || self.repeat_last_n == 0 {
            logits
        } else {
            let start = history.len().saturating_sub(self.repeat_last_n);
            candle_transformers::utils::apply_repeat_penalty(
                &logits,
                self.repeat_penalty,
                &history[start..],
            )?
        };
        Ok(self.processor.sample(&logits)?)
    }
}
