//! The shipped model in `weights/`: its card agrees with the code, it classifies real
//! clips sanely, and on its validation actors it scores exactly what its card says
//! (that check needs the dataset: EMOVOX_DATA, set by .ci/run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::classifier::argmax;
use emovox::model::dataset::scan;
use emovox::model::metrics::Metrics;
use emovox::model::{Classifier, FeatureConfig, ModelCard};

fn weights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")
}

#[test]
fn the_shipped_card_agrees_with_the_code() {
    let card = ModelCard::load(&weights()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(card.features, FeatureConfig::current());
    assert_eq!(card.labels, Emotion::names());
    let v = card
        .validation
        .as_ref()
        .expect("the shipped card records validation scores");
    assert!(!v.actors.is_empty());
    assert!(
        v.actors
            .iter()
            .all(|a| !card.training.train_actors.contains(a)),
        "validation actors were trained on"
    );
    assert!(
        card.training
            .train_actors
            .iter()
            .all(|&a| (1..=20).contains(&a)),
        "actors 21-24 are kept for scoring"
    );
}

#[test]
fn the_shipped_model_classifies_real_clips_sanely() {
    let model = Classifier::load(&weights()).unwrap();
    let mut extractor = StreamingExtractor::new();
    for stem in common::REFERENCE_STEMS {
        let signal = decode_file(&common::wav(stem)).unwrap().samples;
        let p = model.classify_signal(&mut extractor, &signal).unwrap();
        let sum: f32 = p.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "{stem}: probabilities sum to {sum}"
        );
        assert!(
            p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
            "{stem}: {p:?}"
        );
        assert!(
            p[argmax(&p)] > 1.0 / 8.0,
            "{stem}: no class stands out: {p:?}"
        );
    }
    // Silence is a valid input too: it must classify without failing.
    let p = model
        .classify_signal(&mut extractor, &vec![0.0; 16_000])
        .unwrap();
    assert!(p.iter().all(|v| v.is_finite()));
}

#[test]
fn the_shipped_model_scores_what_its_card_says() {
    let Some(data) = std::env::var_os("EMOVOX_DATA").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "EMOVOX_DATA must be set in CI"
        );
        eprintln!("EMOVOX_DATA is not set: skipping the validation re-run");
        return;
    };
    let model = Classifier::load(&weights()).unwrap();
    let v = model.card().validation.clone().unwrap();
    let clips: Vec<_> = scan(&data.join("ravdess"))
        .unwrap()
        .clips
        .into_iter()
        .filter(|c| v.actors.contains(&c.actor))
        .collect();
    assert_eq!(clips.len(), v.files);
    let mut extractor = StreamingExtractor::new();
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    for clip in &clips {
        let signal = decode_file(&clip.path).unwrap().samples;
        truth.push(clip.emotion.index());
        predicted.push(argmax(
            &model.classify_signal(&mut extractor, &signal).unwrap(),
        ));
    }
    let m = Metrics::from_predictions(&truth, &predicted, Emotion::COUNT);
    println!(
        "actors {:?}: accuracy {:.4} macro-F1 {:.4}",
        v.actors, m.accuracy, m.macro_f1
    );
    assert!(
        (m.accuracy - v.accuracy).abs() < 1e-9,
        "accuracy {} but the card says {}",
        m.accuracy,
        v.accuracy
    );
    assert!(
        (m.macro_f1 - v.macro_f1).abs() < 1e-9,
        "macro-F1 {} but the card says {}",
        m.macro_f1,
        v.macro_f1
    );
}
