//! One hour of audio through the engine's live path (a file replayed through the ring as
//! fast as the worker takes it): resident memory at the start, middle and end, dropped
//! samples and lost events. Not a criterion bench: `cargo bench --bench soak`.
//! Target: memory flat, nothing dropped.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emovox::engine::{Engine, EngineConfig, Event, Source};
use emovox::model::Classifier;

const HOUR_S: f64 = 3600.0;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks every bench to list itself.
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Arc::new(Classifier::load(&root.join("weights")).expect("shipped model"));
    // An hour of speech: the five fixture clips, one after another, over and over.
    let mut clips = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/wav")).expect("fixtures") {
        let path = entry.expect("entry").path();
        clips.push(emovox::audio::decode_file(&path).expect("fixture").samples);
    }
    let mut hour = Vec::with_capacity((HOUR_S * 16_000.0) as usize);
    'fill: loop {
        for clip in &clips {
            if hour.len() as f64 >= HOUR_S * 16_000.0 {
                break 'fill;
            }
            hour.extend_from_slice(clip);
        }
    }
    // Removed when the bench ends, even if it fails half-way (the hour is 115 MB).
    let tmp = tempfile::Builder::new()
        .prefix("emovox-soak-")
        .tempdir()
        .expect("temp dir");
    let path = tmp.path().join("hour.wav");
    write_wav(&path, &hour);
    drop(hour);

    let mut config = EngineConfig::default();
    config.pipeline.spectrogram = true;
    let started = Instant::now();
    let rss_start = rss_mib();
    let engine = Engine::start(Source::Replay { path, speed: 0.0 }, model, config).expect("engine");
    let mut rss = vec![(0.0, rss_start)];
    let mut next_report = 600.0;
    let summary = loop {
        match engine.events().recv_timeout(Duration::from_secs(60)) {
            Ok(Event::Prediction(p)) if p.t >= next_report => {
                rss.push((p.t, rss_mib()));
                eprintln!("soak: {:>5.0} s of audio, RSS {:.1} MiB", p.t, rss_mib());
                next_report += 600.0;
            }
            Ok(Event::Finished(s)) => break s,
            Ok(Event::Error(e)) => panic!("{e}"),
            Ok(_) => {}
            Err(e) => panic!("no event for a minute: {e}"),
        }
    };
    let rss_end = rss_mib();
    println!(
        "soak: {:.0} s of audio in {:.1} s wall ({:.0}x real time), worker CPU {:.1} s",
        summary.audio_s,
        started.elapsed().as_secs_f64(),
        summary.audio_s / started.elapsed().as_secs_f64(),
        summary.worker_cpu_s
    );
    println!(
        "soak: RSS start {:.1} MiB, after 10 min {:.1} MiB, end {:.1} MiB; {} samples dropped, \
         {} events lost, {} predictions",
        rss_start,
        rss.get(1).map_or(f64::NAN, |r| r.1),
        rss_end,
        summary.dropped_samples,
        summary.lost_events,
        summary.predictions
    );
}

/// 16-bit mono 16 kHz WAV.
fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &x in samples {
        w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16)
            .expect("write");
    }
    w.finalize().expect("finalize");
}
