//! The engine's thread: takes audio from a source, runs the pipeline, sends events.
//! Live sources (a microphone, or a file replayed through the same ring) lose display
//! events rather than wait for a slow consumer; a file analysis waits instead, because
//! nothing real-time is upstream of it and every column of its spectrogram matters.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::events::{Event, RunSummary, SourceInfo};
use super::pipeline::{Pipeline, PipelineConfig};
use crate::audio::capture::{self, CaptureError, DeviceChoice};
use crate::audio::ring::{ring, RingReader, RingWriter};
use crate::audio::{decode_file, Decoded, SAMPLE_RATE};
use crate::model::Classifier;

/// How often an idle worker looks at the ring. It bounds the latency this adds (2 ms) and
/// costs under 1% of a core.
const POLL: Duration = Duration::from_millis(2);
/// How long stopping a microphone may take before the worker goes on without it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// A file is analysed in 100 ms pieces, with progress every 10 s of audio.
const FILE_CHUNK: usize = SAMPLE_RATE as usize / 10;
const PROGRESS_EVERY: usize = 100;
/// A replayed file is pushed like a callback would: 10 ms at a time.
const REPLAY_CHUNK: usize = SAMPLE_RATE as usize / 100;

/// Where the audio comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Microphone(DeviceChoice),
    /// A file analysed as fast as the CPU allows.
    File(PathBuf),
    /// A file pushed through the ring the way a microphone's callback pushes, at `speed`
    /// times real time (0: as fast as the worker takes it). It stands in for a microphone
    /// in tests and demos.
    Replay {
        path: PathBuf,
        speed: f64,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    pub pipeline: PipelineConfig,
    /// Events the channel holds.
    pub capacity: usize,
    /// A live source that delivers nothing for this long has failed...
    pub watchdog: Duration,
    /// ...except at the start, where a sound server may take a few seconds to deliver
    /// the first samples (PulseAudio through ALSA was seen taking 2 s).
    pub first_audio: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pipeline: PipelineConfig::default(),
            capacity: 1024,
            watchdog: Duration::from_secs(2),
            first_audio: Duration::from_secs(6),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("cannot start the engine thread: {0}")]
    Thread(std::io::Error),
}

/// What the engine can be asked while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Write the 16 kHz stream to this WAV file from now on (live sources only).
    StartRecording(PathBuf),
    StopRecording,
    /// Someone else speaks from now on: a model that reads each voice on its baseline
    /// starts learning the new voice afresh (live sources only).
    NewVoice,
}

