//! What the window shows, as plain data: no egui types, so the logic that turns engine
//! events into it is tested without a window.

use std::collections::VecDeque;
use std::path::PathBuf;

use crate::audio::capture::DeviceInfo;
use crate::dsp::{HOP_LENGTH, N_MELS, SAMPLE_RATE};
use crate::engine::{Event, Level, Prediction, RunSummary};
use crate::labels::Emotion;
use crate::model::classifier::{argmax, Probabilities};
use crate::session::{PredictionRecord, Region, Session};

/// The live timeline shows the last 30 s...
pub const LIVE_TIMELINE_S: f64 = 30.0;
/// ...and so does the live spectrogram above it (3,000 columns of 10 ms), so the two
/// share their time axis.
pub const LIVE_COLUMNS: usize = 3000;
/// Seconds per spectrogram column.
pub const FRAME_S: f64 = HOP_LENGTH as f64 / SAMPLE_RATE as f64;
/// Errors kept for display.
const MAX_ERRORS: usize = 5;

/// A smoothed top probability below this is "low": the big label says "uncertain".
/// Chosen on the shipped model's validation speakers (RAVDESS actors 17 and 18, never
/// trained on; `emovox predict --timeline --json`, the app's smoothing replayed over the
/// 514 windows with speech): windows whose smoothed top probability was under 0.5 were
/// right 35–43 % of the time, against 60 % over all windows and 71–100 % above 0.7.
pub const UNCERTAIN_TOP: f32 = 0.5;
/// A lead over the second emotion below this is "close": under 0.15 the top emotion was
/// right 29–41 % of the time. Together the two rules call 39 % of those windows
/// uncertain; the top label was right on 41 % of them (72 % on the rest), and one of the
/// two emotions shown was right on 80 %.
pub const UNCERTAIN_MARGIN: f32 = 0.15;

/// What the big label says about a set of (smoothed, or a file's mean) probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading {
    /// One emotion leads clearly: it and its probability.
    Sure(Emotion, f32),
    /// The top probability is low or close to the second: the two leading emotions,
    /// the more probable first, with their probabilities.
    Uncertain([(Emotion, f32); 2]),
}

impl Reading {
    pub fn of(p: &Probabilities) -> Self {
        let mut order = Emotion::ALL;
        order.sort_by(|a, b| p[b.index()].total_cmp(&p[a.index()]));
        let [first, second, ..] = order;
        let (p1, p2) = (p[first.index()], p[second.index()]);
        if p1 < UNCERTAIN_TOP || p1 - p2 < UNCERTAIN_MARGIN {
            Reading::Uncertain([(first, p1), (second, p2)])
        } else {
            Reading::Sure(first, p1)
        }
    }
}

/// Where the audio on screen comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    /// Nothing yet: the start screen.
    Empty,
    /// A microphone (or a file standing in for one), scrolling.
    Live { source: String },
    /// A file analysed as a whole.
    File { path: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activity {
    Idle,
    /// The engine runs: listening, or analysing a file (`progress` tells how far).
    Running,
    Finished,
    Failed,
}

/// A stretch of a file where the model heard one emotion.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub label: Emotion,
    /// Mean probability of `label` over the stretch.
    pub confidence: f32,
}

/// A session being recorded, or one reopened for labelling.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub dir: PathBuf,
    pub session: Session,
    /// Stream time at which the recording began (0 for a reopened session).
    pub stream_t0: f64,
    /// Audio is being written now.
    pub active: bool,
    /// Changed since the last save.
    pub dirty: bool,
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub recording: Option<Recording>,
    /// The emotion a drag on the timeline labels.
    pub label_choice: Emotion,
    pub view: View,
    pub activity: Activity,
    pub devices: Vec<DeviceInfo>,
    /// Index into `devices`; `None` is the system default.
    pub device: Option<usize>,
    /// Why there is no microphone, in words (no sound server, no device), if so.
    pub audio_problem: Option<String>,
    pub model_name: String,
    pub model_f1: Option<f64>,
    pub level: Option<Level>,
    /// Spectrogram columns (mel dB), oldest first; live keeps the last `LIVE_COLUMNS`.
    pub columns: VecDeque<[f32; N_MELS]>,
    /// Frame index of `columns[0]`.
    pub first_column: usize,
    /// Columns received since the view began, for a texture that appends only new ones.
    pub columns_received: usize,
    /// Predictions, oldest first; live keeps the last `LIVE_TIMELINE_S`.
    pub predictions: VecDeque<Prediction>,
    /// Seconds analysed and in all, while a file is analysed.
    pub progress: Option<(f64, f64)>,
    pub duration_s: Option<f64>,
    pub dropped_samples: u64,
    pub errors: Vec<String>,
    pub summary: Option<RunSummary>,
    /// The playback cursor (seconds into the file) while a file plays.
    pub playback_s: Option<f64>,
    /// Where the next Play starts.
    pub play_from_s: f64,
    /// Counts the views begun, so the window knows when to show a new one's whole span.
    pub view_serial: u64,
    /// Seconds of the voice that a model reading each voice on its baseline has heard in
    /// this view (`Event::Voice`); `None` for other models.
    pub voice_heard_s: Option<f64>,
}

