//! Matrix-times-vectors for the voice detector, with the same sums for any number of
//! vectors, so a signal scored chunk by chunk (live) and in blocks of chunks (a whole
//! file) gets the same bits.
//!
//! A dot product summed along its length is one chain of dependent additions. Here the
//! weights are transposed once, so one input value multiplies a run of 64 outputs'
//! weights (256 for a vector alone: independent vector additions), and several input
//! vectors share every loaded weight: a file's chunks in blocks read each weight once
//! per four frames (two without AVX-512) instead of once per frame. The kernel is
//! `fastmath::vectors_times_matrix`, shared with the emotion model.

use crate::fastmath;

/// A (rows, n) weight matrix laid out for [`Weights::apply`].
#[derive(Clone, Debug)]
pub struct Weights {
    /// (n, rows): the weights of every output for one input position, side by side.
    t: Vec<f32>,
    rows: usize,
    n: usize,
}

impl Weights {
    /// From a row-major (rows, n) matrix.
    pub fn new(w: &[f32], rows: usize, n: usize) -> Self {
        let mut t = vec![0.0f32; rows * n];
        for (i, row) in w.chunks_exact(n).take(rows).enumerate() {
            for (k, &v) in row.iter().enumerate() {
                t[k * rows + i] = v;
            }
        }
        Self { t, rows, n }
    }

    /// Values each input vector holds.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `out[j · rows + i] = Σ_k w[i][k] · x_j[k]` for every input vector `x_j` (rows of
    /// `n` in `xs`), each sum taken in order of k whatever the number of inputs.
    pub fn apply(&self, xs: &[f32], out: &mut [f32]) {
        if self.n == 0 {
            out.fill(0.0);
            return;
        }
        let m = xs.len() / self.n;
        let n = self.n;
        self.apply_each(m, |j| &xs[j * n..(j + 1) * n], out);
    }

    /// [`Weights::apply`] for `m` input vectors found by `x` (each `n` values), so that a
    /// caller can pass slices of its own buffers in place.
    pub fn apply_each<'a>(&self, m: usize, x: impl Fn(usize) -> &'a [f32], out: &mut [f32]) {
        debug_assert!(m == 0 || x(0).len() == self.n, "vectors of n values");
        fastmath::vectors_times_matrix(m, x, &self.t, self.rows, out);
    }
}

/// Σ a[k]·b[k], in order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastmath::test_values;

    #[test]
    fn every_input_gets_the_same_bits_alone_or_in_a_group() {
        // Row counts around the 64- and 256-output blocks; input counts around the groups.
        let mut value = test_values(1);
        for (rows, n, m) in [
            (1, 5, 1),
            (64, 16, 4),
            (70, 33, 7),
            (258, 256, 9),
            (512, 128, 5),
        ] {
            let w: Vec<f32> = (0..rows * n).map(|_| value()).collect();
            let xs: Vec<f32> = (0..m * n).map(|_| value()).collect();
            let weights = Weights::new(&w, rows, n);
            let mut all = vec![f32::NAN; m * rows];
            weights.apply(&xs, &mut all);
            for j in 0..m {
                let mut alone = vec![f32::NAN; rows];
                weights.apply(&xs[j * n..(j + 1) * n], &mut alone);
                assert_eq!(
                    &all[j * rows..(j + 1) * rows],
                    &alone[..],
                    "{rows}×{n}, input {j}"
                );
                for i in 0..rows {
                    let plain = dot(&w[i * n..(i + 1) * n], &xs[j * n..(j + 1) * n]);
                    let found = alone[i];
                    assert!(
                        (found - plain).abs() < 1e-4,
                        "{rows}×{n} ({i}, {j}): {found} vs {plain}"
                    );
                }
            }
        }
    }
}
