//! A convolution block's tail while training — BatchNorm over channels with the batch's
//! statistics, ReLU, and max over pairs of time steps — as one candle op with its own
//! backward pass: (B, T, C) → (B, T / 2, C).
//!
//! As candle ops (candle-nn's BatchNorm transposes to channel-major and back around a
//! dozen element-wise ops, then ReLU, a strided reshape and a max) the tail was about
//! twenty graph nodes over the largest tensors of the network, and candle's backward pass
//! zeroes and adds a whole gradient for every node. As one op the forward pass reads the
//! input three times and the backward pass twice (with the output's gradient).
//!
//! The batch's mean and (biased) variance, summed in f64, come back beside the output so
//! that the caller can move BatchNorm's running statistics as candle-nn's `forward_train`
//! does. Element-wise work subtracts the mean first, as candle-nn does, so that f32 keeps
//! its precision on channels whose mean is large against their spread.

use std::sync::{Arc, Mutex};

use candle_core::{
    bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, Var, WithDType,
};
use candle_nn::BatchNorm;

use super::time_conv::contiguous;

/// BatchNorm (batch statistics) → ReLU → max over pairs of steps of a time-major (B, T, C)
/// tensor, an odd last step dropped; differentiable in the input and in BatchNorm's scale
/// and shift. Moves `bn`'s running statistics as candle-nn does while training (momentum,
/// unbiased variance), except from a batch of one row, whose variance has no unbiased
/// estimate (candle-nn would store NaN): that leaves them as they were. f32 or f64.
pub fn norm_relu_pool(bn: &BatchNorm, x: &Tensor) -> Result<Tensor> {
    let Some((scale, shift)) = bn.weight_and_bias() else {
        bail!("norm_relu_pool: BatchNorm without a scale and shift");
    };
    let stats = Arc::new(Mutex::new(Vec::new()));
    let op = NormReluPool {
        eps: bn.eps(),
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&scale.contiguous()?, &shift.contiguous()?, op)?;
    let stats = lock(&stats)?.clone();
    let c = stats.len() / 2;
    let rows = x.elem_count() / c.max(1);
    if rows > 1 {
        let m = bn.momentum();
        let running = |t: &Tensor| Var::from_tensor(t);
        let mean = Tensor::from_slice(&stats[..c], c, x.device())?.to_dtype(x.dtype())?;
        let var = Tensor::from_slice(&stats[c..], c, x.device())?.to_dtype(x.dtype())?;
        let n = rows as f64;
        running(bn.running_mean())?.set(&((bn.running_mean() * (1.0 - m))? + (mean * m)?)?)?;
        running(bn.running_var())?
            .set(&((bn.running_var() * (1.0 - m))? + (var * (m * n / (n - 1.0)))?)?)?;
    }
    Ok(y)
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| candle_core::Error::Msg("norm_relu_pool: statistics lock poisoned".into()))
}

struct NormReluPool {
    eps: f64,
    /// The forward pass's per-channel means, then variances (read by the backward pass).
    stats: Arc<Mutex<Vec<f64>>>,
}

impl CustomOp3 for NormReluPool {
    fn name(&self) -> &'static str {
        "norm-relu-pool"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t, c) = l1.shape().dims3()?;
        let (scale, shift) = (l2.shape().dims1()?, l3.shape().dims1()?);
        if c == 0 || scale != c || shift != c {
            bail!("norm_relu_pool: an input of {c} channels for a scale of {scale} and a shift of {shift}");
        }
        let (out, stats) = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(s)) => {
                let x = contiguous(x, l1)?;
                let stats = Stats::of(x, c, self.eps);
                let y = forward(
                    x,
                    t,
                    c,
                    &stats.affine(contiguous(g, l2)?, contiguous(s, l3)?),
                );
                (CpuStorage::F32(y), stats)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(s)) => {
                let x = contiguous(x, l1)?;
                let stats = Stats::of(x, c, self.eps);
                let y = forward(
                    x,
                    t,
                    c,
                    &stats.affine(contiguous(g, l2)?, contiguous(s, l3)?),
                );
                (CpuStorage::F64(y), stats)
            }
            _ => bail!("norm_relu_pool: input, scale and shift must all be f32 or all f64"),
        };
        let mut held = lock(&self.stats)?;
        held.clear();
        held.extend(&stats.mean);
        held.extend(&stats.var);
        Ok((out, Shape::from((b, t / 2, c))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let mut held = lock(&self.stats)?.clone();
        let var = held.split_off(held.len() / 2);
        let op = NormReluPoolGrad {
            stats: Stats::from_moments(held, var, self.eps),
            scale: scale.to_dtype(candle_core::DType::F64)?.to_vec1()?,
            shift: shift.to_dtype(candle_core::DType::F64)?.to_vec1()?,
            params: Mutex::new(Vec::new()),
        };
        let dx = x.apply_op2_no_bwd(&grad.contiguous()?, &op)?;
        let params = std::mem::take(&mut *lock(&op.params)?);
        let c = op.scale.len();
        if params.len() != 2 * c {
            bail!(
                "norm_relu_pool: {} parameter gradients for {c} channels",
                params.len()
            );
        }
        let as_param = |v: &[f64]| -> Result<Tensor> {
            Tensor::from_slice(v, c, x.device())?.to_dtype(scale.dtype())
        };
        let dscale = as_param(&params[..c])?;
        let dshift = as_param(&params[c..])?;
        Ok((Some(dx), Some(dscale), Some(dshift)))
    }
}

