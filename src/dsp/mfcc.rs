//! `librosa.feature.mfcc(S=mel_db, n_mfcc=40, dct_type=2, norm='ortho')`: the first 40
//! rows of an orthonormal DCT-II over the 64 mel_db bands.

use super::{N_MELS, N_MFCC};

/// The DCT-II basis, precomputed and stored band-major (`basis[band][coefficient]`), so
/// the inner loop runs across the 40 coefficients and vectorises; each coefficient is
/// still summed over the bands in order.
pub struct Mfcc {
    basis: Vec<[f32; N_MFCC]>,
}

impl Mfcc {
    pub fn new() -> Self {
        let n = N_MELS as f64;
        let basis = (0..N_MELS)
            .map(|i| {
                let mut row = [0.0f32; N_MFCC];
                for (k, v) in row.iter_mut().enumerate() {
                    let scale = if k == 0 {
                        (1.0 / n).sqrt()
                    } else {
                        (2.0 / n).sqrt()
                    };
                    let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                    *v = (scale * angle.cos()) as f32;
                }
                row
            })
            .collect();
        Self { basis }
    }

    pub fn apply(&self, mel_db: &[f32; N_MELS], mfcc: &mut [f32; N_MFCC]) {
        // A local accumulator stays in registers; writing through `mfcc` in the loop did not.
        let mut acc = [0.0f32; N_MFCC];
        for (row, &x) in self.basis.iter().zip(mel_db) {
            for (out, &b) in acc.iter_mut().zip(row) {
                *out += b * x;
            }
        }
        *mfcc = acc;
    }
}

impl Default for Mfcc {
    fn default() -> Self {
        Self::new()
    }
}
