//! A voice's baseline: the mean of the model's 65 inputs over that voice's speech. A model
//! trained centred per voice (the card's `normalisation.per_voice`, or a blended part's) reads every frame minus its
//! voice's baseline, so it hears how a clip departs from the voice's usual self rather than
//! the voice, its microphone or its room: the lever that moved English voices it never
//! heard most (README, "Inputs centred per speaker"). Cross-corpus emotion work normalises
//! per speaker the same way (Schuller et al., 2010).
//!
//! Which frames count is the same everywhere: the louder half (by MFCC 0, the frame's
//! level) of each stretch of about 3 s that holds speech: a corpus clip in training and
//! `evaluate`; in a stream or a long file ([`RunningVoice`]) each 3 s block in which the
//! voice gate heard speech, pauses and all, as a clip has them. The louder half leaves out
//! most of the pauses, whose share differs between corpora and between people.

use std::collections::HashMap;

use half::f16;

use super::input::{INPUT_DIM, WINDOW_FRAMES};

/// Sums of the frames a voice's baseline is the mean of.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceBaseline {
    sum: Vec<f64>,
    frames: usize,
}

impl Default for VoiceBaseline {
    fn default() -> Self {
        Self {
            sum: vec![0.0; INPUT_DIM],
            frames: 0,
        }
    }
}

impl VoiceBaseline {
    /// The baseline of one stretch alone (a lone file: all that is known of its voice).
    pub fn of_stretch(frames: &[f16]) -> Self {
        let mut baseline = Self::default();
        baseline.add_stretch(frames);
        baseline
    }

    /// Adds the louder half of one stretch of speech (model inputs, f16, `INPUT_DIM` per
    /// frame); a stretch without a whole frame adds nothing.
    pub fn add_stretch(&mut self, frames: &[f16]) {
        let mut levels: Vec<f32> = frames
            .chunks_exact(INPUT_DIM)
            .map(|row| row[0].to_f32())
            .collect();
        if levels.is_empty() {
            return;
        }
        levels.sort_by(f32::total_cmp);
        let median = levels[levels.len() / 2];
        for row in frames
            .chunks_exact(INPUT_DIM)
            .filter(|row| row[0].to_f32() >= median)
        {
            for (s, v) in self.sum.iter_mut().zip(row) {
                *s += f64::from(v.to_f32());
            }
            self.frames += 1;
        }
    }

    /// Adds everything `other` has heard.
    pub fn merge(&mut self, other: &Self) {
        for (s, o) in self.sum.iter_mut().zip(&other.sum) {
            *s += o;
        }
        self.frames += other.frames;
    }

    /// What `self` heard beyond `earlier`, an earlier state of the same baseline.
    pub(crate) fn minus(&self, earlier: &Self) -> Self {
        Self {
            sum: self
                .sum
                .iter()
                .zip(&earlier.sum)
                .map(|(a, b)| a - b)
                .collect(),
            frames: self.frames - earlier.frames.min(self.frames),
        }
    }

    /// Frames the baseline is the mean of.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The mean input, or `None` before any frame was heard.
    pub fn mean(&self) -> Option<Vec<f32>> {
        (self.frames > 0).then(|| {
            self.sum
                .iter()
                .map(|s| (s / self.frames as f64) as f32)
                .collect()
        })
    }
}

/// The name a dataset's voice goes by: its corpus and speaker, `ravdess:Actor_05`.
pub fn voice_name(corpus: &str, speaker: &str) -> String {
    format!("{corpus}:{speaker}")
}

/// Baselines of several voices, by name (`corpus:speaker` for a dataset's clips).
#[derive(Clone, Debug, Default)]
pub struct VoiceBaselines {
    voices: HashMap<String, VoiceBaseline>,
}

impl VoiceBaselines {
    /// Adds one stretch of `voice`'s speech.
    pub fn add_stretch(&mut self, voice: &str, frames: &[f16]) {
        self.voices
            .entry(voice.to_string())
            .or_default()
            .add_stretch(frames);
    }

    pub fn get(&self, voice: &str) -> Option<&VoiceBaseline> {
        self.voices.get(voice)
    }
}

/// A block in which the voice gate heard less speech than this (0.5 s) does not count: a
/// cough or a click the gate let through says little about a voice.
pub const MIN_SPEECH_FRAMES: usize = 50;

/// A voice's baseline built as it is heard (the live view, a long file): frames gather
/// into blocks of a window (3 s, about one corpus clip), and a block in which the voice
/// gate heard speech joins the baseline whole, its pauses included, as a clip does.
#[derive(Clone, Debug)]
pub struct RunningVoice {
    baseline: VoiceBaseline,
    block: Vec<f16>,
    speech_frames: usize,
    /// Frames of the blocks that joined the baseline.
    heard_frames: usize,
}

impl Default for RunningVoice {
    fn default() -> Self {
        Self {
            baseline: VoiceBaseline::default(),
            block: Vec::with_capacity(WINDOW_FRAMES * INPUT_DIM),
            speech_frames: 0,
            heard_frames: 0,
        }
    }
}

impl RunningVoice {
    /// One frame of model input (`INPUT_DIM` values) and whether the voice gate heard
    /// speech in it.
    pub fn push(&mut self, frame: &[f16], speech: bool) {
        self.block.extend_from_slice(frame);
        self.speech_frames += usize::from(speech);
        if self.block.len() >= WINDOW_FRAMES * INPUT_DIM {
            self.close_block();
        }
    }

