//! Tuning to one's own voice (issue 17): the held-back time is split off by time and
//! never overlaps what is trained on, the plain command `emovox train --from weights
//! --sessions DIR --out DIR` works on a tiny session, and the card records the
//! before/after on the held-back time and the recipe; older cards still load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use emovox::audio::{decode_file, WavStreamWriter};
use emovox::labels::Emotion;
use emovox::model::card::ModelCard;
use emovox::model::rng::Rng;
use emovox::model::train::holdout::{split_by_time, Span};
use emovox::session::{Region, Session, AUDIO_FILE};

fn overlaps(a: &Span, b: &Span) -> bool {
    a.start_s < b.end_s && b.start_s < a.end_s
}

fn seconds_of(spans: &[Span], e: Emotion) -> f64 {
    spans
        .iter()
        .filter(|s| s.emotion == e)
        .map(Span::seconds)
        .sum()
}

#[test]
fn the_held_back_time_is_the_latest_of_each_label_and_never_overlaps_training() {
    // A session of 60 regions, 0.7–9 s long with gaps, labels drawn at random, and one
    // long region (marked "from now" with a key) at the end.
    let mut rng = Rng::new(5);
    let labels = [
        Emotion::Neutral,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
    ];
    let mut spans = Vec::new();
    let mut t = 0.3;
    for _ in 0..60 {
        let len = rng.range(0.7, 9.0);
        spans.push(Span {
            start_s: t,
            end_s: t + len,
            emotion: labels[rng.below(labels.len())],
        });
        t += len + rng.range(0.0, 1.0);
    }
    spans.push(Span {
        start_s: t,
        end_s: t + 90.0,
        emotion: Emotion::Fearful,
    });
    let (train, held) = split_by_time(&spans, 0.2, 0.5);
    assert!(!held.is_empty());
    for h in &held {
        for tr in &train {
            assert!(!overlaps(h, tr), "held {h:?} overlaps trained {tr:?}");
        }
        assert!(h.seconds() >= 0.5 - 1e-9, "{h:?}");
    }
    for e in labels.into_iter().chain([Emotion::Fearful]) {
        let total = seconds_of(&spans, e);
        let (kept, back) = (seconds_of(&train, e), seconds_of(&held, e));
        // Nothing lost or doubled.
        assert!(
            (kept + back - total).abs() < 1e-6,
            "{e:?}: {kept} + {back} != {total}"
        );
        // About a fifth held back (a short region may go whole), and some kept.
        assert!(
            back > 0.1 * total && back < 0.35 * total,
            "{e:?}: {back} of {total}"
        );
        assert!(kept > 0.5 * total, "{e:?}");
        // By time: every held-back stretch of a label comes after all its trained ones.
        let last_trained = train
            .iter()
            .filter(|s| s.emotion == e)
            .map(|s| s.end_s)
            .fold(0.0, f64::max);
        let first_held = held
            .iter()
            .filter(|s| s.emotion == e)
            .map(|s| s.start_s)
            .fold(f64::INFINITY, f64::min);
        assert!(first_held >= last_trained - 1e-9, "{e:?}");
    }
    // The long region is cut, not moved whole.
    assert!(train.iter().any(|s| s.emotion == Emotion::Fearful));
    assert!(held.iter().any(|s| s.emotion == Emotion::Fearful));
    // Nothing to hold back: everything trains.
    let (all, none) = split_by_time(&spans, 0.0, 0.5);
    assert!(none.is_empty());
    assert_eq!(all.len(), spans.len());
}