/// A running engine. Dropping it stops the worker and waits for it.
pub struct Engine {
    events: Receiver<Event>,
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the worker on `source`. A microphone is opened here, so a wrong device name
    /// fails at once; a file's problems arrive as an `Error` event.
    pub fn start(
        source: Source,
        classifier: Arc<Classifier>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let (tx, events) = crossbeam_channel::bounded(config.capacity.max(16));
        let (commands, command_rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let live = match &source {
            Source::Microphone(choice) => Some(capture::open(choice)?),
            _ => None,
        };
        let worker = Worker {
            sink: Sink::new(tx, !matches!(source, Source::File(_))),
            commands: command_rx,
            stop: Arc::clone(&stop),
            classifier,
            config,
            started: Instant::now(),
            cpu_start: thread_cpu_seconds(),
        };
        let thread = std::thread::Builder::new()
            .name("emovox-engine".into())
            .spawn(move || worker.run(source, live))
            .map_err(EngineError::Thread)?;
        Ok(Self {
            events,
            commands,
            stop,
            thread: Some(thread),
        })
    }

    /// Sends a command to the worker (ignored once it has finished).
    pub fn command(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Asks the worker to stop; a `Finished` event follows.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// The flag [`stop`](Self::stop) sets, for a Ctrl-C handler.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    sink: Sink,
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
    classifier: Arc<Classifier>,
    config: EngineConfig,
    started: Instant,
    cpu_start: f64,
}

/// How a run ended.
enum End {
    Done,
    Failed(String),
}

impl Worker {
    fn run(mut self, source: Source, live: Option<capture::Capture>) {
        self.cpu_start = thread_cpu_seconds();
        let mut pipeline = None;
        let end = match (source, live) {
            (_, Some(capture)) => self.run_microphone(capture, &mut pipeline),
            (Source::File(path), None) => self.run_file(path, &mut pipeline),
            (Source::Replay { path, speed }, None) => self.run_replay(path, speed, &mut pipeline),
            (Source::Microphone(_), None) => End::Failed("the microphone was not opened".into()),
        };
        if let Some(p) = pipeline.as_mut() {
            let sink = &mut self.sink;
            p.stop_recording(&mut |ev| sink.send_last(ev));
        }
        let failed = matches!(end, End::Failed(_));
        if let End::Failed(message) = end {
            self.sink.send_last(Event::Error(message));
        }
        let summary = RunSummary {
            audio_s: pipeline.as_ref().map_or(0.0, Pipeline::audio_seconds),
            predictions: pipeline.as_ref().map_or(0, Pipeline::predictions),
            dropped_samples: self.sink.dropped,
            lost_events: self.sink.lost,
            worker_cpu_s: thread_cpu_seconds() - self.cpu_start,
            wall_s: self.started.elapsed().as_secs_f64(),
            overall: pipeline.as_ref().and_then(Pipeline::overall),
            failed,
        };
        self.sink.send_last(Event::Finished(summary));
    }

    fn pipeline(&self, rate: u32, channels: u16) -> Result<Pipeline, String> {
        Pipeline::new(
            Arc::clone(&self.classifier),
            rate,
            channels,
            self.config.pipeline,
        )
        .map_err(|e| e.to_string())
    }

    fn run_microphone(&mut self, capture: capture::Capture, slot: &mut Option<Pipeline>) -> End {
        let capture::Capture {
            device,
            rate,
            channels,
            errors,
            reader,
            stream,
        } = capture;
        let pipeline = match self.pipeline(rate, channels) {
            Ok(p) => slot.insert(p),
            Err(e) => {
                stream.close(CLOSE_WAIT);
                return End::Failed(e);
            }
        };
        self.sink.send(Event::Started(SourceInfo {
            name: device.clone(),
            rate,
            channels,
            duration_s: None,
        }));
        let end = self.pump(reader, channels, Some(&errors), &device, pipeline);
        if !stream.close(CLOSE_WAIT) {
            self.sink.send(Event::Error(format!(
                "the input device \"{device}\" did not close within {} s",
                CLOSE_WAIT.as_secs_f32()
            )));
        }
        end
    }

    /// Decodes a file to 16 kHz mono and makes the pipeline for it.
    fn open_file(&self, path: &std::path::Path) -> Result<(Decoded, Pipeline), End> {
        let decoded = decode_file(path).map_err(|e| End::Failed(e.to_string()))?;
        let pipeline = self.pipeline(SAMPLE_RATE, 1).map_err(End::Failed)?;
        Ok((decoded, pipeline))
    }

    fn run_replay(&mut self, path: PathBuf, speed: f64, slot: &mut Option<Pipeline>) -> End {
        let (decoded, pipeline) = match self.open_file(&path) {
            Ok(opened) => opened,
            Err(end) => return end,
        };
        let pipeline = slot.insert(pipeline);
        self.sink.send(Event::Started(SourceInfo {
            name: path.display().to_string(),
            rate: SAMPLE_RATE,
            channels: 1,
            duration_s: Some(decoded.seconds()),
        }));
        // Two seconds of room, as for a microphone.
        let (writer, reader) = ring(2 * SAMPLE_RATE as usize);
        let stop = Arc::clone(&self.stop);
        let feeder = std::thread::Builder::new()
            .name("emovox-replay".into())
            .spawn(move || replay(&decoded.samples, speed, writer, &stop));
        let name = path.display().to_string();
        let end = match feeder {
            Ok(_) => self.pump(reader, 1, None, &name, pipeline),
            Err(e) => End::Failed(format!("cannot start the replay thread: {e}")),
        };
        end
    }

    /// The live loop: ring → pipeline until stopped, ended, failed or silent too long.
    fn pump(
        &mut self,
        mut reader: RingReader,
        channels: u16,
        errors: Option<&Receiver<String>>,
        name: &str,
        pipeline: &mut Pipeline,
    ) -> End {
        let mut buf = vec![0.0f32; 4096 * usize::from(channels)];
        let mut last_data = Instant::now();
        let mut silent_limit = self.config.first_audio.max(self.config.watchdog);
        loop {
            if self.stop.load(Ordering::Acquire) || self.sink.closed {
                return End::Done;
            }
            if let Some(message) = errors.and_then(|e| e.try_recv().ok()) {
                return End::Failed(format!("the input device \"{name}\" failed: {message}"));
            }
            for command in self.commands.try_iter() {
                let sink = &mut self.sink;
                match command {
                    Command::StartRecording(path) => {
                        pipeline.start_recording(&path, &mut |ev| sink.send_last(ev))
                    }
                    Command::StopRecording => pipeline.stop_recording(&mut |ev| sink.send_last(ev)),
                    Command::NewVoice => pipeline.new_voice(&mut |ev| sink.send_last(ev)),
                }
            }
            let dropped = reader.counters().dropped();
            if dropped != self.sink.dropped {
                self.sink.dropped = dropped;
                self.sink.send(Event::Dropped { total: dropped });
            }
            let (n, handed) = reader.read(&mut buf);
            if n > 0 {
                last_data = Instant::now();
                silent_limit = self.config.watchdog;
                let sink = &mut self.sink;
                if let Err(e) = pipeline.push(&buf[..n], handed, &mut |ev| sink.send(ev)) {
                    return End::Failed(e.to_string());
                }
                continue;
            }
            if reader.counters().ended() {
                let sink = &mut self.sink;
                return match pipeline.finish(&mut |ev| sink.send(ev)) {
                    Ok(()) => End::Done,
                    Err(e) => End::Failed(e.to_string()),
                };
            }
            if last_data.elapsed() > silent_limit {
                return End::Failed(format!(
                    "no audio from \"{name}\" for {} s: the device may have been unplugged \
                     or its sound server stopped",
                    silent_limit.as_secs_f32()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn run_file(&mut self, path: PathBuf, slot: &mut Option<Pipeline>) -> End {
        let (decoded, pipeline) = match self.open_file(&path) {
            Ok(opened) => opened,
            Err(end) => return end,
        };
        let pipeline = slot.insert(pipeline);
        let total_s = decoded.seconds();
        self.sink.send(Event::Started(SourceInfo {
            name: path.display().to_string(),
            rate: decoded.source_rate,
            channels: decoded.source_channels,
            duration_s: Some(total_s),
        }));
        let chunks = decoded.samples.chunks(FILE_CHUNK);
        let n_chunks = chunks.len();
        for (i, chunk) in chunks.enumerate() {
            if self.stop.load(Ordering::Acquire) || self.sink.closed {
                return End::Done;
            }
            let sink = &mut self.sink;
            if let Err(e) = pipeline.push(chunk, Instant::now(), &mut |ev| sink.send(ev)) {
                return End::Failed(e.to_string());
            }
            if (i + 1) % PROGRESS_EVERY == 0 || i + 1 == n_chunks {
                let done_s = ((i + 1) * FILE_CHUNK) as f64 / f64::from(SAMPLE_RATE);
                self.sink.send(Event::Progress {
                    done_s: done_s.min(total_s),
                    total_s,
                });
            }
        }
        let sink = &mut self.sink;
        match pipeline.finish(&mut |ev| sink.send(ev)) {
            Ok(()) => End::Done,
            Err(e) => End::Failed(e.to_string()),
        }
    }
}

/// Pushes a signal into the ring in 10 ms pieces, paced at `speed` × real time; with
/// speed 0 it waits for room instead (nothing is dropped).
fn replay(samples: &[f32], speed: f64, mut writer: RingWriter, stop: &AtomicBool) {
    let start = Instant::now();
    let chunk_s = REPLAY_CHUNK as f64 / f64::from(SAMPLE_RATE);
    for (i, chunk) in samples.chunks(REPLAY_CHUNK).enumerate() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        if speed > 0.0 {
            let due = start + Duration::from_secs_f64(i as f64 * chunk_s / speed);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        } else {
            while writer.vacant() < chunk.len() && !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        writer.write(chunk);
    }
    writer.end();
}

/// Sends events by the source's rule: live sources never wait for the consumer.
struct Sink {
    tx: Sender<Event>,
    lossy: bool,
    /// Events the consumer was too slow for.
    lost: u64,
    /// Dropped samples last reported.
    dropped: u64,
    /// The consumer has gone: stop working.
    closed: bool,
}

impl Sink {
    fn new(tx: Sender<Event>, lossy: bool) -> Self {
        Self {
            tx,
            lossy,
            lost: 0,
            dropped: 0,
            closed: false,
        }
    }

    fn send(&mut self, event: Event) {
        if !self.lossy {
            self.closed |= self.tx.send(event).is_err();
            return;
        }
        // Display events leave half the channel free for predictions and errors.
        let display = matches!(event, Event::Spectrogram { .. } | Event::Level(_));
        let room = self.tx.capacity().unwrap_or(usize::MAX) / 2;
        if display && self.tx.len() >= room {
            self.lost += 1;
            return;
        }
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.lost += 1,
            Err(TrySendError::Disconnected(_)) => self.closed = true,
        }
    }

    /// Errors and the summary wait a little for room even from a live source.
    fn send_last(&mut self, event: Event) {
        if self.tx.send_timeout(event, Duration::from_secs(1)).is_err() {
            self.lost += 1;
        }
    }
}

/// CPU time this thread has used, in seconds.
#[cfg(unix)]
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        0.0
    }
}

#[cfg(not(unix))]
fn thread_cpu_seconds() -> f64 {
    0.0
}
