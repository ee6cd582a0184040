//! Audio augmentation for training (never for validation or test audio): pitch shift,
//! time stretch and noise at a chosen signal-to-noise ratio, after librosa's
//! `effects.pitch_shift` / `effects.time_stretch` (phase vocoder) that the seed used.

use std::f64::consts::PI;

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use super::rng::Rng;
use crate::audio::resample;

/// Phase-vocoder STFT size: 32 ms at 16 kHz, hop a quarter of it (librosa's default ratio).
const N_FFT: usize = 512;
const HOP: usize = N_FFT / 4;

/// Adds white Gaussian noise so that signal power / noise power is `snr_db`.
pub fn add_noise(signal: &[f32], snr_db: f64, rng: &mut Rng) -> Vec<f32> {
    let power =
        signal.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / signal.len().max(1) as f64;
    let sigma = (power / 10f64.powf(snr_db / 10.0)).sqrt();
    signal
        .iter()
        .map(|&x| (f64::from(x) + sigma * rng.normal()) as f32)
        .collect()
}

/// `librosa.effects.time_stretch(y, rate)`: `rate` > 1 is faster (shorter), < 1 slower; the
/// pitch stays. Returns `round(n / rate)` samples.
pub fn time_stretch(signal: &[f32], rate: f64) -> Vec<f32> {
    let out_len = (signal.len() as f64 / rate).round() as usize;
    if signal.is_empty() || !(rate.is_finite() && rate > 0.0) {
        return vec![0.0; out_len];
    }
    let spec = stft(signal);
    let stretched = phase_vocoder(&spec, rate);
    istft(&stretched, out_len)
}

/// The largest pitch shift made, four octaves: beyond it the intermediate stretch would be
/// more than 16 times the clip's length, or the resampled copy mostly silence.
pub const MAX_SEMITONES: f64 = 48.0;

/// A pitch shift that could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot shift the pitch by {semitones} semitones: {reason}")]
pub struct PitchShiftError {
    pub semitones: f64,
    pub reason: String,
}

/// `librosa.effects.pitch_shift(y, sr, n_steps)`: moves the pitch by `semitones`, keeps the
/// length. Time-stretches by 2^(-n/12), then resamples back to the original length. Fails
/// when the shift is not a number within ±[`MAX_SEMITONES`] or the resampler refuses the
/// ratio; it never hands back a copy that was stretched but not resampled (its pitch
/// unchanged).
pub fn try_pitch_shift(signal: &[f32], semitones: f64) -> Result<Vec<f32>, PitchShiftError> {
    let fail = |reason: String| PitchShiftError { semitones, reason };
    if semitones.is_nan() || semitones.abs() > MAX_SEMITONES {
        return Err(fail(format!(
            "shifts are at most {MAX_SEMITONES} semitones either way"
        )));
    }
    if signal.is_empty() {
        return Ok(Vec::new());
    }
    let rate = 2f64.powf(-semitones / 12.0);
    let stretched = time_stretch(signal, rate);
    let mut out = resample::by_ratio(&stretched, rate).map_err(fail)?;
    out.resize(signal.len(), 0.0);
    Ok(out)
}

/// [`try_pitch_shift`] for the training recipe, whose shifts are constants a few semitones
/// wide: a failure there is a bug, not something the audio can cause, so it stops training
/// with the reason (a panic) instead of quietly learning from an unshifted copy labelled as
/// a shifted voice.
pub fn pitch_shift(signal: &[f32], semitones: f64) -> Vec<f32> {
    try_pitch_shift(signal, semitones).unwrap_or_else(|e| panic!("{e}"))
}

fn hann() -> Vec<f64> {
    (0..N_FFT)
        .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / N_FFT as f64).cos())
        .collect()
}

/// Centred STFT (zero padding of N_FFT / 2 at both ends), frames × (N_FFT / 2 + 1).
fn stft(signal: &[f32]) -> Vec<Vec<Complex<f64>>> {
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
    let window = hann();
    let pad = N_FFT / 2;
    let frames = 1 + signal.len() / HOP;
    let mut input = fft.make_input_vec();
    let mut scratch = fft.make_scratch_vec();
    (0..frames)
        .map(|t| {
            for (i, x) in input.iter_mut().enumerate() {
                let at = (t * HOP + i).checked_sub(pad);
                let v = at.and_then(|a| signal.get(a)).copied().unwrap_or(0.0);
                *x = f64::from(v) * window[i];
            }
            let mut out = fft.make_output_vec();
            // Buffers come from this plan, so the lengths always fit.
            let _ = fft.process_with_scratch(&mut input, &mut out, &mut scratch);
            out
        })
        .collect()
}

/// librosa's `phase_vocoder`: frames at fractional steps of `rate`, magnitudes interpolated,
/// phases advanced by each bin's measured instantaneous frequency.
fn phase_vocoder(spec: &[Vec<Complex<f64>>], rate: f64) -> Vec<Vec<Complex<f64>>> {
    let bins = N_FFT / 2 + 1;
    let zero = vec![Complex::new(0.0, 0.0); bins];
    let frame = |t: usize| spec.get(t).unwrap_or(&zero);
    let advance: Vec<f64> = (0..bins)
        .map(|k| 2.0 * PI * HOP as f64 * k as f64 / N_FFT as f64)
        .collect();
    let mut phase: Vec<f64> = frame(0).iter().map(|c| c.arg()).collect();
    let mut out = Vec::new();
    let mut step = 0.0f64;
    while step < spec.len() as f64 {
        let t = step as usize;
        let alpha = step.fract();
        let (a, b) = (frame(t), frame(t + 1));
        let mut column = Vec::with_capacity(bins);
        for k in 0..bins {
            let mag = (1.0 - alpha) * a[k].norm() + alpha * b[k].norm();
            column.push(Complex::from_polar(mag, phase[k]));
            let mut dphase = b[k].arg() - a[k].arg() - advance[k];
            dphase -= 2.0 * PI * (dphase / (2.0 * PI)).round();
            phase[k] += advance[k] + dphase;
        }
        out.push(column);
        step += rate;
    }
    out
}

