//! `emovox listen [--device NAME|INDEX] [--seconds N] [--json] [--stats]`: live emotion
//! from a microphone in the terminal, one line per hop.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use crossbeam_channel::RecvTimeoutError;
use emovox::audio::capture::DeviceChoice;
use emovox::engine::{voice_words, Engine, EngineConfig, Event, Prediction, RunSummary, Source};
use emovox::labels::Emotion;
use emovox::model::classifier::ModelSource;
use emovox::model::Classifier;
use emovox::predict::ProbabilitiesJson;
use serde::ser::{Serialize, SerializeMap, Serializer};

#[derive(clap::Args)]
pub struct Args {
    /// Input device: its index or (part of) its name from `emovox devices`
    /// [default: the system's default input].
    #[arg(long)]
    device: Option<String>,
    /// Play an audio file through the live path instead of a microphone, in real time.
    #[arg(long, conflicts_with = "device")]
    replay: Option<PathBuf>,
    /// Stop after this many seconds of audio have been heard (Ctrl-C stops too).
    #[arg(long)]
    seconds: Option<f64>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Print a summary on stderr at exit: events, dropped samples, latency, CPU.
    #[arg(long)]
    stats: bool,
    /// Folder holding emovox.safetensors and emovox.json [default: $EMOVOX_WEIGHTS, else
    /// the shipped model, built into emovox].
    #[arg(long)]
    weights: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let weights = ModelSource::choose(args.weights.clone());
    let classifier = Arc::new(Classifier::open(&weights)?);
    let source = match (&args.replay, &args.device) {
        (Some(path), _) => Source::Replay {
            path: path.clone(),
            speed: 1.0,
        },
        (None, Some(device)) => Source::Microphone(DeviceChoice::parse(device)),
        (None, None) => Source::Microphone(DeviceChoice::Default),
    };
    let mut config = EngineConfig::default();
    config.pipeline.spectrogram = false;
    let engine = Engine::start(source, classifier, config)?;
    let stop = engine.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::Release))
        .context("cannot install the Ctrl-C handler")?;

    let mut events = 0u64;
    let mut latencies_ms = Vec::new();
    let mut error = None;
    let mut stopping = false;
    let summary = loop {
        let event = match engine.events().recv_timeout(Duration::from_millis(50)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break RunSummary::default(),
        };
        events += 1;
        match event {
            Event::Started(info) if !args.json => eprintln!(
                "listening to {} ({} Hz, {} ch); Ctrl-C stops",
                info.name, info.rate, info.channels
            ),
            // Windows already in the channel when the time was up are not printed.
            Event::Prediction(_) if stopping => {}
            Event::Prediction(p) => {
                if args.seconds.is_some_and(|s| p.t >= s - 1e-9) {
                    engine.stop();
                    stopping = true;
                }
                latencies_ms.push(p.latency.as_secs_f64() * 1e3);
                if args.json {
                    println!("{}", serde_json::to_string(&JsonLine(&p))?);
                } else {
                    println!("{}", human_line(&p));
                }
            }
            // A per-voice model's baseline: said on stderr, so stdout stays one line per hop.
            Event::Voice { heard_s } if !args.json => eprintln!("emovox: {}", voice_words(heard_s)),
            Event::Dropped { total } => {
                eprintln!("emovox: {total} samples dropped so far (the worker fell behind)")
            }
            // The first error is why the run ended; any later one is told as well.
            Event::Error(message) if error.is_none() => error = Some(message),
            Event::Error(message) => eprintln!("emovox: {message}"),
            Event::Finished(summary) => break summary,
            _ => {}
        }
    };
    if args.stats {
        print_stats(events, &latencies_ms, &summary);
    }
    if let Some(message) = error {
        bail!("{message}");
    }
    Ok(())
}

/// `  3.25 s  angry       71%  ███████▏       speech   4.1 ms`
fn human_line(p: &Prediction) -> String {
    let latency = p.latency.as_secs_f64() * 1e3;
    match p.label() {
        Some(label) => {
            let prob = p.probabilities[label.index()];
            let bar = "█".repeat((prob * 20.0).round() as usize);
            format!(
                "{:7.2} s  {:<10} {:>4.0}%  {:<20}  {:5.1} ms",
                p.t,
                label.name(),
                prob * 100.0,
                bar,
                latency
            )
        }
        None => format!(
            "{:7.2} s  {:<10} {:>5}  {:<20}  {:5.1} ms",
            p.t, "·", "", "no speech", latency
        ),
    }
}

/// `{"t", "label", "probabilities", "speech", "latency_ms"}`; `label` is null without
/// speech (the model's top guess for silence means nothing to a listener).
struct JsonLine<'a>(&'a Prediction);

impl Serialize for JsonLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("t", &((p.t * 1000.0).round() / 1000.0))?;
        map.serialize_entry("label", &p.label().map(Emotion::name))?;
        map.serialize_entry("probabilities", &ProbabilitiesJson(&p.probabilities))?;
        map.serialize_entry("speech", &p.speech)?;
        let latency_ms = (p.latency.as_secs_f64() * 1e5).round() / 100.0;
        map.serialize_entry("latency_ms", &latency_ms)?;
        map.end()
    }
}

fn print_stats(events: u64, latencies_ms: &[f64], s: &RunSummary) {
    let mut sorted = latencies_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(i).copied().unwrap_or(f64::NAN)
    };
    let cpu_share = if s.wall_s > 0.0 {
        100.0 * s.worker_cpu_s / s.wall_s
    } else {
        0.0
    };
    eprintln!(
        "stats: {events} events, {} predictions over {:.1} s of audio, {} samples dropped, \
         {} events lost\n\
         stats: latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n\
         stats: worker CPU {:.2} s in {:.1} s wall ({cpu_share:.1}% of one core)",
        s.predictions,
        s.audio_s,
        s.dropped_samples,
        s.lost_events,
        pct(0.5),
        pct(0.99),
        sorted.last().copied().unwrap_or(f64::NAN),
        s.worker_cpu_s,
        s.wall_s,
    );
}