/// The backward pass: (input, output gradient) → input gradient, with the scale's and
/// shift's gradients left in `params`.
struct NormReluPoolGrad {
    /// The forward pass's batch statistics.
    stats: Stats,
    scale: Vec<f64>,
    shift: Vec<f64>,
    /// Per-channel gradients of the scale, then of the shift.
    params: Mutex<Vec<f64>>,
}

impl CustomOp2 for NormReluPoolGrad {
    fn name(&self) -> &'static str {
        "norm-relu-pool-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t, c) = l1.shape().dims3()?;
        if l2.shape().dims3()? != (b, t / 2, c) || self.stats.mean.len() != c {
            bail!(
                "norm_relu_pool: a gradient of {:?} for an input of {:?}",
                l2.shape(),
                l1.shape()
            );
        }
        let (dx, params) = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                let (dx, p) = self.backward(contiguous(x, l1)?, contiguous(g, l2)?, t, c);
                (CpuStorage::F32(dx), p)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                let (dx, p) = self.backward(contiguous(x, l1)?, contiguous(g, l2)?, t, c);
                (CpuStorage::F64(dx), p)
            }
            _ => bail!("norm_relu_pool: input and gradient must both be f32 or both f64"),
        };
        *lock(&self.params)? = params;
        Ok((dx, l1.shape().clone()))
    }
}

/// A batch's per-channel statistics over all (B·T) rows.
struct Stats {
    mean: Vec<f64>,
    /// Biased (over n), as BatchNorm normalises.
    var: Vec<f64>,
    /// 1 / √(var + ε).
    inv_std: Vec<f64>,
}

impl Stats {
    fn of<T: WithDType>(x: &[T], c: usize, eps: f64) -> Self {
        let rows = x.len() / c.max(1);
        let n = rows.max(1) as f64;
        let mut mean = vec![0.0; c];
        for row in x.chunks_exact(c) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; c];
        for row in x.chunks_exact(c) {
            for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = v.to_f64() - m;
                *s += d * d;
            }
        }
        var.iter_mut().for_each(|s| *s /= n);
        Self::from_moments(mean, var, eps)
    }

    fn from_moments(mean: Vec<f64>, var: Vec<f64>, eps: f64) -> Self {
        let inv_std = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        Self { mean, var, inv_std }
    }

    /// BatchNorm per channel in the tensor's type: z = (x − mean) · (scale · inv_std) + shift.
    fn affine<T: WithDType>(&self, scale: &[T], shift: &[T]) -> Vec<Affine<T>> {
        (0..self.mean.len())
            .map(|i| Affine {
                mean: T::from_f64(self.mean[i]),
                gain: T::from_f64(scale[i].to_f64() * self.inv_std[i]),
                shift: shift[i],
            })
            .collect()
    }
}

#[derive(Clone, Copy)]
struct Affine<T> {
    mean: T,
    gain: T,
    shift: T,
}

impl<T: WithDType> Affine<T> {
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        (x - self.mean) * self.gain + self.shift
    }
}

