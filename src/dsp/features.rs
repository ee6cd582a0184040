//! Features of a whole signal, as matrices shaped like librosa's (rows = coefficients,
//! columns = frames).

use std::fmt;
use std::str::FromStr;

use super::extractor::{FrameFeatures, StreamingExtractor};
use super::mfcc::Mfcc;
use super::{N_CHROMA, N_CONTRAST, N_MELS, N_MFCC, N_TONNETZ, TOP_DB};

/// Which decibel rule a whole-signal call follows (see [`super::extractor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbRule {
    /// librosa's: clip at 80 dB below the whole signal's maximum. Matches librosa exactly.
    Librosa,
    /// The stream's: no clip. What training, file analysis and live audio use.
    Streaming,
}

/// One per-frame feature (mel, mel_db, MFCC, chroma, contrast, tonnetz), by the name the
/// command line and model cards use.
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
    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.cols + col]
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

/// All features of one signal, kept frame-major: the model reads whole frames, and the
/// librosa-shaped [`Matrix`] is made only when asked for (writing `.npy`, tests).
#[derive(Clone, Debug)]
pub struct Features {
    mel: Rows<N_MELS>,
    mel_db: Rows<N_MELS>,
    mfcc: Rows<N_MFCC>,
    chroma: Rows<N_CHROMA>,
    contrast: Rows<N_CONTRAST>,
    tonnetz: Rows<N_TONNETZ>,
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
        let mut collected = Collector::with_capacity(frames);
        extractor.push(signal, |f| collected.push(f));
        extractor.finish(|f| collected.push(f));
        if rule == DbRule::Librosa {
            collected.apply_top_db(extractor.dct());
        }
        collected.features
    }

    /// Number of 10 ms frames.
    pub fn frames(&self) -> usize {
        self.mel.data.len()
    }

    /// One feature of frame `t`; `None` past the last frame.
    pub fn frame(&self, kind: FeatureKind, t: usize) -> Option<&[f32]> {
        match kind {
            FeatureKind::Mel => self.mel.data.get(t).map(|f| &f[..]),
            FeatureKind::MelDb => self.mel_db.data.get(t).map(|f| &f[..]),
            FeatureKind::Mfcc => self.mfcc.data.get(t).map(|f| &f[..]),
            FeatureKind::Chroma => self.chroma.data.get(t).map(|f| &f[..]),
            FeatureKind::Contrast => self.contrast.data.get(t).map(|f| &f[..]),
            FeatureKind::Tonnetz => self.tonnetz.data.get(t).map(|f| &f[..]),
        }
    }

    /// One feature in librosa's orientation: rows = coefficients, columns = frames.
    pub fn matrix(&self, kind: FeatureKind) -> Matrix {
        match kind {
            FeatureKind::Mel => self.mel.transpose(),
            FeatureKind::MelDb => self.mel_db.transpose(),
            FeatureKind::Mfcc => self.mfcc.transpose(),
            FeatureKind::Chroma => self.chroma.transpose(),
            FeatureKind::Contrast => self.contrast.transpose(),
            FeatureKind::Tonnetz => self.tonnetz.transpose(),
        }
    }

    /// Every feature stacked in [`FeatureKind::ALL`] order: 64 + 64 + 40 + 12 + 7 + 6 = 193 rows.
    pub fn stacked(&self) -> Matrix {
        let parts: Vec<Matrix> = FeatureKind::ALL.iter().map(|&k| self.matrix(k)).collect();
        let refs: Vec<&Matrix> = parts.iter().collect();
        Matrix::vstack(&refs)
    }
}

/// One feature collected frame by frame: `data[frame][row]`.
#[derive(Clone, Debug)]
struct Rows<const DIM: usize> {
    data: Vec<[f32; DIM]>,
}

impl<const DIM: usize> Rows<DIM> {
    fn with_capacity(frames: usize) -> Self {
        Self {
            data: Vec::with_capacity(frames),
        }
    }

