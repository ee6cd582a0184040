//! The live engine without a sound card: a file analysed directly and the same file pushed
//! through the ring the way a microphone's callback pushes must give the same predictions,
//! and those must be the windows file analysis classifies.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use emovox::audio::capture::DeviceChoice;
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::engine::{
    Engine, EngineConfig, Event, Pipeline, PipelineConfig, Prediction, RunSummary, Source,
};
use emovox::model::input::{
    signal_frames, speech_window, to_f16, HOP_FRAMES, INPUT_DIM, LATE_SPEECH_FRAMES, WINDOW_FRAMES,
};
use emovox::model::voice::RunningVoice;
use emovox::model::Classifier;
use emovox::vad::{frame_flags, SpeechGate};

fn model() -> Arc<Classifier> {
    Arc::new(common::shipped())
}

/// Runs an engine to its end and returns its predictions, other events and summary.
fn run(source: Source, config: EngineConfig) -> (Vec<Prediction>, Vec<Event>, RunSummary) {
    run_with(model(), source, config)
}

/// [`run`] with another model.
fn run_with(
    model: Arc<Classifier>,
    source: Source,
    config: EngineConfig,
) -> (Vec<Prediction>, Vec<Event>, RunSummary) {
    let engine = Engine::start(source, model, config).unwrap();
    let mut predictions = Vec::new();
    let mut others = Vec::new();
    loop {
        match engine
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            Event::Prediction(p) => predictions.push(p),
            Event::Finished(summary) => return (predictions, others, summary),
            other => others.push(other),
        }
    }
}

const CLIP: &str = "03-01-05-02-01-01-10";

#[test]
fn file_and_replayed_microphone_give_the_same_predictions() {
    let path = common::wav(CLIP);
    let (file, _, file_summary) = run(Source::File(path.clone()), EngineConfig::default());
    let (live, _, live_summary) = run(Source::Replay { path, speed: 0.0 }, EngineConfig::default());
    assert!(!file_summary.failed && !live_summary.failed);
    assert_eq!(live_summary.dropped_samples, 0);
    assert_eq!(file.len(), live.len());
    assert!(file.len() > 10, "{} predictions", file.len());
    for (a, b) in file.iter().zip(&live) {
        assert_eq!(a.t, b.t);
        assert_eq!(a.probabilities, b.probabilities, "at {} s", a.t);
        assert_eq!(a.speech, b.speech, "at {} s", a.t);
        assert_eq!(a.smoothed, b.smoothed, "at {} s", a.t);
    }
    assert_eq!(file_summary.overall, live_summary.overall);
}

#[test]
fn live_windows_are_the_windows_file_analysis_classifies() {
    // A model that reads frames as they are (a per-voice one reads live windows on the
    // voice heard so far, a file's on the whole file's: see the next test).
    let tmp = tempfile::tempdir().unwrap();
    let model = Arc::new(Classifier::load(&common::shipped_copy(tmp.path(), false)).unwrap());
    let path = common::wav(CLIP);
    let (live, _, _) = run_with(
        model.clone(),
        Source::File(path.clone()),
        EngineConfig::default(),
    );
    let signal = decode_file(&path).unwrap().samples;
    let frames = to_f16(&signal_frames(&mut StreamingExtractor::new(), &signal));
    let n = frames.len() / INPUT_DIM;
    let speech = frame_flags(&mut SpeechGate::default(), &signal, n);
    let mut looped = Vec::new();
    let (mut compared, mut compared_looped) = (0, 0);
    for p in &live {
        // A prediction at t covers the 300 frames that end there.
        let end = (p.t * 100.0).round() as usize;
        if end < WINDOW_FRAMES || !end.is_multiple_of(HOP_FRAMES) {
            continue;
        }
        // The same window, looped where its speech starts late, as `predict` reads it.
        let start = end - WINDOW_FRAMES;
        let first_speech = speech[start..end].iter().position(|&s| s);
        compared_looped += usize::from(first_speech.is_some_and(|f| f >= LATE_SPEECH_FRAMES));
        let window = speech_window(
            &frames[start * INPUT_DIM..end * INPUT_DIM],
            speech[start..end].iter().copied(),
            &mut looped,
        );
        let offline = model.windows(window, &[0]).unwrap();
        for (a, b) in p.probabilities.iter().zip(&offline[0]) {
            assert!((a - b).abs() < 1e-6, "at {} s: {a} vs {b}", p.t);
        }
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} full windows compared");
    assert!(
        compared_looped < compared,
        "{compared_looped} of {compared} looped"
    );
}