    /// Ends the block still open (the end of a file): it joins if it holds enough speech.
    pub fn close_block(&mut self) {
        if self.speech_frames >= MIN_SPEECH_FRAMES {
            self.baseline.add_stretch(&self.block);
            self.heard_frames += self.block.len() / INPUT_DIM;
        }
        self.block.clear();
        self.speech_frames = 0;
    }

    /// The blocks heard so far (not the one still open).
    pub fn baseline(&self) -> &VoiceBaseline {
        &self.baseline
    }

    /// Frames (10 ms each) of the blocks the baseline has taken in, pauses included.
    pub fn heard_frames(&self) -> usize {
        self.heard_frames
    }
}

/// Subtracts `mean` from every frame of `frames` (f16, `INPUT_DIM` per frame).
pub fn subtract(frames: &mut [f16], mean: &[f32]) {
    for row in frames.chunks_exact_mut(INPUT_DIM) {
        for (v, m) in row.iter_mut().zip(mean) {
            *v = f16::from_f32(v.to_f32() - m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose level (MFCC 0) is `level` and whose other inputs are all `value`.
    fn frame(level: f32, value: f32) -> Vec<f16> {
        let mut row = vec![f16::from_f32(value); INPUT_DIM];
        row[0] = f16::from_f32(level);
        row
    }

    #[test]
    fn a_stretch_counts_its_louder_half_only() {
        // Two quiet frames (a pause) and two loud ones: only the loud ones set the mean.
        let frames: Vec<f16> = [(-300.0, 9.0), (-250.0, 9.0), (-50.0, 1.0), (-40.0, 3.0)]
            .iter()
            .flat_map(|&(level, value)| frame(level, value))
            .collect();
        let baseline = VoiceBaseline::of_stretch(&frames);
        assert_eq!(baseline.frames(), 2);
        let mean = baseline.mean().unwrap();
        assert_eq!(mean[0], -45.0);
        assert!(mean[1..].iter().all(|&m| m == 2.0), "{mean:?}");
    }

    #[test]
    fn merging_equals_hearing_both_stretches() {
        let a: Vec<f16> = [(-60.0, 1.0), (-20.0, 5.0)]
            .iter()
            .flat_map(|&(l, v)| frame(l, v))
            .collect();
        let b: Vec<f16> = [(-30.0, -1.0), (-10.0, 7.0), (-90.0, 0.0)]
            .iter()
            .flat_map(|&(l, v)| frame(l, v))
            .collect();
        let mut heard = VoiceBaseline::default();
        heard.add_stretch(&a);
        heard.add_stretch(&b);
        let mut merged = VoiceBaseline::of_stretch(&a);
        merged.merge(&VoiceBaseline::of_stretch(&b));
        assert_eq!(heard, merged);
        // a's louder frame (5) and b's two louder ones (−1, 7).
        assert_eq!(heard.frames(), 3);
        assert!((heard.mean().unwrap()[1] - 11.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn nothing_heard_has_no_mean() {
        assert_eq!(VoiceBaseline::default().mean(), None);
        // Fewer values than one frame are not a frame.
        let partial = vec![f16::from_f32(1.0); INPUT_DIM - 1];
        assert_eq!(VoiceBaseline::of_stretch(&partial).mean(), None);
    }

    #[test]
    fn a_running_voice_counts_the_blocks_with_speech_whole() {
        // 7 s (levels rising, so each block's louder half is its later half): speech
        // through the first 3 s block, 0.4 s of it in the second, 1 s in the third.
        let frames: Vec<Vec<f16>> = (0..700).map(|i| frame(i as f32, i as f32)).collect();
        let speech = |i: usize| i < 300 || (300..340).contains(&i) || (600..700).contains(&i);
        let mut live = RunningVoice::default();
        for (i, f) in frames.iter().enumerate() {
            live.push(f, speech(i));
        }
        // The first block joined whole; the second had too little speech; the third is
        // still open.
        let expected = VoiceBaseline::of_stretch(&frames[..300].concat());
        assert_eq!(live.baseline(), &expected);
        live.close_block();
        let mut both = expected.clone();
        both.merge(&VoiceBaseline::of_stretch(&frames[600..].concat()));
        assert_eq!(live.baseline(), &both);
        assert_eq!(live.baseline().frames(), 150 + 50);
        // A block of silence adds nothing.
        for _ in 0..300 {
            live.push(&frame(-500.0, 0.0), false);
        }
        assert_eq!(live.baseline(), &both);
    }

    #[test]
    fn subtracting_the_mean_centres_the_voice() {
        let mut frames: Vec<f16> = [(-20.0, 4.0), (-10.0, 6.0)]
            .iter()
            .flat_map(|&(l, v)| frame(l, v))
            .collect();
        let mean = VoiceBaseline::of_stretch(&frames).mean().unwrap();
        subtract(&mut frames, &mean);
        // The louder frame (−10, 6) is the whole baseline: it becomes 0.
        assert!(frames[INPUT_DIM..].iter().all(|v| v.to_f32() == 0.0));
        assert_eq!(frames[1].to_f32(), -2.0);
    }
}
