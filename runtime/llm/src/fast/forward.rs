//! The forward pass of llama / qwen2 over the `govassist-kernels` matmul.
//!
//! A chunk of `m` tokens goes through each block as one `m × width` matrix: one quantized matmul
//! per linear layer for the whole chunk (the activations are quantized to 8-bit blocks once and
//! shared by Q, K and V, and by gate and up, which also run as one parallel job each: a decode
//! step then synchronizes its threads 4 times per layer, not 7), then RoPE, causal grouped-query
//! attention over a KV cache of plain `Vec<f32>`, and a SwiGLU MLP. It follows
//! candle-transformers 0.11.1's `quantized_llama` / `quantized_qwen2` step by step (same RoPE
//! tables and conventions, same RMSNorm and softmax), so the logits agree up to the 8-bit
//! activation rounding.

use std::path::Path;

use govassist_kernels::{matmul_quantized_many, parallel_for, Kernel, QuantizedActivations};

use super::weights::{Config, Linear, Weights};
use crate::error::LlmError;

/// The KV cache grows by this many positions at a time.
const KV_GROW_TOKENS: usize = 256;

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
            linear(
                &[&layer.wq, &layer.wk, &layer.wv],
                &s.qa,
                &mut [&mut s.q, &mut s.k, &mut s.v],
                threads,
            )?;
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
            for cache in [&mut *k_cache, &mut *v_cache] {
                if cache.capacity() < (pos + m) * kv {
                    // Grow in steps of KV_GROW_TOKENS, never past the context: doubling would
                    // hold up to twice the positions in use.
                    let want = (pos + m)
                        .next_multiple_of(KV_GROW_TOKENS)
                        .min(c.context_length)
                        .max(pos + m);
                    cache.reserve_exact(want * kv - cache.len());
                }
            }
            k_cache.extend_from_slice(&s.k);
            v_cache.extend_from_slice(&s.v);
            attention(&c, &s.q, k_cache, v_cache, pos, m, &mut s.att, threads);
            s.qa.quantize_into(kernel, &s.att, m, d)
                .map_err(kernel_err)?;
            linear(&[&layer.wo], &s.qa, &mut [&mut s.o], threads)?;
            add_into(&mut s.x, &s.o);

            // MLP.
            rms_norm(&s.x, &layer.ffn_norm, c.rms_norm_eps, &mut s.h);
            s.qa.quantize_into(kernel, &s.h, m, d).map_err(kernel_err)?;
            linear(
                &[&layer.w_gate, &layer.w_up],
                &s.qa,
                &mut [&mut s.gate, &mut s.up],
                threads,
            )?;
            for (g, u) in s.gate.iter_mut().zip(&s.up) {
                *g = *g / ((-*g).exp() + 1.0) * u;
            }
            s.qa.quantize_into(kernel, &s.gate, m, ff)
                .map_err(kernel_err)?;
            linear(&[&layer.w_down], &s.qa, &mut [&mut s.o], threads)?;
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
        linear(&[&self.weights.output], &s.qa, &mut [&mut logits], threads)?;
        Ok(logits)
    }
}

/// `outs[i] = qa · Wᵢᵀ + bᵢ` for layers that share their input, as one parallel job.
fn linear(
    layers: &[&Linear],
    qa: &QuantizedActivations,
    outs: &mut [&mut Vec<f32>],
    threads: usize,
) -> Result<(), LlmError> {
    let weights: Vec<_> = layers.iter().map(|l| &l.weight).collect();
    let mut views: Vec<&mut [f32]> = layers
        .iter()
        .zip(outs.iter_mut())
        .map(|(l, out)| &mut out[..qa.m() * l.n_out()])
        .collect();
    matmul_quantized_many(&weights, qa, &mut views, threads).map_err(kernel_err)?;
    for (l, out) in layers.iter().zip(views) {
        if let Some(b) = &l.bias {
            for row in out.chunks_exact_mut(l.n_out()) {
                add_into(row, b);
            }
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
    let out = SendPtr(out.as_mut_ptr());
    parallel_for(threads, bounds.len() - 1, &|j| {
        let (t0, t1) = (bounds[j], bounds[j + 1]);
        // SAFETY: the parts' token ranges are disjoint, so are their rows of `out`, which
        // outlives the call.
        let rows = unsafe { std::slice::from_raw_parts_mut(out.at(t0 * d), (t1 - t0) * d) };
        run(t0, rows);
    });
}

/// The output of [`attention`], shared by its parallel parts (each writes its own rows).
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used to write disjoint rows of one slice while the call that borrows it runs.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer `offset` floats further (a method, so that closures capture the whole
    /// `Sync` wrapper rather than its raw pointer field).
    ///
    /// # Safety
    /// The offset must stay inside the slice.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.add(offset) }
    }
}

/// One query token (all heads) against the first `n_keys` cached positions.
///
/// Attention is a third or more of a long prefill, and the crate is built for baseline x86-64
/// (SSE2): with AVX2 and FMA at run time, the dot products and the weighted sums of values run
/// 8 floats per instruction instead (chosen per token; the check is one cached load).
fn attend_token(
    c: &Config,
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    n_keys: usize,
    out: &mut [f32],
    scores: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { x86::attend_token(c, q, k_cache, v_cache, n_keys, out, scores) };
        return;
    }
    attend_with::<Portable>(c, q, k_cache, v_cache, n_keys, out, scores);
}

