//! The engine's synchronous core: interleaved samples at the device rate in, events out.
//! Downmix → stream resampling to 16 kHz → streaming features and the voice gate → a
//! sliding window of model inputs → the model every hop. Sources feed it; it knows no threads.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use half::f16;

use super::events::{Event, Level, Prediction, RecordingStatus};
use crate::audio::resample::StreamResampler;
use crate::audio::WavStreamWriter;
use crate::dsp::{FrameFeatures, StreamingExtractor, HOP_LENGTH, SAMPLE_RATE};
use crate::labels::Emotion;
use crate::model::classifier::{ModelError, Probabilities};
use crate::model::input::{frame_vector, speech_window, INPUT_DIM, WINDOW_FRAMES};
use crate::model::voice::RunningVoice;
use crate::model::Classifier;
use crate::vad::{chunk_of_frame, ChunkSpeech, SpeechGate};

/// Weight of the newest window in the smoothed probabilities shown to people: at one
/// prediction per 250 ms that is a time constant of about 0.36 s. The windows already
/// overlap by 2.75 s, so little smoothing is needed to steady the display.
pub const SMOOTHING: f32 = 0.5;
/// A pause longer than this (in frames, 1 s) restarts the smoothing: a new utterance is
/// shown as itself, not blended with the last one.
const SMOOTHING_RESTART_FRAMES: usize = 100;
/// Voice gate decisions kept: 128 chunks of 32 ms, more than a window.
const CHUNK_RING: usize = 128;
/// Input level is measured over blocks of 50 ms.
const LEVEL_BLOCK: usize = SAMPLE_RATE as usize / 20;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot resample {rate} Hz audio: {reason}")]
    Resample { rate: u32, reason: String },
    #[error("{channels} channels is not a layout emovox can downmix")]
    Channels { channels: u16 },
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[derive(Clone, Copy, Debug)]
pub struct PipelineConfig {
    /// Frames (10 ms) between predictions.
    pub hop_frames: usize,
    /// Emit a spectrogram column per frame (the app draws them; `listen` does not need them).
    pub spectrogram: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            hop_frames: crate::model::input::HOP_FRAMES,
            spectrogram: true,
        }
    }
}

pub struct Pipeline {
    recorder: Option<Recorder>,
    rate: u32,
    channels: usize,
    mono: Vec<f32>,
    resampler: StreamResampler,
    extractor: StreamingExtractor,
    gate: SpeechGate,
    frames: FrameState,
    level: LevelMeter,
}

impl Pipeline {
    pub fn new(
        classifier: Arc<Classifier>,
        rate: u32,
        channels: u16,
        config: PipelineConfig,
    ) -> Result<Self, PipelineError> {
        if channels == 0 {
            return Err(PipelineError::Channels { channels });
        }
        let resampler = StreamResampler::new(rate)
            .map_err(|reason| PipelineError::Resample { rate, reason })?;
        Ok(Self {
            recorder: None,
            rate,
            channels: usize::from(channels),
            mono: Vec::with_capacity(8192),
            resampler,
            extractor: StreamingExtractor::new(),
            gate: SpeechGate::default(),
            frames: FrameState::new(classifier, config),
            level: LevelMeter::default(),
        })
    }

    /// Feeds interleaved samples (whole frames) that were handed over at `handed`.
    pub fn push(
        &mut self,
        interleaved: &[f32],
        handed: Instant,
        out: &mut impl FnMut(Event),
    ) -> Result<(), PipelineError> {
        self.mono.clear();
        match self.channels {
            1 => self.mono.extend_from_slice(interleaved),
            n => self.mono.extend(
                interleaved
                    .chunks_exact(n)
                    .map(|f| f.iter().sum::<f32>() / n as f32),
            ),
        }
        let Self {
            resampler,
            extractor,
            gate,
            frames,
            level,
            mono,
            rate,
            recorder,
            ..
        } = self;
        resampler
            .push(mono, |samples| {
                if let Some(r) = recorder {
                    r.write(samples);
                }
                level.feed(samples, out);
                gate.push(samples, |c| frames.on_chunk(c));
                extractor.push(samples, |f| frames.on_frame(f, handed, out));
            })
            .map_err(|reason| PipelineError::Resample {
                rate: *rate,
                reason,
            })?;
        self.report_recording(out);
        self.frames.take_error()
    }

