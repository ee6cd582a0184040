//! The voice detector's first layer: STFT magnitudes of 256-sample frames, which Silero
//! writes as a convolution with a fixed basis. The basis it ships is the DFT under a
//! periodic Hann window (checked at load to 1e-6), so an FFT gives the same magnitudes to
//! float rounding with a tenth of the arithmetic (the products with the basis were over
//! half of the detector's work). A basis that is anything else keeps the products.

use std::f64::consts::PI;
use std::fmt;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::dots::Weights;

/// How far the shipped basis may be from the Hann-windowed DFT (it is within 8e-8).
const BASIS_TOLERANCE: f64 = 1e-6;

#[derive(Clone)]
pub(super) enum Spectrum {
    Fft {
        window: Vec<f32>,
        fft: Arc<dyn Fft<f32>>,
        bins: usize,
    },
    Basis {
        weights: Weights,
        bins: usize,
    },
}

impl fmt::Debug for Spectrum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spectrum::Fft { window, .. } => write!(f, "Spectrum::Fft({} samples)", window.len()),
            Spectrum::Basis { weights, .. } => write!(f, "Spectrum::Basis({weights:?})"),
        }
    }
}

/// Buffers reused from call to call.
#[derive(Clone, Debug, Default)]
pub(super) struct SpectrumScratch {
    buffer: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    products: Vec<f32>,
}

impl Spectrum {
    /// From the basis `[2·bins][filter]`: real parts, then imaginary parts.
    pub fn new(basis: &[f32], bins: usize, filter: usize) -> Self {
        if filter > 0 && is_hann_dft(basis, bins, filter) {
            return Self::fft(filter, bins);
        }
        Self::Basis {
            weights: Weights::new(basis, 2 * bins, filter),
            bins,
        }
    }

    fn fft(filter: usize, bins: usize) -> Self {
        let window = (0..filter).map(|k| hann(k, filter) as f32).collect();
        Self::Fft {
            window,
            fft: FftPlanner::new().plan_fft_forward(filter),
            bins,
        }
    }

    /// Magnitudes `[frame][bins]` of `frames` (rows of `filter` samples) into `out`.
    pub fn magnitudes(&self, frames: &[f32], scratch: &mut SpectrumScratch, out: &mut Vec<f32>) {
        out.clear();
        match self {
            Spectrum::Fft { window, fft, bins } => {
                let n = window.len();
                let buffer = &mut scratch.buffer;
                buffer.clear();
                for frame in frames.chunks_exact(n) {
                    buffer.extend(
                        frame
                            .iter()
                            .zip(window)
                            .map(|(x, w)| Complex::new(x * w, 0.0)),
                    );
                }
                scratch
                    .fft
                    .resize(fft.get_inplace_scratch_len(), Complex::default());
                if !buffer.is_empty() {
                    fft.process_with_scratch(buffer, &mut scratch.fft);
                }
                for spectrum in buffer.chunks_exact(n) {
                    out.extend(
                        spectrum[..*bins]
                            .iter()
                            .map(|c| (c.re * c.re + c.im * c.im).sqrt()),
                    );
                }
            }
            Spectrum::Basis { weights, bins } => {
                let m = frames.len() / weights.n().max(1);
                let products = &mut scratch.products;
                products.clear();
                products.resize(m * 2 * bins, 0.0);
                weights.apply(frames, products);
                for frame in products.chunks_exact(2 * bins) {
                    let (re, im) = frame.split_at(*bins);
                    out.extend(re.iter().zip(im).map(|(r, i)| (r * r + i * i).sqrt()));
                }
            }
        }
    }
}

/// The periodic Hann window, as `torch.hann_window(n)` gives it.
fn hann(k: usize, n: usize) -> f64 {
    0.5 - 0.5 * (2.0 * PI * k as f64 / n as f64).cos()
}

/// Whether `basis` is the windowed DFT: row `bin` = cos(2π·bin·k/n)·w[k], row
/// `bins + bin` = −sin(2π·bin·k/n)·w[k].
fn is_hann_dft(basis: &[f32], bins: usize, filter: usize) -> bool {
    if basis.len() != 2 * bins * filter || bins != filter / 2 + 1 {
        return false;
    }
    (0..bins).all(|bin| {
        (0..filter).all(|k| {
            let angle = 2.0 * PI * (bin * k % filter) as f64 / filter as f64;
            let w = hann(k, filter);
            let re = f64::from(basis[bin * filter + k]);
            let im = f64::from(basis[(bins + bin) * filter + k]);
            (re - angle.cos() * w).abs() < BASIS_TOLERANCE
                && (im + angle.sin() * w).abs() < BASIS_TOLERANCE
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fft_gives_the_basis_products_magnitudes() {
        let (bins, filter) = (129, 256);
        let Spectrum::Fft { window, .. } = Spectrum::fft(filter, bins) else {
            unreachable!()
        };
        // The Hann DFT basis, built as Silero builds it, is recognised…
        let mut basis = vec![0.0f32; 2 * bins * filter];
        for bin in 0..bins {
            for k in 0..filter {
                let angle = 2.0 * PI * (bin * k) as f64 / filter as f64;
                basis[bin * filter + k] = (angle.cos() * f64::from(window[k])) as f32;
                basis[(bins + bin) * filter + k] = (-angle.sin() * f64::from(window[k])) as f32;
            }
        }
        let fast = Spectrum::new(&basis, bins, filter);
        assert!(matches!(fast, Spectrum::Fft { .. }), "{fast:?}");
        // …and gives the magnitudes of the products with it.
        let slow = Spectrum::Basis {
            weights: Weights::new(&basis, 2 * bins, filter),
            bins,
        };
        let frames: Vec<f32> = (0..3 * filter)
            .map(|i| (i as f32 * 0.37).sin() * 0.3 + (i as f32 * 0.011).cos() * 0.1)
            .collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut scratch = SpectrumScratch::default();
        fast.magnitudes(&frames, &mut scratch, &mut a);
        slow.magnitudes(&frames, &mut scratch, &mut b);
        assert_eq!(a.len(), 3 * bins);
        let peak = b.iter().copied().fold(0.0f32, f32::max);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5 * peak, "{x} vs {y} (peak {peak})");
        }
        // A basis that is not the windowed DFT keeps the products.
        basis[5] += 0.01;
        assert!(matches!(
            Spectrum::new(&basis, bins, filter),
            Spectrum::Basis { .. }
        ));
    }
}
