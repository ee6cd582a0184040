//! One convolutional block of the inference pass: Conv1d ("same" padding, stride 1) with
//! its BatchNorm folded into a scale and shift, then ReLU, computed for any chosen rows
//! of a sequence as one matrix product over the unfolded input (`fastmath`'s kernel, which
//! reads an unfolded row in place: away from a window's edges it is a run of the input).
//! Max-pooling is left to the caller, because a clip's overlapping windows pool the same
//! rows in different pairs.

use std::ops::Range;

use candle_core::{DType, Result, Tensor};

use crate::fastmath;
use crate::fastmath::bf16::{self, PairedMatrix};

use crate::model::net::TimeConv;

/// One output row: the input row it is centred on and the input rows it may read.
/// Taps outside `reads` see zeros, as "same" padding does at a window's edges.
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub centre: usize,
    pub reads: Range<usize>,
}

/// A conv layer with its BatchNorm: `relu((unfold(x) · w) · scale + shift)`.
pub(super) struct ConvBlock {
    /// (kernel · in, out) row-major: the unfolded input's columns are [tap][channel].
    w: Vec<f32>,
    /// (in, out) row-major: `w` summed over the taps, what a constant input row adds to
    /// an output row that reads no padding.
    tap_sums: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
    kernel: usize,
    pub input: usize,
    pub output: usize,
    /// `w` as bf16 pairs when the products run in bf16 ([`ConvBlock::in_bf16`]).
    paired: Option<PairedMatrix>,
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl ConvBlock {
    pub fn new(conv: &TimeConv, bn: &candle_nn::BatchNorm) -> Result<Self> {
        let (output, input, kernel) = conv.weight.dims3()?;
        let w = values(
            &conv
                .weight
                .to_dtype(DType::F32)?
                .transpose(1, 2)?
                .reshape((output, kernel * input))?
                .t()?
                .contiguous()?,
        )?;
        let bias = values(&conv.bias)?;
        let mean = values(bn.running_mean())?;
        let var = values(bn.running_var())?;
        let (gamma, beta) = match bn.weight_and_bias() {
            Some((g, b)) => (values(g)?, values(b)?),
            None => (vec![1.0; output], vec![0.0; output]),
        };
        let eps = bn.eps();
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (f64::from(*v) + eps).sqrt() as f32)
            .collect();
        // BatchNorm of (conv + bias): (conv + bias − mean) · scale + beta.
        let shift = (0..output)
            .map(|c| (bias[c] - mean[c]) * scale[c] + beta[c])
            .collect();
        let mut tap_sums = vec![0.0f32; input * output];
        for tap in w.chunks_exact(input * output) {
            for (sum, v) in tap_sums.iter_mut().zip(tap) {
                *sum += v;
            }
        }
        Ok(Self {
            w,
            tap_sums,
            scale,
            shift,
            kernel,
            input,
            output,
            paired: None,
        })
    }

    /// Values in one unfolded input row: kernel × input channels.
    pub fn unfolded_len(&self) -> usize {
        self.kernel * self.input
    }

    /// The same block with its products in bf16 (f32 sums; [`crate::fastmath::bf16`]).
    pub fn in_bf16(mut self) -> Self {
        self.paired = Some(PairedMatrix::new(
            &self.w,
            self.kernel * self.input,
            self.output,
        ));
        self
    }

    /// Taps on each side of the centre row: the rows at a window's edges within this
    /// distance see its zero padding.
    pub fn reach(&self) -> usize {
        self.kernel / 2
    }

    /// The block's output (conv, BatchNorm, ReLU; no pooling) for `rows` of `x` (rows of
    /// `input` values), one output row of `output` values per entry.
    pub fn activations(&self, x: &[f32], rows: &[Row]) -> Result<Vec<f32>> {
        let mut y = self.products(x, rows)?;
        for row in y.chunks_exact_mut(self.output) {
            self.activate(row, &self.shift);
        }
        Ok(y)
    }

    /// BatchNorm and ReLU in place on one row of [`ConvBlock::products`], with `shift`
    /// in place of the block's own (see [`ConvBlock::shift_less`]).
    pub fn activate(&self, row: &mut [f32], shift: &[f32]) {
        for ((v, scale), shift) in row.iter_mut().zip(&self.scale).zip(shift) {
            *v = (*v * scale + shift).max(0.0);
        }
    }

