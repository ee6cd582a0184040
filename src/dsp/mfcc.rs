//! `librosa.feature.mfcc(S=mel_db, n_mfcc=40, dct_type=2, norm='ortho')`: the first 40
//! rows of an orthonormal DCT-II over the 64 mel_db bands.

use super::{N_MELS, N_MFCC};

/// The DCT-II basis, precomputed: 40 × 64 multiply-adds per frame.
pub struct Mfcc {
    basis: Vec<[f32; N_MELS]>,
}

impl Mfcc {
    pub fn new() -> Self {
        let n = N_MELS as f64;
        let basis = (0..N_MFCC)
            .map(|k| {
                let scale = if k == 0 {
                    (1.0 / n).sqrt()
                } else {
                    (2.0 / n).sqrt()
                };
                let mut row = [0.0f32; N_MELS];
                for (i, v) in row.iter_mut().enumerate() {
                    let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                    *v = (scale * angle.cos()) as f32;
                }
                row
            })
            .collect();
        Self { basis }
    }

    pub fn apply(&self, mel_db: &[f32; N_MELS], mfcc: &mut [f32; N_MFCC]) {
        for (out, row) in mfcc.iter_mut().zip(&self.basis) {
            *out = row.iter().zip(mel_db).map(|(b, x)| b * x).sum();
        }
    }
}

impl Default for Mfcc {
    fn default() -> Self {
        Self::new()
    }
}
