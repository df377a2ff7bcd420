//! The in-process inference engine: a GGUF chat model run by the fast forward pass
//! ([`crate::fast::FastModel`] over `govassist-kernels`).
//!
//! One generation runs at a time (the model and its KV cache sit behind a mutex); on 2 CPU
//! cores parallel requests would only slow each other down.
//!
//! **Prefix cache.** The engine remembers which token ids have their keys and values in the
//! model's one KV cache. A new request keeps the longest common prefix of those ids and its
//! own prompt, and runs only the rest through the model; so the ~300-token system prompt every
//! grounded question starts with costs nothing after the first request. This is exact, not an
//! approximation: the kept positions hold what a cold run would compute for them (causal
//! attention: a position's keys and values depend only on the tokens up to it), and the tests
//! check the answers are identical. The memory is bounded by the context: there is one cache,
//! never one per conversation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::catalog;
use crate::constrain::TokenConstraint;
use crate::error::LlmError;
use crate::fast::{FastModel, Weights};
use crate::gguf::{self, Architecture};
use crate::sampling::{top_k_ids, GenerationParams, Sampler};
use crate::stream::TextStream;
use crate::template::{ChatMessage, ChatTemplate};
use crate::tokenizer::GgufTokenizer;

/// Prompt tokens fed per forward pass. Bounds the scratch memory of a long prompt (activations
/// are `chunk × feed-forward width` floats; attention scores `chunk × context`).
const PREFILL_CHUNK: usize = 512;

/// Default cap on the context (prompt plus answer), in tokens. The KV cache grows with the
/// positions in use, up to the context: at 32,768 positions (Qwen2.5's declared context) it
/// would take 800 MB beside the 0.5B model's 700 MB of weights. Grounded prompts here stay
/// under ~2,000 tokens; 8,192 keeps the worst case at ~200 MB.
pub const DEFAULT_MAX_CONTEXT: usize = 8192;

/// Candidate counts tried in turn by constrained decoding: the best `n` tokens by logit, checked
/// against the constraint best first. Almost always one of the first few passes, so no step
/// scans the whole vocabulary with the constraint.
const CONSTRAINED_STAGES: [usize; 3] = [16, 256, 4096];

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn, a stop string was reached, or a constrained value is complete.
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
    /// Prompt tokens whose KV state was reused from the previous request (not recomputed).
    pub cached_prompt_tokens: usize,
    /// Tokens generated, including a final end-of-turn token and tokens written by a constraint.
    pub generated_tokens: usize,
    /// Time to process the prompt (prefill of the uncached part).
    pub prompt_ms: f64,
    /// From the start of the call until the first token was sampled.
    pub time_to_first_token_ms: f64,
    /// Tokens per second after the first token (0 when fewer than two).
    pub decode_tokens_per_s: f64,
    pub finish_reason: FinishReason,
}

/// How to load a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Threads per forward pass; 0 means all the machine has (`available_parallelism`).
    pub threads: usize,
    /// Cap on the context length (see [`DEFAULT_MAX_CONTEXT`]); `None` keeps the model's own.
    pub max_context: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            max_context: Some(DEFAULT_MAX_CONTEXT),
        }
    }
}

/// The model and what its KV cache holds.
struct State {
    model: FastModel,
    /// The token ids whose keys and values are in the model's KV cache, in order. Always as
    /// long as `model.cached_len()`.
    cached: Vec<u32>,
    /// Threads for decoding, chosen after each prefill from how busy the other processes were
    /// (see [`decode_threads`]); `None` until a prefill was long enough to tell.
    decode_threads: Option<usize>,
}

impl State {
    fn reset(&mut self) {
        self.model.clear_kv_cache();
        self.cached.clear();
    }
}