#[test]
fn a_per_voice_model_reads_live_windows_on_the_voice_heard_so_far() {
    let tmp = tempfile::tempdir().unwrap();
    let model = Arc::new(Classifier::load(&common::shipped_copy(tmp.path(), true)).unwrap());
    // The clip twice: the second time round the voice has a baseline from the first.
    let path = tmp.path().join("twice.wav");
    let signal = decode_file(&common::wav(CLIP)).unwrap().samples;
    let twice: Vec<f32> = signal.iter().chain(&signal).copied().collect();
    common::write_wav_16k(&path, twice.iter().copied());
    let (live, _, summary) = run_with(model.clone(), Source::File(path), EngineConfig::default());
    assert!(!summary.failed);
    let frames = to_f16(&signal_frames(&mut StreamingExtractor::new(), &twice));
    let n = frames.len() / INPUT_DIM;
    let speech = frame_flags(&mut SpeechGate::default(), &twice, n);
    let mut voice = RunningVoice::default();
    let mut heard = 0;
    let mut looped = Vec::new();
    let (mut compared, mut unlike_alone) = (0, 0);
    for p in &live {
        let end = (p.t * 100.0).round() as usize;
        if end < WINDOW_FRAMES || !end.is_multiple_of(HOP_FRAMES) {
            continue;
        }
        // The voice as the worker has heard it: every speech frame up to the window's end.
        for k in heard..end {
            voice.push(&frames[k * INPUT_DIM..(k + 1) * INPUT_DIM], speech[k]);
        }
        heard = end;
        let start = end - WINDOW_FRAMES;
        let window = speech_window(
            &frames[start * INPUT_DIM..end * INPUT_DIM],
            speech[start..end].iter().copied(),
            &mut looped,
        );
        let expected = model
            .windows_of(Some(voice.baseline()), window, &[0])
            .unwrap()[0];
        // The gate's reading of a hop's last frames can still change after the worker
        // read them (it runs up to 32 ms behind), so a frame or two may join differently.
        for (a, b) in p.probabilities.iter().zip(&expected) {
            assert!((a - b).abs() < 2e-3, "at {} s: {a} vs {b}", p.t);
        }
        // The window read on itself alone, as a lone file: another reading.
        let alone = model.windows(window, &[0]).unwrap()[0];
        let gap = p
            .probabilities
            .iter()
            .zip(&alone)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        unlike_alone += usize::from(voice.baseline().frames() > 0 && gap > 1e-2);
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} full windows compared");
    assert!(unlike_alone > 0, "every window read as if alone");
}

