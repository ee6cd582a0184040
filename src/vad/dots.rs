//! Matrix-times-vectors for the voice detector, with the same sums for any number of
//! vectors, so a signal scored chunk by chunk (live) and in blocks of chunks (a whole
//! file) gets the same bits.
//!
//! A dot product summed along its length is one chain of dependent additions. Here the
//! weights are transposed once, so one input value multiplies a run of
//! 64 outputs' weights (four to eight independent vector additions), and two input
//! vectors share every loaded weight: a file's chunks in blocks read each weight once
//! per two frames instead of once per frame (two measured faster than four or three,
//! whose accumulators no longer fit in registers beside the weights).

use crate::fastmath::mul_add;

/// Outputs computed side by side: 64 floats, four AVX-512 or eight AVX2 registers.
const BLOCK: usize = 64;
/// Input vectors that share each loaded run of weights.
const GROUP: usize = 2;

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
        for i0 in (0..self.rows).step_by(BLOCK) {
            let mut j = 0;
            while j + GROUP <= m {
                self.block::<GROUP>(xs, j, i0, out);
                j += GROUP;
            }
            for j in j..m {
                self.block::<1>(xs, j, i0, out);
            }
        }
    }

    /// Outputs `i0..i0 + BLOCK` (fewer at the end) for inputs `j0..j0 + J`.
    #[inline(always)]
    fn block<const J: usize>(&self, xs: &[f32], j0: usize, i0: usize, out: &mut [f32]) {
        let (rows, n) = (self.rows, self.n);
        let width = BLOCK.min(rows - i0);
        let x: [&[f32]; J] = std::array::from_fn(|j| &xs[(j0 + j) * n..(j0 + j + 1) * n]);
        let mut acc = [[0.0f32; BLOCK]; J];
        if width == BLOCK {
            // A run of known length: the compiler keeps the accumulators in registers.
            for k in 0..n {
                let Ok(w) = <&[f32; BLOCK]>::try_from(&self.t[k * rows + i0..][..BLOCK]) else {
                    continue;
                };
                for (acc, x) in acc.iter_mut().zip(&x) {
                    let v = x[k];
                    for (a, &wl) in acc.iter_mut().zip(w) {
                        *a = mul_add(wl, v, *a);
                    }
                }
            }
        } else {
            for k in 0..n {
                let w = &self.t[k * rows + i0..][..width];
                for (acc, x) in acc.iter_mut().zip(&x) {
                    let v = x[k];
                    for (a, &wl) in acc.iter_mut().zip(w) {
                        *a = mul_add(wl, v, *a);
                    }
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            out[(j0 + j) * rows + i0..][..width].copy_from_slice(&acc[..width]);
        }
    }
}

/// Σ a[k]·b[k], in order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_gets_the_same_bits_alone_or_in_a_group() {
        // Row counts around the 64-output blocks; input counts around the groups of two.
        let mut seed = 1u32;
        let mut value = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
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
