//! The streaming feature extractor: audio in chunks of any size, frames out as soon as
//! their last sample has arrived, exactly the frames the whole-signal call computes.
//!
//! ## The streaming decibel rule
//! librosa clips decibels at 80 dB below the maximum of the *whole* signal (in mel_db and
//! inside spectral contrast), which a stream cannot know. The stream therefore leaves the
//! clip off: decibels are `10·log10(max(x, 1e-10))`, floored at -100 dB and nothing else.
//! MFCC and contrast are computed from those unclipped values. Training, file analysis and
//! live audio all use this rule, so the model sees the same numbers everywhere.

use super::chroma::ChromaFilterBank;
use super::contrast::SpectralContrast;
use super::db::power_to_db_into;
use super::mel::MelFilterBank;
use super::mfcc::Mfcc;
use super::stft::PowerSpectrum;
use super::tonnetz::Tonnetz;
use super::{
    frame_count, HOP_LENGTH, N_BINS, N_CHROMA, N_CONTRAST, N_FFT, N_MELS, N_MFCC, N_TONNETZ,
};

/// Everything computed for one 10 ms frame. Fixed-size arrays, so handing a frame out
/// never allocates.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameFeatures {
    /// Index of the frame since the start of the stream.
    pub index: usize,
    pub power: [f32; N_BINS],
    pub mel: [f32; N_MELS],
    /// mel in decibels, unclipped (the streaming rule).
    pub mel_db: [f32; N_MELS],
    /// MFCC of the unclipped mel_db.
    pub mfcc: [f32; N_MFCC],
    pub chroma: [f32; N_CHROMA],
    /// Peak and valley of each contrast band in decibels, unclipped.
    pub contrast_peak_db: [f32; N_CONTRAST],
    pub contrast_valley_db: [f32; N_CONTRAST],
    /// `contrast_peak_db - contrast_valley_db`: spectral contrast under the streaming rule.
    pub contrast: [f32; N_CONTRAST],
    pub tonnetz: [f32; N_TONNETZ],
}

impl FrameFeatures {
    fn zeroed() -> Self {
        Self {
            index: 0,
            power: [0.0; N_BINS],
            mel: [0.0; N_MELS],
            mel_db: [0.0; N_MELS],
            mfcc: [0.0; N_MFCC],
            chroma: [0.0; N_CHROMA],
            contrast_peak_db: [0.0; N_CONTRAST],
            contrast_valley_db: [0.0; N_CONTRAST],
            contrast: [0.0; N_CONTRAST],
            tonnetz: [0.0; N_TONNETZ],
        }
    }
}

/// Computes frame features from a stream of 16 kHz mono samples.
///
/// It keeps the last `N_FFT` samples of the zero-padded signal (librosa's `center=True`
/// puts `N_FFT / 2` zeros before the first sample) and emits frame `t` once padded samples
/// up to `t · 160 + 512` are in. [`finish`](Self::finish) pads the end with zeros and emits
/// the frames librosa computes there. After construction nothing allocates.
pub struct StreamingExtractor {
    /// The current frame's padded samples; `filled` of them are valid.
    frame: [f32; N_FFT],
    filled: usize,
    /// Real samples received since the start.
    samples_in: usize,
    frames_out: usize,
    spectrum: PowerSpectrum,
    mel: MelFilterBank,
    mfcc: Mfcc,
    chroma: ChromaFilterBank,
    contrast: SpectralContrast,
    tonnetz: Tonnetz,
    out: FrameFeatures,
}

impl StreamingExtractor {
    pub fn new() -> Self {
        Self {
            frame: [0.0; N_FFT],
            filled: N_FFT / 2,
            samples_in: 0,
            frames_out: 0,
            spectrum: PowerSpectrum::new(),
            mel: MelFilterBank::new(),
            mfcc: Mfcc::new(),
            chroma: ChromaFilterBank::new(),
            contrast: SpectralContrast::new(),
            tonnetz: Tonnetz::new(),
            out: FrameFeatures::zeroed(),
        }
    }

    /// Feeds samples; calls `on_frame` for every frame they complete.
    pub fn push(&mut self, mut samples: &[f32], mut on_frame: impl FnMut(&FrameFeatures)) {
        self.samples_in += samples.len();
        while !samples.is_empty() {
            let take = (N_FFT - self.filled).min(samples.len());
            self.frame[self.filled..self.filled + take].copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == N_FFT {
                self.emit(&mut on_frame);
            }
        }
    }

    /// Ends the stream: emits the frames that reach into the zero padding after the last
    /// sample, so the total is `1 + n / 160` as in librosa, then starts a new stream.
    pub fn finish(&mut self, mut on_frame: impl FnMut(&FrameFeatures)) {
        let total = frame_count(self.samples_in);
        while self.frames_out < total {
            self.frame[self.filled..].fill(0.0);
            self.filled = N_FFT;
            self.emit(&mut on_frame);
        }
        self.reset();
    }

    /// Forgets the stream so far; the next sample starts a new one.
    pub fn reset(&mut self) {
        self.frame = [0.0; N_FFT];
        self.filled = N_FFT / 2;
        self.samples_in = 0;
        self.frames_out = 0;
    }

    /// The MFCC's DCT, for the whole-signal clip to recompute clipped frames with.
    pub(crate) fn dct(&self) -> &Mfcc {
        &self.mfcc
    }

    /// Frames emitted since the start of the stream.
    pub fn frames_emitted(&self) -> usize {
        self.frames_out
    }

    fn emit(&mut self, on_frame: &mut impl FnMut(&FrameFeatures)) {
        self.compute();
        on_frame(&self.out);
        self.frames_out += 1;
        self.frame.copy_within(HOP_LENGTH.., 0);
        self.filled = N_FFT - HOP_LENGTH;
    }

    fn compute(&mut self) {
        let out = &mut self.out;
        out.index = self.frames_out;
        self.spectrum.compute(&self.frame, &mut out.power);
        self.mel.apply(&out.power, &mut out.mel);
        power_to_db_into(&out.mel, &mut out.mel_db);
        self.mfcc.apply(&out.mel_db, &mut out.mfcc);
        self.chroma.apply(&out.power, &mut out.chroma);
        self.contrast.apply(
            &out.power,
            &mut out.contrast_peak_db,
            &mut out.contrast_valley_db,
        );
        for ((c, p), v) in out
            .contrast
            .iter_mut()
            .zip(&out.contrast_peak_db)
            .zip(&out.contrast_valley_db)
        {
            *c = p - v;
        }
        self.tonnetz.apply(&out.chroma, &mut out.tonnetz);
    }
}

impl Default for StreamingExtractor {
    fn default() -> Self {
        Self::new()
    }
}
