//! The model's input: 65 values per 10 ms frame (40 MFCC, 12 chroma, 7 spectral contrast,
//! 6 tonnetz) under the streaming decibel rule, so training, file analysis and live audio
//! feed the network the same numbers; and the sliding windows it classifies.

use half::f16;

use crate::dsp::{FrameFeatures, StreamingExtractor, N_CHROMA, N_CONTRAST, N_MFCC, N_TONNETZ};

pub const INPUT_DIM: usize = N_MFCC + N_CHROMA + N_CONTRAST + N_TONNETZ;

/// The four kinds of input a frame holds, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputGroup {
    Mfcc,
    Chroma,
    Contrast,
    Tonnetz,
}

impl InputGroup {
    pub const ALL: [Self; 4] = [Self::Mfcc, Self::Chroma, Self::Contrast, Self::Tonnetz];

    /// Where its values lie in a frame.
    pub fn range(self) -> std::ops::Range<usize> {
        let (start, len) = match self {
            Self::Mfcc => (0, N_MFCC),
            Self::Chroma => (N_MFCC, N_CHROMA),
            Self::Contrast => (N_MFCC + N_CHROMA, N_CONTRAST),
            Self::Tonnetz => (N_MFCC + N_CHROMA + N_CONTRAST, N_TONNETZ),
        };
        start..start + len
    }

    /// Its values in a frame's features (what [`Self::range`] of the input holds).
    fn values(self, f: &FrameFeatures) -> &[f32] {
        match self {
            Self::Mfcc => &f.mfcc,
            Self::Chroma => &f.chroma,
            Self::Contrast => &f.contrast,
            Self::Tonnetz => &f.tonnetz,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Mfcc => "mfcc",
            Self::Chroma => "chroma",
            Self::Contrast => "contrast",
            Self::Tonnetz => "tonnetz",
        }
    }
}

/// The standard deviation a dropped input is given in the card's normalisation: once
/// normalised it reads as (nearly) 0 whatever its value, so a model trained without some
/// inputs needs nothing else at inference, live or offline.
pub const DROPPED_STD: f32 = 1e30;
/// The window the model classifies: 300 frames = 3.0 s (the live engine uses the same).
pub const WINDOW_FRAMES: usize = 300;
/// Windows start every 25 frames = 0.25 s when a file or a stream is analysed.
pub const HOP_FRAMES: usize = 25;

/// Speech that starts this far into a window (1 s) is classified on its own: the window
/// from just before the speech, repeated until it is full. The first second after someone
/// starts talking is otherwise read from a window of mostly quiet room, and the model shipped
/// when this was measured (RAVDESS-only, early 2026-11-29) called such windows "fearful" (79 % of onset windows of clips that were not;
/// 7 % when looped, with onset accuracy 21 % → 31 % and settled windows unchanged,
/// `cargo bench --bench onsets`).
pub const LATE_SPEECH_FRAMES: usize = 100;
/// Frames kept before the first speech frame when a window is looped (0.1 s).
const PRE_ROLL_FRAMES: usize = 10;

/// The frames the model reads for a window, given whether each of its frames is speech:
/// the window itself, or, when its speech starts [`LATE_SPEECH_FRAMES`] or more in, the
/// stretch from just before the speech repeated to `WINDOW_FRAMES` (into `looped`).
pub fn speech_window<'a>(
    window: &'a [f16],
    speech: impl IntoIterator<Item = bool>,
    looped: &'a mut Vec<f16>,
) -> &'a [f16] {
    let n = window.len() / INPUT_DIM;
    let Some(from) = loop_from(speech, n) else {
        return window;
    };
    looped.clear();
    looped.extend(
        window[from * INPUT_DIM..n * INPUT_DIM]
            .chunks_exact(INPUT_DIM)
            .cycle()
            .take(WINDOW_FRAMES)
            .flatten(),
    );
    looped
}

/// Where [`speech_window`] starts the repeated stretch of a window of `n` frames with these
/// speech flags; `None` when the window is read as it is.
pub fn loop_from(speech: impl IntoIterator<Item = bool>, n: usize) -> Option<usize> {
    let first = speech.into_iter().take(n).position(|s| s)?;
    (first >= LATE_SPEECH_FRAMES).then(|| first - PRE_ROLL_FRAMES)
}

