//! The LSTM recurrence in plain loops: the inference kernel ([`recur_strided`]) and, for
//! training, the same loop as one candle op with a hand-written backward pass
//! (backpropagation through time, [`lstm_recurrence`]).
//!
//! Built from candle ops, one direction of 75 steps was about a thousand graph nodes, and
//! slicing the gradient-tracked input inside the time loop made the backward pass pad
//! every step's gradient to the whole sequence (O(T²) memory traffic). As one op it is one
//! node per direction: the backward pass recomputes the gates from the op's own output in
//! one matrix product, runs the recurrence back in time per sequence, and gets the
//! recurrent weights' gradient from one more matrix product.
//!
//! Gates are in PyTorch's order (input, forget, cell, output):
//! c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t), with h_0 = c_0 = 0.

use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::time_conv::contiguous;
use crate::fastmath;
use crate::fastmath::bf16::{self, Pair, PairedMatrix};

/// The element types the loops run on: f32 for training and inference, f64 for the
/// finite-difference checks of `tests/gradients.rs`.
pub(super) trait Real: WithDType {
    const ZERO: Self;
    const ONE: Self;
    fn exp(self) -> Self;
    /// `z_j += Σ_k h_j[k] · w_t[k]` for each sequence j, where `w_t` holds H rows of
    /// `z_j.len()`; each output's sum in order of k, whatever J is.
    fn add_row_products<const J: usize>(z: [&mut [Self]; J], h: [&[Self]; J], w_t: &[Self]);
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn exp(self) -> Self {
        fastmath::exp(self)
    }
    /// In blocks of outputs kept in registers across the whole sum over k
    /// ([`fastmath::row_products`]: 64 outputs per sequence, 256 for one alone).
    #[inline(always)]
    fn add_row_products<const J: usize>(z: [&mut [f32]; J], h: [&[f32]; J], w_t: &[f32]) {
        let g = z[0].len();
        fastmath::row_products(z, false, h, w_t, g);
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    /// In plain loops (the gradient checks' type: exact, not fast).
    fn add_row_products<const J: usize>(z: [&mut [f64]; J], h: [&[f64]; J], w_t: &[f64]) {
        for (z, h) in z.into_iter().zip(h) {
            let g = z.len();
            for (k, &hk) in h.iter().enumerate() {
                for (a, &wk) in z.iter_mut().zip(&w_t[k * g..][..g]) {
                    // Fused where the CPU has FMA, as f32's kernel is.
                    *a = if cfg!(target_feature = "fma") {
                        wk.mul_add(hk, *a)
                    } else {
                        wk * hk + *a
                    };
                }
            }
        }
    }
}

/// The hidden states (B, T, H) of one LSTM direction, in time order, from `projected`
/// (B, T, 4H: the input projections plus both biases) and the recurrent weights `w_hh`
/// (4H, H), differentiable with respect to both. CPU only, f32 or f64.
pub(super) fn lstm_recurrence(projected: &Tensor, w_hh: &Tensor, reverse: bool) -> Result<Tensor> {
    projected
        .contiguous()?
        .apply_op2(&w_hh.contiguous()?, Recurrence { reverse })
}

/// The op behind [`lstm_recurrence`]; `reverse` runs it backwards in time.
struct Recurrence {
    reverse: bool,
}

impl Recurrence {
    /// (B, T, H) from the shapes of `projected` and `w_hh`, checked against each other.
    fn sizes(projected: &Shape, w_hh: &Shape) -> Result<(usize, usize, usize)> {
        let (b, t, g4) = projected.dims3()?;
        let (rows, hidden) = w_hh.dims2()?;
        if g4 != 4 * hidden || rows != g4 || hidden == 0 || t == 0 {
            bail!(
                "lstm recurrence: projected {projected:?} does not fit recurrent weights {w_hh:?}"
            )
        }
        Ok((b, t, hidden))
    }

    /// The sequences of a batch in parallel, each with the inference loop.
    fn forward<T: Real>(&self, projected: &[T], w_hh: &[T], t: usize, hidden: usize) -> Vec<T> {
        let w_t = transpose(w_hh, 4 * hidden, hidden);
        projected
            .par_chunks(t * 4 * hidden)
            .flat_map_iter(|item| {
                recur_strided(item, 1, GateLayout::alone(t, hidden, self.reverse), &w_t)
            })
            .collect()
    }

