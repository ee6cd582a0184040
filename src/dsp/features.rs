//! Features of a whole signal, as matrices shaped like librosa's (rows = coefficients,
//! columns = frames).

use std::fmt;
use std::str::FromStr;

use super::db::clip_top_db;
use super::extractor::StreamingExtractor;
use super::mfcc::Mfcc;
use super::{N_CHROMA, N_CONTRAST, N_MELS, N_MFCC, N_TONNETZ};

/// Which decibel rule a whole-signal call follows (see [`super::extractor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbRule {
    /// librosa's: clip at 80 dB below the whole signal's maximum. Matches librosa exactly.
    Librosa,
    /// The stream's: no clip. What training, file analysis and live audio use.
    Streaming,
}

/// One feature of DESIGN.md, by the name the command line and model cards use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureKind {
    Mel,
    MelDb,
    Mfcc,
    Chroma,
    Contrast,
    Tonnetz,
}

impl FeatureKind {
    /// All features, in the order `emovox features` stacks them.
    pub const ALL: [FeatureKind; 6] = [
        FeatureKind::Mel,
        FeatureKind::MelDb,
        FeatureKind::Mfcc,
        FeatureKind::Chroma,
        FeatureKind::Contrast,
        FeatureKind::Tonnetz,
    ];

    pub fn rows(self) -> usize {
        match self {
            FeatureKind::Mel | FeatureKind::MelDb => N_MELS,
            FeatureKind::Mfcc => N_MFCC,
            FeatureKind::Chroma => N_CHROMA,
            FeatureKind::Contrast => N_CONTRAST,
            FeatureKind::Tonnetz => N_TONNETZ,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Mel => "mel",
            FeatureKind::MelDb => "mel_db",
            FeatureKind::Mfcc => "mfcc",
            FeatureKind::Chroma => "chroma",
            FeatureKind::Contrast => "contrast",
            FeatureKind::Tonnetz => "tonnetz",
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FeatureKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FeatureKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FeatureKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown feature '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// A coefficient-by-frame matrix, row-major: `data[row * cols + frame]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.cols + col]
    }

    fn set_column(&mut self, col: usize, values: &[f32]) {
        for (row, &v) in values.iter().enumerate() {
            self.data[row * self.cols + col] = v;
        }
    }

    /// Stacks matrices with the same number of columns on top of each other.
    pub fn vstack(parts: &[&Matrix]) -> Matrix {
        let cols = parts.first().map_or(0, |m| m.cols);
        let rows = parts.iter().map(|m| m.rows).sum();
        let mut data = Vec::with_capacity(rows * cols);
        for m in parts {
            data.extend_from_slice(&m.data);
        }
        Matrix { rows, cols, data }
    }
}

/// All features of one signal.
#[derive(Clone, Debug)]
pub struct Features {
    pub frames: usize,
    pub mel: Matrix,
    pub mel_db: Matrix,
    pub mfcc: Matrix,
    pub chroma: Matrix,
    pub contrast: Matrix,
    pub tonnetz: Matrix,
}

impl Features {
    /// Computes every feature of a 16 kHz mono signal. With [`DbRule::Streaming`] the
    /// result equals, bit for bit, what the [`StreamingExtractor`] yields for the same
    /// samples fed in any chunks.
    pub fn compute(signal: &[f32], rule: DbRule) -> Features {
        Self::compute_with(&mut StreamingExtractor::new(), signal, rule)
    }

    /// [`Features::compute`] reusing an extractor, so its filter banks and FFT plan are
    /// built once for many files.
    pub fn compute_with(
        extractor: &mut StreamingExtractor,
        signal: &[f32],
        rule: DbRule,
    ) -> Features {
        extractor.reset();
        let frames = super::frame_count(signal.len());
        let mut f = Features {
            frames,
            mel: Matrix::zeros(N_MELS, frames),
            mel_db: Matrix::zeros(N_MELS, frames),
            mfcc: Matrix::zeros(N_MFCC, frames),
            chroma: Matrix::zeros(N_CHROMA, frames),
            contrast: Matrix::zeros(N_CONTRAST, frames),
            tonnetz: Matrix::zeros(N_TONNETZ, frames),
        };
        let mut peaks = Matrix::zeros(N_CONTRAST, frames);
        let mut valleys = Matrix::zeros(N_CONTRAST, frames);
        let mut store = |frame: &super::FrameFeatures| {
            let t = frame.index;
            f.mel.set_column(t, &frame.mel);
            f.mel_db.set_column(t, &frame.mel_db);
            f.mfcc.set_column(t, &frame.mfcc);
            f.chroma.set_column(t, &frame.chroma);
            f.contrast.set_column(t, &frame.contrast);
            f.tonnetz.set_column(t, &frame.tonnetz);
            peaks.set_column(t, &frame.contrast_peak_db);
            valleys.set_column(t, &frame.contrast_valley_db);
        };
        extractor.push(signal, &mut store);
        extractor.finish(&mut store);
        if rule == DbRule::Librosa {
            f.apply_top_db(&mut peaks, &mut valleys);
        }
        f
    }

    /// librosa's whole-signal clip, then MFCC and contrast again from the clipped values.
    fn apply_top_db(&mut self, peaks: &mut Matrix, valleys: &mut Matrix) {
        clip_top_db(&mut self.mel_db.data);
        let dct = Mfcc::new();
        let mut column = [0.0f32; N_MELS];
        let mut mfcc = [0.0f32; N_MFCC];
        for t in 0..self.frames {
            for (m, v) in column.iter_mut().enumerate() {
                *v = self.mel_db.get(m, t);
            }
            dct.apply(&column, &mut mfcc);
            self.mfcc.set_column(t, &mfcc);
        }
        clip_top_db(&mut peaks.data);
        clip_top_db(&mut valleys.data);
        for ((c, p), v) in self
            .contrast
            .data
            .iter_mut()
            .zip(&peaks.data)
            .zip(&valleys.data)
        {
            *c = p - v;
        }
    }

    pub fn get(&self, kind: FeatureKind) -> &Matrix {
        match kind {
            FeatureKind::Mel => &self.mel,
            FeatureKind::MelDb => &self.mel_db,
            FeatureKind::Mfcc => &self.mfcc,
            FeatureKind::Chroma => &self.chroma,
            FeatureKind::Contrast => &self.contrast,
            FeatureKind::Tonnetz => &self.tonnetz,
        }
    }

    /// Every feature stacked in [`FeatureKind::ALL`] order: 64 + 64 + 40 + 12 + 7 + 6 = 193 rows.
    pub fn stacked(&self) -> Matrix {
        let parts: Vec<&Matrix> = FeatureKind::ALL.iter().map(|&k| self.get(k)).collect();
        Matrix::vstack(&parts)
    }
}