/// A loaded chat model. `Send + Sync`: share it in an `Arc`. `generate` blocks for seconds;
/// call it from a blocking thread in async code.
pub struct Engine {
    name: String,
    path: PathBuf,
    architecture: Architecture,
    context_length: usize,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    /// The token standing for each single byte, so a constraint can write any bytes.
    byte_tokens: Vec<Option<u32>>,
    /// Threads per forward pass, readable without waiting for a generation.
    threads: AtomicUsize,
    state: Mutex<State>,
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
    /// Loads a GGUF chat model (architectures qwen2 and llama) with the default
    /// [`EngineOptions`]: every available thread, context capped at [`DEFAULT_MAX_CONTEXT`].
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        Self::load_with(path, &EngineOptions::default())
    }

    /// Loads a GGUF chat model with explicit options.
    pub fn load_with(path: &Path, options: &EngineOptions) -> Result<Self, LlmError> {
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
        let context_length = options
            .max_context
            .map_or(declared_context, |cap| cap.min(declared_context))
            .max(1);

        let weights = Weights::from_gguf(&content, &mut reader, path)?;
        drop(content);
        let vocab_size = weights.config.vocab_size;
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let model = FastModel::new(weights, threads);

        let mut byte_tokens = vec![None; 256];
        for id in 0..vocab_size as u32 {
            if let [b] = tokenizer.token_bytes(id) {
                byte_tokens[*b as usize].get_or_insert(id);
            }
        }
        tracing::info!(
            model = %name,
            architecture = architecture.as_str(),
            context_length,
            threads,
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
            byte_tokens,
            threads: AtomicUsize::new(threads),
            state: Mutex::new(State {
                model,
                cached: Vec::new(),
                decode_threads: None,
            }),
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

    /// Threads per forward pass.
    pub fn threads(&self) -> usize {
        self.threads.load(Ordering::Relaxed)
    }

    /// Sets the threads per forward pass (0 counts as 1); waits for a running generation.
    pub fn set_threads(&self, threads: usize) {
        let mut state = self.lock();
        state.model.set_threads(threads);
        self.threads.store(state.model.threads(), Ordering::Relaxed);
    }

    /// Forgets the cached prompt prefix (the next request computes its whole prompt).
    pub fn clear_cache(&self) {
        self.lock().reset();
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
        let prompt_ids = self.encode_prompt(messages)?;
        let mut stream = TextStream::new(&params.stop);
        let stats = self.decode(&prompt_ids, params, &mut |id| {
            let piece = stream.push(self.tokenizer.token_bytes(id));
            if !piece.text.is_empty() && !on_token(&piece.text) {
                Step::Cancel
            } else if piece.stopped {
                Step::Stop
            } else {
                Step::Continue
            }
        })?;
        if stats.finish_reason != FinishReason::Cancelled {
            let rest = stream.finish();
            if !rest.is_empty() {
                on_token(&rest);
            }
        }
        tracing::info!(?stats, "generation finished");
        Ok(stats)
    }

    /// Continues raw token ids (no chat template, no stop strings), passing each generated id
    /// to `on_token` (not the end-of-turn token); `false` stops. The core of [`Engine::generate`],
    /// open for checks against a reference implementation token by token.
    pub fn generate_tokens(
        &self,
        prompt_ids: &[u32],
        params: &GenerationParams,
        on_token: &mut dyn FnMut(u32) -> bool,
    ) -> Result<GenerationStats, LlmError> {
        self.decode(prompt_ids, params, &mut |id| {
            if on_token(id) {
                Step::Continue
            } else {
                Step::Cancel
            }
        })
    }

    /// Answers the conversation with output that `constraint` accepts, e.g. JSON of a schema
    /// ([`crate::JsonSchemaConstraint`]). At each step only tokens whose bytes the constraint
    /// accepts are taken: the candidates are ranked by logit and checked best first (greedy
    /// takes the first valid one; with a temperature, up to `top_k` valid ones are sampled
    /// from). Bytes the constraint forces (keys, the rest of an enum value) are fed without
    /// asking the model, and generation stops as soon as the constraint is complete
    /// ([`FinishReason::Stop`]). Every token taken leaves room in the budget to complete the
    /// output, so it is complete unless cancelled; a budget too small even for the shortest
    /// output is [`LlmError::ConstraintBudget`]. Stop strings do not apply.
    pub fn generate_constrained(
        &self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        constraint: &mut dyn TokenConstraint,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<GenerationStats, LlmError> {
        let prompt_ids = self.encode_prompt(messages)?;
        let mut run = Run::start(self, &prompt_ids, params)?;
        let needed = constraint.closing().len();
        if needed > run.budget {
            return Err(LlmError::ConstraintBudget {
                needed,
                available: run.budget,
            });
        }
        let mut sampler = Sampler::new(params);
        let mut stream = TextStream::new(&[]);
        let mut finish_reason = FinishReason::Length;
        let mut ranked = Vec::new();
        let mut accepted = Vec::new();
        loop {
            if constraint.is_complete() {
                finish_reason = FinishReason::Stop;
                break;
            }
            let left = run.budget - run.generated;
            if left == 0 {
                break;
            }
            // Bytes with no alternative are written without asking the model.
            let forced = constraint.forced();
            let ids = if forced.is_empty() {
                Vec::new()
            } else {
                self.tokens_for_bytes(&forced)?
            };
            let (ids, bytes) = if !ids.is_empty() && ids.len() <= left {
                (ids, forced)
            } else {
                let id = self.pick_constrained(
                    &mut run,
                    &mut sampler,
                    &*constraint,
                    left,
                    &mut ranked,
                    &mut accepted,
                )?;
                (vec![id], self.tokenizer.token_bytes(id).to_vec())
            };
            if !constraint.push(&bytes) {
                return Err(LlmError::ConstraintStuck(
                    "the constraint refused bytes it had allowed".into(),
                ));
            }
            run.note_tokens(ids.len());
            run.history.extend_from_slice(&ids);
            let piece = stream.push(&bytes);
            if !piece.text.is_empty() && !on_token(&piece.text) {
                finish_reason = FinishReason::Cancelled;
                break;
            }
            if constraint.is_complete() {
                finish_reason = FinishReason::Stop;
                break;
            }
            if run.generated >= run.budget {
                break;
            }
            run.feed(&ids)?;
        }
        if finish_reason != FinishReason::Cancelled {
            let rest = stream.finish();
            if !rest.is_empty() {
                on_token(&rest);
            }
        }
        let stats = run.finish(finish_reason);
        tracing::info!(?stats, "constrained generation finished");
        Ok(stats)
    }

    /// The best token (or a sampled one of the best) whose bytes `constraint` accepts and which
    /// leaves no more closing bytes than tokens left after it.
    fn pick_constrained(
        &self,
        run: &mut Run<'_>,
        sampler: &mut Sampler,
        constraint: &dyn TokenConstraint,
        left: usize,
        ranked: &mut Vec<u32>,
        accepted: &mut Vec<u32>,
    ) -> Result<u32, LlmError> {
        sampler.prepare(&mut run.logits, &run.history);
        let wanted = sampler.candidates_wanted();
        let eos = self.tokenizer.eos_ids();
        accepted.clear();
        let mut tested = 0;
        for stage in CONSTRAINED_STAGES {
            let k = stage.min(run.logits.len());
            top_k_ids(&run.logits, k, ranked);
            for &id in &ranked[tested.min(k)..] {
                let bytes = self.tokenizer.token_bytes(id);
                if bytes.is_empty() || eos.contains(&id) {
                    continue;
                }
                if constraint.check(bytes).is_some_and(|rest| rest < left) {
                    accepted.push(id);
                    if accepted.len() == wanted {
                        break;
                    }
                }
            }
            tested = k;
            if !accepted.is_empty() || k == run.logits.len() {
                break;
            }
        }
        if !accepted.is_empty() {
            return Ok(sampler.pick(&run.logits, accepted));
        }
        // The model wants none of the valid tokens: take the next byte of the shortest
        // completion, which always fits (every byte has a token).
        let closing = constraint.closing();
        closing
            .first()
            .and_then(|&b| self.byte_tokens[b as usize])
            .ok_or_else(|| {
                LlmError::ConstraintStuck("the vocabulary has no token for a needed byte".into())
            })
    }

    /// Token ids whose bytes are exactly `bytes`: the tokenizer's ids for the valid UTF-8
    /// prefix when they reproduce it, single-byte tokens for the rest.
    fn tokens_for_bytes(&self, bytes: &[u8]) -> Result<Vec<u32>, LlmError> {
        let valid = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
        let mut ids = Vec::new();
        let mut done = 0;
        if !valid.is_empty() {
            if let Ok(encoded) = self.tokenizer.encode(valid) {
                let joined: Vec<u8> = encoded
                    .iter()
                    .flat_map(|&id| self.tokenizer.token_bytes(id).iter().copied())
                    .collect();
                if joined == valid.as_bytes() {
                    ids = encoded;
                    done = valid.len();
                }
            }
        }
        for &b in &bytes[done..] {
            ids.push(self.byte_tokens[b as usize].ok_or_else(|| {
                LlmError::ConstraintStuck("the vocabulary has no token for a needed byte".into())
            })?);
        }
        Ok(ids)
    }

    fn encode_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        let prompt = self.template.render(messages);
        self.tokenizer
            .encode(&prompt)
            .map_err(|e| LlmError::Tokenizer {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// The decode loop shared by `generate` and `generate_tokens`: `sink` gets each sampled
    /// token that is not end-of-turn.
    fn decode(
        &self,
        prompt_ids: &[u32],
        params: &GenerationParams,
        sink: &mut dyn FnMut(u32) -> Step,
    ) -> Result<GenerationStats, LlmError> {
        let mut run = Run::start(self, prompt_ids, params)?;
        let mut sampler = Sampler::new(params);
        let mut finish_reason = FinishReason::Length;
        while run.generated < run.budget {
            let next = sampler.sample(&mut run.logits, &run.history);
            run.note_tokens(1);
            if self.tokenizer.eos_ids().contains(&next) {
                finish_reason = FinishReason::Stop;
                break;
            }
            run.history.push(next);
            match sink(next) {
                Step::Continue => {}
                Step::Stop => {
                    finish_reason = FinishReason::Stop;
                    break;
                }
                Step::Cancel => {
                    finish_reason = FinishReason::Cancelled;
                    break;
                }
            }
            if run.generated == run.budget {
                break;
            }
            run.feed(&[next])?;
        }
        Ok(run.finish(finish_reason))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic during an earlier generation poisons the lock and may have left the KV cache
        // half-written: forget it, the weights are intact.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            state.reset();
            self.state.clear_poison();
            state
        })
    }
}

/// What the decode loop does after a token.
enum Step {
    Continue,
    Stop,
    Cancel,
}

/// One generation in progress: the locked model, the logits of the last position, counters.
struct Run<'a> {
    state: MutexGuard<'a, State>,
    started: Instant,
    prompt_tokens: usize,
    cached_prompt_tokens: usize,
    prompt_ms: f64,
    /// Tokens that may still be generated: `max_tokens`, bounded by the context.
    budget: usize,
    generated: usize,
    first_token: Option<(f64, Instant)>,
    /// Prompt and generated ids, for the repeat penalty.
    history: Vec<u32>,
    logits: Vec<f32>,
}

impl<'a> Run<'a> {
    /// Checks the prompt against the context, reuses the cached prefix and prefills the rest.
    fn start(
        engine: &'a Engine,
        prompt_ids: &[u32],
        params: &GenerationParams,
    ) -> Result<Self, LlmError> {
        let started = Instant::now();
        let prompt_tokens = prompt_ids.len();
        if prompt_tokens == 0 {
            return Err(LlmError::Inference("the prompt is empty".into()));
        }
        if prompt_tokens >= engine.context_length {
            return Err(LlmError::PromptTooLong {
                prompt_tokens,
                context_length: engine.context_length,
            });
        }
        let budget = params.max_tokens.min(engine.context_length - prompt_tokens);
        let mut state = engine.lock();
        if state.model.cached_len() != state.cached.len() {
            state.reset();
        }
        // Keep at least one prompt token to run: its logits choose the first answer token.
        let reuse = common_prefix(&state.cached, prompt_ids).min(prompt_tokens - 1);
        state.model.truncate_kv_cache(reuse);
        state.cached.truncate(reuse);
        let mut run = Self {
            state,
            started,
            prompt_tokens,
            cached_prompt_tokens: reuse,
            prompt_ms: 0.0,
            budget,
            generated: 0,
            first_token: None,
            history: prompt_ids.to_vec(),
            logits: Vec::new(),
        };
        // Prefill is compute-bound and splits well; decode waits on every thread at every layer, so
        // a core taken by another process stalls it. Watch the machine during prefill and decode
        // on the cores that were actually free.
        let configured = engine.threads();
        run.state.model.set_threads(configured);
        let before = CpuSample::now();
        run.feed(&prompt_ids[reuse..])?;
        if let (Some(before), Some(after)) = (before, CpuSample::now()) {
            if let Some(others) = after.others_busy_cores(&before, available_cores()) {
                run.state.decode_threads = Some(decode_threads(configured, others));
            }
        }
        let decode = run
            .state
            .decode_threads
            .unwrap_or(configured)
            .min(configured);
        run.state.model.set_threads(decode);
        run.prompt_ms = ms(started);
        tracing::debug!(
            prompt_tokens,
            cached_prompt_tokens = reuse,
            prompt_ms = run.prompt_ms,
            "prompt processed"
        );
        Ok(run)
    }

    /// Runs `ids` through the model after the cached positions; keeps the last logits. On
    /// failure the cache is forgotten, so a half-written state is never reused.
    fn feed(&mut self, ids: &[u32]) -> Result<(), LlmError> {
        for chunk in ids.chunks(PREFILL_CHUNK) {
            let pos = self.state.cached.len();
            match self.state.model.forward(chunk, pos) {
                Ok(logits) => {
                    self.logits = logits;
                    self.state.cached.extend_from_slice(chunk);
                }
                Err(e) => {
                    self.state.reset();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn note_tokens(&mut self, n: usize) {
        if self.first_token.is_none() {
            self.first_token = Some((ms(self.started), Instant::now()));
        }
        self.generated += n;
    }

    fn finish(self, finish_reason: FinishReason) -> GenerationStats {
        let (time_to_first_token_ms, decode_tokens_per_s) = match self.first_token {
            Some((ttft, at)) if self.generated > 1 => (
                ttft,
                (self.generated - 1) as f64 / at.elapsed().as_secs_f64(),
            ),
            Some((ttft, _)) => (ttft, 0.0),
            None => (0.0, 0.0),
        };
        GenerationStats {
            prompt_tokens: self.prompt_tokens,
            cached_prompt_tokens: self.cached_prompt_tokens,
            generated_tokens: self.generated,
            prompt_ms: self.prompt_ms,
            time_to_first_token_ms,
            decode_tokens_per_s,
            finish_reason,
        }
    }
}

/// Threads for decoding when other processes kept `others_busy` cores busy during prefill:
/// each core they take costs one thread (a thread sharing a core would stall every layer's
/// barrier), never fewer than one.
fn decode_threads(configured: usize, others_busy: f64) -> usize {
    let taken = others_busy.max(0.0).round() as usize;
    configured.saturating_sub(taken).max(1)
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time of the whole machine and of this process (clock ticks, from `/proc`), to tell how
/// much of the machine other processes used over an interval. Linux only; elsewhere `None`.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    total: u64,
    idle: u64,
    own: u64,
}

impl CpuSample {
    fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        Self::parse(&stat, &own)
    }

    fn parse(stat: &str, own: &str) -> Option<CpuSample> {
        // "cpu  user nice system idle iowait irq softirq steal …", summed over all cores.
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let idle = fields.get(3)? + fields.get(4)?;
        // After the command name (which may hold spaces, hence the last ')'): utime and stime
        // are fields 14 and 15 of the line, 12th and 13th after the name.
        let after_name = &own[own.rfind(')')? + 1..];
        let times: Vec<u64> = after_name
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        Some(CpuSample {
            total: fields.iter().sum(),
            idle,
            own: times.iter().sum(),
        })
    }

    /// Cores' worth of CPU time that other processes used since `earlier`; `None` when the
    /// interval was too short to tell (a prefill of a few tokens).
    fn others_busy_cores(&self, earlier: &CpuSample, cores: usize) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        if total < 10 * cores as u64 {
            return None;
        }
        let busy = total.saturating_sub(self.idle.saturating_sub(earlier.idle));
        let own = self.own.saturating_sub(earlier.own);
        Some(busy.saturating_sub(own) as f64 / total as f64 * cores as f64)
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
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
    fn decode_gives_up_the_cores_other_processes_take() {
        assert_eq!(decode_threads(2, 0.1), 2);
        assert_eq!(decode_threads(2, 0.8), 1);
        assert_eq!(decode_threads(2, 1.9), 1);
        assert_eq!(decode_threads(4, 1.2), 3);
        assert_eq!(decode_threads(1, 0.0), 1);
    }

    #[test]
    fn cpu_samples_tell_others_from_this_process() {
        let own = |utime: u64, stime: u64| {
            format!("123 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 {utime} {stime} 0 0")
        };
        let before =
            CpuSample::parse("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3", &own(50, 10)).unwrap();
        // 200 ticks on 2 cores: 180 busy, of which this process 80 → others 100 ticks = 1 core.
        let after = CpuSample::parse("cpu  200 0 180 820 0 0 0 0 0 0", &own(120, 20)).unwrap();
        let others = after.others_busy_cores(&before, 2).unwrap();
        assert!((others - 1.0).abs() < 1e-9, "{others}");
        assert_eq!(
            before.others_busy_cores(&before, 2),
            None,
            "too short to tell"
        );
    }

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

    #[test]
    fn common_prefix_counts_equal_leading_ids() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4, 5]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
        assert_eq!(common_prefix(&[1, 2], &[1, 2]), 2);
    }
}
