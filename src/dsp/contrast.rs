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
            // Only the `take` smallest and largest values matter, not their order, so a
            // selection replaces librosa's full sort. The square root is monotonic:
            // selecting on power and rooting only the chosen values gives the magnitudes
            // librosa averages.
            let values = &power[band.first..band.first + band.len];
            let (valley, peak) = if band.take == 1 {
                // Six of the seven bands: plain minimum and maximum, which vectorise.
                let min = values.iter().copied().fold(f32::INFINITY, f32::min);
                let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                (min.sqrt(), max.sqrt())
            } else if band.take <= SMALL_TAKE {
                extremes_small(values, band.take)
            } else {
                let scratch = &mut self.scratch[..band.len];
                scratch.copy_from_slice(values);
                extremes_select(scratch, band.take)
            };
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

/// Up to this many values per side are found by one scan; more by selection.
const SMALL_TAKE: usize = 4;

/// Means of the square roots of the `take` smallest and the `take` largest values, in one
/// pass that keeps two short sorted lists (`take` is 1 or 2 for emovox's bands).
fn extremes_small(values: &[f32], take: usize) -> (f32, f32) {
    let mut low = [f32::INFINITY; SMALL_TAKE];
    let mut high = [f32::NEG_INFINITY; SMALL_TAKE];
    let (low, high) = (&mut low[..take], &mut high[..take]);
    for &v in values {
        // `low` ascending: insert v if it beats the largest kept.
        if v < low[take - 1] {
            let mut i = take - 1;
            while i > 0 && low[i - 1] > v {
                low[i] = low[i - 1];
                i -= 1;
            }
            low[i] = v;
        }
        // `high` descending: insert v if it beats the smallest kept.
        if v > high[take - 1] {
            let mut i = take - 1;
            while i > 0 && high[i - 1] < v {
                high[i] = high[i - 1];
                i -= 1;
            }
            high[i] = v;
        }
    }
    (mean_sqrt(low), mean_sqrt(high))
}

/// The same by linear-time selection, for wide bands; reorders `scratch`.
fn extremes_select(scratch: &mut [f32], take: usize) -> (f32, f32) {
    scratch.select_nth_unstable_by(take - 1, f32::total_cmp);
    let valley = mean_sqrt(&scratch[..take]);
    let n = scratch.len();
    scratch.select_nth_unstable_by(n - take, f32::total_cmp);
    (valley, mean_sqrt(&scratch[n - take..]))
}

fn mean_sqrt(powers: &[f32]) -> f32 {
    powers.iter().map(|p| p.sqrt()).sum::<f32>() / powers.len() as f32
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
    fn scan_and_selection_agree() {
        let values: Vec<f32> = (0..103)
            .map(|i| ((i * 37) % 101) as f32 * 0.5 + 0.25)
            .collect();
        for take in 1..=SMALL_TAKE {
            let mut scratch = values.clone();
            assert_eq!(
                extremes_small(&values, take),
                extremes_select(&mut scratch, take),
                "take {take}"
            );
        }
    }

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