/// A session folder as the app writes it, of the RAVDESS fixture clips (16 kHz ones)
/// repeated with half a second of quiet between them, every clip labelled.
fn tiny_session(dir: &Path) {
    let clips = [
        ("03-01-01-01-01-01-01", Emotion::Neutral),
        ("03-01-02-01-02-02-05", Emotion::Calm),
        ("03-01-05-02-01-01-10", Emotion::Angry),
        ("03-01-08-02-02-02-20", Emotion::Surprised),
    ];
    std::fs::create_dir_all(dir).unwrap();
    let mut wav = WavStreamWriter::create(&dir.join(AUDIO_FILE), 16_000).unwrap();
    let gap = vec![0.0005f32; 8000];
    let mut labels = Vec::new();
    let mut t = 0.0;
    for _ in 0..3 {
        for (stem, emotion) in clips {
            wav.write(&gap).unwrap();
            t += 0.5;
            let audio = decode_file(&common::wav(stem)).unwrap().samples;
            wav.write(&audio).unwrap();
            let end = t + audio.len() as f64 / 16_000.0;
            labels.push(Region {
                start_s: t,
                end_s: end,
                label: emotion,
            });
            t = end;
        }
    }
    let seconds = wav.seconds();
    wav.finish().unwrap();
    Session {
        device: "test".into(),
        rate: 16_000,
        seconds,
        labels,
        ..Session::default()
    }
    .save(dir)
    .unwrap();
}

#[test]
fn the_plain_command_tunes_a_tiny_session_and_the_card_records_before_and_after() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    tiny_session(&session);
    let out = tmp.path().join("tuned");
    let weights = common::shipped_weights();
    let run = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["train", "--from"])
        .arg(&weights)
        .arg("--sessions")
        .arg(&session)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    assert!(log.contains("before (the starting model)"), "{log}");
    assert!(log.contains("after  (the tuned model)"), "{log}");

    let card = ModelCard::load(&out).unwrap();
    let start = ModelCard::load(&weights).unwrap();
    assert_eq!(card.name, format!("{}-tuned", start.name));
    // The tuned weights carry the starting model's voices and terms, and the session's.
    for line in &start.training.licences {
        assert!(
            card.training.licences.contains(line),
            "{:?}",
            card.training.licences
        );
    }
    assert!(
        card.training
            .licences
            .iter()
            .any(|l| l.starts_with("sessions: ")),
        "{:?}",
        card.training.licences
    );
    for voice in &start.training.speakers {
        assert!(
            card.training.speakers.contains(voice),
            "{:?}",
            card.training.speakers
        );
    }
    // The recipe: the fine-tuning defaults, recorded.
    let tune = card
        .training
        .fine_tune
        .as_ref()
        .expect("fine_tune in the card");
    assert!((tune.holdout_share - 0.2).abs() < 1e-12);
    assert!(tune.learning_rate > 0.0);
    let has_exemplars = weights
        .join(emovox::model::train::exemplars::EXEMPLARS_FILE)
        .exists();
    assert_eq!(tune.exemplars > 0, has_exemplars, "{tune:?}");
    // The before/after on the held-back time.
    let h = card.training.holdout.as_ref().expect("holdout in the card");
    assert!(h.regions >= 4, "{h:?}");
    // A fifth of each label's 3 × ~3.5 s.
    assert!(h.seconds > 5.0 && h.seconds < 15.0, "{h:?}");
    for s in [&h.before, &h.after] {
        assert!((0.0..=1.0).contains(&s.uar) && (0.0..=1.0).contains(&s.macro_f1));
        assert!((0.0..=1.0).contains(&s.accuracy));
    }
    // What the log printed is what the card holds.
    assert!(
        log.contains(&format!("UAR {:.3}", h.after.uar)),
        "{log}\n{h:?}"
    );
    // The tuned model is a model emovox opens and scores with.
    let eval = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["evaluate", "--json", "--weights"])
        .arg(&out)
        .arg("--sessions")
        .arg(&session)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
}

#[test]
fn cards_without_the_new_fields_still_load() {
    let text = std::fs::read_to_string(common::shipped_weights().join("emovox.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let training = v["training"].as_object_mut().unwrap();
    for field in ["fine_tune", "holdout", "speakers", "licences", "corpora"] {
        training.remove(field);
    }
    let card = ModelCard::parse(&v.to_string(), Path::new("old.json")).unwrap();
    assert!(card.training.fine_tune.is_none());
    assert!(card.training.holdout.is_none());
    assert!(card.training.speakers.is_empty() && card.training.licences.is_empty());
}