    /// Starts writing the 16 kHz stream to a WAV file (replacing any recording).
    pub fn start_recording(&mut self, path: &Path, out: &mut impl FnMut(Event)) {
        self.stop_recording(out);
        match WavStreamWriter::create(path, SAMPLE_RATE) {
            Ok(writer) => {
                let recorder = Recorder {
                    writer,
                    stream_t0: self.audio_seconds(),
                    error: None,
                    reported_s: 0.0,
                };
                out(Event::Recording(recorder.status(true)));
                self.recorder = Some(recorder);
            }
            Err(e) => out(Event::Error(format!(
                "cannot record to {}: {e}",
                path.display()
            ))),
        }
    }

    /// Forgets the voice heard so far: a model that reads each voice on its baseline
    /// learns the next speaker's afresh (and says so with `Event::Voice`).
    pub fn new_voice(&mut self, out: &mut impl FnMut(Event)) {
        self.frames.voice = RunningVoice::default();
        if self.frames.classifier.reads_per_voice() {
            out(Event::Voice { heard_s: 0.0 });
        }
    }

    /// Finishes the recording, if one runs.
    pub fn stop_recording(&mut self, out: &mut impl FnMut(Event)) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let status = recorder.status(false);
        let path = status.path.clone();
        if let Err(e) = recorder.writer.finish() {
            out(Event::Error(format!(
                "{}: the recording could not be completed ({e}); what was recorded before is kept",
                path.display()
            )));
        }
        out(Event::Recording(status));
    }

    /// A status every second; on a write error (a full disk), the recording stops with an
    /// error event, keeping what was written before.
    fn report_recording(&mut self, out: &mut impl FnMut(Event)) {
        let Some(r) = &mut self.recorder else {
            return;
        };
        if let Some(e) = r.error.take() {
            let path = r.writer.path().display().to_string();
            out(Event::Error(format!(
                "recording stopped: {path}: {e}; what was recorded so far is kept"
            )));
            self.stop_recording(out);
        } else if r.writer.seconds() >= r.reported_s + 1.0 {
            r.reported_s = r.writer.seconds().floor();
            out(Event::Recording(r.status(true)));
        }
    }

    /// Ends a stream that has an end (a file): the frames that reach into the padding
    /// after the last sample, then one last prediction if any frames came since the
    /// previous one. (A resampled stream loses its last ~20 ms still in the resampler.)
    pub fn finish(&mut self, out: &mut impl FnMut(Event)) -> Result<(), PipelineError> {
        let handed = Instant::now();
        let Self {
            extractor,
            gate,
            frames,
            ..
        } = self;
        gate.finish(|c| frames.on_chunk(c));
        extractor.finish(|f| frames.on_frame(f, handed, out));
        if frames.count % frames.config.hop_frames != 0 {
            frames.predict(handed, out);
        }
        frames.take_error()
    }

    /// Seconds of audio in so far (10 ms per frame).
    pub fn audio_seconds(&self) -> f64 {
        frame_seconds(self.frames.count)
    }

    pub fn predictions(&self) -> u64 {
        self.frames.predictions
    }

    /// Mean probabilities over the windows with speech; none without speech (the model's
    /// guess for a fan or for silence means nothing).
    pub fn overall(&self) -> Option<Probabilities> {
        let n = self.frames.speech_windows;
        (n > 0).then(|| self.frames.speech_sum.map(|s| s / n as f32))
    }
}

fn frame_seconds(frames: usize) -> f64 {
    frames as f64 * HOP_LENGTH as f64 / f64::from(SAMPLE_RATE)
}

