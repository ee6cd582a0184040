//! Whole-file predictions, for `emovox predict` and `emovox serve`: the clip windows that
//! `emovox evaluate` scores (3 s every 0.25 s, probabilities averaged over the file), so
//! the accuracy measured on unseen voices is the accuracy of what these report. Each
//! window also carries a speech flag from the voice gate the live engine uses, and only
//! windows with speech count: a file without speech gets no label.

use std::io::Write;
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::dsp::{StreamingExtractor, HOP_LENGTH, SAMPLE_RATE};
use crate::labels::Emotion;
use crate::model::classifier::{argmax, mean, ModelError, Probabilities, WINDOW_GROUP};
use crate::model::input::{
    frame_vector, loop_from, speech_window, window_starts, INPUT_DIM, WINDOW_FRAMES,
};
use crate::model::voice::{RunningVoice, VoiceBaseline};
use crate::model::Classifier;
use crate::vad::{frame_flags, SpeechGate};

/// A window counts as speech when the voice gate was open for at least this many of its
/// frames (0.25 s, one hop): a cough or a click alone does not make a window speech.
const MIN_SPEECH_FRAMES: usize = 25;

/// What the model heard in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileAnalysis {
    pub duration_s: f64,
    /// Seconds during which the voice gate was open.
    pub speech_s: f64,
    /// Mean of the probabilities of the windows with speech; `None` when no window had.
    pub probabilities: Option<Probabilities>,
    pub windows: Vec<WindowPrediction>,
}

impl FileAnalysis {
    /// The file's emotion: none without speech.
    pub fn label(&self) -> Option<Emotion> {
        self.probabilities.map(|p| Emotion::ALL[argmax(&p)])
    }
}

/// One sliding window of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowPrediction {
    pub start_s: f64,
    /// The window's end, or the end of the file for a file shorter than a window.
    pub end_s: f64,
    pub speech: bool,
    pub probabilities: Probabilities,
}

impl WindowPrediction {
    /// The window's emotion: none without speech.
    pub fn label(&self) -> Option<Emotion> {
        self.speech
            .then(|| Emotion::ALL[argmax(&self.probabilities)])
    }
}

/// The voice of a whole file, for a per-voice model: its 3 s blocks with speech, as the
/// live view hears them (a file is taken to be one voice); a file in which the gate hears
/// no speech, all of it.
pub fn file_voice(frames: &[half::f16], speech: &[bool]) -> VoiceBaseline {
    let mut voice = RunningVoice::default();
    for (frame, &s) in frames.chunks_exact(INPUT_DIM).zip(speech) {
        voice.push(frame, s);
    }
    voice.close_block();
    match voice.baseline().frames() {
        0 => VoiceBaseline::of_stretch(frames),
        _ => voice.baseline().clone(),
    }
}

/// Analyses a 16 kHz mono signal.
pub fn analyse(
    model: &Classifier,
    extractor: &mut StreamingExtractor,
    signal: &[f32],
) -> Result<FileAnalysis, ModelError> {
    let mut frames = Vec::with_capacity(crate::dsp::frame_count(signal.len()) * INPUT_DIM);
    let mut on_frame = |f: &crate::dsp::FrameFeatures| {
        frames.extend(frame_vector(f).map(half::f16::from_f32));
    };
    extractor.reset();
    extractor.push(signal, &mut on_frame);
    extractor.finish(&mut on_frame);
    let n = frames.len() / INPUT_DIM;
    let speech = frame_flags(&mut SpeechGate::default(), signal, n);

    let starts = window_starts(n);
    let voice = model
        .reads_per_voice()
        .then(|| file_voice(&frames, &speech));
    let voice = voice.as_ref();
    // Windows read as they are go through the model together, sharing the clip's
    // convolutions; those whose speech starts late are looped, each its own full window.
    let (plain, late): (Vec<usize>, Vec<usize>) = (0..starts.len()).partition(|&i| {
        let (start, end) = (starts[i], (starts[i] + WINDOW_FRAMES).min(n));
        loop_from(speech[start..end].iter().copied(), end - start).is_none()
    });
    let mut probs = vec![[0.0f32; Emotion::COUNT]; starts.len()];
    let plain_starts: Vec<usize> = plain.iter().map(|&i| starts[i]).collect();
    for (&i, p) in plain
        .iter()
        .zip(model.windows_of(voice, &frames, &plain_starts)?)
    {
        probs[i] = p;
    }
    // The looped windows one after another, a group at a time (memory stays flat).
    let mut looped = Vec::new();
    let mut group_frames = Vec::with_capacity(WINDOW_GROUP * WINDOW_FRAMES * INPUT_DIM);
    for group in late.chunks(WINDOW_GROUP) {
        group_frames.clear();
        for &i in group {
            let (start, end) = (starts[i], (starts[i] + WINDOW_FRAMES).min(n));
            group_frames.extend_from_slice(speech_window(
                &frames[start * INPUT_DIM..end * INPUT_DIM],
                speech[start..end].iter().copied(),
                &mut looped,
            ));
        }
        let group_starts: Vec<usize> = (0..group.len()).map(|k| k * WINDOW_FRAMES).collect();
        for (&i, p) in group
            .iter()
            .zip(model.windows_of(voice, &group_frames, &group_starts)?)
        {
            probs[i] = p;
        }
    }
    // Running count of speech frames, so each window's share is one subtraction.
    let mut speech_before = Vec::with_capacity(n + 1);
    speech_before.push(0usize);
    for &s in &speech {
        speech_before.push(speech_before.last().copied().unwrap_or(0) + usize::from(s));
    }
    let windows: Vec<WindowPrediction> = starts
        .iter()
        .zip(&probs)
        .map(|(&start, p)| {
            let end = (start + WINDOW_FRAMES).min(n);
            WindowPrediction {
                start_s: frame_s(start),
                end_s: frame_s(end),
                speech: speech_before[end] - speech_before[start.min(end)] >= MIN_SPEECH_FRAMES,
                probabilities: *p,
            }
        })
        .collect();
    Ok(FileAnalysis {
        duration_s: signal.len() as f64 / f64::from(SAMPLE_RATE),
        speech_s: frame_s(speech_before[n]),
        probabilities: mean_over_speech(&windows),
        windows,
    })
}