#[test]
fn predictions_come_every_hop_and_the_gate_hears_the_speech() {
    let (predictions, others, summary) =
        run(Source::File(common::wav(CLIP)), EngineConfig::default());
    for (i, p) in predictions.iter().enumerate().take(predictions.len() - 1) {
        assert!(
            (p.t - 0.25 * (i + 1) as f64).abs() < 1e-9,
            "{} at #{i}",
            p.t
        );
    }
    // RAVDESS clips open with about half a second of room tone before the actor speaks.
    assert!(!predictions[0].speech, "speech at 0.25 s");
    assert!(predictions[0].label().is_none());
    let spoken = predictions.iter().filter(|p| p.speech).count();
    assert!(spoken >= 6, "only {spoken} windows with speech");
    assert!(predictions
        .iter()
        .filter(|p| p.speech)
        .all(|p| p.label().is_some()));
    assert_eq!(summary.predictions as usize, predictions.len());
    let overall = summary.overall.unwrap();
    assert!((overall.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    // The display gets a spectrogram column per frame and a level every 50 ms.
    let columns = others
        .iter()
        .filter(|e| matches!(e, Event::Spectrogram { .. }))
        .count();
    let levels: Vec<f32> = others
        .iter()
        .filter_map(|e| match e {
            Event::Level(l) => Some(l.rms_dbfs),
            _ => None,
        })
        .collect();
    assert_eq!(columns, (summary.audio_s * 100.0).round() as usize);
    assert!(levels.len() as f64 >= summary.audio_s * 20.0 - 1.0);
    let loudest = levels.iter().copied().fold(f32::MIN, f32::max);
    assert!((-60.0..0.0).contains(&loudest), "loudest {loudest} dBFS");
    assert!(others.iter().any(|e| matches!(e, Event::Progress { .. })));
}

#[test]
fn a_slow_consumer_loses_display_events_but_no_predictions_are_skipped() {
    let config = EngineConfig {
        capacity: 16,
        ..EngineConfig::default()
    };
    let path = common::wav(CLIP);
    let engine = Engine::start(Source::Replay { path, speed: 0.0 }, model(), config).unwrap();
    let mut received = Vec::new();
    let summary = loop {
        // A consumer far slower than the worker: 2 ms per event.
        std::thread::sleep(Duration::from_millis(2));
        match engine
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            Event::Prediction(p) => received.push(p.t),
            Event::Finished(s) => break s,
            _ => {}
        }
    };
    assert!(!summary.failed);
    assert!(summary.lost_events > 0, "nothing was lost");
    assert_eq!(
        summary.dropped_samples, 0,
        "the worker fell behind the source"
    );
    // Every hop was classified, whatever the consumer saw.
    let frames = (summary.audio_s * 100.0).round() as u64;
    let hops = frames.div_ceil(HOP_FRAMES as u64);
    assert_eq!(summary.predictions, hops);
    assert!(received.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_bad_file_ends_with_an_error_event_not_a_panic() {
    let tmp = tempfile::Builder::new()
        .prefix("emovox-engine-")
        .tempdir()
        .unwrap();
    let bad = tmp.path().join("truncated.wav");
    let good = std::fs::read(common::wav(CLIP)).unwrap();
    std::fs::write(&bad, &good[..30]).unwrap();
    for source in [
        Source::File(bad.clone()),
        Source::Replay {
            path: bad.clone(),
            speed: 0.0,
        },
    ] {
        let (predictions, others, summary) = run(source, EngineConfig::default());
        assert!(summary.failed);
        assert!(predictions.is_empty());
        let message = others
            .iter()
            .find_map(|e| match e {
                Event::Error(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap();
        assert!(message.contains("truncated.wav"), "{message}");
    }
}

#[test]
fn a_microphone_that_does_not_exist_is_an_error_at_start() {
    let source = Source::Microphone(DeviceChoice::Name("no such microphone 1234".into()));
    let Err(e) = Engine::start(source, model(), EngineConfig::default()) else {
        panic!("opened a device that does not exist");
    };
    // With a sound server: no device matches. Without one (a bare machine): no host.
    let message = e.to_string();
    assert!(
        message.contains("no such microphone 1234") || message.contains("audio system"),
        "{message}"
    );
}

#[test]
fn stopping_a_replay_ends_it_promptly_with_a_summary() {
    let path = common::wav(CLIP);
    let engine = Engine::start(
        Source::Replay { path, speed: 1.0 },
        model(),
        EngineConfig::default(),
    )
    .unwrap();
    // Wait for the first prediction (0.25 s of real-time audio), then stop.
    loop {
        if let Event::Prediction(_) = engine
            .events()
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
        {
            break;
        }
    }
    engine.stop();
    let summary = loop {
        if let Event::Finished(s) = engine
            .events()
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
        {
            break s;
        }
    };
    assert!(!summary.failed);
    assert!(summary.audio_s < 2.0, "ran on for {} s", summary.audio_s);
}

/// The `Event::Voice` readings among `events`, in order.
fn voice_readings(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Voice { heard_s } => Some(*heard_s),
            _ => None,
        })
        .collect()
}

#[test]
fn a_per_voice_model_says_how_much_voice_it_has_heard_and_a_new_voice_starts_afresh() {
    let tmp = tempfile::tempdir().unwrap();
    let signal = decode_file(&common::wav(CLIP)).unwrap().samples;
    let per_voice = Arc::new(Classifier::load(&common::shipped_copy(tmp.path(), true)).unwrap());
    let mut pipeline = Pipeline::new(per_voice, 16_000, 1, PipelineConfig::default()).unwrap();
    let mut events = Vec::new();
    let now = std::time::Instant::now();
    // The clip three times over: about 11 s of one voice, speech in every 3 s block.
    for _ in 0..3 {
        pipeline
            .push(&signal, now, &mut |e| events.push(e))
            .unwrap();
    }
    let heard = voice_readings(&events);
    // Said with the first prediction (nothing heard yet), then each time a 3 s block joins.
    assert_eq!(heard.first(), Some(&0.0), "{heard:?}");
    assert!(heard.windows(2).all(|w| w[1] > w[0]), "{heard:?}");
    assert!(
        heard
            .iter()
            .all(|s| (s / 3.0 - (s / 3.0).round()).abs() < 1e-9),
        "{heard:?}"
    );
    let last = *heard.last().unwrap();
    assert!(last >= 6.0, "only {last} s heard: {heard:?}");

    // Someone else speaks: the baseline starts again from nothing.
    events.clear();
    pipeline.new_voice(&mut |e| events.push(e));
    pipeline
        .push(&signal, now, &mut |e| events.push(e))
        .unwrap();
    let after = voice_readings(&events);
    assert_eq!(after.first(), Some(&0.0), "{after:?}");
    assert!(after.iter().all(|&s| s <= 3.0), "{after:?}");

    // A model that reads frames as they are says nothing of voices.
    let plain = Arc::new(
        Classifier::load(&common::shipped_copy(&tmp.path().join("plain"), false)).unwrap(),
    );
    let mut pipeline = Pipeline::new(plain, 16_000, 1, PipelineConfig::default()).unwrap();
    let mut events = Vec::new();
    pipeline
        .push(&signal, now, &mut |e| events.push(e))
        .unwrap();
    pipeline.new_voice(&mut |e| events.push(e));
    assert!(events.iter().any(|e| matches!(e, Event::Prediction(_))));
    assert!(voice_readings(&events).is_empty());
}