    /// d(projected) (B, T, 4H) and d(w_hh) (4H, H) from the gradient of the hidden states.
    fn backward<T: Real>(
        &self,
        projected: &Tensor,
        w_hh: &Tensor,
        h: &Tensor,
        grad_h: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (b, t, hidden) = Self::sizes(projected.shape(), w_hh.shape())?;
        let g4 = 4 * hidden;
        let device = projected.device();
        // Each step's previous hidden state (the next one in time when reversed), zero at
        // the first step: the op's own output shifted by one step.
        let hs: Vec<T> = h.detach().flatten_all()?.to_vec1()?;
        let mut previous = vec![T::ZERO; hs.len()];
        for (prev, item) in previous.chunks_mut(t * hidden).zip(hs.chunks(t * hidden)) {
            if self.reverse {
                prev[..(t - 1) * hidden].copy_from_slice(&item[hidden..]);
            } else {
                prev[hidden..].copy_from_slice(&item[..(t - 1) * hidden]);
            }
        }
        let previous = Tensor::from_vec(previous, (b * t, hidden), device)?;
        // Every step's gate pre-activations at once, one matrix product rather than T.
        let w_hh = w_hh.detach();
        let z = (projected.detach().reshape((b * t, g4))? + previous.matmul(&w_hh.t()?)?)?;
        let mut dz: Vec<T> = z.flatten_all()?.to_vec1()?;
        let grad: Vec<T> = grad_h.detach().flatten_all()?.to_vec1()?;
        let w: Vec<T> = w_hh.flatten_all()?.to_vec1()?;
        dz.par_chunks_mut(t * g4)
            .zip(grad.par_chunks(t * hidden))
            .for_each(|(z, grad)| backpropagate(z, grad, &w, hidden, self.reverse));
        let dz = Tensor::from_vec(dz, (b * t, g4), device)?;
        // Σ over batch and steps of dz_tᵀ · h_{t−1}.
        let d_w_hh = dz.t()?.matmul(&previous)?;
        Ok((dz.reshape((b, t, g4))?, d_w_hh))
    }
}

impl CustomOp2 for Recurrence {
    fn name(&self) -> &'static str {
        "lstm-recurrence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t, hidden) = Self::sizes(l1.shape(), l2.shape())?;
        let h = match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(w)) => {
                CpuStorage::F32(self.forward(contiguous(p, l1)?, contiguous(w, l2)?, t, hidden))
            }
            (CpuStorage::F64(p), CpuStorage::F64(w)) => {
                CpuStorage::F64(self.forward(contiguous(p, l1)?, contiguous(w, l2)?, t, hidden))
            }
            _ => bail!("lstm recurrence: both inputs must be f32, or both f64"),
        };
        Ok((h, Shape::from((b, t, hidden))))
    }

    fn bwd(
        &self,
        projected: &Tensor,
        w_hh: &Tensor,
        h: &Tensor,
        grad_h: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (d_projected, d_w_hh) = match projected.dtype() {
            DType::F32 => self.backward::<f32>(projected, w_hh, h, grad_h)?,
            DType::F64 => self.backward::<f64>(projected, w_hh, h, grad_h)?,
            other => bail!("lstm recurrence: no backward pass for {other:?}"),
        };
        Ok((Some(d_projected), Some(d_w_hh)))
    }
}