fn forward<T: WithDType>(x: &[T], t: usize, c: usize, affine: &[Affine<T>]) -> Vec<T> {
    let half = t / 2;
    let mut out = vec![T::zero(); x.len() / t.max(1) * half];
    if out.is_empty() {
        return out;
    }
    for (seq, out) in x.chunks_exact(t * c).zip(out.chunks_exact_mut(half * c)) {
        for (pair, out) in seq.chunks_exact(2 * c).zip(out.chunks_exact_mut(c)) {
            let (first, second) = pair.split_at(c);
            for (((o, &u), &v), f) in out.iter_mut().zip(first).zip(second).zip(affine) {
                let (u, v) = (f.apply(u), f.apply(v));
                let m = if v > u { v } else { u };
                *o = if m > T::zero() { m } else { T::zero() };
            }
        }
    }
    out
}

impl NormReluPoolGrad {
    /// candle's gradients of the composed ops: the max passes its gradient to every step
    /// equal to the maximum, ReLU where its input is ≥ 0; then BatchNorm's backward pass.
    /// Element-wise work in the tensor's type, per-channel sums in f64.
    fn backward<T: WithDType>(&self, x: &[T], g: &[T], t: usize, c: usize) -> (Vec<T>, Vec<f64>) {
        let stats = &self.stats;
        let affine = stats.affine::<T>(&to_type(&self.scale), &to_type(&self.shift));
        let zero = T::zero();
        let half = t / 2;
        // The gradient reaching BatchNorm's output (dz), one row per (B·T) step, with
        // Σ dz and Σ dz · (x − mean) per channel.
        let mut dz = vec![zero; x.len()];
        let (mut sum_d, mut sum_dx) = (vec![0.0f64; c], vec![0.0f64; c]);
        // One sequence's sums in the tensor's type (150 pairs at most), then into f64.
        let (mut seq_d, mut seq_dx) = (vec![zero; c], vec![zero; c]);
        if half > 0 {
            for ((seq, gseq), dseq) in x
                .chunks_exact(t * c)
                .zip(g.chunks_exact(half * c))
                .zip(dz.chunks_exact_mut(t * c))
            {
                seq_d.fill(zero);
                seq_dx.fill(zero);
                for ((pair, gs), dpair) in seq
                    .chunks_exact(2 * c)
                    .zip(gseq.chunks_exact(c))
                    .zip(dseq.chunks_exact_mut(2 * c))
                {
                    let (u, v) = pair.split_at(c);
                    let (du, dv) = dpair.split_at_mut(c);
                    let steps = u
                        .iter()
                        .zip(v)
                        .zip(gs)
                        .zip(du.iter_mut().zip(dv.iter_mut()));
                    let sums = seq_d.iter_mut().zip(seq_dx.iter_mut());
                    for ((((&u, &v), &g), (du, dv)), ((sd, sdx), f)) in steps.zip(sums.zip(&affine))
                    {
                        let (zu, zv) = (f.apply(u), f.apply(v));
                        // relu(zu) is the maximum and zu ≥ 0; likewise v (both on a tie).
                        let gu = if zu >= zero && zu >= zv { g } else { zero };
                        let gv = if zv >= zero && zv >= zu { g } else { zero };
                        *du = gu;
                        *dv = gv;
                        *sd += gu + gv;
                        *sdx += gu * (u - f.mean) + gv * (v - f.mean);
                    }
                }
                for (((total, d), total_x), dx) in sum_d
                    .iter_mut()
                    .zip(&seq_d)
                    .zip(sum_dx.iter_mut())
                    .zip(&seq_dx)
                {
                    *total += d.to_f64();
                    *total_x += dx.to_f64();
                }
            }
        }
        // x̂ = (x − mean) · inv_std, so Σ dz · x̂ = inv_std · Σ dz · (x − mean).
        let dscale: Vec<f64> = (0..c).map(|i| stats.inv_std[i] * sum_dx[i]).collect();
        // BatchNorm with batch statistics: dx = inv_std · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)),
        // dx̂ = scale · dz, whose two means are scale · Σ dz / n and scale · Σ dz · x̂ / n;
        // as dx = dz · p + (x − mean) · q + r per channel.
        let n = (x.len() / c.max(1)).max(1) as f64;
        let (mut p, mut q, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..c {
            let inv = stats.inv_std[i];
            let mean_d = self.scale[i] * sum_d[i] / n;
            let mean_dx = self.scale[i] * dscale[i] / n;
            p.push(T::from_f64(self.scale[i] * inv));
            q.push(T::from_f64(-inv * inv * mean_dx));
            r.push(T::from_f64(-inv * mean_d));
        }
        for (row, drow) in x.chunks_exact(c).zip(dz.chunks_exact_mut(c)) {
            let per_channel = p.iter().zip(&q).zip(&r).zip(&affine);
            for ((d, &x), (((&p, &q), &r), f)) in drow.iter_mut().zip(row).zip(per_channel) {
                *d = *d * p + (x - f.mean) * q + r;
            }
        }
        let mut params = dscale;
        params.extend(sum_d);
        (dz, params)
    }
}

fn to_type<T: WithDType>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use candle_nn::ModuleT;

