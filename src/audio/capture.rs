//! Microphones through cpal: listing input devices and opening one whose callback only
//! copies samples into the ring. With `playback.rs`, the only code that knows cpal.

use std::fmt;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use crossbeam_channel::{Receiver, Sender};

use super::ring::{ring, RingReader, RingWriter};

/// Seconds of device audio the ring holds: far more than the worker ever lags, so samples
/// are dropped only if the worker stalls.
const RING_SECONDS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no audio system is reachable ({reason}); is a sound server or sound card present?")]
    NoHost { reason: String },
    #[error("there is no default input device (no microphone found)")]
    NoDefault,
    #[error("no input device matches \"{wanted}\"; `emovox devices` lists them")]
    NoMatch { wanted: String },
    #[error("\"{wanted}\" matches several input devices: {}; give its index", names.join(", "))]
    Ambiguous { wanted: String, names: Vec<String> },
    #[error("input device {index} does not exist: there are {count}")]
    NoIndex { index: usize, count: usize },
    #[error("cannot open the input device \"{device}\": {reason}")]
    Open { device: String, reason: String },
    #[error("the input device \"{device}\" delivers {format} samples, which emovox cannot read")]
    Format { device: String, format: String },
}

/// Which input device to open.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Default,
    /// Position in the list `emovox devices` prints.
    Index(usize),
    /// The device's name or its cpal id, or an unambiguous part of its name.
    Name(String),
}

impl DeviceChoice {
    /// "3" is an index, anything else a name.
    pub fn parse(text: &str) -> Self {
        match text.trim().parse::<usize>() {
            Ok(i) => Self::Index(i),
            Err(_) => Self::Name(text.trim().to_owned()),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default input"),
            Self::Index(i) => write!(f, "input device {i}"),
            Self::Name(n) => write!(f, "\"{n}\""),
        }
    }
}

/// An input device as `emovox devices` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub index: usize,
    pub name: String,
    /// cpal's id, stable across runs (what settings should store).
    pub id: String,
    pub default_rate: Option<u32>,
    pub default_channels: Option<u16>,
    pub is_default: bool,
}

/// The input devices of the default host, in cpal's order.
pub fn input_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let _quiet = silence_alsa();
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
    let devices = host.input_devices().map_err(|e| CaptureError::NoHost {
        reason: e.to_string(),
    })?;
    Ok(devices
        .enumerate()
        .map(|(index, device)| {
            let id = device.id().map(|id| id.to_string()).unwrap_or_default();
            let config = device.default_input_config().ok();
            DeviceInfo {
                index,
                name: device_name(&device),
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
                default_rate: config.as_ref().map(|c| c.sample_rate()),
                default_channels: config.as_ref().map(|c| c.channels()),
            }
        })
        .collect())
}

/// A running microphone stream.
pub struct Capture {
    /// The device runs while this lives; [`Stream::close`] stops it.
    pub stream: Stream,
    pub device: String,
    pub rate: u32,
    pub channels: u16,
    /// Errors the device reported after it started, in words.
    pub errors: Receiver<String>,
    pub reader: RingReader,
}

/// Opens an input device with its default configuration and starts it.
pub fn open(choice: &DeviceChoice) -> Result<Capture, CaptureError> {
    let _quiet = silence_alsa();
    let host = cpal::default_host();
    let device = find(&host, choice)?;
    let name = device_name(&device);
    let open_err = |e: cpal::Error| CaptureError::Open {
        device: name.clone(),
        reason: e.to_string(),
    };
    let supported = device.default_input_config().map_err(open_err)?;
    let (rate, channels, format) = (
        supported.sample_rate(),
        supported.channels(),
        supported.sample_format(),
    );
    let capacity = (rate as usize * usize::from(channels) * RING_SECONDS).max(4096);
    let (writer, reader) = ring(capacity);
    let (err_tx, errors) = crossbeam_channel::bounded(16);
    let config = supported.config();
    let stream = match format {
        SampleFormat::F32 => build::<f32>(&device, config, writer, err_tx),
        SampleFormat::F64 => build::<f64>(&device, config, writer, err_tx),
        SampleFormat::I16 => build::<i16>(&device, config, writer, err_tx),
        SampleFormat::I32 => build::<i32>(&device, config, writer, err_tx),
        SampleFormat::I8 => build::<i8>(&device, config, writer, err_tx),
        SampleFormat::U8 => build::<u8>(&device, config, writer, err_tx),
        SampleFormat::U16 => build::<u16>(&device, config, writer, err_tx),
        SampleFormat::U32 => build::<u32>(&device, config, writer, err_tx),
        other => {
            return Err(CaptureError::Format {
                device: name,
                format: other.to_string(),
            })
        }
    }
    .map_err(open_err)?;
    // Streams start paused in cpal 0.18; this is the one place that starts one.
    stream.play().map_err(open_err)?;
    Ok(Capture {
        stream: Stream(stream),
        device: name,
        rate,
        channels,
        errors,
        reader,
    })
}