/// One frame's model input, in the order the model card's feature list names.
pub fn frame_vector(f: &FrameFeatures) -> [f32; INPUT_DIM] {
    let mut v = [0.0f32; INPUT_DIM];
    for group in InputGroup::ALL {
        v[group.range()].copy_from_slice(group.values(f));
    }
    v
}

/// All frames of a 16 kHz signal as model inputs (unnormalised).
pub fn signal_frames(extractor: &mut StreamingExtractor, signal: &[f32]) -> Vec<[f32; INPUT_DIM]> {
    extractor.reset();
    let mut out = Vec::with_capacity(crate::dsp::frame_count(signal.len()));
    extractor.push(signal, |f| out.push(frame_vector(f)));
    extractor.finish(|f| out.push(frame_vector(f)));
    out
}

/// Frames kept at half precision: the augmented training set fits in a third of the
/// memory, and f16 keeps about three significant digits, far finer than the features vary.
pub fn to_f16(frames: &[[f32; INPUT_DIM]]) -> Vec<f16> {
    frames.iter().flatten().map(|&x| f16::from_f32(x)).collect()
}

/// Start frames of the windows that cover `frames` frames: every `HOP_FRAMES`, the last
/// one flush with the end; one window at 0 when the signal is shorter than a window.
pub fn window_starts(frames: usize) -> Vec<usize> {
    if frames <= WINDOW_FRAMES {
        return vec![0];
    }
    let last = frames - WINDOW_FRAMES;
    let mut starts: Vec<usize> = (0..=last).step_by(HOP_FRAMES).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    starts
}

/// Copies a window of `WINDOW_FRAMES` frames starting at `start` into `out`, normalised;
/// past the end the last frame repeats (how short clips are padded).
pub fn fill_window(frames: &[f16], start: usize, norm: &Normaliser, out: &mut [f32]) {
    let n = frames.len() / INPUT_DIM;
    for (t, row) in out
        .chunks_exact_mut(INPUT_DIM)
        .enumerate()
        .take(WINDOW_FRAMES)
    {
        let src = (start + t).min(n.saturating_sub(1));
        let frame = frames.get(src * INPUT_DIM..(src + 1) * INPUT_DIM);
        match frame {
            Some(frame) => norm.apply(frame, row),
            None => {
                for (d, v) in row.iter_mut().enumerate() {
                    *v = (0.0 - norm.mean[d]) * norm.inv_std[d];
                }
            }
        }
    }
}

