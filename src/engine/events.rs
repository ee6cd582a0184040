//! What the engine tells its consumers (the app, `listen`, the session recorder).

use std::time::Duration;

use crate::dsp::N_MELS;
use crate::labels::Emotion;
use crate::model::classifier::{argmax, Probabilities};

#[derive(Clone, Debug)]
pub enum Event {
    /// The source is open and audio is flowing.
    Started(SourceInfo),
    /// One 10 ms column of the mel spectrogram in dB (the streaming rule), for display.
    Spectrogram { frame: usize, mel_db: [f32; N_MELS] },
    /// Input level over the last 50 ms.
    Level(Level),
    /// The model's reading of the window that ends at `t`, every hop.
    Prediction(Prediction),
    /// How much of the voice a model that reads each voice on its baseline has heard:
    /// seconds of the 3 s blocks with speech that its baseline took in (sent with the first
    /// prediction, when a block joins, and 0 after [`crate::engine::Command::NewVoice`]).
    /// Other models send none.
    Voice { heard_s: f64 },
    /// How far a file's analysis has got.
    Progress { done_s: f64, total_s: f64 },
    /// Samples lost because the worker fell behind the device, since the start.
    Dropped { total: u64 },
    /// The source failed (a `Finished` follows), or something beside it did (a recording).
    Error(String),
    /// A recording's state: sent when it starts, every second while it runs, and when it
    /// stops (`active: false`).
    Recording(RecordingStatus),
    /// The last event of a run.
    Finished(RunSummary),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordingStatus {
    pub path: std::path::PathBuf,
    /// Seconds of audio in the file.
    pub seconds: f64,
    /// Stream time (as `Prediction::t`) at which the recording began.
    pub stream_t0: f64,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// The device's name or the file's path.
    pub name: String,
    pub rate: u32,
    pub channels: u16,
    /// Seconds of audio, known for files.
    pub duration_s: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Seconds since the start of the stream (end of the measured block).
    pub t: f64,
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Seconds since the start of the stream at the end of the window.
    pub t: f64,
    /// The model's softmax for the window.
    pub probabilities: Probabilities,
    /// For display: an exponential moving average over speech windows (see
    /// `pipeline::SMOOTHING`), restarted when speech resumes after a pause.
    pub smoothed: Probabilities,
    /// The voice gate was open during the last hop.
    pub speech: bool,
    /// From the hand-over of the audio that completed the window to this event.
    pub latency: Duration,
}

impl Prediction {
    /// The most probable emotion, whether or not anyone spoke.
    pub fn top(&self) -> Emotion {
        Emotion::ALL[argmax(&self.probabilities)]
    }

    /// The emotion to report: none without speech.
    pub fn label(&self) -> Option<Emotion> {
        self.speech.then(|| self.top())
    }
}

/// How a run went, sent once at its end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Seconds of audio processed.
    pub audio_s: f64,
    pub predictions: u64,
    pub dropped_samples: u64,
    /// Events the consumer was too slow to take (display frames first).
    pub lost_events: u64,
    /// CPU time the worker thread used, and the wall time it ran.
    pub worker_cpu_s: f64,
    pub wall_s: f64,
    /// Mean probabilities over the windows with speech (all windows if none had speech).
    pub overall: Option<Probabilities>,
    /// The run ended because of an error (reported in an `Error` event before this).
    pub failed: bool,
}

/// What a model that reads each voice on its baseline has heard of the speaker
/// ([`Event::Voice`]), in the words the app's status line and `emovox listen` share.
pub fn voice_words(heard_s: f64) -> String {
    if heard_s > 0.0 {
        format!("voice learnt from {heard_s:.0} s")
    } else {
        "learning the voice (read on itself until 3 s of speech)".to_owned()
    }
}