/// Inverse of [`stft`] by weighted overlap-add, trimmed or padded to `len` samples.
fn istft(spec: &[Vec<Complex<f64>>], len: usize) -> Vec<f32> {
    let ifft = RealFftPlanner::<f64>::new().plan_fft_inverse(N_FFT);
    let window = hann();
    let full = N_FFT + HOP * spec.len();
    let mut acc = vec![0.0f64; full];
    let mut norm = vec![0.0f64; full];
    let mut buf = ifft.make_output_vec();
    let mut scratch = ifft.make_scratch_vec();
    for (t, column) in spec.iter().enumerate() {
        let mut input = column.clone();
        // A real signal's spectrum has real DC and Nyquist bins; the vocoder's phases
        // need not, and realfft refuses them otherwise.
        if let Some(first) = input.first_mut() {
            first.im = 0.0;
        }
        if let Some(last) = input.last_mut() {
            last.im = 0.0;
        }
        let _ = ifft.process_with_scratch(&mut input, &mut buf, &mut scratch);
        for (i, (&x, &w)) in buf.iter().zip(&window).enumerate() {
            acc[t * HOP + i] += x / N_FFT as f64 * w;
            norm[t * HOP + i] += w * w;
        }
    }
    let pad = N_FFT / 2;
    (0..len)
        .map(|i| {
            let j = i + pad;
            match (acc.get(j), norm.get(j)) {
                (Some(&a), Some(&n)) if n > 1e-8 => (a / n) as f32,
                _ => 0.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, seconds: f64) -> Vec<f32> {
        (0..(16_000.0 * seconds) as usize)
            .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / 16_000.0).sin()) as f32)
            .collect()
    }

    /// Frequency of a sine from its zero crossings, away from the edges.
    fn frequency(signal: &[f32]) -> f64 {
        let middle = &signal[signal.len() / 8..signal.len() * 7 / 8];
        let crossings = middle
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        crossings as f64 / 2.0 / (middle.len() as f64 / 16_000.0)
    }

    #[test]
    fn pitch_shift_moves_a_sine_by_the_right_ratio_and_keeps_its_length() {
        let x = sine(440.0, 2.0);
        for semitones in [-2.0, -1.0, 1.5, 2.0] {
            let y = pitch_shift(&x, semitones);
            assert_eq!(y.len(), x.len());
            let want = 440.0 * 2f64.powf(semitones / 12.0);
            let got = frequency(&y);
            assert!(
                (got / want - 1.0).abs() < 0.005,
                "{semitones} st: {got:.1} Hz, want {want:.1}"
            );
        }
    }

    #[test]
    fn a_pitch_shift_that_cannot_be_made_is_an_error_never_an_unshifted_copy() {
        let x = sine(440.0, 0.5);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = try_pitch_shift(&x, bad).unwrap_err();
            assert!(err.to_string().contains("semitones"), "{err}");
        }
        // Shifts so large that 2^(-n/12) is no longer a usable ratio.
        assert!(try_pitch_shift(&x, 1e5).is_err());
        assert!(try_pitch_shift(&x, -1e5).is_err());
        assert!(try_pitch_shift(&x, MAX_SEMITONES).is_ok());
        // Nothing to shift is not a failure.
        assert_eq!(try_pitch_shift(&[], 2.0).unwrap(), Vec::<f32>::new());
        let silent = std::panic::catch_unwind(|| pitch_shift(&x, f64::NAN));
        assert!(
            silent.is_err(),
            "the recipe's form stops instead of skipping quietly"
        );
    }

    #[test]
    fn time_stretch_has_the_right_length_and_keeps_the_pitch() {
        let x = sine(300.0, 2.0);
        for rate in [0.85, 0.9, 1.1, 1.15] {
            let y = time_stretch(&x, rate);
            assert_eq!(y.len(), (x.len() as f64 / rate).round() as usize);
            let got = frequency(&y);
            assert!(
                (got / 300.0 - 1.0).abs() < 0.005,
                "rate {rate}: {got:.1} Hz"
            );
            // And it is still a sine of the same loudness, not noise or silence.
            let rms = |s: &[f32]| {
                (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
            };
            let (a, b) = (rms(&x), rms(&y[y.len() / 8..y.len() * 7 / 8]));
            assert!((b / a - 1.0).abs() < 0.1, "rate {rate}: rms {b} vs {a}");
        }
    }

    #[test]
    fn noise_lands_at_the_requested_snr() {
        let x = sine(200.0, 3.0);
        let mut rng = Rng::new(7);
        for snr in [10.0, 20.0, 30.0] {
            let y = add_noise(&x, snr, &mut rng);
            let signal: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
            let noise: f64 = x
                .iter()
                .zip(&y)
                .map(|(a, b)| f64::from(b - a).powi(2))
                .sum();
            let got = 10.0 * (signal / noise).log10();
            assert!((got - snr).abs() < 0.1, "asked {snr} dB, got {got:.2}");
        }
    }
}
