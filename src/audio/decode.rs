//! Any audio file a user may have → mono f32 at 16 kHz: WAV through [`super::wav`],
//! FLAC, MP3 and Ogg Vorbis through symphonia; downmix by mean (as `librosa.to_mono`),
//! then resample with rubato.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::resample;
use super::wav::{self, Interleaved, WavError};
use super::SAMPLE_RATE;

/// Files larger than this are refused before reading: a 2-hour 48 kHz stereo float WAV
/// is about 2.8 GB, far beyond anything emovox analyses.
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Decoded audio longer than this is refused, so a small compressed file cannot expand
/// into unbounded memory.
pub const MAX_SECONDS: u64 = 2 * 60 * 60;
pub const MIN_RATE: u32 = 8_000;
pub const MAX_RATE: u32 = 192_000;
pub const MAX_CHANNELS: u16 = 64;

/// Why a file could not be decoded. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{}: cannot read the file: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: the file is empty", path.display())]
    EmptyFile { path: PathBuf },
    #[error("{}: the file is {size} bytes, more than the {} byte limit", path.display(), MAX_FILE_BYTES)]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}: not an audio file emovox can read (WAV, FLAC, MP3 or Ogg Vorbis)", path.display())]
    NotAudio { path: PathBuf },
    #[error("{}: the WAV header is cut short (in its {what})", path.display())]
    TruncatedHeader { path: PathBuf, what: &'static str },
    #[error("{}: the WAV header claims {claimed} bytes of audio but the file holds {present}", path.display())]
    TruncatedData {
        path: PathBuf,
        claimed: u64,
        present: u64,
    },
    #[error("{}: unsupported audio format: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: the file holds no audio samples", path.display())]
    NoSamples { path: PathBuf },
    #[error("{}: sample {index} is not a finite number (NaN or infinity)", path.display())]
    NonFinite { path: PathBuf, index: usize },
    #[error("{}: sample rate {rate} Hz is outside the {MIN_RATE}–{MAX_RATE} Hz emovox reads", path.display())]
    SampleRate { path: PathBuf, rate: u32 },
    #[error("{}: {channels} channels is more than the {MAX_CHANNELS} emovox reads", path.display())]
    Channels { path: PathBuf, channels: u16 },
    #[error("{}: longer than the {limit_s} s limit", path.display())]
    TooLong { path: PathBuf, limit_s: u64 },
    #[error("{}: the audio stream is damaged: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error("{}: resampling from {rate} Hz failed: {what}", path.display())]
    Resample {
        path: PathBuf,
        rate: u32,
        what: String,
    },
}

/// A decoded file: mono 16 kHz samples and what the file held before conversion.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// Mono f32 samples at 16 kHz.
    pub samples: Vec<f32>,
    pub source_rate: u32,
    pub source_channels: u16,
}

impl Decoded {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Reads and decodes a file.
pub fn decode_file(path: &Path) -> Result<Decoded, DecodeError> {
    let io = |reason| DecodeError::Io {
        path: path.to_owned(),
        reason,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    decode_bytes(&bytes, path)
}

/// Decodes a file already in memory; `path` names it in errors and hints its format.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Decoded, DecodeError> {
    decode_bytes_limited(bytes, path, MAX_SECONDS)
}

/// [`decode_bytes`] refusing audio longer than `max_seconds` while it decodes, so a small
/// compressed file (minutes of digital silence compress to almost nothing) cannot expand
/// into gigabytes before its length is known. The HTTP server's limit.
pub fn decode_bytes_limited(
    bytes: &[u8],
    path: &Path,
    max_seconds: u64,
) -> Result<Decoded, DecodeError> {
    let max_seconds = max_seconds.min(MAX_SECONDS);
    let owned = || path.to_owned();
    if bytes.is_empty() {
        return Err(DecodeError::EmptyFile { path: owned() });
    }
    let audio = if wav::looks_like_wav(bytes) {
        wav::parse(bytes).map_err(|e| match e {
            WavError::TruncatedHeader(what) => DecodeError::TruncatedHeader {
                path: owned(),
                what,
            },
            WavError::TruncatedData { claimed, present } => DecodeError::TruncatedData {
                path: owned(),
                claimed,
                present,
            },
            WavError::Unsupported(what) => DecodeError::Unsupported {
                path: owned(),
                what,
            },
            WavError::NonFinite { index } => DecodeError::NonFinite {
                path: owned(),
                index,
            },
        })?
    } else {
        decode_compressed(bytes, path, max_seconds)?
    };
    to_mono_16k(audio, path, max_seconds)
}

/// Checks the layout, downmixes by mean and resamples.
fn to_mono_16k(audio: Interleaved, path: &Path, max_seconds: u64) -> Result<Decoded, DecodeError> {
    let Interleaved {
        sample_rate,
        channels,
        samples,
    } = audio;
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(DecodeError::SampleRate {
            path: path.to_owned(),
            rate: sample_rate,
        });
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(DecodeError::Channels {
            path: path.to_owned(),
            channels,
        });
    }
    if samples.len() < usize::from(channels) {
        return Err(DecodeError::NoSamples {
            path: path.to_owned(),
        });
    }
    if samples.len() as u64 / u64::from(channels) > max_seconds * u64::from(sample_rate) {
        return Err(DecodeError::TooLong {
            path: path.to_owned(),
            limit_s: max_seconds,
        });
    }
    let mono = downmix(&samples, usize::from(channels));
    let samples = resample::to_16k(&mono, sample_rate).map_err(|what| DecodeError::Resample {
        path: path.to_owned(),
        rate: sample_rate,
        what,
    })?;
    Ok(Decoded {
        samples,
        source_rate: sample_rate,
        source_channels: channels,
    })
}