    use super::*;

    /// A BatchNorm over `c` channels whose scale and shift are variables (so gradients
    /// reach them), with running statistics away from their starting values.
    fn batch_norm(c: usize, dtype: DType) -> Result<(BatchNorm, Var, Var)> {
        let ramp = |f: fn(usize) -> f64| -> Result<Tensor> {
            Tensor::from_vec((0..c).map(f).collect::<Vec<f64>>(), c, &Device::Cpu)?.to_dtype(dtype)
        };
        let scale = Var::from_tensor(&ramp(|i| 0.5 + 0.25 * i as f64)?)?;
        let shift = Var::from_tensor(&ramp(|i| 0.1 * i as f64 - 0.2)?)?;
        let bn = BatchNorm::new(
            c,
            ramp(|i| 0.3 * i as f64)?,
            ramp(|i| 1.0 + 0.5 * i as f64)?,
            scale.as_tensor().clone(),
            shift.as_tensor().clone(),
            1e-5,
        )?;
        Ok((bn, scale, shift))
    }

    /// The tail as the network computed it before this op: candle-nn's BatchNorm on
    /// (B·T, C), ReLU, and a max over pairs of steps.
    fn by_candle_ops(bn: &BatchNorm, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let y = bn
            .forward_t(&x.reshape((b * t, c))?, true)?
            .reshape((b, t, c))?
            .relu()?;
        y.narrow(1, 0, t / 2 * 2)?.reshape((b, t / 2, 2, c))?.max(2)
    }

    fn values(t: &Tensor) -> Result<Vec<f64>> {
        t.flatten_all()?.to_dtype(DType::F64)?.to_vec1()
    }

