//! Whole-signal resampling to 16 kHz with rubato's synchronous FFT resampler.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use crate::dsp::SAMPLE_RATE;

/// Resamples a mono signal from `rate` to 16 kHz. The output has `ceil(n · 16000 / rate)`
/// samples and no delay, the length `librosa.resample` gives.
pub fn to_16k(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE {
        return Ok(mono.to_vec());
    }
    let (rate_in, rate_out) = (rate as usize, SAMPLE_RATE as usize);
    // rubato trims its delay as half an FFT block, rounded down to whole output frames.
    // With an odd block on either side that is off by a fraction of a sample (0.5 sample
    // at 96 kHz, 0.2 at 44.1 kHz), so the block is made an even multiple of the smallest
    // block the two rates allow.
    let min_block_in = rate_in / gcd(rate_in, rate_out);
    let blocks = 1024usize.div_ceil(min_block_in).next_multiple_of(2);
    let mut resampler = Fft::<f64>::new_custom(
        rate_in,
        rate_out,
        blocks * min_block_in,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Both,
    )
    .map_err(|e| e.to_string())?;
    run_whole(&mut resampler, mono)
}

/// Resamples a whole mono clip, delay trimmed. f64 inside: the resampler's rounding then
/// stays far below the 16-bit noise floor.
fn run_whole(resampler: &mut dyn Resampler<f64>, mono: &[f32]) -> Result<Vec<f32>, String> {
    let input: Vec<f64> = mono.iter().map(|&x| f64::from(x)).collect();
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data().into_iter().map(|x| x as f32).collect())
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Resamples by an arbitrary ratio (output rate / input rate) with rubato's sinc
/// resampler: `ceil(n · ratio)` samples out, no delay. Used for pitch shifting, where the
/// ratio is a power of 2^(1/12) and has no small integer form.
pub fn by_ratio(signal: &[f32], ratio: f64) -> Result<Vec<f32>, String> {
    use rubato::{Async, FixedAsync, SincInterpolationParameters};
    if !(ratio.is_finite() && ratio > 0.0) {
        return Err(format!("resampling ratio {ratio} is not a positive number"));
    }
    let mut resampler = Async::<f64>::new_sinc(
        ratio,
        1.0,
        &SincInterpolationParameters::new(128, WindowFunction::BlackmanHarris2),
        1024,
        1,
        FixedAsync::Input,
    )
    .map_err(|e| e.to_string())?;
    run_whole(&mut resampler, signal)
}
