//! Playing analysed audio back through the default output device, so the app can move a
//! cursor over the file as it is heard. The audio is resampled to the device's rate before
//! the stream starts; the callback then only copies from that buffer and advances an
//! atomic position: it never allocates, locks or waits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::capture::Stream;
use super::resample;
use super::SAMPLE_RATE;

/// Silence played after the signal: closing a stream drops what the device still
/// buffers, so the end of the signal would otherwise be cut off.
const TAIL_S: f64 = 0.25;

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("there is no audio output device")]
    NoDevice,
    #[error("cannot open the audio output \"{device}\": {reason}")]
    Open { device: String, reason: String },
    #[error("the audio output \"{device}\" takes {format} samples, which emovox cannot write")]
    Format { device: String, format: String },
    #[error("cannot convert the audio to the output's rate: {0}")]
    Resample(String),
}

/// What the callback and the app share.
struct Shared {
    /// Mono samples at the device's rate, then `TAIL_S` of silence.
    samples: Vec<f32>,
    /// Samples of the signal itself.
    audible: usize,
    /// The next sample to play.
    position: AtomicUsize,
    finished: AtomicBool,
}

/// Audio playing; stops when dropped or closed.
pub struct Playback {
    stream: Option<Stream>,
    shared: Arc<Shared>,
    rate: u32,
    /// Where in the 16 kHz signal playback started (seconds).
    start_s: f64,
    pub device: String,
}

impl Playback {
    /// Seconds into the signal that are being heard now.
    pub fn position_s(&self) -> f64 {
        let played = self
            .shared
            .position
            .load(Ordering::Relaxed)
            .min(self.shared.audible);
        self.start_s + played as f64 / f64::from(self.rate)
    }

    /// The end of the signal has been played (and the silence after it, so the device's
    /// buffer has let the last of the signal out before the stream is closed).
    pub fn finished(&self) -> bool {
        self.shared.finished.load(Ordering::Relaxed)
    }

    /// Stops the device (on a helper thread, at most a second: see [`Stream::close`]).
    pub fn stop(mut self) {
        if let Some(stream) = self.stream.take() {
            stream.close(Duration::from_secs(1));
        }
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.close(Duration::from_secs(1));
        }
    }
}

/// Plays a 16 kHz mono `signal` from `start_s` seconds on the default output device.
pub fn play(signal: &[f32], start_s: f64) -> Result<Playback, PlaybackError> {
    let host = cpal::default_host();
    let _quiet = super::capture::silence_alsa();
    let device = host
        .default_output_device()
        .ok_or(PlaybackError::NoDevice)?;
    let name = super::capture::device_name(&device);
    let open_err = |e: cpal::Error| PlaybackError::Open {
        device: name.clone(),
        reason: e.to_string(),
    };
    let supported = device.default_output_config().map_err(open_err)?;
    let (rate, channels, format) = (
        supported.sample_rate(),
        supported.channels(),
        supported.sample_format(),
    );
    let first = ((start_s.max(0.0) * f64::from(SAMPLE_RATE)) as usize).min(signal.len());
    let samples = if rate == SAMPLE_RATE {
        signal[first..].to_vec()
    } else {
        resample::by_ratio(&signal[first..], f64::from(rate) / f64::from(SAMPLE_RATE))
            .map_err(PlaybackError::Resample)?
    };
    let audible = samples.len();
    let mut samples = samples;
    samples.resize(audible + (f64::from(rate) * TAIL_S) as usize, 0.0);
    let shared = Arc::new(Shared {
        samples,
        audible,
        position: AtomicUsize::new(0),
        finished: AtomicBool::new(false),
    });
    let config = supported.config();
    let s = Arc::clone(&shared);
    let stream = match format {
        SampleFormat::F32 => build::<f32>(&device, config, s, channels),
        SampleFormat::I16 => build::<i16>(&device, config, s, channels),
        SampleFormat::I32 => build::<i32>(&device, config, s, channels),
        SampleFormat::U16 => build::<u16>(&device, config, s, channels),
        SampleFormat::U8 => build::<u8>(&device, config, s, channels),
        SampleFormat::F64 => build::<f64>(&device, config, s, channels),
        other => {
            return Err(PlaybackError::Format {
                device: name,
                format: other.to_string(),
            })
        }
    }
    .map_err(open_err)?;
    stream.play().map_err(open_err)?;
    Ok(Playback {
        stream: Some(Stream::new(stream)),
        shared,
        rate,
        start_s: first as f64 / f64::from(SAMPLE_RATE),
        device: name,
    })
}

/// An output stream whose callback copies the next samples to every channel (silence
/// after the end).
fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    shared: Arc<Shared>,
    channels: u16,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let channels = usize::from(channels.max(1));
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
            let mut position = shared.position.load(Ordering::Relaxed);
            for frame in out.chunks_mut(channels) {
                let x = shared.samples.get(position).copied().unwrap_or(0.0);
                position = (position + 1).min(shared.samples.len());
                frame.fill(T::from_sample(x));
            }
            shared.position.store(position, Ordering::Relaxed);
            if position >= shared.samples.len() {
                shared.finished.store(true, Ordering::Relaxed);
            }
        },
        // Output errors show as a cursor that stops; the app offers Play again.
        |_e: cpal::Error| {},
        Some(Duration::from_secs(5)),
    )
}
