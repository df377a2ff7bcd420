//! Fused CPU kernels for the elementwise steps where candle's generic ops cost more than the
//! matmuls around them.
//!
//! - [`bias_gelu`]: candle's `gelu_erf` evaluates `erf` through the scalar `libm` routine (with an
//!   `exp` inside), about 8 ns per element even on two threads: on a batch of passages the
//!   feed-forward GELU took as long as a third of the layer's matmuls. Here the bias is added and
//!   GELU applied in one pass, with a rational approximation of `erf` that the compiler
//!   vectorises: ~1 ns per element per thread, within 5e-7 of the exact `erf`.
//! - [`add_norm`]: BERT's "bias, residual add, LayerNorm" in one pass instead of three, each of
//!   which would allocate and stream a fresh activation tensor.
//! - [`masked_softmax`]: attention softmax that skips padding keys (no mask tensor to build and
//!   add) and uses a vectorisable `exp`; with the libm `exp`, the softmax over a batch's
//!   `heads × t × t` scores was the largest cost after the matmuls.
//!
//! All split large inputs across rayon's pool by rows (the pool candle's GEMM runs on) and run
//! small ones (a single query) inline, where handing work to another thread costs more than it
//! saves.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, InplaceOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Rows per parallel task; below this many rows everything runs on the calling thread.
const ROWS_PER_TASK: usize = 64;

/// `gelu(x + bias)` with the exact (erf) GELU, as BERT and the reference use — not the tanh
/// approximation. `x` is `[.., cols]`, `bias` is `[cols]`; both contiguous f32.
pub(crate) fn bias_gelu(x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op2_no_bwd(bias, &BiasGelu)
}

/// `LayerNorm(residual + y + bias) · gamma + beta` per row, `params` = `[bias; gamma; beta]`
/// stacked as `[3, cols]`; `y` and `residual` are `[.., cols]`. Computed like the reference:
/// two-pass mean and variance in f32.
pub(crate) fn add_norm(
    y: &Tensor,
    residual: &Tensor,
    params: &Tensor,
    eps: f32,
) -> candle_core::Result<Tensor> {
    y.apply_op3_no_bwd(residual, params, &AddNorm { eps })
}

/// Softmax over the last dimension of attention scores `[batch, heads, t, t]`, where item `i` of
/// the batch has `lengths[i]` real tokens: keys at or beyond it get probability 0 (they are
/// padding). Every length must be in `1..=t`.
///
/// Works in place: the scores of a batch are the largest activation (`heads × t²` per text), and
/// writing the probabilities into a fresh tensor would cost a page-faulting allocation per layer.
pub(crate) fn masked_softmax(scores: Tensor, lengths: &[usize]) -> candle_core::Result<Tensor> {
    scores.inplace_op1(&MaskedSoftmax { lengths })?;
    Ok(scores)
}

struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu-erf"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(self.name(), x, x_layout)?;
        let bias = f32_slice(self.name(), bias, bias_layout)?;
        let cols = bias.len();
        if cols == 0 || x_layout.dims().last() != Some(&cols) {
            bail!("bias-gelu-erf: bias {cols} for input {:?}", x_layout.dims());
        }
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, cols, |first, out| {
            let x = &x[first * cols..];
            for (out, x) in out.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
                for ((o, &v), &b) in out.iter_mut().zip(x).zip(bias) {
                    *o = gelu(v + b);
                }
            }
        });
        Ok((CpuStorage::F32(out), x_layout.shape().clone()))
    }
}

struct AddNorm {
    eps: f32,
}

impl CustomOp3 for AddNorm {
    fn name(&self) -> &'static str {
        "add-bias-residual-layer-norm"
    }

    fn cpu_fwd(
        &self,
        y: &CpuStorage,
        y_layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
        params: &CpuStorage,
        params_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = f32_slice(self.name(), y, y_layout)?;
        let residual = f32_slice(self.name(), residual, residual_layout)?;
        let params = f32_slice(self.name(), params, params_layout)?;
        let cols = params.len() / 3;
        if cols == 0
            || params_layout.dims() != [3, cols]
            || y_layout.dims().last() != Some(&cols)
            || y_layout.dims() != residual_layout.dims()
        {
            bail!(
                "{}: shapes {:?} + {:?} with params {:?}",
                self.name(),
                y_layout.dims(),
                residual_layout.dims(),
                params_layout.dims()
            );
        }
        let (bias, rest) = params.split_at(cols);
        let (gamma, beta) = rest.split_at(cols);
        let eps = self.eps;
        let mut out = vec![0f32; y.len()];
        for_row_blocks(&mut out, cols, |first, out| {
            let (y, residual) = (&y[first * cols..], &residual[first * cols..]);
            let rows = out
                .chunks_exact_mut(cols)
                .zip(y.chunks_exact(cols))
                .zip(residual.chunks_exact(cols));
            for ((out, y), residual) in rows {
                let mut sum = 0f32;
                for (((o, &y), &x), &b) in out.iter_mut().zip(y).zip(residual).zip(bias) {
                    *o = x + (y + b);
                    sum += *o;
                }
                let mean = sum / cols as f32;
                let var = out.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
                let inv = 1.0 / (var + eps).sqrt();
                for ((o, &g), &b) in out.iter_mut().zip(gamma).zip(beta) {
                    *o = (*o - mean) * inv * g + b;
                }
            }
        });
        Ok((CpuStorage::F32(out), y_layout.shape().clone()))
    }
}

