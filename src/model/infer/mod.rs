//! The network's inference pass as plain loops around three matrix products, with the
//! weights laid out once for it. The same arithmetic as [`EmotionNet::forward`] without
//! training (`tests/gradients.rs` holds them together), but without candle's per-op
//! copies: on a CPU those copies, not the arithmetic, were most of a window's time, and
//! they grew faster than the batch. The products are `fastmath::vectors_times_matrix`
//! (AVX-512 sums held in registers, rows read in place) or its bf16 twin
//! `fastmath::bf16::vectors_times_paired`, not candle's: its general matrix product
//! packed both operands for every call and ran AVX2 kernels.
//!
//! Per window: unfold → conv1 (one product) → BatchNorm (folded into a scale and shift)
//! → ReLU → max-pool 2 → the same for conv2 (`conv.rs`) → one product projects the
//! sequence for both LSTM directions → the recurrences (`recurrence::recur_strided`,
//! windows side by side) → attention pool → head → softmax. A clip's overlapping windows
//! share one conv front end (`clip.rs`; conv1 alone when the windows are centred).
//!
//! Where the CPU has AVX-512 BF16, conv2, the projection and the recurrent products take
//! bf16 operands with f32 sums ([`Precision`]): predict over RAVDESS 2.9 → 2.4 s, with no
//! file's label changed (README, "Speed"). Every path that answers a user (the app,
//! `listen`, `predict`, `serve`, `evaluate`, training's validation) takes the same one.

use candle_core::{DType, Result, Tensor};

use crate::fastmath;
use crate::fastmath::bf16::{self, PairedMatrix};

use super::net::{recur_strided, recur_strided_paired, transpose, EmotionNet, GateLayout};
use conv::ConvBlock;

mod clip;
mod conv;

pub struct InferenceNet {
    conv1: ConvBlock,
    conv2: ConvBlock,
    lstm: LstmWeights,
    /// Both directions' b_ih + b_hh, (8H).
    b_ih: Vec<f32>,
    hidden: usize,
    attention_w: Vec<f32>,
    attention_b: f32,
    /// (classes, 2H) row-major.
    head_w: Vec<f32>,
    head_b: Vec<f32>,
    classes: usize,
    /// Leading inputs centred per window ([`super::net::NetConfig::centred_inputs`]).
    centred: usize,
}

/// How an [`InferenceNet`] multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: the training pass's arithmetic (`tests/gradients.rs` holds the two
    /// to 1e-5).
    F32,
    /// conv2, the LSTM's input projection and its recurrent products with bf16 operands
    /// and f32 sums, where the CPU has the instruction ([`crate::fastmath::bf16`]): half
    /// the time for those products, probabilities within about 1e-3 of f32. conv1 stays
    /// f32: a clip's windows share its product, corrected per window for centring, which
    /// needs its linearity to the last bits that f32 gives.
    Bf16,
}

impl Precision {
    /// What the app, `predict`, `serve`, `evaluate` and training's validation use, so
    /// that they all give the same answers: bf16 where this build has it.
    pub fn fastest() -> Self {
        if crate::fastmath::bf16::AVAILABLE {
            Precision::Bf16
        } else {
            Precision::F32
        }
    }
}

/// The LSTM's input projection and recurrent weights, in the precision chosen.
enum LstmWeights {
    /// `w_ih` (C, 8H) row-major, both directions' input weights side by side, forward
    /// first; the recurrent weights per direction transposed once to (H, 4H) for
    /// `recur_strided`.
    F32 {
        w_ih: Vec<f32>,
        w_hh_forward: Vec<f32>,
        w_hh_backward: Vec<f32>,
    },
    /// The same matrices as bf16 pairs.
    Bf16 {
        w_ih: PairedMatrix,
        w_hh_forward: PairedMatrix,
        w_hh_backward: PairedMatrix,
    },
}

