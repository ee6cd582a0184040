//! Whole-signal resampling to 16 kHz with rubato's synchronous FFT resampler.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use super::SAMPLE_RATE;

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

/// Resamples a live mono stream to 16 kHz as it arrives, in blocks of about 10 ms (rubato's
/// FFT resampler with a fixed input block, fed from a buffer, so any chunking works). The
/// resampler's delay is dropped from the start of the output: output sample `i` belongs
/// to input time `i / 16000`, as with [`to_16k`].
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
}

impl StreamResampler {
    pub fn new(rate: u32) -> Result<Self, String> {
        if rate == SAMPLE_RATE {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                out: Vec::new(),
                skip: 0,
            });
        }
        if rate == 0 {
            return Err("the sample rate is 0 Hz".to_owned());
        }
        let (rate_in, rate_out) = (rate as usize, SAMPLE_RATE as usize);
        let min_block = rate_in / gcd(rate_in, rate_out);
        let block = (rate_in / 100).div_ceil(min_block).max(1) * min_block;
        let inner = Fft::<f32>::new_custom(
            rate_in,
            rate_out,
            block,
            1,
            1,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            pending: Vec::with_capacity(4 * block),
            out: vec![0.0; inner.output_frames_max()],
            skip: inner.output_delay(),
            inner: Some(inner),
        })
    }

    /// Feeds samples at the input rate; calls `emit` with every 16 kHz block they complete.
    pub fn push(&mut self, mono: &[f32], mut emit: impl FnMut(&[f32])) -> Result<(), String> {
        let Some(inner) = self.inner.as_mut() else {
            emit(mono);
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let mut start = 0;
        while self.pending.len() - start >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let input = InterleavedSlice::new(&self.pending[start..start + need], 1, need)
                .map_err(|e| e.to_string())?;
            let capacity = self.out.len();
            let mut output =
                InterleavedSlice::new_mut(&mut self.out, 1, capacity).map_err(|e| e.to_string())?;
            let (used, produced) = inner
                .process_into_buffer(&input, &mut output, None)
                .map_err(|e| e.to_string())?;
            start += used;
            let dropped = self.skip.min(produced);
            self.skip -= dropped;
            if produced > dropped {
                emit(&self.out[dropped..produced]);
            }
        }
        self.pending.drain(..start);
        Ok(())
    }
}