/// Backpropagation through time for one sequence. `z` holds the gate pre-activations
/// (T, 4H) on entry and their gradients on return; `grad` is the gradient of the hidden
/// states (T, H); `w_hh` is (4H, H) row-major.
fn backpropagate<T: Real>(z: &mut [T], grad: &[T], w_hh: &[T], hidden: usize, reverse: bool) {
    let g4 = 4 * hidden;
    let t = grad.len() / hidden;
    let index = |step: usize| if reverse { t - 1 - step } else { step };
    for row in z.chunks_mut(g4) {
        let (i_f, rest) = row.split_at_mut(2 * hidden);
        let (g, o) = rest.split_at_mut(hidden);
        i_f.iter_mut().for_each(|v| *v = sigmoid(*v));
        g.iter_mut().for_each(|v| *v = tanh(*v));
        o.iter_mut().for_each(|v| *v = sigmoid(*v));
    }
    // The cell states, forwards in processing order.
    let mut cells = vec![T::ZERO; t * hidden];
    let mut cell = vec![T::ZERO; hidden];
    for step in 0..t {
        let at = index(step);
        let row = &z[at * g4..][..g4];
        let (i, f, g) = (
            &row[..hidden],
            &row[hidden..][..hidden],
            &row[2 * hidden..][..hidden],
        );
        for k in 0..hidden {
            cell[k] = f[k] * cell[k] + i[k] * g[k];
        }
        cells[at * hidden..][..hidden].copy_from_slice(&cell);
    }
    // Back in time: the gradient reaching h_t is its own plus what flows back from step
    // t + 1 through the recurrent weights (`dh_next`) and through the cell (`dc_next`).
    let zeros = vec![T::ZERO; hidden];
    let mut dh_next = vec![T::ZERO; hidden];
    let mut dc_next = vec![T::ZERO; hidden];
    for step in (0..t).rev() {
        let at = index(step);
        let c = &cells[at * hidden..][..hidden];
        let c_prev = if step == 0 {
            &zeros[..]
        } else {
            &cells[index(step - 1) * hidden..][..hidden]
        };
        let dh_own = &grad[at * hidden..][..hidden];
        let row = &mut z[at * g4..][..g4];
        let (zi, rest) = row.split_at_mut(hidden);
        let (zf, rest) = rest.split_at_mut(hidden);
        let (zg, zo) = rest.split_at_mut(hidden);
        for k in 0..hidden {
            let (i, f, g, o) = (zi[k], zf[k], zg[k], zo[k]);
            let tc = tanh(c[k]);
            let dh = dh_own[k] + dh_next[k];
            let dc = dh * o * (T::ONE - tc * tc) + dc_next[k];
            dc_next[k] = dc * f;
            zi[k] = dc * g * i * (T::ONE - i);
            zf[k] = dc * c_prev[k] * f * (T::ONE - f);
            zg[k] = dc * i * (T::ONE - g * g);
            zo[k] = dh * tc * o * (T::ONE - o);
        }
        if step > 0 {
            // dh_{t−1} = W_hhᵀ · dz_t: W_hh's 4H rows weighted by dz_t.
            dh_next.fill(T::ZERO);
            T::add_row_products([&mut dh_next[..]], [&z[at * g4..][..g4]], w_hh);
        }
    }
}

/// The LSTM recurrence for inference. `gates` holds the input projections plus both
/// biases, (B, T, 4H) in PyTorch's gate order; `w_hh` is (4H, H) row-major. Returns the
/// hidden states (B, T, H) in time order.
///
/// The recurrent product runs as H row updates of the 4H gate vector (`z += h[k] · wᵀ[k]`)
/// rather than 4H dot products: the updates are independent across the row, so they
/// vectorise without waiting on one accumulator.
pub(super) fn recur<T: Real>(
    gates: &[T],
    b: usize,
    t: usize,
    hidden: usize,
    w_hh: &[T],
    reverse: bool,
) -> Vec<T> {
    let w_t = transpose(w_hh, 4 * hidden, hidden);
    recur_strided(gates, b, GateLayout::alone(t, hidden, reverse), &w_t)
}

/// [`recur`] over gates laid out as `layout` says (so both directions can share one
/// projection), with the recurrent weights already transposed to (H, 4H) (see
/// [`transpose`]), so a caller that keeps them does not redo it for every window.
/// Sequences run side by side (four with AVX-512, else two): each loaded run of weights
/// serves all of them, which a step's matrix-vector product, bound by loading the
/// weights, needs; every hidden state is computed exactly as alone.
pub(super) fn recur_strided<T: Real>(
    gates: &[T],
    b: usize,
    layout: GateLayout,
    w_t: &[T],
) -> Vec<T> {
    recur_all(gates, b, &layout, &ExactWeights(w_t))
}

/// [`recur_strided`] for f32 with the recurrent weights as bf16 pairs (`w` is the
/// transposed (H, 4H) matrix, paired; [`crate::fastmath::bf16`]): each step's product in
/// bf16 with f32 sums, the gates and states in f32 as before.
pub(super) fn recur_strided_paired(
    gates: &[f32],
    b: usize,
    layout: GateLayout,
    w: &PairedMatrix,
) -> Vec<f32> {
    let hidden = layout.hidden;
    assert!(
        w.k() == hidden && w.cols() == 4 * hidden,
        "paired recurrent weights (H, 4H)"
    );
    recur_all(gates, b, &layout, &PairedWeights(w))
}