/// An open cpal stream.
pub struct Stream(
    #[allow(
        dead_code,
        reason = "held for its Drop: the device runs while it lives"
    )]
    cpal::Stream,
);

impl Stream {
    pub(super) fn new(stream: cpal::Stream) -> Self {
        Self(stream)
    }

    /// Stops the device, waiting at most `wait`. Closing is done on a thread of its own
    /// because it can hang: when the PulseAudio server dies, its ALSA plugin deadlocks
    /// inside the capture thread that closing must join. The caller then goes on, and
    /// the stuck thread ends with the process. Returns whether the device closed in time.
    pub fn close(self, wait: Duration) -> bool {
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let closer = std::thread::Builder::new()
            .name("emovox-close-device".into())
            .spawn(move || {
                drop(self);
                let _ = done_tx.send(());
            });
        closer.is_ok() && done.recv_timeout(wait).is_ok()
    }
}

/// Builds a stream whose data callback only converts and pushes into the ring.
fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut writer: RingWriter,
    errors: Sender<String>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Copy + Send + 'static,
    f32: FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            writer.write_converted(data, |s| s.to_sample::<f32>());
        },
        move |e: cpal::Error| {
            // Reroutes and overruns are survivable; everything else ends the stream.
            if !matches!(
                e.kind(),
                cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::Xrun
            ) {
                let _ = errors.try_send(e.to_string());
            }
        },
        Some(Duration::from_secs(5)),
    )
}

fn find(host: &cpal::Host, choice: &DeviceChoice) -> Result<cpal::Device, CaptureError> {
    let no_host = |e: cpal::Error| CaptureError::NoHost {
        reason: e.to_string(),
    };
    match choice {
        DeviceChoice::Default => host.default_input_device().ok_or(CaptureError::NoDefault),
        DeviceChoice::Index(index) => {
            let devices: Vec<_> = host.input_devices().map_err(no_host)?.collect();
            let count = devices.len();
            devices
                .into_iter()
                .nth(*index)
                .ok_or(CaptureError::NoIndex {
                    index: *index,
                    count,
                })
        }
        DeviceChoice::Name(wanted) => {
            let devices: Vec<_> = host.input_devices().map_err(no_host)?.collect();
            let exact = devices.iter().position(|d| {
                device_name(d) == *wanted || d.id().is_ok_and(|id| id.to_string() == *wanted)
            });
            if let Some(i) = exact {
                return devices.into_iter().nth(i).ok_or(CaptureError::NoDefault);
            }
            let needle = wanted.to_lowercase();
            let mut partial: Vec<_> = devices
                .into_iter()
                .filter(|d| device_name(d).to_lowercase().contains(&needle))
                .collect();
            match partial.len() {
                0 => Err(CaptureError::NoMatch {
                    wanted: wanted.clone(),
                }),
                1 => Ok(partial.remove(0)),
                _ => Err(CaptureError::Ambiguous {
                    wanted: wanted.clone(),
                    names: partial.iter().map(device_name).collect(),
                }),
            }
        }
    }
}

pub(super) fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .or_else(|_| device.id().map(|id| id.to_string()))
        .unwrap_or_else(|_| "unnamed device".to_owned())
}

/// alsa-lib prints its probing of every card to stderr; this sends it to a buffer
/// instead, on this thread, while the returned value lives.
#[cfg(target_os = "linux")]
pub(super) fn silence_alsa() -> Option<impl Sized> {
    alsa::Output::local_error_handler().ok()
}

#[cfg(not(target_os = "linux"))]
pub(super) fn silence_alsa() -> Option<()> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choice_reads_indices_and_names() {
        assert_eq!(DeviceChoice::parse("2"), DeviceChoice::Index(2));
        assert_eq!(
            DeviceChoice::parse(" virtmic "),
            DeviceChoice::Name("virtmic".into())
        );
    }
}