/// Per-dimension standardisation with the training set's statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct Normaliser {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Normaliser {
    /// One frame standardised into `out`.
    pub fn apply(&self, frame: &[f16], out: &mut [f32]) {
        for (((v, x), mean), inv_std) in
            out.iter_mut().zip(frame).zip(&self.mean).zip(&self.inv_std)
        {
            *v = (x.to_f32() - mean) * inv_std;
        }
    }

    /// The same standardisation of inputs measured from `by` (a voice's baseline):
    /// `(x − by − mean) / std`.
    pub fn shifted(&self, by: &[f32]) -> Self {
        Self {
            mean: self.mean.iter().zip(by).map(|(m, b)| m + b).collect(),
            inv_std: self.inv_std.clone(),
        }
    }

    pub fn from_mean_std(mean: &[f32], std: &[f32]) -> Self {
        Self {
            mean: mean.to_vec(),
            inv_std: std.iter().map(|&s| 1.0 / s.max(1e-6)).collect(),
        }
    }

    /// Mean and standard deviation of every frame of `sets`, per dimension (in f64).
    pub fn fit<'a>(sets: impl Iterator<Item = &'a [f16]>) -> (Vec<f32>, Vec<f32>) {
        let mut sum = vec![0.0f64; INPUT_DIM];
        let mut sq = vec![0.0f64; INPUT_DIM];
        let mut n = 0usize;
        for frames in sets {
            for frame in frames.chunks_exact(INPUT_DIM) {
                for (d, x) in frame.iter().enumerate() {
                    let x = f64::from(x.to_f32());
                    sum[d] += x;
                    sq[d] += x * x;
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| ((q / n - (s / n).powi(2)).max(0.0).sqrt()) as f32)
            .collect();
        (mean, std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_groups_tile_a_frame_and_a_dropped_input_reads_as_nothing() {
        let mut next = 0;
        for g in InputGroup::ALL {
            assert_eq!(g.range().start, next, "{}", g.name());
            next = g.range().end;
        }
        assert_eq!(next, INPUT_DIM);
        let mut std = [2.0f32; INPUT_DIM];
        std[InputGroup::Chroma.range()].fill(DROPPED_STD);
        let norm = Normaliser::from_mean_std(&[1.0; INPUT_DIM], &std);
        let frame = [f16::from_f32(3000.0); INPUT_DIM];
        let mut out = [0.0f32; INPUT_DIM];
        norm.apply(&frame, &mut out);
        for (d, v) in out.iter().enumerate() {
            if InputGroup::Chroma.range().contains(&d) {
                assert!(v.abs() < 1e-20 && v.is_normal(), "{d}: {v}");
            } else {
                assert!((v - 1499.5).abs() < 1e-3, "{d}: {v}");
            }
        }
    }

    #[test]
    fn a_frame_vector_holds_each_kind_of_feature_where_its_group_says() {
        // A voiced-like tone, so that every kind of feature varies.
        let signal: Vec<f32> = (0..8000)
            .map(|i| (i as f32 * 0.06).sin() + 0.3 * (i as f32 * 0.18).sin())
            .collect();
        let mut extractor = StreamingExtractor::new();
        let mut checked = 0;
        extractor.push(&signal, |f| {
            let v = frame_vector(f);
            assert_eq!(&v[InputGroup::Mfcc.range()], &f.mfcc[..]);
            assert_eq!(&v[InputGroup::Chroma.range()], &f.chroma[..]);
            assert_eq!(&v[InputGroup::Contrast.range()], &f.contrast[..]);
            assert_eq!(&v[InputGroup::Tonnetz.range()], &f.tonnetz[..]);
            checked += 1;
        });
        assert!(checked > 10);
    }

    #[test]
    fn windows_cover_the_signal() {
        assert_eq!(window_starts(100), vec![0]);
        assert_eq!(window_starts(300), vec![0]);
        assert_eq!(window_starts(330), vec![0, 25, 30]);
        assert_eq!(window_starts(350), vec![0, 25, 50]);
    }

    #[test]
    fn short_clips_repeat_their_last_frame() {
        let frames: Vec<f16> = (0..2 * INPUT_DIM)
            .map(|i| f16::from_f32((i / INPUT_DIM) as f32 + 1.0))
            .collect();
        let norm = Normaliser::from_mean_std(&[0.0; INPUT_DIM], &[1.0; INPUT_DIM]);
        let mut out = vec![0.0; WINDOW_FRAMES * INPUT_DIM];
        fill_window(&frames, 0, &norm, &mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[INPUT_DIM], 2.0);
        assert_eq!(out[(WINDOW_FRAMES - 1) * INPUT_DIM], 2.0);
    }

    /// Frames numbered 0, 1, 2, … in every value, so a window shows where it came from.
    fn numbered(n: usize) -> Vec<f16> {
        (0..n * INPUT_DIM)
            .map(|i| f16::from_f32((i / INPUT_DIM) as f32))
            .collect()
    }

    fn frame_numbers(window: &[f16]) -> Vec<usize> {
        window
            .chunks_exact(INPUT_DIM)
            .map(|f| f[0].to_f32() as usize)
            .collect()
    }

    #[test]
    fn early_speech_keeps_the_window_and_late_speech_is_looped() {
        let frames = numbered(WINDOW_FRAMES);
        let mut looped = Vec::new();
        let starting_at = |k: usize| (0..WINDOW_FRAMES).map(move |i| i >= k);

        let w = speech_window(&frames, starting_at(LATE_SPEECH_FRAMES - 1), &mut looped);
        assert_eq!(frame_numbers(w), (0..WINDOW_FRAMES).collect::<Vec<_>>());
        let w = speech_window(&frames, std::iter::repeat(false), &mut looped);
        assert_eq!(w.len(), frames.len(), "no speech: the window as it is");

        // Speech from frame 250: frames 240..300 (60 frames) repeated five times.
        let w = speech_window(&frames, starting_at(250), &mut looped);
        let numbers = frame_numbers(w);
        assert_eq!(numbers.len(), WINDOW_FRAMES);
        assert_eq!(&numbers[..3], &[240, 241, 242]);
        assert_eq!(numbers[59], 299);
        assert_eq!(numbers[60], 240);
        assert_eq!(numbers[WINDOW_FRAMES - 1], 299);
    }
}