impl LstmWeights {
    /// One direction's hidden states over `n` sequences of the shared projection
    /// `gates`, in this precision (`layout` says which direction).
    fn recur(&self, gates: &[f32], n: usize, layout: GateLayout) -> Vec<f32> {
        let reverse = layout.reverse();
        match self {
            LstmWeights::F32 {
                w_hh_forward,
                w_hh_backward,
                ..
            } => recur_strided(
                gates,
                n,
                layout,
                if reverse { w_hh_backward } else { w_hh_forward },
            ),
            LstmWeights::Bf16 {
                w_hh_forward,
                w_hh_backward,
                ..
            } => recur_strided_paired(
                gates,
                n,
                layout,
                if reverse { w_hh_backward } else { w_hh_forward },
            ),
        }
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl InferenceNet {
    /// Lays out `net`'s current weights for inference (a copy: build it again after the
    /// weights change), in [`Precision::fastest`].
    pub fn new(net: &EmotionNet) -> Result<Self> {
        Self::with_precision(net, Precision::fastest())
    }

    /// [`InferenceNet::new`] in the precision asked for (bf16 falls back to f32 where the
    /// build lacks it, or for a network wider than the bf16 kernel's buffer).
    pub fn with_precision(net: &EmotionNet, precision: Precision) -> Result<Self> {
        let (f, b) = (&net.forward_lstm, &net.backward_lstm);
        let w_ih = values(
            &Tensor::cat(&[&f.w_ih, &b.w_ih], 0)?
                .to_dtype(DType::F32)?
                .t()?
                .contiguous()?,
        )?;
        let mut b_ih = values(&(&f.b_ih + &f.b_hh)?)?;
        b_ih.extend(values(&(&b.b_ih + &b.b_hh)?)?);
        let head_w = values(net.head.weight())?;
        let classes = net.head.weight().dims2()?.0;
        let head_b = match net.head.bias() {
            Some(b) => values(b)?,
            None => vec![0.0; classes],
        };
        let attention_b = match net.attention.bias() {
            Some(b) => values(b)?.first().copied().unwrap_or(0.0),
            None => 0.0,
        };
        let hidden = f.hidden;
        let w_hh_forward = transpose(&values(&f.w_hh)?, 4 * hidden, hidden);
        let w_hh_backward = transpose(&values(&b.w_hh)?, 4 * hidden, hidden);
        let conv2 = ConvBlock::new(&net.conv2, &net.bn2)?;
        // conv2's unfolded rows and the projection's inputs must fit the kernel's buffer
        // (any width `train` allows does).
        let in_bf16 = precision == Precision::Bf16
            && bf16::AVAILABLE
            && conv2.unfolded_len().div_ceil(2) <= bf16::MAX_PAIRS
            && conv2.output.div_ceil(2) <= bf16::MAX_PAIRS;
        let (conv2, lstm) = if in_bf16 {
            let lstm = LstmWeights::Bf16 {
                w_ih: PairedMatrix::new(&w_ih, conv2.output, 8 * hidden),
                w_hh_forward: PairedMatrix::new(&w_hh_forward, hidden, 4 * hidden),
                w_hh_backward: PairedMatrix::new(&w_hh_backward, hidden, 4 * hidden),
            };
            (conv2.in_bf16(), lstm)
        } else {
            let lstm = LstmWeights::F32 {
                w_ih,
                w_hh_forward,
                w_hh_backward,
            };
            (conv2, lstm)
        };
        Ok(Self {
            conv1: ConvBlock::new(&net.conv1, &net.bn1)?,
            conv2,
            lstm,
            b_ih,
            hidden,
            attention_w: values(net.attention.weight())?,
            attention_b,
            head_w,
            head_b,
            classes,
            centred: net.config().centred_inputs,
        })
    }

    /// Softmax probabilities for `n` windows of `t` frames of `input_dim` values each
    /// (normalised), laid out window after window.
    pub fn probabilities(&self, x: &[f32], n: usize, t: usize) -> Result<Vec<Vec<f32>>> {
        let d = self.conv1.input;
        if x.len() < n * t * d {
            candle_core::bail!("{} values for {n} windows of {t} frames of {d}", x.len());
        }
        let x = &x[..n * t * d];
        if self.centred > 0 && t >= 2 * self.conv1.reach() {
            // Centred windows take conv1 as a clip's shared front end does (the product of
            // the raw frames less the window's mean through the taps), so that a window
            // alone and the same window among its neighbours get the same bits, in bf16 too.
            let starts: Vec<usize> = (0..n).map(|w| w * t).collect();
            let pooled = self.centred_front_end(x, n * t, t, &starts)?;
            return self.recurrent_probabilities(&pooled, n, t / 4);
        }
        let centred;
        let x = if self.centred > 0 {
            centred = centre_windows(x, n, t, self.conv1.input, self.centred);
            &centred[..]
        } else {
            x
        };
        let x = self.conv1.forward(x, n, t)?;
        let x = self.conv2.forward(&x, n, t / 2)?;
        self.recurrent_probabilities(&x, n, t / 4)
    }

    /// From the front end's output (`n` windows of `t` rows of conv channels) to each
    /// window's probabilities: the input projection, both recurrences, attention pooling,
    /// the head and softmax.
    fn recurrent_probabilities(&self, x: &[f32], n: usize, t: usize) -> Result<Vec<Vec<f32>>> {
        let (c, h) = (self.conv2.output, self.hidden);
        let mut gates = vec![0.0f32; n * t * 8 * h];
        let rows = x.len() / c.max(1);
        if rows < n * t {
            candle_core::bail!("{rows} rows for {n} windows of {t}");
        }
        let row = |r: usize| &x[r * c..(r + 1) * c];
        match &self.lstm {
            LstmWeights::Bf16 { w_ih, .. } => {
                bf16::vectors_times_paired(n * t, row, w_ih, &mut gates);
            }
            LstmWeights::F32 { w_ih, .. } => {
                fastmath::vectors_times_matrix(n * t, row, w_ih, 8 * h, &mut gates);
            }
        }
        for row in gates.chunks_exact_mut(8 * h) {
            for (g, b) in row.iter_mut().zip(&self.b_ih) {
                *g += b;
            }
        }
        let forward = self.lstm.recur(&gates, n, GateLayout::shared(t, h, false));
        let backward = self.lstm.recur(&gates, n, GateLayout::shared(t, h, true));
        let mut out = Vec::with_capacity(n);
        let mut scores = vec![0.0f32; t];
        for item in 0..n {
            let state = |step: usize| {
                let at = (item * t + step) * h;
                (&forward[at..at + h], &backward[at..at + h])
            };
            // Attention: a softmax over time of one score per step.
            let (wf, wb) = self.attention_w.split_at(h);
            for (step, s) in scores.iter_mut().enumerate() {
                let (hf, hb) = state(step);
                *s = dot(wf, hf) + dot(wb, hb) + self.attention_b;
            }
            softmax_in_place(&mut scores);
            let mut pooled = vec![0.0f32; 2 * h];
            for (step, &a) in scores.iter().enumerate() {
                let (hf, hb) = state(step);
                let (pf, pb) = pooled.split_at_mut(h);
                for (p, v) in pf.iter_mut().zip(hf) {
                    *p += a * v;
                }
                for (p, v) in pb.iter_mut().zip(hb) {
                    *p += a * v;
                }
            }
            let mut logits: Vec<f32> = self
                .head_w
                .chunks_exact(2 * h)
                .zip(&self.head_b)
                .map(|(w, b)| dot(w, &pooled) + b)
                .collect();
            debug_assert_eq!(logits.len(), self.classes);
            softmax_in_place(&mut logits);
            out.push(logits);
        }
        Ok(out)
    }
}

/// `n` windows of `t` rows of `d` inputs with each window's mean over time taken away from
/// its first `k` inputs.
fn centre_windows(x: &[f32], n: usize, t: usize, d: usize, k: usize) -> Vec<f32> {
    let mut out = x[..n * t * d].to_vec();
    let k = k.min(d);
    let starts: Vec<usize> = (0..n).map(|w| w * t).collect();
    let means = window_means(&out, &starts, t, d, k);
    for (window, mean) in out
        .chunks_exact_mut(t * d)
        .zip(means.chunks_exact(k.max(1)))
    {
        for row in window.chunks_exact_mut(d) {
            centre_row(row, mean);
        }
    }
    out
}

/// `row`'s first `mean.len()` inputs less `mean`: one frame of a centred window, the same
/// bits wherever a window is centred.
fn centre_row(row: &mut [f32], mean: &[f32]) {
    for (v, m) in row.iter_mut().zip(mean) {
        *v -= m;
    }
}

/// The mean of the first `k` of `d` inputs over the `t` rows of `x` from each of `starts`:
/// a row of `k` per start (at least one column, so that `chunks_exact` can read them when
/// `k` is 0), summed in row order so that every caller gets the same bits.
fn window_means(x: &[f32], starts: &[usize], t: usize, d: usize, k: usize) -> Vec<f32> {
    let width = k.max(1);
    let mut means = vec![0.0f32; starts.len() * width];
    for (&s, mean) in starts.iter().zip(means.chunks_exact_mut(width)) {
        for row in x[s * d..(s + t) * d].chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(&row[..k]) {
                *m += v;
            }
        }
        for m in mean.iter_mut() {
            *m /= t as f32;
        }
    }
    means
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}