    /// The BatchNorm shift for input rows that had `mean` (the leading inputs' values)
    /// taken away: the conv is linear, so on a row that reads no padding the product of
    /// the shifted input is the product of the original less `mean · tap_sums`, and
    /// BatchNorm turns that into a shift of `− scale · mean · tap_sums`.
    pub fn shift_less(&self, mean: &[f32]) -> Vec<f32> {
        let mut less = vec![0.0f32; self.output];
        for (m, sums) in mean.iter().zip(self.tap_sums.chunks_exact(self.output)) {
            for (l, s) in less.iter_mut().zip(sums) {
                *l += m * s;
            }
        }
        less.iter()
            .zip(&self.scale)
            .zip(&self.shift)
            .map(|((l, scale), shift)| shift - scale * l)
            .collect()
    }

    /// The conv alone (no bias, BatchNorm or ReLU) for `rows` of `x`: one row of `output`
    /// values per entry, for [`ConvBlock::activate`].
    pub fn products(&self, x: &[f32], rows: &[Row]) -> Result<Vec<f32>> {
        let (k, c) = (self.kernel, self.input);
        let reach = self.reach();
        // A row whose taps all lie inside what it may read is a run of `x` as it is;
        // the others (a window's edges) get a copy with zeros for the padding.
        let inside = |row: &Row| {
            row.reads.start + reach <= row.centre
                && row.centre + (k - reach) <= row.reads.end
                && (row.centre + k - reach) * c <= x.len()
        };
        let edges: Vec<usize> = (0..rows.len()).filter(|&r| !inside(&rows[r])).collect();
        let mut padded = vec![0.0f32; edges.len() * k * c];
        let mut slot = vec![usize::MAX; rows.len()];
        for (e, (&r, dst)) in edges.iter().zip(padded.chunks_exact_mut(k * c)).enumerate() {
            slot[r] = e;
            let row = &rows[r];
            for (tap, dst) in dst.chunks_exact_mut(c).enumerate() {
                let Some(src) = (row.centre + tap)
                    .checked_sub(reach)
                    .filter(|s| row.reads.contains(s))
                else {
                    continue;
                };
                dst.copy_from_slice(&x[src * c..(src + 1) * c]);
            }
        }
        let unfolded = |r: usize| match slot[r] {
            usize::MAX => {
                let start = (rows[r].centre - reach) * c;
                &x[start..start + k * c]
            }
            e => &padded[e * k * c..(e + 1) * k * c],
        };
        let mut y = vec![0.0f32; rows.len() * self.output];
        match &self.paired {
            Some(paired) => bf16::vectors_times_paired(rows.len(), unfolded, paired, &mut y),
            None => {
                fastmath::vectors_times_matrix(rows.len(), unfolded, &self.w, self.output, &mut y)
            }
        }
        Ok(y)
    }

    /// (n, t, input) → (n, t / 2, output): every window on its own, zero-padded at its
    /// edges, then max-pooled in pairs.
    pub fn forward(&self, x: &[f32], n: usize, t: usize) -> Result<Vec<f32>> {
        let rows: Vec<Row> = (0..n * t)
            .map(|centre| {
                let start = centre - centre % t;
                Row {
                    centre,
                    reads: start..start + t,
                }
            })
            .collect();
        let c = self.output;
        if t < 2 {
            return Ok(Vec::new());
        }
        let y = self.activations(x, &rows)?;
        let mut pooled = vec![0.0f32; n * (t / 2) * c];
        for (item, out) in pooled.chunks_exact_mut((t / 2) * c).enumerate() {
            let window = &y[item * t * c..(item + 1) * t * c];
            for (pair, dst) in window.chunks_exact(2 * c).zip(out.chunks_exact_mut(c)) {
                max_into(&pair[..c], &pair[c..], dst);
            }
        }
        Ok(pooled)
    }
}

/// `out = max(a, b)` element by element: one step of max-pooling in pairs.
pub(super) fn max_into(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x.max(*y);
    }
}