/// Every sequence of `gates`, side by side in groups.
fn recur_all<T: Real>(
    gates: &[T],
    b: usize,
    layout: &GateLayout,
    w: &impl StepProducts<T>,
) -> Vec<T> {
    let mut out = vec![T::ZERO; b * layout.t * layout.hidden];
    let mut item = 0;
    while item + SIDE_BY_SIDE <= b {
        recur_items::<T, SIDE_BY_SIDE>(gates, item, layout, w, &mut out);
        item += SIDE_BY_SIDE;
    }
    if SIDE_BY_SIDE > 2 && item + 2 <= b {
        recur_items::<T, 2>(gates, item, layout, w, &mut out);
        item += 2;
    }
    for item in item..b {
        recur_items::<T, 1>(gates, item, layout, w, &mut out);
    }
    out
}

/// One step's recurrent product for J sequences side by side: `z_j += Σ_k h_j[k] · wᵀ[k]`.
/// `pairs` is the caller's buffer, kept from step to step, for a kind that converts the
/// states first.
trait StepProducts<T> {
    fn add<const J: usize>(&self, z: [&mut [T]; J], h: [&[T]; J], pairs: &mut [Vec<Pair>; J]);
}

/// The weights as they are: [`Real::add_row_products`].
struct ExactWeights<'a, T>(&'a [T]);

impl<T: Real> StepProducts<T> for ExactWeights<'_, T> {
    #[inline(always)]
    fn add<const J: usize>(&self, z: [&mut [T]; J], h: [&[T]; J], _: &mut [Vec<Pair>; J]) {
        T::add_row_products(z, h, self.0);
    }
}

/// The weights as bf16 pairs: each state paired once a step, then the products in
/// blocks as for f32 ([`fastmath::row_products`]).
struct PairedWeights<'a>(&'a PairedMatrix);

impl StepProducts<f32> for PairedWeights<'_> {
    #[inline(always)]
    fn add<const J: usize>(&self, z: [&mut [f32]; J], h: [&[f32]; J], pairs: &mut [Vec<Pair>; J]) {
        for (p, h) in pairs.iter_mut().zip(&h) {
            bf16::pair_up(h, p);
        }
        let x: [&[Pair]; J] = std::array::from_fn(|j| &pairs[j][..]);
        fastmath::row_products(z, false, x, self.0.pairs(), self.0.cols());
    }
}

/// Sequences run side by side in [`recur_strided`]: four with AVX-512, whose 32
/// registers hold 4 × 64 sums beside the weights; two otherwise (measured faster than
/// one, three or four with AVX2).
const SIDE_BY_SIDE: usize = if cfg!(target_feature = "avx512f") {
    4
} else {
    2
};

/// Where a direction's gates lie: T steps of H states, each step's 4H gates at `offset`
/// in rows `stride` apart; `reverse` runs the steps backwards in time.
#[derive(Clone, Copy, Debug)]
pub(super) struct GateLayout {
    t: usize,
    hidden: usize,
    reverse: bool,
    stride: usize,
    offset: usize,
}

impl GateLayout {
    /// One direction's gates alone: rows of 4H.
    pub(super) fn alone(t: usize, hidden: usize, reverse: bool) -> Self {
        Self {
            t,
            hidden,
            reverse,
            stride: 4 * hidden,
            offset: 0,
        }
    }

    /// Whether the steps run backwards in time (the backward direction).
    pub(super) fn reverse(&self) -> bool {
        self.reverse
    }

    /// Both directions' gates from one projection: rows of 8H, the forward direction's
    /// first, the backward (`reverse`) direction's second.
    pub(super) fn shared(t: usize, hidden: usize, reverse: bool) -> Self {
        Self {
            t,
            hidden,
            reverse,
            stride: 8 * hidden,
            offset: if reverse { 4 * hidden } else { 0 },
        }
    }
}