/// The vector operations attention needs, per instruction set.
trait Ops {
    fn dot(a: &[f32], b: &[f32]) -> f32;
    /// `y += w · x`.
    fn axpy(y: &mut [f32], w: f32, x: &[f32]);
}

struct Portable;

impl Ops for Portable {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        dot(a, b)
    }

    #[inline(always)]
    fn axpy(y: &mut [f32], w: f32, x: &[f32]) {
        for (o, v) in y.iter_mut().zip(x) {
            *o += w * v;
        }
    }
}

#[inline(always)]
fn attend_with<O: Ops>(
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
            let s = O::dot(qh, &k_cache[p * kv + g * hd..][..hd]) / scale;
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
            O::axpy(oh, w, &v_cache[p * kv + g * hd..][..hd]);
        }
        let inv = 1.0 / sum;
        for o in oh.iter_mut() {
            *o *= inv;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{attend_with, Config, Ops};

    struct Avx2;

    impl Ops for Avx2 {
        #[inline(always)]
        fn dot(a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: only reached from `attend_token` below, which requires AVX2 and FMA.
            unsafe { dot(a, b) }
        }

        #[inline(always)]
        fn axpy(y: &mut [f32], w: f32, x: &[f32]) {
            // SAFETY: as above.
            unsafe { axpy(y, w, x) }
        }
    }

    /// Scores eight keys at a time (one horizontal reduction for eight dot products instead of
    /// one each) and sums the values with the output dimensions held in registers.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn attend_token(
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
        let fits = q.len() >= c.n_head * hd
            && out.len() >= c.n_head * hd
            && k_cache.len() >= n_keys * kv
            && v_cache.len() >= n_keys * kv;
        if !hd.is_multiple_of(8) || !fits {
            attend_with::<Avx2>(c, q, k_cache, v_cache, n_keys, out, scores);
            return;
        }
        let n_rep = c.n_head / c.n_kv_head;
        let scale = (hd as f32).sqrt();
        let scale_v = _mm256_set1_ps(scale);
        scores.clear();
        scores.resize(n_keys, 0.0);
        let (kp, vp) = (k_cache.as_ptr(), v_cache.as_ptr());
        for h in 0..c.n_head {
            let base = (h / n_rep) * hd;
            let qh = q.as_ptr().add(h * hd);
            // SAFETY (pointer reads below): key/value rows p < n_keys at offset p·kv + base,
            // dims d + 8 ≤ hd; the lengths were checked above.
            let mut p = 0;
            while p + 8 <= n_keys {
                let mut acc = [_mm256_setzero_ps(); 8];
                let mut d = 0;
                while d < hd {
                    let qv = _mm256_loadu_ps(qh.add(d));
                    for (j, a) in acc.iter_mut().enumerate() {
                        let k = _mm256_loadu_ps(kp.add((p + j) * kv + base + d));
                        *a = _mm256_fmadd_ps(qv, k, *a);
                    }
                    d += 8;
                }
                let s = _mm256_div_ps(hsum8(&acc), scale_v);
                _mm256_storeu_ps(scores.as_mut_ptr().add(p), s);
                p += 8;
            }
            let qs = &q[h * hd..(h + 1) * hd];
            for (p, s) in scores.iter_mut().enumerate().skip(p) {
                *s = dot(qs, &k_cache[p * kv + base..][..hd]) / scale;
            }
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            let mut sum = 0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = _mm256_set1_ps(1.0 / sum);
            let oh = out.as_mut_ptr().add(h * hd);
            // Up to 64 dimensions per pass over the values: independent accumulators, so the
            // FMAs do not wait on each other.
            let mut d = 0;
            while d < hd {
                let v = vp.add(base + d);
                let o = oh.add(d);
                match (hd - d) / 8 {
                    8.. => weighted_sum::<8>(scores, v, kv, o, inv),
                    4..=7 => weighted_sum::<4>(scores, v, kv, o, inv),
                    2..=3 => weighted_sum::<2>(scores, v, kv, o, inv),
                    _ => weighted_sum::<1>(scores, v, kv, o, inv),
                }
                d += match (hd - d) / 8 {
                    8.. => 64,
                    4..=7 => 32,
                    2..=3 => 16,
                    _ => 8,
                };
            }
        }
    }

    /// `out[0..8N] = inv · Σ_p w[p] · v[p·stride..][0..8N]`.
    ///
    /// # Safety
    /// AVX2 and FMA; `v` readable for `w.len()` rows of `stride` with `8N` values each, `out`
    /// writable for `8N` values.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn weighted_sum<const N: usize>(
        w: &[f32],
        v: *const f32,
        stride: usize,
        out: *mut f32,
        inv: __m256,
    ) {
        let mut acc = [_mm256_setzero_ps(); N];
        for (p, &wp) in w.iter().enumerate() {
            let wv = _mm256_set1_ps(wp);
            let row = v.add(p * stride);
            for (j, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(wv, _mm256_loadu_ps(row.add(8 * j)), *a);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.add(8 * j), _mm256_mul_ps(*a, inv));
        }
    }

    /// The eight horizontal sums of `a`, as one vector.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum8(a: &[__m256; 8]) -> __m256 {
        let t0 = _mm256_hadd_ps(a[0], a[1]);
        let t1 = _mm256_hadd_ps(a[2], a[3]);
        let t2 = _mm256_hadd_ps(a[4], a[5]);
        let t3 = _mm256_hadd_ps(a[6], a[7]);
        let u0 = _mm256_hadd_ps(t0, t1);
        let u1 = _mm256_hadd_ps(t2, t3);
        _mm256_add_ps(
            _mm256_permute2f128_ps(u0, u1, 0x20),
            _mm256_permute2f128_ps(u0, u1, 0x31),
        )
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads): i + 16 (or + 8) ≤ n, within both slices.
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let acc = _mm256_add_ps(acc0, acc1);
        let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        let mut sum = _mm_cvtss_f32(s);
        for j in i..n {
            sum += a[j] * b[j];
        }
        sum
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy(y: &mut [f32], w: f32, x: &[f32]) {
        let n = y.len().min(x.len());
        let (py, px) = (y.as_mut_ptr(), x.as_ptr());
        let wv = _mm256_set1_ps(w);
        let mut i = 0;
        // SAFETY: i + 8 ≤ n, within both slices.
        while i + 8 <= n {
            let r = _mm256_fmadd_ps(wv, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        for j in i..n {
            y[j] += w * x[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Architecture;

    fn config(n_head: usize, n_kv_head: usize, head_dim: usize) -> Config {
        Config {
            architecture: Architecture::Qwen2,
            n_layer: 1,
            n_embd: n_head * head_dim,
            n_head,
            n_kv_head,
            head_dim,
            n_ff: 8,
            vocab_size: 8,
            context_length: 64,
            rms_norm_eps: 1e-6,
            rope_freq_base: 10000.0,
            rope_is_neox: true,
        }
    }

    /// Deterministic values in [-2, 2).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 4000;
                x as f32 / 1000.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn vectorized_attention_matches_the_portable_one() {
        for (n_head, n_kv_head, hd) in [(4, 2, 64), (3, 1, 16), (2, 2, 12)] {
            let c = config(n_head, n_kv_head, hd);
            for n_keys in [1, 7, 8, 9, 33] {
                let q = values(n_head * hd, 1);
                let k = values(n_keys * n_kv_head * hd, 2);
                let v = values(n_keys * n_kv_head * hd, 3);
                let mut want = vec![0f32; n_head * hd];
                let mut got = vec![0f32; n_head * hd];
                let mut scores = Vec::new();
                attend_with::<Portable>(&c, &q, &k, &v, n_keys, &mut want, &mut scores);
                attend_token(&c, &q, &k, &v, n_keys, &mut got, &mut scores);
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{n_keys} keys, hd {hd}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