/// The mean of the channels of each frame, as `librosa.to_mono`.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    match channels {
        1 => interleaved.to_vec(),
        2 => interleaved
            .chunks_exact(2)
            .map(|f| (f[0] + f[1]) / 2.0)
            .collect(),
        n => interleaved
            .chunks_exact(n)
            .map(|f| f.iter().sum::<f32>() / n as f32)
            .collect(),
    }
}

/// FLAC, MP3 and Ogg Vorbis through symphonia. A decoder panic on hostile input is
/// caught and reported as a damaged file rather than taking the program down.
fn decode_compressed(
    bytes: &[u8],
    path: &Path,
    max_seconds: u64,
) -> Result<Interleaved, DecodeError> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        symphonia_decode(bytes, path, max_seconds)
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err(DecodeError::Corrupt {
            path: path.to_owned(),
            what: "the decoder gave up".into(),
        }),
    }
}

fn symphonia_decode(
    bytes: &[u8],
    path: &Path,
    max_seconds: u64,
) -> Result<Interleaved, DecodeError> {
    let corrupt = |e: SymphoniaError| DecodeError::Corrupt {
        path: path.to_owned(),
        what: e.to_string(),
    };
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions {
                enable_gapless: true,
                ..Default::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|_| DecodeError::NotAudio {
            path: path.to_owned(),
        })?;
    let mut format = probed.format;
    let Some(track) = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
    else {
        return Err(DecodeError::NoSamples {
            path: path.to_owned(),
        });
    };
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unsupported {
            path: path.to_owned(),
            what: e.to_string(),
        })?;
    let mut samples = Vec::new();
    let mut layout: Option<(u32, u16)> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(corrupt(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet is skipped, as every player does.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(corrupt(e)),
        };
        let spec = *decoded.spec();
        let channels = u16::try_from(spec.channels.count()).unwrap_or(u16::MAX);
        let (rate, ch) = *layout.get_or_insert((spec.rate, channels));
        if (rate, ch) != (spec.rate, channels) {
            return Err(DecodeError::Unsupported {
                path: path.to_owned(),
                what: "the sample rate or channel count changes mid-stream".into(),
            });
        }
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(DecodeError::SampleRate {
                path: path.to_owned(),
                rate,
            });
        }
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        samples.extend_from_slice(buffer.samples());
        if samples.len() as u64 > max_seconds * u64::from(rate) * u64::from(ch.max(1)) {
            return Err(DecodeError::TooLong {
                path: path.to_owned(),
                limit_s: max_seconds,
            });
        }
    }
    let Some((sample_rate, channels)) = layout else {
        return Err(DecodeError::NoSamples {
            path: path.to_owned(),
        });
    };
    if let Some(index) = samples.iter().position(|x| !x.is_finite()) {
        return Err(DecodeError::NonFinite {
            path: path.to_owned(),
            index,
        });
    }
    Ok(Interleaved {
        sample_rate,
        channels,
        samples,
    })
}