/// A WAV file being written from the 16 kHz stream.
struct Recorder {
    writer: WavStreamWriter,
    stream_t0: f64,
    /// The first write error; the recording stops after the chunk it happened in.
    error: Option<std::io::Error>,
    reported_s: f64,
}

impl Recorder {
    fn write(&mut self, samples: &[f32]) {
        if self.error.is_none() {
            if let Err(e) = self.writer.write(samples) {
                self.error = Some(e);
            }
        }
    }

    fn status(&self, active: bool) -> RecordingStatus {
        RecordingStatus {
            path: self.writer.path().to_owned(),
            seconds: self.writer.seconds(),
            stream_t0: self.stream_t0,
            active,
        }
    }
}

/// Everything that happens per 10 ms frame.
struct FrameState {
    classifier: Arc<Classifier>,
    config: PipelineConfig,
    /// The last `WINDOW_FRAMES` model inputs, as a circular buffer of frames.
    recent: Vec<f16>,
    /// The window in time order, handed to the model.
    window: Vec<f16>,
    /// The window's speech, looped, when speech starts late in it (`speech_window`).
    looped: Vec<f16>,
    /// The speaker's baseline so far, which a per-voice model reads every window on.
    voice: RunningVoice,
    /// The voice gate's decisions for the last `CHUNK_RING` chunks, by chunk index.
    chunk_speech: [bool; CHUNK_RING],
    chunks_decided: usize,
    count: usize,
    /// Whether the voice gate was open for any chunk since the last prediction.
    speech_in_hop: bool,
    frames_since_speech: usize,
    smoothed: Option<Probabilities>,
    predictions: u64,
    speech_windows: u64,
    speech_sum: Probabilities,
    error: Option<ModelError>,
}

impl FrameState {
    fn new(classifier: Arc<Classifier>, config: PipelineConfig) -> Self {
        Self {
            classifier,
            config: PipelineConfig {
                hop_frames: config.hop_frames.max(1),
                ..config
            },
            recent: vec![f16::ZERO; WINDOW_FRAMES * INPUT_DIM],
            window: vec![f16::ZERO; WINDOW_FRAMES * INPUT_DIM],
            looped: Vec::with_capacity(WINDOW_FRAMES * INPUT_DIM),
            voice: RunningVoice::default(),
            chunk_speech: [false; CHUNK_RING],
            chunks_decided: 0,
            count: 0,
            speech_in_hop: false,
            frames_since_speech: usize::MAX / 2,
            smoothed: None,
            predictions: 0,
            speech_windows: 0,
            speech_sum: [0.0; Emotion::COUNT],
            error: None,
        }
    }

    fn on_chunk(&mut self, c: ChunkSpeech) {
        self.speech_in_hop |= c.speech;
        self.chunk_speech[c.index % CHUNK_RING] = c.speech;
        self.chunks_decided = c.index + 1;
    }

    /// Whether frame `i` is speech: its chunk's decision, or the latest one while its chunk
    /// is still being heard (the gate runs up to 32 ms behind the features).
    fn frame_speech(&self, i: usize) -> bool {
        let Some(latest) = self.chunks_decided.checked_sub(1) else {
            return false;
        };
        let k = chunk_of_frame(i).min(latest);
        latest - k < CHUNK_RING && self.chunk_speech[k % CHUNK_RING]
    }

    fn on_frame(&mut self, f: &FrameFeatures, handed: Instant, out: &mut impl FnMut(Event)) {
        if self.config.spectrogram {
            out(Event::Spectrogram {
                frame: f.index,
                mel_db: f.mel_db,
            });
        }
        let slot = (self.count % WINDOW_FRAMES) * INPUT_DIM;
        for (dst, src) in self.recent[slot..slot + INPUT_DIM]
            .iter_mut()
            .zip(frame_vector(f))
        {
            *dst = f16::from_f32(src);
        }
        self.count += 1;
        if self.count.is_multiple_of(self.config.hop_frames) {
            self.predict(handed, out);
        }
    }