fn mean_over_speech(windows: &[WindowPrediction]) -> Option<Probabilities> {
    let speech: Vec<Probabilities> = windows
        .iter()
        .filter(|w| w.speech)
        .map(|w| w.probabilities)
        .collect();
    (!speech.is_empty()).then(|| mean(&speech))
}

fn frame_s(frames: usize) -> f64 {
    frames as f64 * HOP_LENGTH as f64 / f64::from(SAMPLE_RATE)
}

/// Seconds rounded to milliseconds for output.
fn ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// `{"path"?, "label", "probabilities", "duration_s", "speech_s", "timeline"?, "model"?}`:
/// the JSON both `predict --json` (with the path) and `serve` (with the model's name)
/// give for a file; the timeline when asked for. Without speech, `label` and
/// `probabilities` are null.
pub struct AnalysisJson<'a> {
    pub path: Option<&'a str>,
    pub analysis: &'a FileAnalysis,
    pub timeline: bool,
    pub model: Option<&'a str>,
}

impl Serialize for AnalysisJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.analysis;
        let mut map = s.serialize_map(None)?;
        if let Some(path) = self.path {
            map.serialize_entry("path", path)?;
        }
        map.serialize_entry("label", &a.label().map(Emotion::name))?;
        map.serialize_entry(
            "probabilities",
            &a.probabilities.as_ref().map(ProbabilitiesJson),
        )?;
        map.serialize_entry("duration_s", &ms(a.duration_s))?;
        map.serialize_entry("speech_s", &ms(a.speech_s))?;
        if self.timeline {
            let windows: Vec<WindowJson> = a.windows.iter().map(WindowJson).collect();
            map.serialize_entry("timeline", &windows)?;
        }
        if let Some(model) = self.model {
            map.serialize_entry("model", model)?;
        }
        map.end()
    }
}

/// `{"start_s", "end_s", "speech", "label", "probabilities"}`; `label` is null without speech.
struct WindowJson<'a>(&'a WindowPrediction);

impl Serialize for WindowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.0;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("start_s", &ms(w.start_s))?;
        map.serialize_entry("end_s", &ms(w.end_s))?;
        map.serialize_entry("speech", &w.speech)?;
        map.serialize_entry("label", &w.label().map(Emotion::name))?;
        map.serialize_entry("probabilities", &ProbabilitiesJson(&w.probabilities))?;
        map.end()
    }
}

/// The eight probabilities by name, in the labels' order, to four decimals.
pub struct ProbabilitiesJson<'a>(pub &'a Probabilities);

impl Serialize for ProbabilitiesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(Emotion::COUNT))?;
        for (e, p) in Emotion::ALL.iter().zip(self.0) {
            map.serialize_entry(e.name(), &((f64::from(*p) * 1e4).round() / 1e4))?;
        }
        map.end()
    }
}

/// The header row of `emovox predict --csv`: a row per window with `timeline`, else a row
/// per file; the eight probabilities by name, in the labels' order.
pub fn write_csv_header(out: &mut impl Write, timeline: bool) -> std::io::Result<()> {
    let names = Emotion::names().join(",");
    if timeline {
        writeln!(out, "path,start_s,end_s,speech,label,{names}")
    } else {
        writeln!(out, "path,label,duration_s,speech_s,{names}")
    }
}

/// A file's rows of `emovox predict --csv` (the app's timeline export writes the same):
/// `path,start_s,end_s,speech,label,<eight probabilities>` per window with `timeline`,
/// else `path,label,duration_s,speech_s,<eight probabilities>`. Without speech the label
/// (and, for a whole file, the probabilities) are left empty.
pub fn write_csv(
    out: &mut impl Write,
    path: &Path,
    a: &FileAnalysis,
    timeline: bool,
) -> std::io::Result<()> {
    let path = csv_field(&path.to_string_lossy());
    if timeline {
        for w in &a.windows {
            write!(
                out,
                "{path},{:.3},{:.3},{},{}",
                w.start_s,
                w.end_s,
                w.speech,
                w.label().map_or("", Emotion::name)
            )?;
            write_probabilities(out, &w.probabilities)?;
        }
        return Ok(());
    }
    write!(
        out,
        "{path},{},{:.3},{:.3}",
        a.label().map_or("", Emotion::name),
        a.duration_s,
        a.speech_s
    )?;
    match &a.probabilities {
        Some(p) => write_probabilities(out, p),
        None => writeln!(out, "{}", ",".repeat(Emotion::COUNT)),
    }
}

/// `,p1,...,p8` to four decimals, and the line's end.
pub fn write_probabilities(out: &mut impl Write, p: &[f32]) -> std::io::Result<()> {
    for v in p {
        write!(out, ",{v:.4}")?;
    }
    writeln!(out)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
