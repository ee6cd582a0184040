//! A convolution over time ("same" padding, stride 1) as one candle op with its own
//! backward pass: (B, T, C) input, (O, C, K) kernel and (O) bias → (B, T, O).
//!
//! The forward pass unfolds the input ("im2col": row (b, t) of the (B·T, K·C) unfolding
//! holds the K frames t − K/2 … t + K − 1 − K/2 side by side, zeros past either end) and
//! takes one matrix product. Built from candle ops, the unfolding alone was a fifth of a
//! training step, almost all strided copies; as one op per convolution the backward pass
//! also skips what candle's matrix product always computes: the input's gradient (a
//! product as large as the forward one, then zeroed and added) when the input is data
//! that needs none, as the first convolution's is. `perf` on the training step,
//! 2026-11-30.

use candle_core::{
    backend::BackendStorage, bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor,
    WithDType,
};

/// The convolution of (B, T, C) `x` with `weight` (out, in, kernel; PyTorch's layout) plus
/// `bias`, time-major; differentiable in all three. f32 (training and inference) or f64
/// (the gradient checks) only.
pub fn time_conv(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, TimeConv)
}

struct TimeConv;

impl CustomOp3 for TimeConv {
    fn name(&self) -> &'static str {
        "time-conv"
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
        let (o, input, k) = l2.shape().dims3()?;
        let bias = l3.shape().dims1()?;
        if input != c || bias != o || k == 0 || c == 0 {
            bail!(
                "time_conv: a kernel of {:?} and a bias of {bias} for an input of {c} channels",
                l2.shape()
            );
        }
        let (rows, width) = (b * t, k * c);
        let shape = Shape::from((b, t, o));
        let (unfolded, taps_first) = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(w)) => (
                CpuStorage::F32(spread(contiguous(x, l1)?, t, c, k)),
                CpuStorage::F32(taps_first(contiguous(w, l2)?, c, k)),
            ),
            (CpuStorage::F64(x), CpuStorage::F64(w)) => (
                CpuStorage::F64(spread(contiguous(x, l1)?, t, c, k)),
                CpuStorage::F64(taps_first(contiguous(w, l2)?, c, k)),
            ),
            _ => bail!("time_conv: input and kernel must both be f32 or both f64"),
        };
        if rows == 0 || o == 0 {
            let nothing = match unfolded {
                CpuStorage::F32(_) => CpuStorage::F32(Vec::new()),
                _ => CpuStorage::F64(Vec::new()),
            };
            return Ok((nothing, shape));
        }
        // (B·T, K·C) · (K·C, O): the kernel's (O, K·C) rows read transposed.
        let kernel = Layout::contiguous((o, width)).transpose(0, 1)?;
        let y = unfolded.matmul(
            &taps_first,
            (1, rows, o, width),
            &Layout::contiguous((rows, width)),
            &kernel,
        )?;
        let y = match (y, s3) {
            (CpuStorage::F32(y), CpuStorage::F32(bias)) => {
                CpuStorage::F32(add_bias(y, contiguous(bias, l3)?))
            }
            (CpuStorage::F64(y), CpuStorage::F64(bias)) => {
                CpuStorage::F64(add_bias(y, contiguous(bias, l3)?))
            }
            _ => bail!("time_conv: the bias must have the input's type"),
        };
        Ok((y, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, t, c) = x.dims3()?;
        let (o, _, k) = weight.dims3()?;
        let needs_dx = x.track_op();
        if b * t == 0 {
            // No frames: nothing reached the kernel, the bias or the input.
            let dx = if needs_dx {
                Some(x.zeros_like()?)
            } else {
                None
            };
            return Ok((dx, Some(weight.zeros_like()?), Some(bias.zeros_like()?)));
        }
        let grad = grad.contiguous()?.reshape((b * t, o))?;
        // Column sums as a product with a row of ones: candle sums over rows with strided
        // reads.
        let ones = Tensor::ones((1, b * t), grad.dtype(), grad.device())?;
        let dbias = ones.matmul(&grad)?.reshape(o)?;
        let unfolded = x.apply_op1_no_bwd(&Unfold { kernel: k })?;
        let dweight = grad
            .t()?
            .matmul(&unfolded)?
            .reshape((o, k, c))?
            .transpose(1, 2)?
            .contiguous()?;
        // Data (the first convolution's input) needs no gradient: skip its product.
        let dx = if needs_dx {
            let kernel = weight.transpose(1, 2)?.contiguous()?.reshape((o, k * c))?;
            let fold = Fold {
                kernel: k,
                frames: t,
                channels: c,
            };
            Some(grad.matmul(&kernel)?.apply_op1_no_bwd(&fold)?)
        } else {
            None
        };
        Ok((dx, Some(dweight), Some(dbias)))
    }
}

/// The kernel (O, C, K) laid out as (O, K, C), matching the unfolding's columns.
fn taps_first<T: WithDType>(w: &[T], c: usize, k: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(w.len());
    for filter in w.chunks_exact(c * k) {
        for j in 0..k {
            out.extend((0..c).map(|i| filter[i * k + j]));
        }
    }
    out
}

