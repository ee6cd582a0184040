//! Onsets: what the model reads in the first second after someone starts talking, when the
//! live window still holds mostly the quiet before. Each clip of RAVDESS actors 17–20 (the
//! shipped model's validation actors) follows 3 s of a quiet room (pink noise at −60 dBFS);
//! the live windows (the last 3 s, every 0.25 s) whose end falls within 1 s after the gate
//! opened are the onset windows, those ending 2 s or more after it the settled ones.
//!
//! Ways of classifying a window, compared on both:
//! - `whole`: the last 3 s as they are (what the live view did);
//! - `speech only`: from 0.1 s before the window's first speech frame, the rest padded by
//!   repeating the last frame (how a short file is padded);
//! - `looped`: the same stretch repeated until it fills the window;
//! - each with a minimum of speech in the window before any label is given.
//!
//! `EMOVOX_DATA=../shared/data cargo bench --bench onsets`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::classifier::argmax;
use emovox::model::dataset::scan;
use emovox::model::input::{signal_frames, to_f16, HOP_FRAMES, INPUT_DIM, WINDOW_FRAMES};
use emovox::model::Classifier;
use emovox::vad::noise::Noise;
use emovox::vad::{frame_flags, SpeechGate};
use half::f16;

const LEAD_S: usize = 3;
/// Frames kept before the first speech frame of a window (100 ms).
const PRE_ROLL: usize = 10;

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Whole,
    SpeechOnly,
    Looped,
    /// Looped only when the speech starts more than 1 s into the window.
    LoopedIfLate,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Whole => "whole",
            Way::SpeechOnly => "speech only",
            Way::Looped => "looped",
            Way::LoopedIfLate => "looped if speech starts after 1 s",
        }
    }

    /// The frames handed to the model for the window ending at `end`.
    fn window(self, frames: &[f16], speech: &[bool], end: usize) -> Vec<f16> {
        let start = end.saturating_sub(WINDOW_FRAMES);
        let first = (start..end).find(|&i| speech[i]).unwrap_or(start);
        let from = match self {
            Way::Whole => start,
            Way::LoopedIfLate if first < start + 100 => start,
            _ => first.saturating_sub(PRE_ROLL).max(start),
        };
        let part = &frames[from * INPUT_DIM..end * INPUT_DIM];
        match self {
            Way::Looped | Way::LoopedIfLate => part
                .chunks_exact(INPUT_DIM)
                .cycle()
                .take(WINDOW_FRAMES)
                .flatten()
                .copied()
                .collect(),
            _ => part.to_vec(),
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    windows: usize,
    labelled: usize,
    fearful_on_other: usize,
    other: usize,
    correct: usize,
}

fn main() {
    let Some(data) = std::env::var_os("EMOVOX_DATA").map(PathBuf::from) else {
        println!("onsets: set EMOVOX_DATA to the data folder (it needs ravdess/)");
        return;
    };
    let model = Classifier::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")).unwrap();
    let clips: Vec<_> = scan(&data.join("ravdess"))
        .unwrap()
        .clips
        .into_iter()
        .filter(|c| (17..=20).contains(&c.actor))
        .collect();
    let ways = [Way::Whole, Way::SpeechOnly, Way::Looped, Way::LoopedIfLate];
    let minimums = [0usize, 50, 100];
    // [way][minimum][onset or settled]
    let mut tallies = [[[Tally::default(); 2]; 3]; 4];
    let mut extractor = StreamingExtractor::new();
    let mut gate = SpeechGate::default();
    let started = std::time::Instant::now();
    for (k, clip) in clips.iter().enumerate() {
        let speech_audio = decode_file(&clip.path).unwrap().samples;
        let mut signal = Noise::Pink.generate(LEAD_S * 16_000, -60.0, k as u64);
        signal.extend(&speech_audio);
        let frames = to_f16(&signal_frames(&mut extractor, &signal));
        let n = frames.len() / INPUT_DIM;
        let speech = frame_flags(&mut gate, &signal, n);
        let Some(onset) = speech.iter().position(|&s| s) else {
            continue;
        };
        for end in (HOP_FRAMES..=n).step_by(HOP_FRAMES) {
            let kind = if end > onset && end <= onset + 100 {
                0
            } else if end >= onset + 200 {
                1
            } else {
                continue;
            };
            let start = end.saturating_sub(WINDOW_FRAMES);
            let speech_frames = speech[start..end].iter().filter(|&&s| s).count();
            for (w, way) in ways.iter().enumerate() {
                let window = way.window(&frames, &speech, end);
                let p = model.windows(&window, &[0]).unwrap()[0];
                let label = Emotion::ALL[argmax(&p)];
                for (m, &min) in minimums.iter().enumerate() {
                    let t = &mut tallies[w][m][kind];
                    t.windows += 1;
                    if speech_frames < min.max(1) {
                        continue;
                    }
                    t.labelled += 1;
                    t.correct += usize::from(label == clip.emotion);
                    if clip.emotion != Emotion::Fearful {
                        t.other += 1;
                        t.fearful_on_other += usize::from(label == Emotion::Fearful);
                    }
                }
            }
        }
    }
    println!(
        "{} clips of actors 17–20 after {LEAD_S} s of quiet room, {:.0} s\n",
        clips.len(),
        started.elapsed().as_secs_f64()
    );
    println!("| way | minimum speech | onset windows labelled | fearful on non-fearful clips | accuracy (onset) | accuracy (settled) |");
    println!("|---|---|---|---|---|---|");
    for (w, way) in ways.iter().enumerate() {
        for (m, min) in minimums.iter().enumerate() {
            let [onset, settled] = tallies[w][m];
            let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
            println!(
                "| {} | {:.1} s | {}/{} | {:.1} % ({}/{}) | {:.1} % | {:.1} % |",
                way.name(),
                (*min).max(1) as f64 / 100.0,
                onset.labelled,
                onset.windows,
                pct(onset.fearful_on_other, onset.other),
                onset.fearful_on_other,
                onset.other,
                pct(onset.correct, onset.labelled),
                pct(settled.correct, settled.labelled),
            );
        }
    }
}