    fn transpose(&self) -> Matrix {
        let cols = self.data.len();
        let mut data = vec![0.0; DIM * cols];
        for (t, frame) in self.data.iter().enumerate() {
            for (row, &v) in frame.iter().enumerate() {
                data[row * cols + t] = v;
            }
        }
        Matrix {
            rows: DIM,
            cols,
            data,
        }
    }

    fn max(&self) -> f32 {
        max_of(self.data.as_flattened())
    }
}

/// The largest value (NaNs passed over, as by `f32::max`), eight lanes at a time: a fold
/// with `f32::max` compares one value at a time, since its NaN rule keeps the compiler
/// from reordering it, and over mel_db that was a few percent of a file's features.
fn max_of(values: &[f32]) -> f32 {
    fold_lanes(values, f32::NEG_INFINITY, |m, v| if v > m { v } else { m })
}

/// The smallest value, as [`max_of`].
fn min_of(values: &[f32]) -> f32 {
    fold_lanes(values, f32::INFINITY, |m, v| if v < m { v } else { m })
}

fn fold_lanes(values: &[f32], init: f32, pick: impl Fn(f32, f32) -> f32 + Copy) -> f32 {
    const LANES: usize = 8;
    let mut lanes = [init; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = pick(*m, v);
        }
    }
    lanes.iter().chain(rest).copied().fold(init, pick)
}

/// Gathers the extractor's frames, with what librosa's whole-signal clip needs besides.
struct Collector {
    features: Features,
    peak_db: Rows<N_CONTRAST>,
    valley_db: Rows<N_CONTRAST>,
}

impl Collector {
    fn with_capacity(frames: usize) -> Self {
        Self {
            features: Features {
                mel: Rows::with_capacity(frames),
                mel_db: Rows::with_capacity(frames),
                mfcc: Rows::with_capacity(frames),
                chroma: Rows::with_capacity(frames),
                contrast: Rows::with_capacity(frames),
                tonnetz: Rows::with_capacity(frames),
            },
            peak_db: Rows::with_capacity(frames),
            valley_db: Rows::with_capacity(frames),
        }
    }

    fn push(&mut self, frame: &FrameFeatures) {
        let f = &mut self.features;
        f.mel.data.push(frame.mel);
        f.mel_db.data.push(frame.mel_db);
        f.mfcc.data.push(frame.mfcc);
        f.chroma.data.push(frame.chroma);
        f.contrast.data.push(frame.contrast);
        f.tonnetz.data.push(frame.tonnetz);
        self.peak_db.data.push(frame.contrast_peak_db);
        self.valley_db.data.push(frame.contrast_valley_db);
    }

    /// librosa's whole-signal `top_db` clip on mel_db and on contrast's peaks and valleys.
    /// MFCC is recomputed only for frames the clip changed: the DCT of an unchanged column
    /// is the value the stream already computed. `dct` is the extractor's: building the
    /// basis (2,560 cosines) per file took 3.5 % of `emovox features`' time (perf).
    fn apply_top_db(&mut self, dct: &Mfcc) {
        let f = &mut self.features;
        let floor = f.mel_db.max() - TOP_DB;
        for (column, mfcc) in f.mel_db.data.iter_mut().zip(&mut f.mfcc.data) {
            if min_of(column) < floor {
                for v in column.iter_mut() {
                    *v = v.max(floor);
                }
                dct.apply(column, mfcc);
            }
        }
        let peak_floor = self.peak_db.max() - TOP_DB;
        let valley_floor = self.valley_db.max() - TOP_DB;
        for ((c, p), v) in f
            .contrast
            .data
            .iter_mut()
            .zip(&self.peak_db.data)
            .zip(&self.valley_db.data)
        {
            for ((c, &p), &v) in c.iter_mut().zip(p).zip(v) {
                *c = p.max(peak_floor) - v.max(valley_floor);
            }
        }
    }
}