struct MaskedSoftmax<'a> {
    lengths: &'a [usize],
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(data) = storage else {
            bail!("masked-softmax: f32 tensors only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("masked-softmax: contiguous tensors only");
        };
        let &[b, heads, t, t2] = layout.dims() else {
            bail!(
                "masked-softmax: scores {:?}, expected 4 dims",
                layout.dims()
            );
        };
        if t != t2 || b != self.lengths.len() || self.lengths.iter().any(|&l| l == 0 || l > t) {
            bail!(
                "masked-softmax: scores {:?} with lengths {:?}",
                layout.dims(),
                self.lengths
            );
        }
        let lengths = self.lengths;
        for_row_blocks(&mut data[start..end], t, |first, rows| {
            for (r, row) in rows.chunks_exact_mut(t).enumerate() {
                let len = lengths[(first + r) / (heads * t)];
                let (real, padding) = row.split_at_mut(len);
                padding.fill(0.0);
                let max = real.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                for v in real.iter_mut() {
                    *v = exp_nonpositive(*v - max);
                }
                let inv = 1.0 / sum_lanes(real);
                real.iter_mut().for_each(|v| *v *= inv);
            }
        });
        Ok(())
    }
}

/// Runs `f(first_row, rows)` over `out`, a matrix of `cols`-wide rows: on all of it at once when
/// it is small, else on blocks of [`ROWS_PER_TASK`] rows in parallel. `first_row` tells `f` where
/// its block starts, so it can find the matching rows of its inputs.
fn for_row_blocks(out: &mut [f32], cols: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let block = ROWS_PER_TASK * cols;
    if out.len() <= block {
        f(0, out);
    } else {
        out.par_chunks_mut(block)
            .enumerate()
            .for_each(|(i, out)| f(i * ROWS_PER_TASK, out));
    }
}

/// The contiguous f32 data of a storage, or an error naming the op.
fn f32_slice<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: f32 tensors only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: contiguous tensors only");
    };
    Ok(&data[start..end])
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `erf(x)` as an odd rational function of degree 13/8 on `[-4, 4]` (beyond, `erf` is ±1 in f32);
/// the coefficients are Eigen's `generic_fast_erf_float` (also used by XLA). Branch-free and
/// without `exp`, so loops over it vectorise. Maximum absolute error ≈ 5e-7.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, digit for digit
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
    p = x2 * p + -2.10102402082508e-06;
    p = x2 * p + -5.69250639462346e-05;
    p = x2 * p + -7.34990630326855e-04;
    p = x2 * p + -2.95459980854025e-03;
    p = x2 * p + -1.60960333262415e-02;
    let mut q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
    q = x2 * q + -1.68282697438203e-03;
    q = x2 * q + -7.37332916720468e-03;
    q = x2 * q + -1.42647390514189e-02;
    x * p / q
}

/// `exp(x)` for `x <= 0` (a softmax after subtracting the maximum), branch-free so that loops
/// over it vectorise: Cephes' `expf` (range reduction by ln 2, degree-6 polynomial; ~1 ulp),
/// with rounding done by the add-a-magic-number trick rather than `floor`, which baseline x86-64
/// can only call out of line. Arguments below -87 (where `exp` leaves the normal range) give
/// `exp(-87)` ≈ 1.6e-38: zero next to the softmax's largest term, which is 1.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, digit for digit
fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 0.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_375 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_150_0e-4;
    p = p * r + 1.398_199_950_7e-3;
    p = p * r + 8.333_451_907_3e-3;
    p = p * r + 4.166_579_589_4e-2;
    p = p * r + 1.666_666_545_9e-1;
    p = p * r + 5.000_000_120_1e-1;
    let e = p * r * r + r + 1.0;
    // 2^n for n in -126..=0, built from its exponent bits. `n + ROUND` holds n in its low mantissa
    // bits, which avoids a float → int conversion (a saturating `as` would not vectorise).
    let n_bits = (n + ROUND).to_bits().wrapping_sub(ROUND.to_bits());
    e * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// Sum with eight independent accumulators: a plain `f32` sum is one long dependency chain that
