//! The forward pass of llama / qwen2 over the `govassist-kernels` matmul.
//!
//! A chunk of `m` tokens goes through each block as one `m × width` matrix: one quantized matmul
//! per linear layer for the whole chunk (the activations are quantized to 8-bit blocks once and
//! shared by Q, K and V, and by gate and up), then RoPE, causal grouped-query attention over a
//! KV cache of plain `Vec<f32>`, and a SwiGLU MLP. It follows candle-transformers 0.11.1's
//! `quantized_llama` / `quantized_qwen2` step by step (same RoPE tables and conventions, same
//! RMSNorm and softmax), so the logits agree up to the 8-bit activation rounding.

use std::path::Path;

use govassist_kernels::{matmul_quantized, Kernel, QuantizedActivations};

use super::weights::{Config, Linear, Weights};
use crate::error::LlmError;

/// Below this many query × key × head products a chunk's attention runs on one thread.
const PARALLEL_ATTENTION_MIN: usize = 1 << 15;

/// Keys and values of the positions seen so far, per layer `[position][kv_head][head_dim]`.
#[derive(Debug, Default)]
pub struct KvCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
}

impl KvCache {
    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Buffers reused from call to call.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    o: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    qa: QuantizedActivations,
}

/// A loaded model with its KV cache. Not `Sync`: one sequence at a time.
pub struct FastModel {
    weights: Weights,
    threads: usize,
    kernel: Kernel,
    cache: KvCache,
    scratch: Scratch,
    /// RoPE frequencies `1 / base^(2i / head_dim)`, as candle computes them.
    theta: Vec<f32>,
}

impl std::fmt::Debug for FastModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastModel")
            .field("config", &self.weights.config)
            .field("threads", &self.threads)
            .field("kernel", &self.kernel)
            .field("cached", &self.cache.len)
            .finish_non_exhaustive()
    }
}

fn kernel_err(e: govassist_kernels::KernelError) -> LlmError {
    LlmError::Inference(e.to_string())
}

impl FastModel {
    /// Loads a llama or qwen2 GGUF file; `threads` for the matmuls and attention (0 counts as 1).
    pub fn load(path: &Path, threads: usize) -> Result<Self, LlmError> {
        Ok(Self::new(Weights::load(path)?, threads))
    }

    /// Wraps loaded weights.
    pub fn new(weights: Weights, threads: usize) -> Self {
        let c = &weights.config;
        let theta = (0..c.head_dim)
            .step_by(2)
            .map(|i| 1f32 / c.rope_freq_base.powf(i as f32 / c.head_dim as f32))
            .collect();
        let cache = KvCache {
            k: vec![Vec::new(); c.n_layer],
            v: vec![Vec::new(); c.n_layer],
            len: 0,
        };
        Self {
            weights,
            threads: threads.max(1),
            kernel: Kernel::selected(),
            cache,
            scratch: Scratch::default(),
            theta,
        }
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.weights.config
    }

    /// Threads used per forward pass.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Sets the threads used per forward pass (0 counts as 1).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Positions in the KV cache.
    pub fn cached_len(&self) -> usize {
        self.cache.len
    }

    /// Forgets every cached position.
    pub fn clear_kv_cache(&mut self) {
        self.truncate_kv_cache(0);
    }

    /// Keeps only the first `len` cached positions (a shared prompt prefix can be kept).
    pub fn truncate_kv_cache(&mut self, len: usize) {
        let len = len.min(self.cache.len);
        let kv = self.weights.config.n_kv_head * self.weights.config.head_dim;
        for (k, v) in self.cache.k.iter_mut().zip(&mut self.cache.v) {
            k.truncate(len * kv);
            v.truncate(len * kv);
        }
        self.cache.len = len;
    }

