//! The model end to end on a few fixture files: a tiny training run whose loss falls and
//! whose saved model reloads to identical outputs, the model card's guard against features
//! the code cannot produce, and `emovox evaluate --json`'s schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::card::{ModelCard, Normalisation, Training};
use emovox::model::classifier::{argmax, mean};
use emovox::model::dataset::{parse_path, scan};
use emovox::model::input::{signal_frames, to_f16};
use emovox::model::input::{window_starts, InputGroup, HOP_FRAMES, INPUT_DIM, WINDOW_FRAMES};
use emovox::model::net::NetConfig;
use emovox::model::train::{
    prepare, train, PreparedClip, Progress, StartFrom, TrainConfig, AUGMENTATIONS,
};
use emovox::model::voice::{subtract, VoiceBaseline, VoiceBaselines};
use emovox::model::{Classifier, FeatureConfig};

/// The four 16 kHz fixture clips laid out as RAVDESS (`Actor_NN/name.wav`) in a new folder
/// `name` inside a temporary folder, which is removed (with everything the test wrote
/// beside `name`) when the returned guard is dropped, passed or failed.
fn ravdess_folder(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("emovox-model-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join(name);
    for stem in &common::REFERENCE_STEMS[..4] {
        let actor = &stem[stem.len() - 2..];
        let folder = dir.join(format!("Actor_{actor}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(common::wav(stem), folder.join(format!("{stem}.wav"))).unwrap();
    }
    (tmp, dir)
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 1,
        learning_rate: 3e-3,
        augment: true,
        net: NetConfig {
            conv_channels: 8,
            lstm_hidden: 8,
            ..NetConfig::default()
        },
        ..TrainConfig::default()
    }
}

fn tiny_card(normalisation: Normalisation, cfg: &TrainConfig) -> ModelCard {
    ModelCard {
        name: "tiny-test".into(),
        labels: Emotion::names(),
        features: FeatureConfig::current(),
        normalisation,
        window_frames: WINDOW_FRAMES,
        hop_frames: HOP_FRAMES,
        net: cfg.net.clone(),
        members: 1,
        training: Training {
            train_actors: vec![1, 5, 10, 20],
            val_actors: vec![],
            retrained_on_all: true,
            train_files: 4,
            sessions: Vec::new(),
            fine_tuned_from: None,
            epochs: cfg.epochs,
            seed: cfg.seed,
            augmentation: vec![],
            precise_batch_norm: cfg.precise_batch_norm,
            weight_average: cfg.weight_average,
            seconds: 0.0,
            date: "2026-11-26".into(),
            commit: "test".into(),
            ..Training::default()
        },
        validation: None,
        blend: Vec::new(),
    }
}

fn prepared(dir: &Path, augment: bool) -> Vec<PreparedClip> {
    let s = scan(dir).unwrap();
    assert_eq!(s.clips.len(), 4);
    prepare(&s.clips, augment, 1, &|| {}).unwrap()
}

/// One epoch of the tiny network on the fixture clips, weights saved to `dir/model`.
fn quick_model(dir: &Path) -> (PathBuf, Normalisation, TrainConfig) {
    let clips = prepared(dir, false);
    let cfg = TrainConfig {
        epochs: 1,
        augment: false,
        ..tiny_config()
    };
    let trained = train(&clips, &[], &[], &cfg, |_| {}).unwrap();
    let out = dir.join("model");
    std::fs::create_dir_all(&out).unwrap();
    trained.varmap.save(ModelCard::weights_path(&out)).unwrap();
    (out, trained.normalisation, cfg)
}

#[test]
fn a_tiny_training_run_learns_and_its_saved_model_reloads_identically() {
    let (_tmp, dir) = ravdess_folder("train");
    let clips = prepared(&dir, true);
    assert!(
        clips
            .iter()
            .all(|c| c.versions.len() == 1 + AUGMENTATIONS.len()),
        "the original and every augmented version"
    );
    let cfg = tiny_config();
    let trained = train(&clips, &[], &[], &cfg, |_| {}).unwrap();
    println!("losses per epoch: {:?}", trained.losses);
    assert_eq!(trained.losses.len(), 2);
    assert!(
        trained.losses[1] < trained.losses[0],
        "loss did not fall: {:?}",
        trained.losses
    );

    // Same seed, same run: training is deterministic.
    let again = train(&clips, &[], &[], &cfg, |_| {}).unwrap();
    assert_eq!(trained.losses, again.losses);

    let out = dir.join("model");
    std::fs::create_dir_all(&out).unwrap();
    let card = tiny_card(trained.normalisation.clone(), &cfg);
    trained.varmap.save(ModelCard::weights_path(&out)).unwrap();
    card.save(&out).unwrap();

    let in_memory = Classifier::from_nets(&[&trained.net], card).unwrap();
    let reloaded = Classifier::load(&out).unwrap();
    let frames = &clips[0].versions[0];
    let starts = window_starts(frames.len() / INPUT_DIM);
    let a = in_memory.windows(frames, &starts).unwrap();
    let b = reloaded.windows(frames, &starts).unwrap();
    assert_eq!(a, b, "the reloaded model gives other outputs");
    for p in &a {
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5 && p.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}

#[test]
fn a_cards_member_count_defaults_to_one_is_written_only_for_ensembles_and_is_bounded() {
    let (_tmp, dir) = ravdess_folder("members");
    let (out, normalisation, cfg) = quick_model(&dir);
    let card = tiny_card(normalisation, &cfg);
    let json = serde_json::to_value(&card).unwrap();
    assert!(
        json.get("members").is_none(),
        "one network writes no members: {json}"
    );
    // Cards written before ensembles have no "members": one network.
    let text = serde_json::to_string(&json).unwrap();
    assert_eq!(
        ModelCard::parse(&text, &ModelCard::json_path(&out))
            .unwrap()
            .members,
        1
    );
    for (members, ok) in [(0, false), (2, true), (8, true), (9, false)] {
        let card = ModelCard {
            members,
            ..card.clone()
        };
        let text = serde_json::to_string(&card).unwrap();
        assert_eq!(text.contains("\"members\":"), members != 1);
        let parsed = ModelCard::parse(&text, &ModelCard::json_path(&out));
        assert_eq!(parsed.is_ok(), ok, "{members} members: {parsed:?}");
        if !ok {
            let err = parsed.unwrap_err().to_string();
            assert!(err.contains("1 to 8"), "{err}");
        }
    }
    // More centred inputs than the network has: refused.
    let mut wrong = card.clone();
    wrong.net.centred_inputs = wrong.net.input_dim + 1;
    let err = ModelCard::parse(
        &serde_json::to_string(&wrong).unwrap(),
        &ModelCard::json_path(&out),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("centred inputs"), "{err}");
    // Blended parts count toward the bound, and a part's own count is bounded before any
    // sum (a count that would wrap round is refused, not added).
    let part = |members: usize| emovox::model::card::BlendPart {
        name: "part".into(),
        normalisation: card.normalisation.clone(),
        net: card.net.clone(),
        members,
        training: card.training.clone(),
    };
    for (parts, ok) in [
        (vec![part(3)], true),
        (vec![part(3), part(4)], true),
        (vec![part(8)], false),
        (vec![part(2), part(usize::MAX)], false),
        (vec![part(0)], false),
    ] {
        let blend = ModelCard {
            blend: parts,
            ..card.clone()
        };
        let parsed = ModelCard::parse(
            &serde_json::to_string(&blend).unwrap(),
            &ModelCard::json_path(&out),
        );
        assert_eq!(parsed.is_ok(), ok, "{parsed:?}");
    }
    // A card of two members over the weights of one: refused, naming the missing tensor.
    ModelCard { members: 2, ..card }.save(&out).unwrap();
    let err = Classifier::load(&out).err().expect("loads").to_string();
    assert!(err.contains("member1."), "{err}");
}

#[test]
fn a_per_voice_model_reads_frames_minus_their_voices_baseline_and_a_lone_file_on_itself() {
    let (_tmp, dir) = ravdess_folder("per-voice");
    let (out, normalisation, cfg) = quick_model(&dir);
    let plain_card = tiny_card(normalisation.clone(), &cfg);
    // An older card has no per_voice; the plain one writes none.
    let json = serde_json::to_string(&plain_card).unwrap();
    assert!(!json.contains("per_voice"), "{json}");
    plain_card.save(&out).unwrap();
    let plain = Classifier::load(&out).unwrap();
    assert!(!plain.reads_per_voice());
    let per_voice_card = tiny_card(
        Normalisation {
            per_voice: true,
            ..normalisation
        },
        &cfg,
    );
    per_voice_card.save(&out).unwrap();
    let per_voice = Classifier::load(&out).unwrap();
    assert!(per_voice.reads_per_voice(), "per_voice survives the file");

    let clips = prepared(&dir, false);
    let frames = &clips[0].versions[0];
    let starts = window_starts(frames.len() / INPUT_DIM);
    // The voice: the other three clips.
    let mut voice = VoiceBaseline::default();
    for c in &clips[1..] {
        voice.add_stretch(&c.versions[0]);
    }
    let b = voice.mean().unwrap();
    let mut centred = frames.clone();
    subtract(&mut centred, &b);
    let close = |a: &[[f32; 8]], b: &[[f32; 8]]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            // f16 rounding of the subtraction by hand: about 1e-6 here; another
            // baseline moves this untrained model's outputs by about 2e-3.
            .all(|(x, y)| (x - y).abs() < 1e-4)
    };
    let read = per_voice.windows_of(Some(&voice), frames, &starts).unwrap();
    let by_hand = plain.windows(&centred, &starts).unwrap();
    assert!(close(&read, &by_hand), "{read:?}\n{by_hand:?}");
    // Another baseline gives other outputs: the baseline is really read.
    let other = per_voice.windows(frames, &starts).unwrap();
    assert!(!close(&read, &other), "the baseline changed nothing");
    // Without a voice (or one that heard nothing): the frames' own baseline.
    let mut alone = frames.clone();
    subtract(
        &mut alone,
        &VoiceBaseline::of_stretch(frames).mean().unwrap(),
    );
    assert!(close(&other, &plain.windows(&alone, &starts).unwrap()));
    let empty = VoiceBaseline::default();
    assert_eq!(
        per_voice.windows_of(Some(&empty), frames, &starts).unwrap(),
        other
    );
    // A model that does not read per voice ignores one.
    assert_eq!(
        plain.windows_of(Some(&voice), frames, &starts).unwrap(),
        plain.windows(frames, &starts).unwrap()
    );
}

#[test]
fn a_card_whose_features_the_code_cannot_produce_is_refused() {
    let (_tmp, dir) = ravdess_folder("card");
    let (out, normalisation, cfg) = quick_model(&dir);
    let mut card = tiny_card(normalisation.clone(), &cfg);
    card.features.n_fft = 1024;
    card.save(&out).unwrap();
    let err = Classifier::load(&out)
        .err()
        .expect("a card asking for n_fft 1024 loads")
        .to_string();
    assert!(
        err.contains("n_fft: 1024") && err.contains("n_fft: 512"),
        "{err}"
    );

    let mut card = tiny_card(normalisation, &cfg);
    card.features.db_rule = "librosa".into();
    card.save(&out).unwrap();
    assert!(
        Classifier::load(&out).is_err(),
        "a card asking for the librosa dB rule loads"
    );

    std::fs::write(ModelCard::json_path(&out), "{ not json").unwrap();
    let err = Classifier::load(&out).err().unwrap().to_string();
    assert!(
        err.contains("emovox.json") && err.contains("not a valid model card"),
        "{err}"
    );
}

#[test]
fn evaluate_prints_one_json_line_with_the_documented_keys() {
    let (_tmp, dir) = ravdess_folder("evaluate");
    let (out, normalisation, cfg) = quick_model(&dir);
    tiny_card(normalisation, &cfg).save(&out).unwrap();
    // A stray file is reported, not silently dropped.
    std::fs::write(dir.join("Actor_01").join("notes.wav"), b"x").unwrap();

    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args([
            "evaluate",
            "--data",
            dir.to_str().unwrap(),
            "--weights",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("notes.wav"), "{stderr}");
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "n",
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "labels",
        "per_class",
        "confusion",
    ] {
        assert!(keys.contains(&k), "missing {k} in {stdout}");
    }
    assert_eq!(v["n"], 4);
    assert_eq!(v["labels"].as_array().unwrap().len(), 8);
    let confusion = v["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 8);
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
    assert_eq!(v["per_class"]["angry"]["support"], 1);
}

#[test]
fn evaluate_reads_a_per_voice_model_on_each_speakers_baseline_or_with_lone_files_each_clips() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, clips) = two_voice_corpus(tmp.path());
    // The shipped weights, read per voice.
    let model_dir = common::shipped_copy(&tmp.path().join("per-voice"), true);
    let model = Classifier::load(&model_dir).unwrap();

    // What evaluate should find, computed here from the library's parts.
    let frames: Vec<Vec<half::f16>> = clips
        .iter()
        .map(|(stem, _, _)| {
            let signal = emovox::audio::decode_file(&common::wav(stem))
                .unwrap()
                .samples;
            to_f16(&signal_frames(&mut StreamingExtractor::new(), &signal))
        })
        .collect();
    let mut voices = VoiceBaselines::default();
    for (f, (_, speaker, _)) in frames.iter().zip(&clips) {
        voices.add_stretch(speaker, f);
    }
    let confusion = |lone: bool| {
        let mut m = vec![vec![0u64; 8]; 8];
        for (f, (_, speaker, label)) in frames.iter().zip(&clips) {
            let voice = (!lone).then(|| voices.get(speaker).unwrap());
            let p = model.classify_frames_of(voice, f).unwrap();
            m[label.index()][argmax(&p)] += 1;
        }
        serde_json::to_value(m).unwrap()
    };
    let evaluate = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(["evaluate", "--json", "--data"])
            .arg(&corpus)
            .arg("--weights")
            .arg(&model_dir)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["confusion"].clone()
    };
    assert_eq!(evaluate(&[]), confusion(false));
    assert_eq!(evaluate(&["--lone-files"]), confusion(true));
    // The two readings differ somewhere: the baseline is really each speaker's.
    let differ = frames.iter().zip(&clips).any(|(f, (_, speaker, _))| {
        model.classify_frames_of(voices.get(speaker), f).unwrap()
            != model.classify_frames_of(None, f).unwrap()
    });
    assert!(differ);
}

