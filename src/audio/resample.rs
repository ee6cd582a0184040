//! Whole-signal resampling to 16 kHz with rubato's synchronous FFT resampler.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::dsp::SAMPLE_RATE;

/// Resamples a mono signal from `rate` to 16 kHz. The output has `ceil(n · 16000 / rate)`
/// samples and no delay, the length `librosa.resample` gives.
pub fn to_16k(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE {
        return Ok(mono.to_vec());
    }
    let input: Vec<f64> = mono.iter().map(|&x| f64::from(x)).collect();
    // f64 inside: the resampler's rounding then stays far below the 16-bit noise floor.
    let mut resampler = Fft::<f64>::new(
        rate as usize,
        SAMPLE_RATE as usize,
        1024,
        1,
        FixedSync::Both,
    )
    .map_err(|e| e.to_string())?;
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data().into_iter().map(|x| x as f32).collect())
}