/// the compiler may not reorder, so it can neither vectorise nor pipeline.
#[inline(always)]
fn sum_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fast_erf_is_close_to_exact() {
        let mut worst = 0f64;
        for i in -100_000..=100_000 {
            let x = i as f64 * 6e-5; // [-6, 6]
            let err = (f64::from(erf(x as f32)) - candle_core::cpu::erf::erf_f64(x)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "max |erf error| {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
    }

    /// Both sizes: inline (few rows) and parallel (many rows).
    fn inputs(rows: usize, cols: usize) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let n = (rows * cols) as f32;
        let x = Tensor::arange(0f32, n, &Device::Cpu)?
            .affine(6.0 / f64::from(n), -3.0)?
            .reshape((rows, cols))?;
        let y = x.sin()?;
        let v = Tensor::arange(0f32, cols as f32, &Device::Cpu)?.affine(0.01, -0.1)?;
        Ok((x, y, v))
    }

    #[test]
    fn bias_gelu_matches_candle() -> candle_core::Result<()> {
        for rows in [3, 200] {
            let (x, _, bias) = inputs(rows, 30)?;
            let fast = bias_gelu(&x, &bias)?;
            let exact = x.broadcast_add(&bias)?.gelu_erf()?;
            let diff = (fast - exact)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-6, "rows {rows}: max difference {diff}");
        }
        Ok(())
    }

    #[test]
    fn add_norm_matches_exact_layer_norm() -> candle_core::Result<()> {
        for rows in [3, 200] {
            let cols = 48;
            let (x, y, bias) = inputs(rows, cols)?;
            let gamma = bias.cos()?;
            let beta = bias.affine(2.0, 0.5)?;
            let params = Tensor::stack(&[&bias, &gamma, &beta], 0)?;
            let fused = add_norm(&y, &x, &params, 1e-12)?.to_vec2::<f32>()?;
            let (x, y) = (x.to_vec2::<f32>()?, y.to_vec2::<f32>()?);
            let (bias, gamma, beta) = (
                bias.to_vec1::<f32>()?,
                gamma.to_vec1::<f32>()?,
                beta.to_vec1::<f32>()?,
            );
            for r in 0..rows {
                let sum: Vec<f64> = (0..cols)
                    .map(|c| f64::from(x[r][c]) + f64::from(y[r][c]) + f64::from(bias[c]))
                    .collect();
                let mean = sum.iter().sum::<f64>() / cols as f64;
                let var = sum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / cols as f64;
                for c in 0..cols {
                    let exact = (sum[c] - mean) / (var + 1e-12).sqrt() * f64::from(gamma[c])
                        + f64::from(beta[c]);
                    let diff = (f64::from(fused[r][c]) - exact).abs();
                    assert!(diff < 1e-4, "row {r} col {c}: {} vs {exact}", fused[r][c]);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn fast_exp_is_close_to_exact() {
        for i in 0..=200_000 {
            let x = -(i as f32) * 5e-4; // [-100, 0]
            let (fast, exact) = (exp_nonpositive(x), f64::from(x).exp());
            let err = (f64::from(fast) - exact).abs();
            assert!(
                err <= 4e-7 * exact || exact < 1e-37,
                "exp({x}) = {fast}, exact {exact}"
            );
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn masked_softmax_matches_candle_on_real_keys() -> candle_core::Result<()> {
        let (b, heads, t) = (3, 2, 70); // 420 rows: the parallel path
        let scores = Tensor::arange(0f32, (b * heads * t * t) as f32, &Device::Cpu)?
            .affine(0.37, 0.0)?
            .sin()?
            .affine(8.0, 0.0)?
            .reshape((b, heads, t, t))?;
        let lengths = [70, 1, 33];
        let fast = masked_softmax(scores.copy()?, &lengths)?;
        for (i, &len) in lengths.iter().enumerate() {
            let item = fast.get(i)?;
            let real = scores.get(i)?.narrow(2, 0, len)?.contiguous()?;
            let exact = candle_nn::ops::softmax_last_dim(&real)?;
            let diff = (item.narrow(2, 0, len)? - exact)?.abs()?.max_all()?;
            assert!(diff.to_scalar::<f32>()? < 1e-6, "item {i}");
            if len < t {
                let padding = item.narrow(2, len, t - len)?.abs()?.max_all()?;
                assert_eq!(padding.to_scalar::<f32>()?, 0.0, "item {i}");
            }
        }
        // A query: few rows, inline.
        let small = scores.narrow(2, 0, 5)?.narrow(3, 0, 5)?.contiguous()?;
        let fast = masked_softmax(small.copy()?, &[5, 5, 5])?;
        let exact = candle_nn::ops::softmax_last_dim(&small)?;
        let diff = (fast - exact)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6);
        Ok(())
    }
}