impl AppState {
    pub fn new(model_name: String, model_f1: Option<f64>) -> Self {
        Self {
            recording: None,
            label_choice: Emotion::Neutral,
            view: View::Empty,
            activity: Activity::Idle,
            devices: Vec::new(),
            device: None,
            audio_problem: None,
            model_name,
            model_f1,
            level: None,
            columns: VecDeque::new(),
            first_column: 0,
            columns_received: 0,
            predictions: VecDeque::new(),
            progress: None,
            duration_s: None,
            dropped_samples: 0,
            errors: Vec::new(),
            summary: None,
            playback_s: None,
            play_from_s: 0.0,
            view_serial: 0,
            voice_heard_s: None,
        }
    }

    /// Clears what the last run showed and starts a new view.
    pub fn begin(&mut self, view: View) {
        self.view = view;
        self.view_serial += 1;
        self.activity = Activity::Running;
        self.level = None;
        self.columns.clear();
        self.first_column = 0;
        self.columns_received = 0;
        self.predictions.clear();
        self.progress = None;
        self.duration_s = None;
        self.dropped_samples = 0;
        self.summary = None;
        self.voice_heard_s = None;
    }

    pub fn is_live(&self) -> bool {
        matches!(self.view, View::Live { .. })
    }

    pub fn is_running(&self) -> bool {
        self.activity == Activity::Running
    }

    /// Shows an error (the newest few are kept).
    pub fn error(&mut self, message: String) {
        if self.errors.len() == MAX_ERRORS {
            self.errors.remove(0);
        }
        self.errors.push(message);
    }

