//! `librosa.feature.spectral_contrast(S=sqrt(power), sr=16000, n_bands=6, fmin=200,
//! quantile=0.02)`: per octave band, the decibel difference between the mean of the
//! loudest and the mean of the quietest 2% of magnitudes.
//!
//! librosa converts peaks and valleys with `power_to_db` including its `top_db` clip over
//! the whole signal, so this module yields both in decibels *before* that clip; the
//! caller applies the clip for the whole-signal rule or leaves it off for the stream.

use super::db::power_to_db;
use super::{N_BINS, N_CONTRAST, N_FFT, SAMPLE_RATE};

const FMIN: f64 = 200.0;
const QUANTILE: f64 = 0.02;

/// One octave band: the FFT bins it covers and how many of them count as peak or valley.
#[derive(Clone, Copy, Debug)]
struct Band {
    first: usize,
    len: usize,
    take: usize,
}

pub struct SpectralContrast {
    bands: [Band; N_CONTRAST],
    scratch: [f32; N_BINS],
}

impl SpectralContrast {
    pub fn new() -> Self {
        Self {
            bands: bands(),
            scratch: [0.0; N_BINS],
        }
    }

    /// Writes the peak and valley of each band, in decibels before the `top_db` clip.
    pub fn apply(
        &mut self,
        power: &[f32; N_BINS],
        peak_db: &mut [f32; N_CONTRAST],
        valley_db: &mut [f32; N_CONTRAST],
    ) {
        for (k, band) in self.bands.iter().enumerate() {
            let scratch = &mut self.scratch[..band.len];
            for (s, &p) in scratch
                .iter_mut()
                .zip(&power[band.first..band.first + band.len])
            {
                *s = p.sqrt();
            }
            // Linear-time selection instead of librosa's full sort: only the `take`
            // smallest and largest values matter, not their order.
            let take = band.take;
            scratch.select_nth_unstable_by(take - 1, f32::total_cmp);
            let valley = mean(&scratch[..take]);
            let n = scratch.len();
            scratch.select_nth_unstable_by(n - take, f32::total_cmp);
            let peak = mean(&scratch[n - take..]);
            peak_db[k] = power_to_db(peak);
            valley_db[k] = power_to_db(valley);
        }
    }
}

impl Default for SpectralContrast {
    fn default() -> Self {
        Self::new()
    }
}

fn mean(values: &[f32]) -> f32 {
    values.iter().sum::<f32>() / values.len() as f32
}

/// The bands exactly as librosa slices them: octaves from 200 Hz; each band but the first
/// also takes the bin just below it, each but the last drops its top bin, and the last
/// runs to Nyquist. The quantile count is taken before the top bin is dropped.
fn bands() -> [Band; N_CONTRAST] {
    let freq = |k: usize| k as f64 * f64::from(SAMPLE_RATE) / N_FFT as f64;
    let mut out = [Band {
        first: 0,
        len: 1,
        take: 1,
    }; N_CONTRAST];
    for (k, band) in out.iter_mut().enumerate() {
        let f_low = if k == 0 {
            0.0
        } else {
            FMIN * 2f64.powi(k as i32 - 1)
        };
        let f_high = FMIN * 2f64.powi(k as i32);
        let inside: Vec<usize> = (0..N_BINS)
            .filter(|&i| freq(i) >= f_low && freq(i) <= f_high)
            .collect();
        let (Some(&lo), Some(&hi)) = (inside.first(), inside.last()) else {
            continue;
        };
        let first = if k > 0 { lo - 1 } else { lo };
        let last = if k == N_CONTRAST - 1 { N_BINS - 1 } else { hi };
        let selected = last - first + 1;
        let take = ((QUANTILE * selected as f64).round_ties_even() as usize).max(1);
        let len = if k < N_CONTRAST - 1 {
            selected - 1
        } else {
            selected
        };
        *band = Band { first, len, take };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The band edges worked out by hand from librosa's slicing for 31.25 Hz bins.
    #[test]
    fn bands_match_librosa_slicing() {
        let b = bands();
        let got: Vec<(usize, usize, usize)> = b.iter().map(|b| (b.first, b.len, b.take)).collect();
        assert_eq!(
            got,
            vec![
                (0, 6, 1),
                (6, 6, 1),
                (12, 13, 1),
                (25, 26, 1),
                (51, 51, 1),
                (102, 102, 2),
                (204, 53, 1)
            ]
        );
    }
}
