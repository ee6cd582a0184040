//! A bias added to every row, as one candle op: its backward pass sums the gradient's
//! columns row by row in order, where candle's broadcast add sums over rows with strided
//! reads (several per cent of a training step for the LSTM's input projection, `perf`
//! 2026-11-30).

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, WithDType};

use super::time_conv::contiguous;

/// `x` (…, N) plus `bias` (N) in every row; differentiable in both. f32 or f64.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "add-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let n = l2.shape().dims1()?;
        if l1.shape().dims().last() != Some(&n) || n == 0 {
            bail!("add_bias: a bias of {n} for rows of {:?}", l1.shape());
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(b)) => {
                CpuStorage::F32(plus_rows(contiguous(x, l1)?, contiguous(b, l2)?))
            }
            (CpuStorage::F64(x), CpuStorage::F64(b)) => {
                CpuStorage::F64(plus_rows(contiguous(x, l1)?, contiguous(b, l2)?))
            }
            _ => bail!("add_bias: input and bias must both be f32 or both f64"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let n = bias.elem_count();
        let sums = grad.contiguous()?.apply_op1_no_bwd(&ColumnSums { n })?;
        Ok((Some(grad.clone()), Some(sums)))
    }
}

fn plus_rows<T: WithDType>(x: &[T], bias: &[T]) -> Vec<T> {
    let mut out = x.to_vec();
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += *b;
        }
    }
    out
}

/// (…, N) → (N): the sum of every row.
struct ColumnSums {
    n: usize,
}

impl candle_core::CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match storage {
            CpuStorage::F32(g) => CpuStorage::F32(sum_rows(contiguous(g, layout)?, self.n)),
            CpuStorage::F64(g) => CpuStorage::F64(sum_rows(contiguous(g, layout)?, self.n)),
            _ => bail!("add_bias: the gradient must be f32 or f64"),
        };
        Ok((out, Shape::from(self.n)))
    }
}

fn sum_rows<T: WithDType>(g: &[T], n: usize) -> Vec<T> {
    let mut out = vec![T::zero(); n];
    for row in g.chunks_exact(n) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += *v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;

    #[test]
    fn adds_and_differentiates_as_a_broadcast_add() -> Result<()> {
        let x = Var::from_vec(
            (0..24).map(|i| i as f64 * 0.5 - 3.0).collect(),
            (2, 3, 4),
            &Device::Cpu,
        )?;
        let bias = Var::from_vec(vec![1.0, -2.0, 0.25, 4.0], 4, &Device::Cpu)?;
        let w = Tensor::from_vec(
            (0..24).map(|i| (i % 5) as f64).collect(),
            (2, 3, 4),
            &Device::Cpu,
        )?;
        let ours = add_bias(&x, &bias)?;
        let theirs = x.broadcast_add(&bias)?;
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f64>();
        assert_eq!(flat(&ours)?, flat(&theirs)?);
        let ours = (ours * &w)?.sum_all()?.backward()?;
        let theirs = (theirs * &w)?.sum_all()?.backward()?;
        for v in [x.as_tensor(), bias.as_tensor()] {
            assert_eq!(
                flat(ours.get(v).expect("ours"))?,
                flat(theirs.get(v).expect("theirs"))?
            );
        }
        let wrong = Tensor::zeros((2, 3), DType::F64, &Device::Cpu)?;
        let err = add_bias(&wrong, &bias).expect_err("refused").to_string();
        assert!(err.contains("a bias of 4"), "{err}");
        Ok(())
    }
}