/// Sequences `first..first + J` of [`recur_strided`], into their rows of `out`.
fn recur_items<T: Real, const J: usize>(
    gates: &[T],
    first: usize,
    layout: &GateLayout,
    w: &impl StepProducts<T>,
    out: &mut [T],
) {
    let GateLayout {
        t,
        hidden,
        reverse,
        stride,
        offset,
    } = *layout;
    let g4 = 4 * hidden;
    let mut h: [Vec<T>; J] = std::array::from_fn(|_| vec![T::ZERO; hidden]);
    let mut c: [Vec<T>; J] = std::array::from_fn(|_| vec![T::ZERO; hidden]);
    let mut z: [Vec<T>; J] = std::array::from_fn(|_| vec![T::ZERO; g4]);
    let mut act = vec![T::ZERO; g4];
    let mut pairs: [Vec<Pair>; J] = std::array::from_fn(|_| Vec::with_capacity(hidden.div_ceil(2)));
    for step in 0..t {
        let index = if reverse { t - 1 - step } else { step };
        for (j, z) in z.iter_mut().enumerate() {
            let row = ((first + j) * t + index) * stride + offset;
            z.copy_from_slice(&gates[row..row + g4]);
        }
        w.add(
            z.each_mut().map(|z| z.as_mut_slice()),
            h.each_ref().map(|h| h.as_slice()),
            &mut pairs,
        );
        for (j, (z, (h, c))) in z.iter().zip(h.iter_mut().zip(c.iter_mut())).enumerate() {
            // Gates i, f, o through the sigmoid; the cell input g through tanh.
            let (zi_f, rest) = z.split_at(2 * hidden);
            let (zg, zo) = rest.split_at(hidden);
            let (a_if, rest) = act.split_at_mut(2 * hidden);
            let (a_g, a_o) = rest.split_at_mut(hidden);
            sigmoid_into(zi_f, a_if);
            tanh_into(zg, a_g);
            sigmoid_into(zo, a_o);
            let (ai, af) = a_if.split_at(hidden);
            for k in 0..hidden {
                c[k] = af[k] * c[k] + ai[k] * a_g[k];
            }
            tanh_into(c, h);
            for (hk, ok) in h.iter_mut().zip(a_o.iter()) {
                *hk *= *ok;
            }
            let dst = ((first + j) * t + index) * hidden;
            out[dst..dst + hidden].copy_from_slice(h);
        }
    }
}

/// (rows, cols) row-major → (cols, rows), in 16×16 tiles so neither side strides
/// through memory a row at a time.
pub(super) fn transpose<T: Real>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 16;
    let mut out = vec![T::ZERO; rows * cols];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    out
}

#[inline(always)]
fn sigmoid<T: Real>(v: T) -> T {
    T::ONE / (T::ONE + (T::ZERO - v).exp())
}

/// tanh(x) = 1 − 2 / (1 + e^{2x}): exact in form, no cancellation for large |x|.
#[inline(always)]
fn tanh<T: Real>(v: T) -> T {
    let two = T::ONE + T::ONE;
    T::ONE - two / (T::ONE + (two * v).exp())
}

fn sigmoid_into<T: Real>(x: &[T], out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = sigmoid(v);
    }
}

