//! Frame features that match librosa 0.11, computed from one STFT.
//!
//! One file per librosa function; each doc comment names the call it matches. The
//! [`extractor`] streams frames from audio fed in chunks of any size, and [`Features`]
//! computes a whole signal at once, the way librosa does.

pub mod chroma;
pub mod contrast;
pub mod db;
pub mod extractor;
pub mod features;
pub mod mel;
pub mod mfcc;
pub mod stft;
pub mod tonnetz;

pub use extractor::{FrameFeatures, StreamingExtractor};
pub use features::{DbRule, FeatureKind, Features};

/// Sample rate every feature is computed at: the rate `audio` delivers every signal at.
pub use crate::audio::SAMPLE_RATE;
/// FFT length in samples.
pub const N_FFT: usize = 512;
/// Analysis window length (a periodic Hann window, centred in the FFT frame).
pub const WIN_LENGTH: usize = 400;
/// Hop between frames: 10 ms.
pub const HOP_LENGTH: usize = 160;
/// Bins of the one-sided spectrum.
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Slaney mel bands from 0 to 8 kHz.
pub const N_MELS: usize = 64;
/// MFCC coefficients kept from the DCT of the 64 mel_db bands.
pub const N_MFCC: usize = 40;
/// Pitch classes.
pub const N_CHROMA: usize = 12;
/// Spectral contrast rows: six octave bands plus the band above them.
pub const N_CONTRAST: usize = 7;
/// Tonal centroid dimensions.
pub const N_TONNETZ: usize = 6;
/// librosa's `amin`: powers below it are raised to it before taking decibels.
pub const AMIN: f32 = 1e-10;
/// librosa's `top_db`: the whole-signal rule clips decibels this far below the maximum.
pub const TOP_DB: f32 = 80.0;

/// Number of frames librosa's centred STFT yields for `n` samples.
pub fn frame_count(n: usize) -> usize {
    1 + n / HOP_LENGTH
}
