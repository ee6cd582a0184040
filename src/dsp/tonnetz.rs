//! `librosa.feature.tonnetz(chroma=chroma)`: the tonal centroid (fifths, minor thirds,
//! major thirds as sine/cosine pairs) of the L1-normalised chroma.

use super::{N_CHROMA, N_TONNETZ};

pub struct Tonnetz {
    phi: [[f64; N_CHROMA]; N_TONNETZ],
}

impl Tonnetz {
    pub fn new() -> Self {
        const SCALE: [f64; N_TONNETZ] = [7.0 / 6.0, 7.0 / 6.0, 1.5, 1.5, 2.0 / 3.0, 2.0 / 3.0];
        const RADIUS: [f64; N_TONNETZ] = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5];
        let mut phi = [[0.0; N_CHROMA]; N_TONNETZ];
        for (p, row) in phi.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                // Even rows are sines: a cosine shifted by half a turn of π.
                let shift = if p % 2 == 0 { 0.5 } else { 0.0 };
                let dim = c as f64 * 12.0 / N_CHROMA as f64;
                *v = RADIUS[p] * (std::f64::consts::PI * (SCALE[p] * dim - shift)).cos();
            }
        }
        Self { phi }
    }

    pub fn apply(&self, chroma: &[f32; N_CHROMA], tonnetz: &mut [f32; N_TONNETZ]) {
        let l1: f64 = chroma.iter().map(|&c| f64::from(c.abs())).sum();
        // librosa's normalize leaves a column whose norm is below the smallest normal f32.
        let scale = if l1 >= f64::from(f32::MIN_POSITIVE) {
            1.0 / l1
        } else {
            1.0
        };
        for (out, row) in tonnetz.iter_mut().zip(&self.phi) {
            let dot: f64 = row.iter().zip(chroma).map(|(p, &c)| p * f64::from(c)).sum();
            *out = (dot * scale) as f32;
        }
    }
}

impl Default for Tonnetz {
    fn default() -> Self {
        Self::new()
    }
}