fn add_bias<T: WithDType>(mut y: Vec<T>, bias: &[T]) -> Vec<T> {
    for row in y.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += *b;
        }
    }
    y
}

/// The unfolding: (B, T, C) → (B·T, K·C), columns ordered [tap][channel].
struct Unfold {
    kernel: usize,
}

impl CustomOp1 for Unfold {
    fn name(&self) -> &'static str {
        "unfold-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, t, c) = layout.shape().dims3()?;
        let k = self.kernel;
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(spread(contiguous(x, layout)?, t, c, k)),
            CpuStorage::F64(x) => CpuStorage::F64(spread(contiguous(x, layout)?, t, c, k)),
            _ => bail!("unfold: the input must be f32 or f64"),
        };
        Ok((out, Shape::from((b * t, k * c))))
    }
}

/// The unfolding's adjoint: (B·T, K·C) gradients → (B, T, C), each tap's gradient added
/// to the frame it was copied from.
struct Fold {
    kernel: usize,
    frames: usize,
    channels: usize,
}

impl CustomOp1 for Fold {
    fn name(&self) -> &'static str {
        "fold-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, width) = layout.shape().dims2()?;
        let (t, c, k) = (self.frames, self.channels, self.kernel);
        if t == 0 || k == 0 || rows % t != 0 || width != k * c {
            bail!("fold: ({rows}, {width}) gradients do not unfold ({t} frames, {c} channels, kernel {k})");
        }
        let out = match storage {
            CpuStorage::F32(g) => CpuStorage::F32(gather(contiguous(g, layout)?, t, c, k)),
            CpuStorage::F64(g) => CpuStorage::F64(gather(contiguous(g, layout)?, t, c, k)),
            _ => bail!("fold: the gradient must be f32 or f64"),
        };
        Ok((out, Shape::from((rows / t, t, c))))
    }
}

/// The source frame of tap `j` for output frame `row` (`None` past either end).
fn source(row: usize, j: usize, t: usize, k: usize) -> Option<usize> {
    (row + j).checked_sub(k / 2).filter(|&s| s < t)
}

fn spread<T: WithDType>(x: &[T], t: usize, c: usize, k: usize) -> Vec<T> {
    // Written once in order (no zeroing first: the unfolding of the first convolution
    // is the largest tensor of a training step).
    let mut out = Vec::with_capacity(x.len() * k);
    if c == 0 || t == 0 {
        return out;
    }
    for seq in x.chunks_exact(t * c) {
        for row in 0..t {
            for j in 0..k {
                match source(row, j, t, k) {
                    Some(s) => out.extend_from_slice(&seq[s * c..(s + 1) * c]),
                    None => out.resize(out.len() + c, T::zero()),
                }
            }
        }
    }
    out
}

fn gather<T: WithDType>(g: &[T], t: usize, c: usize, k: usize) -> Vec<T> {
    let mut out = vec![T::zero(); g.len() / k];
    if out.is_empty() {
        return out;
    }
    for (seq, out) in g.chunks_exact(t * k * c).zip(out.chunks_exact_mut(t * c)) {
        for (row, g) in seq.chunks_exact(k * c).enumerate() {
            for (j, tap) in g.chunks_exact(c).enumerate() {
                if let Some(s) = source(row, j, t, k) {
                    for (o, v) in out[s * c..(s + 1) * c].iter_mut().zip(tap) {
                        *o += *v;
                    }
                }
            }
        }
    }
    out
}