    /// Runs `tokens` at positions `pos..pos + tokens.len()` and returns the logits of the last
    /// one (`vocab_size` values). `pos` must not exceed the cached length; a smaller `pos` drops
    /// the cached positions from `pos` on (like candle's `forward(x, 0)` restarting).
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        let mut logits = self.forward_all(tokens, pos, false)?;
        let vocab = self.weights.config.vocab_size;
        Ok(logits.split_off(logits.len() - vocab))
    }

    /// As [`FastModel::forward`], but with `all_logits` returns the logits of every token,
    /// `tokens.len() × vocab_size` row-major.
    pub fn forward_all(
        &mut self,
        tokens: &[u32],
        pos: usize,
        all_logits: bool,
    ) -> Result<Vec<f32>, LlmError> {
        let c = self.weights.config.clone();
        let m = tokens.len();
        if m == 0 {
            return Err(LlmError::Inference(
                "forward needs at least one token".into(),
            ));
        }
        if pos > self.cache.len {
            return Err(LlmError::Inference(format!(
                "position {pos} is past the {} cached positions",
                self.cache.len
            )));
        }
        if pos + m > c.context_length {
            return Err(LlmError::PromptTooLong {
                prompt_tokens: pos + m,
                context_length: c.context_length,
            });
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(LlmError::Inference(format!(
                "token id {bad} is outside the vocabulary ({})",
                c.vocab_size
            )));
        }
        self.truncate_kv_cache(pos);

        let (d, kv, ff) = (c.n_embd, c.n_kv_head * c.head_dim, c.n_ff);
        let threads = self.threads;
        let kernel = self.kernel;
        let s = &mut self.scratch;
        s.x.resize(m * d, 0.0);
        s.h.resize(m * d, 0.0);
        s.q.resize(m * d, 0.0);
        s.k.resize(m * kv, 0.0);
        s.v.resize(m * kv, 0.0);
        s.att.resize(m * d, 0.0);
        s.o.resize(m * d, 0.0);
        s.gate.resize(m * ff, 0.0);
        s.up.resize(m * ff, 0.0);
        for (row, &t) in s.x.chunks_exact_mut(d).zip(tokens) {
            self.weights.embedding.row(t as usize, row);
        }
        rope_tables(&self.theta, pos, m, &mut s.cos, &mut s.sin);

        for (li, layer) in self.weights.layers.iter().enumerate() {
            // Attention.
            rms_norm(&s.x, &layer.attn_norm, c.rms_norm_eps, &mut s.h);
            s.qa.quantize_into(kernel, &s.h, m, d).map_err(kernel_err)?;
            linear(&layer.wq, &s.qa, &mut s.q, threads)?;
            linear(&layer.wk, &s.qa, &mut s.k, threads)?;
            linear(&layer.wv, &s.qa, &mut s.v, threads)?;
            rope(
                &mut s.q,
                c.n_head,
                c.head_dim,
                &s.cos,
                &s.sin,
                c.rope_is_neox,
            );
            rope(
                &mut s.k,
                c.n_kv_head,
                c.head_dim,
                &s.cos,
                &s.sin,
                c.rope_is_neox,
            );
            let k_cache = &mut self.cache.k[li];
            let v_cache = &mut self.cache.v[li];
            k_cache.extend_from_slice(&s.k);
            v_cache.extend_from_slice(&s.v);
            attention(&c, &s.q, k_cache, v_cache, pos, m, &mut s.att, threads);
            s.qa.quantize_into(kernel, &s.att, m, d)
                .map_err(kernel_err)?;
            linear(&layer.wo, &s.qa, &mut s.o, threads)?;
            add_into(&mut s.x, &s.o);

            // MLP.
            rms_norm(&s.x, &layer.ffn_norm, c.rms_norm_eps, &mut s.h);
            s.qa.quantize_into(kernel, &s.h, m, d).map_err(kernel_err)?;
            linear(&layer.w_gate, &s.qa, &mut s.gate, threads)?;
            linear(&layer.w_up, &s.qa, &mut s.up, threads)?;
            for (g, u) in s.gate.iter_mut().zip(&s.up) {
                *g = *g / ((-*g).exp() + 1.0) * u;
            }
            s.qa.quantize_into(kernel, &s.gate, m, ff)
                .map_err(kernel_err)?;
            linear(&layer.w_down, &s.qa, &mut s.o, threads)?;
            add_into(&mut s.x, &s.o);
        }
        self.cache.len = pos + m;

        // Final norm and output head, for the last token or all of them.
        let rows = if all_logits { m } else { 1 };
        let first = m - rows;
        let hn = &mut s.h[..rows * d];
        rms_norm(
            &s.x[first * d..],
            &self.weights.output_norm,
            c.rms_norm_eps,
            hn,
        );
        s.qa.quantize_into(kernel, hn, rows, d)
            .map_err(kernel_err)?;
        let mut logits = vec![0f32; rows * c.vocab_size];
        linear(&self.weights.output, &s.qa, &mut logits, threads)?;
        Ok(logits)
    }
}

/// `out = qa · Wᵀ + b`.
fn linear(
    l: &Linear,
    qa: &QuantizedActivations,
    out: &mut [f32],
    threads: usize,
) -> Result<(), LlmError> {
    let n = l.weight.n_rows();
    let out = &mut out[..qa.m() * n];
    matmul_quantized(&l.weight, qa, out, threads).map_err(kernel_err)?;
    if let Some(b) = &l.bias {
        for row in out.chunks_exact_mut(n) {
            add_into(row, b);
        }
    }
    Ok(())
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// Row-wise RMSNorm as candle's `rms_norm`: `x / sqrt(mean(x²) + eps) * w`.
fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let sum2: f32 = xr.iter().map(|v| v * v).sum();
        let scale = (sum2 / d as f32 + eps).sqrt();
        for ((o, x), w) in or.iter_mut().zip(xr).zip(w) {
            *o = x / scale * w;
        }
    }
}

