//! `abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=400, window='hann',
//! center=True, pad_mode='constant'))**2`, one frame at a time.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::{N_BINS, N_FFT, WIN_LENGTH};

/// First sample of the FFT frame that the 400-sample window covers: librosa centres
/// a short window inside the FFT frame with zeros on both sides.
const WIN_OFFSET: usize = (N_FFT - WIN_LENGTH) / 2;

/// A real FFT of one 512-sample frame with the Hann window applied, and the buffers
/// it needs, so computing a frame never allocates.
pub struct PowerSpectrum {
    fft: Arc<dyn RealToComplex<f64>>,
    window: [f64; WIN_LENGTH],
    input: Vec<f64>,
    output: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl PowerSpectrum {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let input = fft.make_input_vec();
        let output = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        Self {
            fft,
            window: hann_periodic(),
            input,
            output,
            scratch,
        }
    }

    /// Writes the power spectrum of one frame of `N_FFT` samples into `power`.
    ///
    /// The FFT runs in f64 and is rounded to f32 before squaring, as librosa does: it
    /// multiplies float32 frames by a float64 window, so numpy transforms in float64 and
    /// stores the result as complex64.
    pub fn compute(&mut self, frame: &[f32; N_FFT], power: &mut [f32; N_BINS]) {
        self.input.fill(0.0);
        let windowed = &frame[WIN_OFFSET..WIN_OFFSET + WIN_LENGTH];
        for ((dst, &x), &w) in self.input[WIN_OFFSET..WIN_OFFSET + WIN_LENGTH]
            .iter_mut()
            .zip(windowed)
            .zip(&self.window)
        {
            *dst = f64::from(x) * w;
        }
        // The buffers were made by this plan, so their lengths always fit; a failure here
        // would be a bug in this file, and the frame is then reported as silence.
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .is_err()
        {
            power.fill(0.0);
            return;
        }
        for (p, c) in power.iter_mut().zip(&self.output) {
            let (re, im) = (c.re as f32, c.im as f32);
            *p = re * re + im * im;
        }
    }
}

impl Default for PowerSpectrum {
    fn default() -> Self {
        Self::new()
    }
}

/// `scipy.signal.get_window('hann', 400, fftbins=True)`: the periodic Hann window.
fn hann_periodic() -> [f64; WIN_LENGTH] {
    let mut w = [0.0; WIN_LENGTH];
    for (n, v) in w.iter_mut().enumerate() {
        *v = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / WIN_LENGTH as f64).cos();
    }
    w
}