/// The data of a contiguous layout: every custom op of the model (convolution, BatchNorm
/// tail, bias, recurrence) is handed contiguous tensors.
pub(super) fn contiguous<'a, T>(storage: &'a [T], layout: &Layout) -> Result<&'a [T]> {
    layout
        .contiguous_offsets()
        .and_then(|(start, end)| storage.get(start..end))
        .ok_or_else(|| {
            candle_core::Error::Msg("a custom op was handed a non-contiguous tensor".into())
        })
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;

    /// The convolution as candle ops, as the network computed it before this op: zero
    /// padding, K narrows side by side, one matrix product, the bias broadcast.
    fn by_candle_ops(x: &Tensor, w: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let (o, _, k) = w.dims3()?;
        let pad = k / 2;
        let padded = x.pad_with_zeros(1, pad, k - 1 - pad)?;
        let shifted: Vec<Tensor> = (0..k)
            .map(|j| padded.narrow(1, j, t))
            .collect::<Result<_>>()?;
        let unfolded = Tensor::cat(&shifted, 2)?.reshape((b * t, k * c))?;
        let w = w.transpose(1, 2)?.reshape((o, k * c))?;
        unfolded
            .matmul(&w.t()?)?
            .broadcast_add(bias)?
            .reshape((b, t, o))
    }

    fn values(t: &Tensor) -> Result<Vec<f64>> {
        t.flatten_all()?.to_dtype(DType::F64)?.to_vec1()
    }

    fn assert_close(ours: &[f64], theirs: &[f64], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    fn ramp(n: usize, step: usize, shape: &[usize]) -> Result<Tensor> {
        let v: Vec<f64> = (0..n)
            .map(|i| ((i * step % 11) as f64) * 0.3 - 1.5)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
    }

    #[test]
    fn convolves_and_differentiates_as_the_candle_ops_did() -> Result<()> {
        // (batch, frames, in, out, kernel): odd and even kernels, sequences shorter than
        // the kernel.
        let shapes = [
            (2, 7, 3, 4, 5),
            (1, 2, 4, 3, 5),
            (3, 4, 2, 2, 3),
            (1, 1, 1, 1, 1),
            (2, 5, 3, 2, 4),
            (1, 3, 2, 5, 2),
        ];
        for (b, t, c, o, k) in shapes {
            let shape = format!("b {b} t {t} c {c} o {o} k {k}");
            let w = Var::from_tensor(&ramp(o * c * k, 7, &[o, c, k])?)?;
            let bias = Var::from_tensor(&ramp(o, 5, &[o])?)?;
            let wsum = ramp(b * t * o, 3, &[b, t, o])?;
            // The input as a variable (the second convolution's) and as data (the first's,
            // whose gradient the op skips): the kernel's and bias's gradients agree both ways.
            for input_is_variable in [true, false] {
                let data = ramp(b * t * c, 37, &[b, t, c])?;
                let var = Var::from_tensor(&data)?;
                let x = if input_is_variable {
                    var.as_tensor()
                } else {
                    &data
                };
                let ours = time_conv(x, &w, &bias)?;
                let theirs = by_candle_ops(x, &w, &bias)?;
                assert_eq!(ours.dims(), [b, t, o], "{shape}");
                assert_close(
                    &values(&ours)?,
                    &values(&theirs)?,
                    &format!("output, {shape}"),
                );
                let ours = (ours * &wsum)?.sum_all()?.backward()?;
                let theirs = (theirs * &wsum)?.sum_all()?.backward()?;
                let mut checked = vec![w.as_tensor(), bias.as_tensor()];
                if input_is_variable {
                    checked.push(x);
                }
                for v in checked {
                    let (a, b) = (ours.get(v).expect("ours"), theirs.get(v).expect("theirs"));
                    assert_close(&values(a)?, &values(b)?, &format!("gradient, {shape}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn runs_in_f32_and_refuses_what_does_not_fit() -> Result<()> {
        let x = Tensor::arange(0f32, 24.0, &Device::Cpu)?.reshape((2, 4, 3))?;
        let w = Tensor::ones((2, 3, 5), DType::F32, &Device::Cpu)?;
        let bias = Tensor::new(&[0.5f32, -1.0], &Device::Cpu)?;
        let (a, b) = (time_conv(&x, &w, &bias)?, by_candle_ops(&x, &w, &bias)?);
        assert_eq!(values(&a)?, values(&b)?);
        // No frames: nothing out, and nothing back.
        let empty = Var::zeros((2, 0, 3), DType::F32, &Device::Cpu)?;
        let y = time_conv(&empty, &w, &bias)?;
        assert_eq!(y.dims(), [2, 0, 2]);
        let grads = y.sum_all()?.backward()?;
        assert_eq!(
            grads.get(empty.as_tensor()).expect("a gradient").dims(),
            [2, 0, 3]
        );
        let refused = |x: &Tensor, w: &Tensor, b: &Tensor| {
            time_conv(x, w, b).expect_err("refused").to_string()
        };
        let wide = Tensor::ones((2, 4, 5), DType::F32, &Device::Cpu)?;
        assert!(refused(&x, &wide, &bias).contains("3 channels"));
        let no_taps = Tensor::ones((2, 3, 0), DType::F32, &Device::Cpu)?;
        assert!(refused(&x, &no_taps, &bias).contains("[2, 3, 0]"));
        let no_channels = Tensor::ones((2, 4, 0), DType::F32, &Device::Cpu)?;
        let no_inputs = Tensor::ones((2, 0, 5), DType::F32, &Device::Cpu)?;
        assert!(refused(&no_channels, &no_inputs, &bias).contains("0 channels"));
        let short_bias = Tensor::new(&[0.5f32], &Device::Cpu)?;
        assert!(refused(&x, &w, &short_bias).contains("bias of 1"));
        Ok(())
    }

    #[test]
    fn folding_adds_each_tap_back_to_its_frame() -> Result<()> {
        // The adjoint property: <unfold(x), g> = <x, fold(g)> for any x and g.
        let (b, t, c, k) = (2, 5, 3, 4);
        let x = ramp(b * t * c, 37, &[b, t, c])?;
        let g = ramp(b * t * k * c, 13, &[b * t, k * c])?;
        let unfolded = x.apply_op1_no_bwd(&Unfold { kernel: k })?;
        let fold = Fold {
            kernel: k,
            frames: t,
            channels: c,
        };
        let folded = g.apply_op1_no_bwd(&fold)?;
        let lhs = (unfolded * &g)?.sum_all()?.to_scalar::<f64>()?;
        let rhs = (x * folded)?.sum_all()?.to_scalar::<f64>()?;
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
        Ok(())
    }
}
