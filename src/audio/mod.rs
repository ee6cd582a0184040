//! Getting audio in: any file a user has, as mono f32 at 16 kHz, and live microphones
//! through a lock-free ring; and out again, to play a file back (`playback`) or to record
//! what is heard into a WAV file as it comes (`wav_writer`).

pub mod capture;
pub mod decode;
pub mod files;
pub mod playback;
pub mod resample;
pub mod ring;
pub mod wav;
pub mod wav_writer;

pub use decode::{decode_bytes, decode_bytes_limited, decode_file, DecodeError, Decoded};
pub use wav_writer::WavStreamWriter;

/// The rate every signal in emovox is at: files are decoded and microphones resampled to
/// it, recordings are written at it, and the features (`dsp`) are computed at it.
pub const SAMPLE_RATE: u32 = 16_000;