    /// Classifies the last `WINDOW_FRAMES` frames (fewer at the start: the model pads a
    /// short window by repeating its last frame, as it does for a short file).
    fn predict(&mut self, handed: Instant, out: &mut impl FnMut(Event)) {
        let n = self.count.min(WINDOW_FRAMES);
        let first = self.count - n;
        for k in 0..n {
            let slot = ((first + k) % WINDOW_FRAMES) * INPUT_DIM;
            self.window[k * INPUT_DIM..(k + 1) * INPUT_DIM]
                .copy_from_slice(&self.recent[slot..slot + INPUT_DIM]);
        }
        let flags: [bool; WINDOW_FRAMES] = std::array::from_fn(|k| self.frame_speech(first + k));
        let per_voice = self.classifier.reads_per_voice();
        if per_voice {
            // The hop's new frames go to the voice's baseline (their speech flags are the
            // gate's latest reading, as the window's are).
            let heard = self.voice.heard_frames();
            let from = n.saturating_sub(self.config.hop_frames);
            let frames = self.window[from * INPUT_DIM..n * INPUT_DIM].chunks_exact(INPUT_DIM);
            for (frame, &speech) in frames.zip(&flags[from..n]) {
                self.voice.push(frame, speech);
            }
            if self.predictions == 0 || self.voice.heard_frames() != heard {
                out(Event::Voice {
                    heard_s: frame_seconds(self.voice.heard_frames()),
                });
            }
        }
        let window = speech_window(
            &self.window[..n * INPUT_DIM],
            flags.into_iter().take(n),
            &mut self.looped,
        );
        let voice = per_voice.then(|| self.voice.baseline());
        let probabilities = match self.classifier.windows_of(voice, window, &[0]) {
            Ok(rows) => match rows.first() {
                Some(&p) => p,
                None => return,
            },
            Err(e) => {
                self.error.get_or_insert(e);
                return;
            }
        };
        let speech = std::mem::take(&mut self.speech_in_hop);
        let hop = self.config.hop_frames;
        if speech {
            let restart = self.frames_since_speech >= SMOOTHING_RESTART_FRAMES;
            self.smoothed = Some(match self.smoothed {
                Some(prev) if !restart => std::array::from_fn(|i| {
                    (1.0 - SMOOTHING) * prev[i] + SMOOTHING * probabilities[i]
                }),
                _ => probabilities,
            });
            self.frames_since_speech = 0;
            self.speech_windows += 1;
            add(&mut self.speech_sum, &probabilities);
        } else {
            self.frames_since_speech = self.frames_since_speech.saturating_add(hop);
        }
        self.predictions += 1;
        out(Event::Prediction(Prediction {
            t: frame_seconds(self.count),
            probabilities,
            smoothed: self.smoothed.unwrap_or(probabilities),
            speech,
            latency: handed.elapsed(),
        }));
    }

    fn take_error(&mut self) -> Result<(), PipelineError> {
        match self.error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

fn add(sum: &mut Probabilities, p: &Probabilities) {
    for (s, v) in sum.iter_mut().zip(p) {
        *s += v;
    }
}

/// RMS and peak of the 16 kHz mono signal over 50 ms blocks.
#[derive(Default)]
struct LevelMeter {
    sum_sq: f64,
    peak: f32,
    n: usize,
    total: u64,
}

impl LevelMeter {
    fn feed(&mut self, samples: &[f32], out: &mut impl FnMut(Event)) {
        for &x in samples {
            self.sum_sq += f64::from(x * x);
            self.peak = self.peak.max(x.abs());
            self.n += 1;
            self.total += 1;
            if self.n == LEVEL_BLOCK {
                let rms = (self.sum_sq / LEVEL_BLOCK as f64).sqrt() as f32;
                out(Event::Level(Level {
                    t: self.total as f64 / f64::from(SAMPLE_RATE),
                    rms_dbfs: 20.0 * rms.max(1e-6).log10(),
                    peak_dbfs: 20.0 * self.peak.max(1e-6).log10(),
                }));
                *self = Self {
                    total: self.total,
                    ..Self::default()
                };
            }
        }
    }
}
