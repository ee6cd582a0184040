//! A convolution over time's unfolding ("im2col") as one candle op with its own backward
//! pass: (B, T, C) → (B·T, K·C), row (b, t) holding the K frames t − K/2 … t + K − 1 − K/2
//! side by side (zeros past either end), so the convolution is one matrix product.
//!
//! Built from candle ops (zero padding, K narrows, a concatenation along the last axis and
//! a reshape) the unfolding was a fifth of a training step, almost all of it strided
//! copies, and its backward pass padded each of the K gradients back to the whole
//! sequence before adding them up (`perf` on `emovox train`, 2026-11-30). As one op the
//! forward pass copies each frame K times and the backward pass adds each gradient row
//! back where it came from.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType};

/// Unfolds (B, T, C) into (B·T, K·C), columns ordered [tap][channel]; differentiable. f32
/// (training and inference) or f64 (the gradient checks) only.
pub fn unfold(x: &Tensor, kernel: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Unfold { kernel })
}

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
        if k == 0 {
            bail!("unfold: a kernel of 0 frames");
        }
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(spread(contiguous(x, layout)?, t, c, k)),
            CpuStorage::F64(x) => CpuStorage::F64(spread(contiguous(x, layout)?, t, c, k)),
            _ => bail!("unfold: the input must be f32 or f64"),
        };
        Ok((out, Shape::from((b * t, k * c))))
    }

    fn bwd(&self, x: &Tensor, _unfolded: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, t, c) = x.dims3()?;
        let fold = Fold {
            kernel: self.kernel,
            frames: t,
            channels: c,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&fold)?))
    }
}

/// The unfolding's backward pass: (B·T, K·C) gradients → (B, T, C), each tap's gradient
/// added to the frame it was copied from.
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
    let mut out = vec![T::zero(); x.len() * k];
    if out.is_empty() {
        return out;
    }
    for (seq, out) in x.chunks_exact(t * c).zip(out.chunks_exact_mut(t * k * c)) {
        for (row, out) in out.chunks_exact_mut(k * c).enumerate() {
            for (j, tap) in out.chunks_exact_mut(c).enumerate() {
                if let Some(s) = source(row, j, t, k) {
                    tap.copy_from_slice(&seq[s * c..(s + 1) * c]);
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

/// The data of a contiguous layout.
fn contiguous<'a, T>(storage: &'a [T], layout: &Layout) -> Result<&'a [T]> {
    layout
        .contiguous_offsets()
        .and_then(|(start, end)| storage.get(start..end))
        .ok_or_else(|| candle_core::Error::Msg("unfold: non-contiguous input".into()))
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;

    /// The unfolding as candle ops, as the network computed it before this op.
    fn by_candle_ops(x: &Tensor, k: usize) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let pad = k / 2;
        let padded = x.pad_with_zeros(1, pad, k - 1 - pad)?;
        let shifted: Vec<Tensor> = (0..k)
            .map(|j| padded.narrow(1, j, t))
            .collect::<Result<_>>()?;
        Tensor::cat(&shifted, 2)?.reshape((b * t, k * c))
    }

    #[test]
    fn unfolds_and_folds_as_the_candle_ops_did() -> Result<()> {
        let shapes = [
            (2, 7, 3, 5),
            (1, 2, 4, 5),
            (3, 4, 2, 3),
            (1, 1, 1, 1),
            (2, 5, 3, 4),
            (1, 3, 2, 2),
        ];
        for (b, t, c, k) in shapes {
            let n = b * t * c;
            let values: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
            let x = Var::from_vec(values, (b, t, c), &Device::Cpu)?;
            let ours = unfold(&x, k)?;
            let theirs = by_candle_ops(&x, k)?;
            assert_eq!(ours.dims(), theirs.dims());
            assert_eq!(
                ours.flatten_all()?.to_vec1::<f64>()?,
                theirs.flatten_all()?.to_vec1::<f64>()?
            );
            // The same weighted sum's gradient through both.
            let w: Vec<f64> = (0..b * t * k * c).map(|i| (i % 7) as f64 * 0.5).collect();
            let w = Tensor::from_vec(w, (b * t, k * c), &Device::Cpu)?;
            let ours = (ours * &w)?.sum_all()?.backward()?;
            let theirs = (theirs * &w)?.sum_all()?.backward()?;
            let grad = |g: &candle_core::backprop::GradStore| -> Result<Vec<f64>> {
                g.get(x.as_tensor())
                    .expect("a gradient")
                    .flatten_all()?
                    .to_vec1()
            };
            assert_eq!(grad(&ours)?, grad(&theirs)?, "b {b} t {t} c {c} k {k}");
        }
        // f32 too (training's type); no frames or no channels unfold to nothing.
        let x = Tensor::ones((1, 3, 2), DType::F32, &Device::Cpu)?;
        assert_eq!(unfold(&x, 3)?.dims(), [3, 6]);
        let empty = Tensor::zeros((2, 0, 3), DType::F32, &Device::Cpu)?;
        assert_eq!(unfold(&empty, 5)?.dims(), [0, 15]);
        Ok(())
    }
}