    /// Takes one event from the engine.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Started(info) => {
                self.duration_s = info.duration_s;
                if let View::Live { source } = &mut self.view {
                    *source = info.name;
                }
            }
            Event::Spectrogram { frame, mel_db } => {
                if self.columns.is_empty() {
                    self.first_column = frame;
                }
                self.columns.push_back(mel_db);
                self.columns_received += 1;
                if self.is_live() && self.columns.len() > LIVE_COLUMNS {
                    self.columns.pop_front();
                    self.first_column += 1;
                }
            }
            Event::Level(level) => self.level = Some(level),
            Event::Prediction(p) => {
                let t = p.t;
                if let Some(rec) = self.recording.as_mut().filter(|r| r.active) {
                    rec.session.predictions.push(PredictionRecord {
                        t: t - rec.stream_t0,
                        speech: p.speech,
                        label: p.label(),
                        probabilities: p.probabilities,
                    });
                    rec.dirty = true;
                }
                self.predictions.push_back(p);
                if self.is_live() {
                    while self
                        .predictions
                        .front()
                        .is_some_and(|old| old.t < t - LIVE_TIMELINE_S)
                    {
                        self.predictions.pop_front();
                    }
                }
            }
            Event::Voice { heard_s } => self.voice_heard_s = Some(heard_s),
            Event::Progress { done_s, total_s } => self.progress = Some((done_s, total_s)),
            Event::Dropped { total } => self.dropped_samples = total,
            Event::Error(message) => self.error(message),
            Event::Recording(status) => {
                if let Some(rec) = &mut self.recording {
                    rec.stream_t0 = status.stream_t0;
                    rec.session.extend_to(status.seconds);
                    if rec.active && !status.active {
                        rec.session.ended = Some(crate::clock::now_iso());
                        rec.session.close_label();
                    }
                    rec.active = status.active;
                    rec.dirty = true;
                }
            }
            Event::Finished(summary) => {
                self.activity = if summary.failed {
                    Activity::Failed
                } else {
                    Activity::Finished
                };
                self.dropped_samples = self.dropped_samples.max(summary.dropped_samples);
                self.summary = Some(summary);
                self.progress = None;
            }
        }
    }

    /// Seconds into the recording now (the newest stream time, less where it began).
    pub fn recording_time(&self) -> Option<f64> {
        let rec = self.recording.as_ref()?;
        let now = self.current().map_or(0.0, |p| p.t);
        Some((now - rec.stream_t0).max(0.0).max(rec.session.seconds))
    }

    /// Keys 1–8 while recording: `emotion` from now on.
    pub fn mark_now(&mut self, emotion: Emotion) {
        let Some(t) = self.recording_time() else {
            return;
        };
        if let Some(rec) = self.recording.as_mut().filter(|r| r.active) {
            rec.session.mark_from(t, emotion);
            rec.dirty = true;
        }
    }

    /// Adds a labelled region (seconds of the recording), as a drag on the timeline does.
    pub fn add_label(&mut self, start_s: f64, end_s: f64, label: Emotion) {
        if let Some(rec) = &mut self.recording {
            let (a, b) = (start_s.min(end_s).max(0.0), start_s.max(end_s));
            crate::session::labels::insert(
                &mut rec.session.labels,
                Region {
                    start_s: a,
                    end_s: b,
                    label,
                },
            );
            rec.dirty = true;
        }
    }

    /// Edits region `i` (move, relabel) or deletes it (`None`).
    pub fn edit_label(&mut self, i: usize, region: Option<Region>) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        if i >= rec.session.labels.len() {
            return;
        }
        rec.session.labels.remove(i);
        if let Some(r) = region {
            crate::session::labels::insert(&mut rec.session.labels, r);
        }
        rec.dirty = true;
    }

    /// The seconds the spectrogram and the timeline both show until the user zooms or
    /// scrolls: live (and before anything is shown), the last `LIVE_TIMELINE_S` (from 0
    /// until that much has been heard); a file, the whole of it.
    pub fn time_span(&self) -> (f64, f64) {
        let columns_end = (self.first_column + self.columns.len()) as f64 * FRAME_S;
        let end = self.current().map_or(0.0, |p| p.t).max(columns_end);
        if self.is_live() || self.view == View::Empty {
            ((end - LIVE_TIMELINE_S).max(0.0), end.max(LIVE_TIMELINE_S))
        } else {
            (0.0, self.duration_s.unwrap_or(end).max(FRAME_S))
        }
    }

    /// The newest prediction.
    pub fn current(&self) -> Option<&Prediction> {
        self.predictions.back()
    }

    /// A file's overall reading: the mean over its windows with speech.
    pub fn overall(&self) -> Option<(Emotion, Probabilities)> {
        let p = self.summary.as_ref()?.overall?;
        Some((Emotion::ALL[argmax(&p)], p))
    }

    /// Consecutive windows with speech and the same top label, as stretches of the file
    /// (each window is credited with the last 0.25 s it adds).
    pub fn segments(&self) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        let mut sum = 0.0f32;
        let mut n = 0u32;
        let mut prev_t = 0.0;
        for p in &self.predictions {
            let start = prev_t;
            prev_t = p.t;
            let Some(label) = p.label() else {
                continue;
            };
            let confidence = p.probabilities[label.index()];
            match out.last_mut() {
                Some(seg) if seg.label == label && (seg.end_s - start).abs() < 1e-6 => {
                    seg.end_s = p.t;
                    sum += confidence;
                    n += 1;
                    seg.confidence = sum / n as f32;
                }
                _ => {
                    out.push(Segment {
                        start_s: start,
                        end_s: p.t,
                        label,
                        confidence,
                    });
                    sum = confidence;
                    n = 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn prediction(t: f64, top: Emotion, speech: bool) -> Prediction {
        let mut p = [0.02f32; 8];
        p[top.index()] = 0.86;
        Prediction {
            t,
            probabilities: p,
            smoothed: p,
            speech,
            latency: Duration::ZERO,
        }
    }

    fn probabilities(pairs: &[(Emotion, f32)]) -> Probabilities {
        let mut p = [0.0f32; Emotion::COUNT];
        for &(e, v) in pairs {
            p[e.index()] = v;
        }
        p
    }

    #[test]
    fn a_low_or_close_top_probability_is_uncertain() {
        use Emotion::*;
        let sure = probabilities(&[(Angry, 0.7), (Disgust, 0.2), (Sad, 0.1)]);
        assert_eq!(Reading::of(&sure), Reading::Sure(Angry, 0.7));
        // Low: under UNCERTAIN_TOP, although far ahead of the rest.
        let low = probabilities(&[(Calm, 0.45), (Sad, 0.05), (Neutral, 0.1)]);
        assert_eq!(
            Reading::of(&low),
            Reading::Uncertain([(Calm, 0.45), (Neutral, 0.1)])
        );
        // Close: high, but the second is within UNCERTAIN_MARGIN.
        let close = probabilities(&[(Happy, 0.52), (Surprised, 0.42), (Sad, 0.06)]);
        assert_eq!(
            Reading::of(&close),
            Reading::Uncertain([(Happy, 0.52), (Surprised, 0.42)])
        );
        let clear = probabilities(&[(Happy, 0.56), (Surprised, 0.40), (Sad, 0.04)]);
        assert_eq!(Reading::of(&clear), Reading::Sure(Happy, 0.56));
    }

    #[test]
    fn live_views_keep_thirty_seconds_of_columns_and_of_predictions() {
        let mut s = AppState::new("m".into(), None);
        s.begin(View::Live {
            source: "mic".into(),
        });
        for frame in 0..LIVE_COLUMNS + 500 {
            s.apply(Event::Spectrogram {
                frame,
                mel_db: [frame as f32; N_MELS],
            });
        }
        assert_eq!(s.columns.len(), LIVE_COLUMNS);
        assert_eq!(s.first_column, 500);
        assert_eq!(s.columns[0][0], 500.0);
        assert_eq!(s.columns_received, LIVE_COLUMNS + 500);
        assert!((LIVE_COLUMNS as f64 * FRAME_S - LIVE_TIMELINE_S).abs() < 1e-9);
        for i in 1..=200 {
            s.apply(Event::Prediction(prediction(
                i as f64 * 0.25,
                Emotion::Calm,
                true,
            )));
        }
        assert_eq!(s.current().map(|p| p.t), Some(50.0));
        assert!(s.predictions.front().is_some_and(|p| p.t >= 20.0));
        assert_eq!(s.time_span(), (20.0, 50.0));
        assert_eq!(AppState::new("m".into(), None).time_span(), (0.0, 30.0));
    }

    #[test]
    fn a_file_keeps_everything_and_reads_as_segments() {
        let mut s = AppState::new("m".into(), None);
        s.begin(View::File {
            path: "a.wav".into(),
        });
        for frame in 0..LIVE_COLUMNS + 500 {
            s.apply(Event::Spectrogram {
                frame,
                mel_db: [0.0; N_MELS],
            });
        }
        assert_eq!(s.columns.len(), LIVE_COLUMNS + 500);
        let script = [
            (Emotion::Neutral, false),
            (Emotion::Angry, true),
            (Emotion::Angry, true),
            (Emotion::Sad, true),
            (Emotion::Sad, false),
            (Emotion::Angry, true),
        ];
        for (i, (e, speech)) in script.iter().enumerate() {
            s.apply(Event::Prediction(prediction(
                (i + 1) as f64 * 0.25,
                *e,
                *speech,
            )));
        }
        let segs = s.segments();
        let got: Vec<(f64, f64, Emotion)> =
            segs.iter().map(|g| (g.start_s, g.end_s, g.label)).collect();
        assert_eq!(
            got,
            vec![
                (0.25, 0.75, Emotion::Angry),
                (0.75, 1.0, Emotion::Sad),
                (1.25, 1.5, Emotion::Angry),
            ]
        );
        assert!((segs[0].confidence - 0.86).abs() < 1e-6);
        s.apply(Event::Finished(RunSummary {
            overall: Some(prediction(0.0, Emotion::Angry, true).probabilities),
            ..RunSummary::default()
        }));
        assert_eq!(s.activity, Activity::Finished);
        assert_eq!(s.overall().map(|o| o.0), Some(Emotion::Angry));
    }

    #[test]
    fn errors_are_kept_newest_last_and_a_failed_run_says_so() {
        let mut s = AppState::new("m".into(), None);
        s.begin(View::File {
            path: "bad.wav".into(),
        });
        for i in 0..7 {
            s.apply(Event::Error(format!("e{i}")));
        }
        assert_eq!(s.errors, vec!["e2", "e3", "e4", "e5", "e6"]);
        s.apply(Event::Finished(RunSummary {
            failed: true,
            ..RunSummary::default()
        }));
        assert_eq!(s.activity, Activity::Failed);
        assert!(!s.is_running());
    }
}