#[test]
fn evaluate_averages_models_given_with_average_with() {
    let (_tmp, dir) = ravdess_folder("average");
    let (out, normalisation, cfg) = quick_model(&dir);
    tiny_card(normalisation, &cfg).save(&out).unwrap();
    let evaluate = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--data",
            dir.to_str().unwrap(),
            "--weights",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(&args)
            .output()
            .unwrap()
    };
    let alone = evaluate(&["--json"]);
    assert!(alone.status.success());
    // A model averaged with itself answers as it does alone.
    let twice = evaluate(&["--json", "--average-with", out.to_str().unwrap()]);
    assert!(
        twice.status.success(),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    assert_eq!(twice.stdout, alone.stdout);
    // With the built-in model: each clip's answer is the mean of the two models'.
    let tiny = Classifier::load(&out).unwrap();
    let shipped = common::shipped();
    let confusion = |answer: &dyn Fn(&[f32]) -> [f32; 8]| {
        let mut c = vec![vec![0u64; 8]; 8];
        for clip in scan(&dir).unwrap().clips {
            let signal = emovox::audio::decode_file(&clip.path).unwrap().samples;
            c[clip.emotion.index()][argmax(&answer(&signal))] += 1;
        }
        c
    };
    let answer = |model: &Classifier, x: &[f32]| {
        model
            .classify_signal(&mut emovox::dsp::StreamingExtractor::new(), x)
            .unwrap()
    };
    let expected = confusion(&|x| mean(&[answer(&tiny, x), answer(&shipped, x)]));
    assert!(
        expected != confusion(&|x| answer(&tiny, x))
            || expected != confusion(&|x| answer(&shipped, x)),
        "the pair answers as each model alone: this check would not see averaging"
    );
    let pair = evaluate(&["--json", "--average-with", "built-in"]);
    assert!(
        pair.status.success(),
        "{}",
        String::from_utf8_lossy(&pair.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&pair.stdout).unwrap();
    let got: Vec<Vec<u64>> = serde_json::from_value(v["confusion"].clone()).unwrap();
    assert_eq!(got, expected);
    // The tables say what was averaged.
    let named = evaluate(&["--average-with", "built-in"]);
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert!(
        stderr.contains("averaged with emovox-ravdess-cbl (built in)"),
        "{stderr}"
    );
    // A folder without a model: refused, naming it.
    let missing = evaluate(&["--average-with", "/nonexistent-model"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent-model"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn the_dataset_reader_reports_what_does_not_fit() {
    let (_tmp, dir) = ravdess_folder("scan");
    std::fs::write(
        dir.join("Actor_01").join("03-02-03-01-01-01-01.wav"),
        b"song",
    )
    .unwrap();
    std::fs::write(
        dir.join("Actor_05").join("03-01-03-01-01-01-01.wav"),
        b"wrong actor",
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), b"not audio").unwrap();
    let s = scan(&dir).unwrap();
    assert_eq!(s.clips.len(), 4);
    assert_eq!(s.actors(), vec![1, 5, 10, 20]);
    let reasons: Vec<&str> = s.rejected.iter().map(|(_, why)| why.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("song")));
    assert!(reasons.iter().any(|r| r.contains("folder is Actor_05")));
    assert!(parse_path(Path::new("Actor_05/03-01-02-01-02-02-05.wav")).is_ok());
}

/// A recorded session beside `data` (one fixture clip) with two labelled regions to learn
/// from and one too short to.
fn labelled_session(data: &Path) -> PathBuf {
    let session_dir = data.with_extension("session");
    std::fs::create_dir_all(&session_dir).unwrap();
    std::fs::copy(
        common::wav("03-01-05-02-01-01-10"),
        session_dir.join(emovox::session::AUDIO_FILE),
    )
    .unwrap();
    let region = |a: f64, b: f64, label| emovox::session::Region {
        start_s: a,
        end_s: b,
        label,
    };
    emovox::session::Session {
        seconds: 3.7,
        labels: vec![
            region(0.5, 2.0, Emotion::Angry),
            region(2.0, 3.5, Emotion::Sad),
            // Too short to learn from.
            region(3.5, 3.7, Emotion::Calm),
        ],
        ..Default::default()
    }
    .save(&session_dir)
    .unwrap();
    session_dir
}

/// The safetensors file of a model folder, by tensor name.
fn tensors(dir: &Path) -> std::collections::HashMap<String, candle_core::Tensor> {
    candle_core::safetensors::load(ModelCard::weights_path(dir), &candle_core::Device::Cpu).unwrap()
}

fn values(t: &candle_core::Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn an_ensemble_trains_its_members_side_by_side_answers_with_their_mean_and_tunes_whole() {
    let (_tmp, data) = ravdess_folder("ensemble");
    let out = data.with_extension("out");
    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["train", "--data"])
        .arg(&data)
        .args([
            "--epochs",
            "2",
            "--val-actors",
            "10,20",
            "--no-augment",
            "--width",
            "16",
            "--members",
            "2",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("member 2, epoch  1/2"), "{stderr}");
    let card = ModelCard::load(&out).unwrap();
    assert_eq!(card.members, 2);
    let seeds: Vec<u64> = card.training.members.iter().map(|m| m.seed).collect();
    assert_eq!(seeds, vec![7, 8]);

    // One file: the first member under its own names, the second under `member1.`.
    let all = tensors(&out);
    let first: Vec<&String> = all.keys().filter(|k| !k.starts_with("member")).collect();
    assert!(!first.is_empty());
    assert_eq!(all.len(), 2 * first.len());
    assert!(first
        .iter()
        .all(|k| all.contains_key(&format!("member1.{k}"))));
    let split = emovox::model::classifier::member_weights(&all, 0);
    assert_eq!(
        split.len(),
        first.len(),
        "the first member took another's tensors"
    );

    // Each member alone, as a model folder of its own.
    let member = |i: usize| {
        let dir = data.with_extension(format!("member{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        candle_core::safetensors::save(
            &emovox::model::classifier::member_weights(&all, i),
            ModelCard::weights_path(&dir),
        )
        .unwrap();
        ModelCard {
            members: 1,
            ..card.clone()
        }
        .save(&dir)
        .unwrap();
        Classifier::load(&dir).unwrap()
    };
    let (a, b) = (member(0), member(1));
    let ensemble = Classifier::load(&out).unwrap();
    let clips = prepared(&data, false);
    let mut members_differ = false;
    for clip in &clips {
        let frames = &clip.versions[0];
        let (pa, pb) = (
            a.classify_frames(frames).unwrap(),
            b.classify_frames(frames).unwrap(),
        );
        members_differ |= pa != pb;
        let both = ensemble.classify_frames(frames).unwrap();
        for ((x, y), m) in pa.iter().zip(&pb).zip(&both) {
            assert!(((x + y) / 2.0 - m).abs() < 1e-6, "{pa:?} {pb:?} {both:?}");
        }
    }
    assert!(members_differ, "the seeds gave the same network");
    // The card's validation is the ensemble's, on actors 10 and 20.
    let val: Vec<_> = clips
        .iter()
        .filter(|c| c.speaker.ends_with("10") || c.speaker.ends_with("20"))
        .collect();
    let right = val
        .iter()
        .filter(|c| argmax(&ensemble.classify_frames(&c.versions[0]).unwrap()) == c.emotion.index())
        .count();
    let validation = card.validation.unwrap();
    assert_eq!(validation.files, 2);
    assert_eq!(validation.accuracy, right as f64 / 2.0);

    // Tuning the ensemble tunes every member and keeps them together.
    let session = labelled_session(&data);
    let tuned_dir = data.with_extension("tuned");
    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("train")
        .arg("--from")
        .arg(&out)
        .arg("--sessions")
        .arg(&session)
        .args(["--epochs", "1", "--no-augment", "--rehearse", "0", "--out"])
        .arg(&tuned_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tuned = ModelCard::load(&tuned_dir).unwrap();
    assert_eq!(tuned.members, 2);
    assert_eq!(tuned.training.members.len(), 2);
    let after = tensors(&tuned_dir);
    assert_eq!(after.len(), all.len());
    // Each member was tuned from its own weights: nearer them than the other member's.
    let distance =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
    for (name, other) in [
        ("head.weight", "member1.head.weight"),
        ("member1.head.weight", "head.weight"),
    ] {
        let (tuned, own, others) = (
            values(&after[name]),
            values(&all[name]),
            values(&all[other]),
        );
        assert_ne!(tuned, own, "{name} was not tuned");
        assert!(
            distance(&tuned, &own) < distance(&tuned, &others),
            "{name} was tuned from {other}"
        );
    }
    Classifier::load(&tuned_dir).unwrap();
    // Nothing of the working copies is left beside the tuned model.
    let mut names: Vec<String> = std::fs::read_dir(&tuned_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["emovox.json", "emovox.safetensors"]);
}

#[test]
fn train_also_learns_from_the_labelled_regions_of_sessions() {
    let (_tmp, data) = ravdess_folder("sessions");
    let session_dir = labelled_session(&data);
    let out = data.with_extension("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["train", "--data"])
        .arg(&data)
        .arg("--sessions")
        .arg(&session_dir)
        .args([
            "--epochs",
            "1",
            "--val-actors",
            "none",
            "--no-augment",
            // A narrow network: quicker here, and its shape must reach the card, as
            // must the MFCCs' centring and the inputs dropped.
            "--width",
            "16",
            "--centre-mfcc",
            "--drop-inputs",
            "tonnetz,chroma",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let card = ModelCard::load(&out).unwrap();
    assert_eq!(card.training.train_files, 4 + 2);
    assert_eq!(
        card.training.sessions,
        vec![session_dir.display().to_string()]
    );
    assert!(card.training.train_actors.contains(&0));
    assert_eq!(
        (card.net.conv_channels, card.net.lstm_hidden),
        (16, 16),
        "--width sets both"
    );
    assert_eq!(card.net.centred_inputs, emovox::dsp::N_MFCC);
    assert_eq!(card.training.dropped_inputs, ["chroma", "tonnetz"]);
    let narrow = Classifier::load(&out).unwrap();
    let frames = &prepared(&data, false)[0].versions[0];
    let p = narrow.classify_frames(frames).unwrap();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    // Dropped inputs are not read: other chroma and tonnetz values, the same answer;
    // other contrast values (kept), another.
    let changed = |group: InputGroup| {
        let mut other = frames.clone();
        for (i, frame) in other.chunks_exact_mut(INPUT_DIM).enumerate() {
            for (d, v) in frame[group.range()].iter_mut().enumerate() {
                *v = half::f16::from_f32(((i * 7 + d * 13) % 17) as f32 - 8.0);
            }
        }
        narrow.classify_frames(&other).unwrap()
    };
    let most = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    };
    for group in [InputGroup::Chroma, InputGroup::Tonnetz] {
        assert!(most(&p, &changed(group)) < 1e-6, "{group:?}");
    }
    assert!(most(&p, &changed(InputGroup::Contrast)) > 1e-4);

    // Fine-tuning the shipped model on the session alone: no dataset needed.
    let shipped_dir = common::shipped_weights();
    let tuned_dir = data.with_extension("tuned");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("train")
        .arg("--from")
        .arg(&shipped_dir)
        .arg("--sessions")
        .arg(&session_dir)
        .args(["--epochs", "1", "--lr", "1e-4", "--no-augment", "--out"])
        .arg(&tuned_dir)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let shipped = ModelCard::load(&shipped_dir).unwrap();
    let tuned = ModelCard::load(&tuned_dir).unwrap();
    assert_eq!(tuned.name, "emovox-ravdess-cbl-tuned");
    assert!(tuned
        .training
        .fine_tuned_from
        .as_deref()
        .is_some_and(|f| f.starts_with("emovox-ravdess-cbl (")));
    assert_eq!(tuned.normalisation, shipped.normalisation);
    assert_eq!(tuned.net, shipped.net);
    assert_eq!(tuned.training.train_files, 2);
    assert!(tuned.validation.is_none());
    Classifier::load(&tuned_dir).unwrap();
}

#[test]
fn fine_tuning_starts_from_the_given_weights() {
    let (_tmp, dir) = ravdess_folder("tune");
    let clips = prepared(&dir, false);
    let shipped = common::shipped_weights();
    let card = ModelCard::load(&shipped).unwrap();
    // The loss of the very first step: from the shipped weights the fixture clips are
    // already well classified; from random weights the loss is near ln 8 ≈ 2.08.
    let first_loss = |start: Option<StartFrom>| {
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 4,
            learning_rate: 1e-5,
            augment: false,
            net: card.net.clone(),
            start,
            ..TrainConfig::default()
        };
        let mut first = None;
        let trained = train(&clips, &[], &[], &cfg, |p| {
            if let Progress::Step { loss, .. } = p {
                first.get_or_insert(loss);
            }
        })
        .unwrap();
        (first.unwrap(), trained.normalisation)
    };
    let (tuned, normalisation) = first_loss(Some(StartFrom {
        weights: ModelCard::weights_path(&shipped),
        mean: card.normalisation.mean.clone(),
        std: card.normalisation.std.clone(),
    }));
    let (scratch, _) = first_loss(None);
    println!("first-step loss: fine-tuning {tuned:.3}, from scratch {scratch:.3}");
    assert!(scratch > 1.8, "from scratch {scratch}");
    assert!(tuned < scratch - 0.5, "fine-tuning {tuned} vs {scratch}");
    assert_eq!(normalisation, card.normalisation);
}

#[test]
fn a_long_files_windows_in_shared_groups_give_each_windows_own_answer() {
    // 17 s of frames: 57 windows every 0.25 s, more than one group of the shared front
    // end; given in reverse order, plus one window padded past the end (run alone), so
    // every answer must come back to its own slot. The shipped shape with its inputs as
    // they are (both conv layers shared) and centred as shipped (conv1 shared), two
    // members, random weights.
    let shipped = common::shipped().card().clone();
    for centred in [0, shipped.net.centred_inputs] {
        long_file_in_groups(ModelCard {
            net: NetConfig {
                centred_inputs: centred,
                ..shipped.net.clone()
            },
            members: 2,
            blend: Vec::new(),
            ..shipped.clone()
        });
    }
}

fn long_file_in_groups(card: ModelCard) {
    let nets: Vec<(candle_nn::VarMap, emovox::model::net::EmotionNet)> = (0..2u64)
        .map(|seed| {
            let varmap = candle_nn::VarMap::new();
            let net = emovox::model::net::EmotionNet::new(
                &card.net,
                candle_nn::VarBuilder::from_varmap(
                    &varmap,
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                ),
            )
            .unwrap();
            emovox::model::net::initialise(&varmap, &mut emovox::model::rng::Rng::new(seed))
                .unwrap();
            (varmap, net)
        })
        .collect();
    let refs: Vec<&emovox::model::net::EmotionNet> = nets.iter().map(|(_, n)| n).collect();
    let model = Classifier::from_nets(&refs, card).unwrap();
    let n = 1_700;
    let frames: Vec<half::f16> = (0..n * INPUT_DIM)
        .map(|i| half::f16::from_f32(((i as f32) * 0.013).sin() * 3.0 + (i % 7) as f32))
        .collect();
    let mut starts = window_starts(n);
    assert!(starts.len() > emovox::model::classifier::WINDOW_GROUP);
    starts.reverse();
    starts.push(n - WINDOW_FRAMES / 2);
    let together = model.windows(&frames, &starts).unwrap();
    assert_eq!(together.len(), starts.len());
    for (&s, got) in starts.iter().zip(&together) {
        let alone = model.windows(&frames, &[s]).unwrap()[0];
        for (a, b) in alone.iter().zip(got) {
            assert!((a - b).abs() < 1e-5, "start {s}: {alone:?} vs {got:?}");
        }
    }
}

/// Five fixture clips as one corpus `voices` with a metadata.csv: the first three speaker
/// `a`'s, the last two `b`'s. Returns the folder and each clip's stem, speaker and label.
fn two_voice_corpus(dir: &Path) -> (PathBuf, Vec<(&'static str, &'static str, Emotion)>) {
    let corpus = dir.join("voices");
    std::fs::create_dir_all(&corpus).unwrap();
    let mut csv = String::from("file_name,label,speaker\n");
    let mut clips = Vec::new();
    for (i, stem) in common::REFERENCE_STEMS.iter().enumerate() {
        let speaker = if i < 3 { "a" } else { "b" };
        // The 48 kHz copy's name has a suffix: the label is in the first seven fields.
        let label = parse_path(Path::new(&format!("{}.wav", &stem[..20])))
            .unwrap()
            .emotion;
        std::fs::copy(common::wav(stem), corpus.join(format!("{stem}.wav"))).unwrap();
        csv.push_str(&format!("{stem}.wav,{},{speaker}\n", label.name()));
        clips.push((*stem, speaker, label));
    }
    std::fs::write(corpus.join("metadata.csv"), csv).unwrap();
    (corpus, clips)
}

#[test]
fn a_blend_reads_each_part_its_own_way_and_averages_every_network() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, _) = two_voice_corpus(tmp.path());
    // The shipped weights read as they are, and read per voice: two readings that differ.
    let plain = common::shipped_copy(&tmp.path().join("plain"), false);
    let per_voice = common::shipped_copy(&tmp.path().join("per-voice"), true);
    // The first model was validated on speaker a (clean and in rooms), which the other
    // never trained on.
    let mut card = ModelCard::load(&plain).unwrap();
    let v = card.validation.as_mut().unwrap();
    v.speakers = vec!["voices:a".into()];
    v.actors.clear();
    v.corpora.clear();
    card.save(&plain).unwrap();
    let blend = |models: &[&Path], out: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_emovox"))
            .arg("blend")
            .args(models)
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = tmp.path().join("blend");
    let o = blend(
        &[&plain, &per_voice],
        &out,
        &["--data", corpus.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let card = ModelCard::load(&out).unwrap();
    assert_eq!((card.members, card.networks()), (2, 4));
    assert!(!card.normalisation.per_voice && card.blend[0].normalisation.per_voice);
    assert_eq!(card.name, "emovox-ravdess-cbl-blend");
    let all = tensors(&out);
    let one = emovox::model::classifier::member_weights(&tensors(&plain), 0).len();
    assert_eq!(all.len(), 4 * one);
    assert!(all.keys().any(|k| k.starts_with("member3.")));

    // Each clip: the mean of the two readings, window by window.
    let (a, b) = (
        Classifier::load(&plain).unwrap(),
        Classifier::load(&per_voice).unwrap(),
    );
    let model = Classifier::load(&out).unwrap();
    assert!(model.reads_per_voice());
    let mut voice = VoiceBaseline::default();
    let mut readings_differ = false;
    for stem in common::REFERENCE_STEMS {
        let signal = emovox::audio::decode_file(&common::wav(stem))
            .unwrap()
            .samples;
        let frames = to_f16(&signal_frames(&mut StreamingExtractor::new(), &signal));
        voice.add_stretch(&frames);
        let starts = window_starts(frames.len() / INPUT_DIM);
        let (pa, pb, both) = (
            a.windows_of(Some(&voice), &frames, &starts).unwrap(),
            b.windows_of(Some(&voice), &frames, &starts).unwrap(),
            model.windows_of(Some(&voice), &frames, &starts).unwrap(),
        );
        readings_differ |= pa != pb;
        for ((x, y), m) in pa.iter().zip(&pb).zip(&both) {
            let expected = mean(&[*x, *y]);
            for (e, g) in expected.iter().zip(m) {
                assert!((e - g).abs() < 1e-5, "{stem}: {expected:?} vs {m:?}");
            }
        }
    }
    assert!(
        readings_differ,
        "the check would not see each part's reading"
    );

    // The card's scores are the blend's on speaker a, as `evaluate` finds them.
    let evaluate = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(["evaluate", "--json", "--speakers", "voices:a", "--data"])
            .arg(&corpus)
            .arg("--weights")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let v = card.validation.as_ref().unwrap();
    assert_eq!(v.files, 3);
    assert_eq!(v.speakers, vec!["voices:a".to_owned()]);
    let clean = evaluate(&[]);
    assert!((v.macro_f1 - clean["macro_f1"].as_f64().unwrap()).abs() < 1e-9);
    let seed = card.training.seed.to_string();
    let rooms = evaluate(&["--in-rooms", &seed]);
    let in_rooms = v.in_rooms.as_ref().unwrap();
    assert_eq!(in_rooms.files, 3);
    assert!((in_rooms.macro_f1 - rooms["macro_f1"].as_f64().unwrap()).abs() < 1e-9);
    // The same as averaging the two models in `evaluate`.
    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["evaluate", "--json", "--speakers", "voices:a", "--data"])
        .arg(&corpus)
        .arg("--weights")
        .arg(&plain)
        .arg("--average-with")
        .arg(&per_voice)
        .output()
        .unwrap();
    let averaged: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(averaged["confusion"], clean["confusion"]);

    // Refused, in words, with nothing written: a folder that holds files; a model trained
    // on the voices the first was validated on; too many networks.
    let o = blend(&[&plain, &per_voice], &out, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    let mut card = ModelCard::load(&per_voice).unwrap();
    card.training.speakers.push("voices:a".into());
    card.save(&per_voice).unwrap();
    let refused = tmp.path().join("refused");
    let o = blend(&[&plain, &per_voice], &refused, &[]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("was trained on voices:a"), "{stderr}");
    let o = blend(&[&out, &out, &out], &refused, &[]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("12 networks"), "{stderr}");
    assert!(!refused.exists());
}

#[test]
fn train_blend_voice_trains_both_groups_in_one_run_and_scores_the_blend() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, _) = two_voice_corpus(tmp.path());
    let train = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(["train", "--data"])
            .arg(&corpus)
            .args([
                "--val-speakers",
                "voices:a",
                "--epochs",
                "2",
                "--width",
                "8",
                "--rooms",
                "1",
                "--val-in-rooms",
                "--seed",
                "5",
                "--out",
            ])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (out, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (both, said) = train("both", &["--centre-mfcc", "--blend-voice", "1"]);
    assert!(said.contains("member 2, epoch  2/2"), "{said}");
    let card = ModelCard::load(&both).unwrap();
    assert_eq!((card.members, card.networks(), card.blend.len()), (1, 2, 1));
    let part = &card.blend[0];
    assert_eq!((card.net.centred_inputs, part.net.centred_inputs), (40, 0));
    assert!(!card.normalisation.per_voice && part.normalisation.per_voice);
    assert_eq!(
        (card.training.voice_draws, part.training.voice_draws),
        (0, 16)
    );
    assert!(part.name.contains("--blend-voice"), "{}", part.name);

    // Each group is what its own run trains: the first as `--centre-mfcc`, the part as
    // `--centre-voice --voice-draws`, tensor for tensor.
    let (mfcc, _) = train("mfcc", &["--centre-mfcc"]);
    let (voice, _) = train("voice", &["--centre-voice", "--voice-draws"]);
    let all = tensors(&both);
    let parts = [
        emovox::model::classifier::member_weights(&all, 0),
        emovox::model::classifier::member_weights(&all, 1),
    ];
    for (part, alone) in parts.iter().zip([&mfcc, &voice]) {
        let alone = tensors(alone);
        assert_eq!(part.len(), alone.len());
        for (name, t) in &alone {
            assert_eq!(values(&part[name]), values(t), "{name} of {}", alone.len());
        }
    }
    let voice_card = ModelCard::load(&voice).unwrap();
    assert_eq!(part.normalisation, voice_card.normalisation);
    assert_eq!(
        card.normalisation,
        ModelCard::load(&mfcc).unwrap().normalisation
    );

    // The card's scores are the blend's on speaker a, each voice on its baseline, as
    // `evaluate` finds them; in rooms too (training's own room for each clip).
    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(["evaluate", "--json", "--speakers", "voices:a", "--data"])
        .arg(&corpus)
        .arg("--weights")
        .arg(&both)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let clean: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let v = card.validation.as_ref().unwrap();
    assert_eq!(v.speakers, vec!["voices:a".to_owned()]);
    assert_eq!(v.files, 3);
    assert!((v.macro_f1 - clean["macro_f1"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(v.in_rooms.as_ref().map(|r| r.files), Some(3));

    // Refused in words before anything is read or written: too many networks, a first
    // group that already reads per voice.
    let out = tmp.path().join("never-written");
    for (extra, words) in [
        (
            &["--members", "8", "--blend-voice", "1"][..],
            "at most 8 networks",
        ),
        (
            &["--centre-voice", "--blend-voice", "1"][..],
            "cannot be used with",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(["train", "--data", "/nonexistent-data", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(said.contains(words), "{extra:?}: {said}");
    }
    assert!(!out.exists());
}