fn tanh_into<T: Real>(x: &[T], out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = tanh(v);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::rng::Rng;
    use candle_core::{Device, IndexOp, Var};

    #[test]
    fn sequences_side_by_side_get_the_same_bits_as_alone() {
        // Seven sequences: groups of four, two and one; 4H = 256 takes the wide block alone.
        let (b, t, hidden) = (7, 5, 64);
        let mut rng = Rng::new(3);
        let gates: Vec<f32> = (0..b * t * 4 * hidden)
            .map(|_| rng.uniform() as f32 * 2.0 - 1.0)
            .collect();
        let w_hh: Vec<f32> = (0..4 * hidden * hidden)
            .map(|_| (rng.uniform() as f32 - 0.5) * 0.3)
            .collect();
        for reverse in [false, true] {
            let all = recur(&gates, b, t, hidden, &w_hh, reverse);
            for item in 0..b {
                let one = &gates[item * t * 4 * hidden..(item + 1) * t * 4 * hidden];
                let alone = recur(one, 1, t, hidden, &w_hh, reverse);
                assert_eq!(
                    &all[item * t * hidden..(item + 1) * t * hidden],
                    &alone[..],
                    "sequence {item}, reverse {reverse}"
                );
            }
        }
    }

    #[test]
    fn the_tiled_transpose_moves_every_element() {
        let m: Vec<f32> = (0..17 * 40).map(|v| v as f32).collect();
        let t = transpose(&m, 17, 40);
        for r in 0..17 {
            for c in 0..40 {
                assert_eq!(t[c * 17 + r], m[r * 40 + c]);
            }
        }
    }

    /// The recurrence as the network built it before the op: candle ops per step, which
    /// candle differentiates itself (and slow, see the module comment).
    fn recurrence_by_ops(projected: &Tensor, w_hh: &Tensor, reverse: bool) -> Tensor {
        let (b, t, g4) = projected.dims3().unwrap();
        let w_hh = w_hh.t().unwrap();
        let mut h = Tensor::zeros((b, g4 / 4), projected.dtype(), projected.device()).unwrap();
        let mut c = h.clone();
        let mut outputs = Vec::with_capacity(t);
        for step in 0..t {
            let index = if reverse { t - 1 - step } else { step };
            let gates = (projected.i((.., index, ..)).unwrap() + h.matmul(&w_hh).unwrap()).unwrap();
            let gates = gates.chunk(4, 1).unwrap();
            let i = candle_nn::ops::sigmoid(&gates[0]).unwrap();
            let f = candle_nn::ops::sigmoid(&gates[1]).unwrap();
            let g = gates[2].tanh().unwrap();
            let o = candle_nn::ops::sigmoid(&gates[3]).unwrap();
            c = ((f * &c).unwrap() + (i * g).unwrap()).unwrap();
            h = (o * c.tanh().unwrap()).unwrap();
            outputs.push(h.clone());
        }
        if reverse {
            outputs.reverse();
        }
        Tensor::stack(&outputs, 1).unwrap()
    }

    fn random(shape: &[usize], scale: f64, dtype: DType, rng: &mut Rng) -> Tensor {
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|_| rng.normal() * scale).collect();
        Tensor::from_vec(values, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    /// The largest difference between `a` and `b`, relative to the largest magnitude in `b`.
    fn relative_difference(a: &Tensor, b: &Tensor) -> f64 {
        let values = |t: &Tensor| -> Vec<f64> {
            t.to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let (a, b) = (values(a), values(b));
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
        a.iter()
            .zip(&b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    /// The op against the candle-op recurrence it replaces: outputs and both gradients of a
    /// random weighted sum of the outputs, on odd sizes (B = 3, T = 7, H = 5: 4H = 20 is a
    /// partial block of the row products) in both directions. f32 runs the approximate
    /// exponential against candle's exact one, so it agrees to 1e-4 of each tensor's
    /// largest value; f64 uses the exact exponential in both and must agree to 1e-10.
    #[test]
    fn the_op_equals_the_candle_op_recurrence_with_its_gradients() {
        let mut rng = Rng::new(11);
        for (dtype, tolerance) in [(DType::F32, 1e-4), (DType::F64, 1e-10)] {
            for reverse in [false, true] {
                let projected =
                    Var::from_tensor(&random(&[3, 7, 20], 1.0, dtype, &mut rng)).unwrap();
                let w_hh = Var::from_tensor(&random(&[20, 5], 0.7, dtype, &mut rng)).unwrap();
                let weights = random(&[3, 7, 5], 1.0, dtype, &mut rng);
                let ours =
                    lstm_recurrence(projected.as_tensor(), w_hh.as_tensor(), reverse).unwrap();
                let theirs = recurrence_by_ops(projected.as_tensor(), w_hh.as_tensor(), reverse);
                let gradients = |h: &Tensor| {
                    let grads = (h * &weights)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap();
                    let get = |v: &Var| grads.get(v.as_tensor()).unwrap().clone();
                    (get(&projected), get(&w_hh))
                };
                let (ours_dp, ours_dw) = gradients(&ours);
                let (theirs_dp, theirs_dw) = gradients(&theirs);
                for (what, a, b) in [
                    ("output", &ours, &theirs),
                    ("d projected", &ours_dp, &theirs_dp),
                    ("d w_hh", &ours_dw, &theirs_dw),
                ] {
                    assert_eq!(a.dims(), b.dims(), "{what}");
                    let diff = relative_difference(a, b);
                    assert!(
                        diff <= tolerance,
                        "{dtype:?}, reverse {reverse}: {what} differs by {diff:e}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_op_refuses_weights_of_the_wrong_shape() {
        let projected = Tensor::zeros((2, 3, 20), DType::F32, &Device::Cpu).unwrap();
        let w_hh = Tensor::zeros((20, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(lstm_recurrence(&projected, &w_hh, false).is_err());
    }
}