    fn assert_close(ours: &[f64], theirs: &[f64], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    /// Test inputs for (b, t, c): `Ramp` mixes signs; `PairsEqual` repeats each step in the
    /// next, so the max ties above zero; `FlatChannel` holds channel 2 (whose shift is 0)
    /// constant, so BatchNorm's output there is exactly 0, where ReLU's gradient is decided.
    #[derive(Clone, Copy, Debug)]
    enum Case {
        Ramp,
        PairsEqual,
        FlatChannel,
    }

    fn input(b: usize, t: usize, c: usize, case: Case) -> Vec<f64> {
        let ramp = |i: usize| ((i * 37 % 11) as f64) * 0.7 - 3.0;
        (0..b * t * c)
            .map(|i| {
                let (item, step, channel) = (i / (t * c), i / c % t, i % c);
                match case {
                    Case::Ramp => ramp(i),
                    Case::PairsEqual => ramp((item * t + step / 2) * c + channel),
                    Case::FlatChannel if channel == 2 => 1.5,
                    Case::FlatChannel => ramp(i),
                }
            })
            .collect()
    }

    /// The gradients of a weighted sum of the output for the input, scale and shift.
    fn gradients(bn_vars: (&Var, &Var), x: &Var, y: Tensor) -> Result<[Vec<f64>; 3]> {
        let w: Vec<f64> = (0..y.elem_count()).map(|i| (i % 5) as f64 - 1.5).collect();
        let w = Tensor::from_vec(w, y.shape(), &Device::Cpu)?.to_dtype(y.dtype())?;
        let grads = (y * &w)?.sum_all()?.backward()?;
        let of = |v: &Var| values(grads.get(v.as_tensor()).expect("a gradient"));
        Ok([of(x)?, of(bn_vars.0)?, of(bn_vars.1)?])
    }

    #[test]
    fn normalises_pools_and_differentiates_as_the_candle_ops_did() -> Result<()> {
        let cases = [Case::Ramp, Case::PairsEqual, Case::FlatChannel];
        for ((b, t, c), case) in [(2, 7, 3), (3, 4, 5), (1, 2, 1), (2, 9, 4)]
            .into_iter()
            .flat_map(|shape| cases.map(|case| (shape, case)))
        {
            let x = Var::from_vec(input(b, t, c, case), (b, t, c), &Device::Cpu)?;
            let (ours_bn, ours_scale, ours_shift) = batch_norm(c, DType::F64)?;
            let (their_bn, their_scale, their_shift) = batch_norm(c, DType::F64)?;
            let ours = norm_relu_pool(&ours_bn, &x)?;
            let theirs = by_candle_ops(&their_bn, &x)?;
            assert_eq!(ours.dims(), theirs.dims());
            let shape = format!("b {b} t {t} c {c} {case:?}");
            let output = format!("output, {shape}");
            assert_close(&values(&ours)?, &values(&theirs)?, &output);
            let running = [
                (ours_bn.running_mean(), their_bn.running_mean()),
                (ours_bn.running_var(), their_bn.running_var()),
            ];
            for (a, b) in running {
                assert_close(&values(a)?, &values(b)?, &format!("running stats, {shape}"));
            }
            let ours = gradients((&ours_scale, &ours_shift), &x, ours)?;
            let theirs = gradients((&their_scale, &their_shift), &x, theirs)?;
            for ((a, b), name) in ours.iter().zip(&theirs).zip(["input", "scale", "shift"]) {
                assert_close(a, b, &format!("{name} gradient, {shape}"));
            }
        }
        Ok(())
    }

    #[test]
    fn keeps_f32_precision_on_channels_far_from_zero() -> Result<()> {
        // Steps around 10,000 with a spread of a few units: the gradients in f32, ours and
        // candle's ops', against candle's ops in f64 on the same values. Ours must be at
        // least as close as candle's (measured: about 2× closer for the input, 5× for the
        // scale; the shift's sums are exact).
        let (b, t, c) = (4, 30, 3);
        let raw: Vec<f64> = input(b, t, c, Case::Ramp).iter().map(|v| v + 1e4).collect();
        let run = |dtype: DType, ours: bool| -> Result<[Vec<f64>; 3]> {
            let x = Var::from_tensor(
                &Tensor::from_vec(raw.clone(), (b, t, c), &Device::Cpu)?.to_dtype(dtype)?,
            )?;
            let (bn, scale, shift) = batch_norm(c, dtype)?;
            let y = if ours {
                norm_relu_pool(&bn, &x)?
            } else {
                by_candle_ops(&bn, &x)?
            };
            gradients((&scale, &shift), &x, y)
        };
        let exact = run(DType::F64, false)?;
        let (ours, theirs) = (run(DType::F32, true)?, run(DType::F32, false)?);
        for (i, name) in ["input", "scale", "shift"].into_iter().enumerate() {
            let error = |g: &[f64]| -> f64 {
                g.iter()
                    .zip(&exact[i])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            };
            let scale = exact[i].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let (ours, theirs) = (error(&ours[i]), error(&theirs[i]));
            assert!(
                ours <= theirs,
                "{name}: f32 error {ours:e} against candle's {theirs:e} (largest {scale:e})"
            );
        }
        Ok(())
    }

    #[test]
    fn runs_in_f32_and_refuses_mismatched_channels() -> Result<()> {
        let (bn, ..) = batch_norm(4, DType::F32)?;
        let x = Tensor::arange(0f32, 48.0, &Device::Cpu)?.reshape((2, 6, 4))?;
        let y = norm_relu_pool(&bn, &x)?;
        assert_eq!(y.dims(), [2, 3, 4]);
        let theirs = by_candle_ops(&batch_norm(4, DType::F32)?.0, &x)?;
        let (a, b) = (values(&y)?, values(&theirs)?);
        assert!(
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5),
            "{a:?} vs {b:?}"
        );
        let wrong = Tensor::zeros((2, 6, 3), DType::F32, &Device::Cpu)?;
        let err = norm_relu_pool(&bn, &wrong).unwrap_err().to_string();
        assert!(err.contains("3 channels for a scale of 4"), "{err}");
        Ok(())
    }
}