/// cos / sin of `position × theta` for positions `pos..pos + m`, `[m][head_dim / 2]`.
fn rope_tables(theta: &[f32], pos: usize, m: usize, cos: &mut Vec<f32>, sin: &mut Vec<f32>) {
    cos.clear();
    sin.clear();
    for p in pos..pos + m {
        for &t in theta {
            let a = p as f32 * t;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
}

/// Rotates every head of every token (`x` is `[m][n_heads][head_dim]`) in place.
fn rope(x: &mut [f32], n_heads: usize, hd: usize, cos: &[f32], sin: &[f32], neox: bool) {
    let half = hd / 2;
    for (t, row) in x.chunks_exact_mut(n_heads * hd).enumerate() {
        let (c, s) = (&cos[t * half..][..half], &sin[t * half..][..half]);
        for head in row.chunks_exact_mut(hd) {
            if neox {
                let (a, b) = head.split_at_mut(half);
                for (((x0, x1), c), s) in a.iter_mut().zip(b).zip(c).zip(s) {
                    (*x0, *x1) = (*x0 * c - *x1 * s, *x0 * s + *x1 * c);
                }
            } else {
                for ((pair, c), s) in head.chunks_exact_mut(2).zip(c).zip(s) {
                    let (x0, x1) = (pair[0], pair[1]);
                    pair[0] = x0 * c - x1 * s;
                    pair[1] = x0 * s + x1 * c;
                }
            }
        }
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += x * y;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Causal grouped-query attention for query tokens at `pos..pos + m` over the cache (which
/// already holds them). `q` and `out` are `[m][n_head][head_dim]`.
#[allow(clippy::too_many_arguments)]
fn attention(
    c: &Config,
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    pos: usize,
    m: usize,
    out: &mut [f32],
    threads: usize,
) {
    let d = c.n_head * c.head_dim;
    let work = m * (pos + m) * c.n_head;
    let run = |t0: usize, out: &mut [f32]| {
        let mut scores = Vec::with_capacity(pos + m);
        for (i, orow) in out.chunks_exact_mut(d).enumerate() {
            let t = t0 + i;
            attend_token(
                c,
                &q[t * d..(t + 1) * d],
                k_cache,
                v_cache,
                pos + t + 1,
                orow,
                &mut scores,
            );
        }
    };
    let out = &mut out[..m * d];
    if threads <= 1 || m < 2 || work < PARALLEL_ATTENTION_MIN {
        run(0, out);
        return;
    }
    // Split the tokens so each part has about the same number of (query, key) pairs: token t
    // attends to pos + t + 1 keys.
    let parts = threads.min(m);
    let total: usize = (0..m).map(|t| pos + t + 1).sum();
    let mut bounds = vec![0usize];
    let mut acc = 0;
    for t in 0..m {
        acc += pos + t + 1;
        if bounds.len() < parts && acc * parts >= total * bounds.len() {
            bounds.push(t + 1);
        }
    }
    if *bounds.last().unwrap() != m {
        bounds.push(m);
    }
    std::thread::scope(|scope| {
        let mut rest = out;
        let mut jobs = Vec::new();
        for w in bounds.windows(2) {
            let (mine, tail) = rest.split_at_mut((w[1] - w[0]) * d);
            rest = tail;
            jobs.push((w[0], mine));
        }
        let first = jobs.remove(0);
        for (t0, part) in jobs {
            let run = &run;
            scope.spawn(move || run(t0, part));
        }
        run(first.0, first.1);
    });
}

/// One query token (all heads) against the first `n_keys` cached positions.
fn attend_token(
    c: &Config,
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    n_keys: usize,
    out: &mut [f32],
    scores: &mut Vec<f32>,
) {
    let hd = c.head_dim;
    let kv = c.n_kv_head * hd;
    let n_rep = c.n_head / c.n_kv_head;
    let scale = (hd as f32).sqrt();
    for h in 0..c.n_head {
        let g = h / n_rep;
        let qh = &q[h * hd..(h + 1) * hd];
        scores.clear();
        let mut max = f32::NEG_INFINITY;
        for p in 0..n_keys {
            let s = dot(qh, &k_cache[p * kv + g * hd..][..hd]) / scale;
            max = max.max(s);
            scores.push(s);
        }
        let mut sum = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let oh = &mut out[h * hd..(h + 1) * hd];
        oh.fill(0.0);
        for (p, &w) in scores.iter().enumerate() {
            let vp = &v_cache[p * kv + g * hd..][..hd];
            for (o, v) in oh.iter_mut().zip(vp) {
                *o += w * v;
            }
        }
        let inv = 1.0 / sum;
        for o in oh.iter_mut() {
            *o *= inv;
        }
    }
}
