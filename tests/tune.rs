//! Tuning to one's own voice (issue 17): the held-back time is split off by time and
//! never overlaps what is trained on, the plain command `emovox train --from weights
//! --sessions DIR --out DIR` works on a tiny session, and the card records the
//! before/after on the held-back time and the recipe; older cards still load. The
//! built-in model tunes with no files beside the binary, its exemplars travel with the
//! tuned model (so it tunes again with rehearsal, and `emovox exemplars` remakes them),
//! exemplars made for other weights are refused, and flags of the other kind of training,
//! tuning without --out and a hold-out that leaves nothing to train on are refused in
//! words. `emovox exemplars` knows RAVDESS actors in a folder of any name. A per-voice
//! model's exemplars are stored centred on their voices, and it tunes on the sessions'
//! voice, staying per voice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use emovox::labels::Emotion;
use emovox::model::card::ModelCard;
use emovox::model::rng::Rng;
use emovox::model::train::exemplars;
use emovox::model::train::holdout::{split_by_time, Span};

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

#[test]
fn the_plain_command_tunes_a_tiny_session_and_the_card_records_before_and_after() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    common::tiny_session(&session, 3);
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

fn emovox(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(args)
        .output()
        .unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// `train --from MODEL --sessions SESSION --out OUT`, quick (one epoch, no augmentation),
/// with `extra` flags; its stderr.
fn quick_tune(from: &Path, session: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec![
        os("train"),
        os("--from"),
        from.as_os_str(),
        os("--sessions"),
        session.as_os_str(),
        os("--out"),
        out.as_os_str(),
        os("--epochs"),
        os("1"),
        os("--no-augment"),
    ];
    args.extend(extra.iter().map(|s| os(s)));
    let o = emovox(&args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn exemplar_card(dir: &Path) -> serde_json::Value {
    let path = dir.join(exemplars::EXEMPLARS_CARD);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Runs `emovox exemplars --from model --data data` and returns the clips it drew, as the
/// exemplars card names them.
fn exemplars_drawn(model: &Path, data: &Path) -> Vec<String> {
    let o = emovox(&[
        os("exemplars"),
        os("--from"),
        model.as_os_str(),
        os("--data"),
        data.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    exemplar_card(model)["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// The fixture clips of RAVDESS actors 01, 05 and 10 (voices the shipped model trained
/// on) and 20 (one it did not) as a RAVDESS folder.
fn ravdess_fixtures(dir: &Path) {
    for stem in &common::REFERENCE_STEMS[..4] {
        let actor = &stem[stem.len() - 2..];
        let folder = dir.join(format!("Actor_{actor}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(common::wav(stem), folder.join(format!("{stem}.wav"))).unwrap();
    }
}

#[test]
fn the_built_in_model_tunes_and_its_exemplars_travel_with_the_tuned_model() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    common::tiny_session(&session, 2);
    let tuned = tmp.path().join("tuned");
    // `built-in` needs no files: the model and its exemplars are in the binary.
    let (ok, log) = quick_tune(Path::new("built-in"), &session, &tuned, &[]);
    assert!(ok, "{log}");
    let card = ModelCard::load(&tuned).unwrap();
    let shipped = ModelCard::load(&common::shipped_weights()).unwrap();
    assert_eq!(card.name, format!("{}-tuned", shipped.name));
    assert_eq!(card.normalisation, shipped.normalisation);
    // It rehearsed every built-in exemplar (as many as the shipped list names).
    let shipped_exemplars = exemplar_card(&common::shipped_weights());
    let n = shipped_exemplars["clips"].as_array().unwrap().len();
    assert!(n > 0);
    assert_eq!(card.training.fine_tune.as_ref().unwrap().exemplars, n);
    // The copy beside the tuned model is the tuned model's: its name and weights.
    let copy = exemplar_card(&tuned);
    assert_eq!(copy["clips"], shipped_exemplars["clips"]);
    assert_eq!(copy["model"], card.name.as_str());
    let weights = std::fs::read(ModelCard::weights_path(&tuned)).unwrap();
    assert_eq!(copy["weights"], exemplars::weights_id(&weights).as_str());
    assert_ne!(copy["weights"], shipped_exemplars["weights"]);
    assert!(copy["command"]
        .as_str()
        .unwrap()
        .starts_with(&format!("emovox exemplars --from {}", tuned.display())));
    // Nothing else is left beside it: the working folder was moved into place.
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");

    // Tuned again, the tuned model rehearses its copy.
    let again = tmp.path().join("again");
    let (ok, log) = quick_tune(&tuned, &session, &again, &[]);
    assert!(ok, "{log}");
    assert!(!log.contains("no exemplars"), "{log}");
    let card2 = ModelCard::load(&again).unwrap();
    assert_eq!(card2.training.fine_tune.as_ref().unwrap().exemplars, n);

    // `emovox exemplars --from TUNED` draws from the voices it inherited (actors 01, 05
    // and 10 of the fixtures, not 20), stamped with the tuned weights.
    let data = tmp.path().join("ravdess");
    ravdess_fixtures(&data);
    let clips = exemplars_drawn(&tuned, &data);
    let remade = exemplar_card(&tuned);
    assert_eq!(clips.len(), 3, "{clips:?}");
    assert!(clips.iter().all(|c| !c.contains("Actor_20")), "{clips:?}");
    assert_eq!(remade["weights"], exemplars::weights_id(&weights).as_str());
}

#[test]
fn exemplars_made_for_other_weights_are_refused_and_rehearse_0_tunes_without_them() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    common::tiny_session(&session, 2);
    let tuned = tmp.path().join("tuned");
    let (ok, log) = quick_tune(Path::new("built-in"), &session, &tuned, &[]);
    assert!(ok, "{log}");
    // The starting model's exemplars put beside the tuned model by hand: stale.
    for name in [exemplars::EXEMPLARS_FILE, exemplars::EXEMPLARS_CARD] {
        std::fs::copy(common::shipped_weights().join(name), tuned.join(name)).unwrap();
    }
    let out = tmp.path().join("never");
    let (ok, log) = quick_tune(&tuned, &session, &out, &[]);
    assert!(!ok, "stale exemplars were rehearsed");
    assert!(log.contains("made for other weights"), "{log}");
    assert!(log.contains("--rehearse 0"), "{log}");
    assert!(!out.exists());
    // Without rehearsal it tunes, says so, and copies nothing stale.
    let (ok, log) = quick_tune(&tuned, &session, &out, &["--rehearse", "0"]);
    assert!(ok, "{log}");
    assert!(log.contains("not copied"), "{log}");
    assert!(!out.join(exemplars::EXEMPLARS_FILE).exists());
    assert_eq!(
        ModelCard::load(&out)
            .unwrap()
            .training
            .fine_tune
            .unwrap()
            .exemplars,
        0
    );
}

#[test]
fn flags_for_the_other_kind_of_training_are_refused_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    let out = out.to_str().unwrap();
    let refused = |args: &[&str], says: &[&str]| {
        let o = emovox(&args.iter().map(|a| os(a)).collect::<Vec<_>>());
        let log = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{args:?} was accepted");
        for s in says {
            assert!(log.contains(s), "{args:?}: {log}");
        }
        // Refused before the corpus or the sessions were looked at.
        assert!(!log.contains("/nonexistent"), "{args:?}: {log}");
        assert!(!Path::new(out).exists());
    };
    for flag in [
        &["--holdout", "0.3"][..],
        &["--rehearse", "0.2"],
        &["--layers", "head"],
        &["--freeze-batch-norm", "false"],
    ] {
        let mut args = vec!["train", "--data", "/nonexistent-data", "--out", out];
        args.extend_from_slice(flag);
        refused(&args, &[flag[0], "tuning"]);
    }
    let tune = [
        "train",
        "--from",
        "built-in",
        "--sessions",
        "/nonexistent-session",
        "--out",
        out,
    ];
    for flag in [
        &["--rooms", "2"][..],
        &["--val-actors", "none"],
        &["--patience", "3"],
    ] {
        let mut args = tune.to_vec();
        args.extend_from_slice(flag);
        refused(&args, &[flag[0], "from scratch"]);
    }
    let mut both = tune.to_vec();
    both.extend_from_slice(&["--data", "/nonexistent-data"]);
    refused(&both, &["--data"]);
    // Sessions alone say how to tune them.
    refused(
        &["train", "--sessions", "/nonexistent-session", "--out", out],
        &["--from built-in"],
    );
}

#[test]
fn tuning_needs_out_named_and_never_writes_into_weights_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    common::tiny_session(&session, 2);
    let o = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .current_dir(tmp.path())
        .args([
            "train",
            "--from",
            "built-in",
            "--epochs",
            "1",
            "--no-augment",
        ])
        .arg("--sessions")
        .arg(&session)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "tuned without --out: {log}");
    assert!(log.contains("--out"), "{log}");
    assert!(!tmp.path().join("weights").exists(), "{log}");
}

#[test]
fn exemplars_come_from_ravdess_actors_whatever_the_corpus_folder_is_called() {
    let tmp = tempfile::tempdir().unwrap();
    // A copy of the shipped model (its card lists voices as ravdess:Actor_NN), and the
    // fixtures in a RAVDESS folder named as the corpus's own download is.
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for name in ["emovox.json", "emovox.safetensors"] {
        std::fs::copy(common::shipped_weights().join(name), model.join(name)).unwrap();
    }
    let data = tmp.path().join("Audio_Speech_Actors_01-24");
    ravdess_fixtures(&data);
    let clips = exemplars_drawn(&model, &data);
    // Actors 01, 05 and 10 trained the model; 20 validated it.
    assert_eq!(clips.len(), 3, "{clips:?}");
    assert!(clips.iter().all(|c| !c.contains("Actor_20")), "{clips:?}");
}

#[test]
fn a_holdout_that_leaves_nothing_to_train_on_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let session = tmp.path().join("session");
    // One region per label: holding back 90 % of a label's time takes all of it.
    common::tiny_session(&session, 1);
    let out = tmp.path().join("never");
    let (ok, log) = quick_tune(Path::new("built-in"), &session, &out, &["--holdout", "0.9"]);
    assert!(!ok, "{log}");
    assert!(log.contains("leaves nothing to train on"), "{log}");
    for label in ["neutral", "calm", "angry", "surprised"] {
        assert!(log.contains(label), "{label}: {log}");
    }
    assert!(!log.contains("no labelled regions"), "{log}");
    assert!(!out.exists());
}

/// The exemplars stored beside the model in `dir`, each one's frames as a network reading
/// per voice (or not) reads them.
fn stored_exemplars(dir: &Path, per_voice: bool) -> Vec<Vec<f32>> {
    let weights = std::fs::read(ModelCard::weights_path(dir)).unwrap();
    let id = exemplars::ModelId {
        name: ModelCard::load(dir).unwrap().name,
        weights: exemplars::weights_id(&weights),
    };
    let ex = exemplars::load(dir, &id).unwrap().unwrap();
    ex.read_as(per_voice)
        .unwrap()
        .iter()
        .map(|c| c.versions[0].iter().map(|v| v.to_f32()).collect())
        .collect()
}

#[test]
fn a_per_voice_models_exemplars_carry_their_voices_baselines_and_it_tunes_per_voice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ravdess");
    ravdess_fixtures(&data);
    // The same clips drawn for a plain model and for a per-voice one.
    let plain = common::shipped_copy(&tmp.path().join("plain"), false);
    let per_voice = common::shipped_copy(&tmp.path().join("per-voice"), true);
    assert_eq!(
        exemplars_drawn(&plain, &data),
        exemplars_drawn(&per_voice, &data)
    );
    assert_eq!(exemplar_card(&per_voice)["baselines"], true);
    assert!(exemplar_card(&per_voice).get("per_voice").is_none());
    assert!(exemplar_card(&plain).get("baselines").is_none());
    // Stored as computed, the plain model's frames exactly; read per voice, each is its
    // plain self minus one baseline for every frame: the difference is the same in every
    // frame (to f16 rounding) and not zero.
    assert_eq!(
        stored_exemplars(&per_voice, false),
        stored_exemplars(&plain, false)
    );
    let dim = emovox::model::input::INPUT_DIM;
    for (a, b) in stored_exemplars(&plain, false)
        .iter()
        .zip(&stored_exemplars(&per_voice, true))
    {
        let shift: Vec<f32> = a[..dim].iter().zip(&b[..dim]).map(|(x, y)| x - y).collect();
        // f16 rounding of each value (a relative 2⁻¹¹), the first frame's too.
        let first: Vec<f32> = a[..dim]
            .iter()
            .zip(&b[..dim])
            .map(|(x, y)| 2e-3 * x.abs().max(y.abs()).max(1.0))
            .collect();
        assert!(shift.iter().any(|s| s.abs() > 1.0), "{shift:?}");
        for (row_a, row_b) in a.chunks_exact(dim).zip(b.chunks_exact(dim)) {
            for (((x, y), s), e) in row_a.iter().zip(row_b).zip(&shift).zip(&first) {
                let tolerance = e + 2e-3 * x.abs().max(y.abs()).max(1.0);
                assert!((x - y - s).abs() <= tolerance, "{x} − {y} is not {s}");
            }
        }
    }

    // Tuned on a session, it rehearses its exemplars and stays per voice.
    let session = tmp.path().join("session");
    common::tiny_session(&session, 2);
    // Exemplars stored as computed (the plain model's: the same weights) beside a
    // per-voice model are refused for rehearsal, and left behind without it.
    let mixed = common::shipped_copy(&tmp.path().join("mixed"), true);
    for f in [exemplars::EXEMPLARS_CARD, exemplars::EXEMPLARS_FILE] {
        std::fs::copy(plain.join(f), mixed.join(f)).unwrap();
    }
    let never = tmp.path().join("never");
    let (ok, log) = quick_tune(&mixed, &session, &never, &[]);
    assert!(!ok && log.contains("make them again"), "{log}");
    assert!(!never.exists());
    let (ok, log) = quick_tune(&mixed, &session, &never, &["--rehearse", "0"]);
    assert!(ok && log.contains("as computed"), "{log}");
    assert!(!never.join(exemplars::EXEMPLARS_CARD).exists());
    let tuned = tmp.path().join("tuned");
    let (ok, log) = quick_tune(&per_voice, &session, &tuned, &[]);
    assert!(ok, "{log}");
    let card = ModelCard::load(&tuned).unwrap();
    assert!(card.normalisation.per_voice);
    assert!(card.training.holdout.is_some());
    assert_eq!(exemplar_card(&tuned)["baselines"], true);
}

#[test]
fn a_blend_of_a_plain_and_a_per_voice_model_has_exemplars_for_both_and_tunes_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ravdess");
    ravdess_fixtures(&data);
    let plain = common::shipped_copy(&tmp.path().join("plain"), false);
    let per_voice = common::shipped_copy(&tmp.path().join("per-voice"), true);
    let blend = tmp.path().join("blend");
    let o = emovox(&[
        os("blend"),
        plain.as_os_str(),
        per_voice.as_os_str(),
        os("--out"),
        blend.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Its exemplars: as computed for the plain part, with baselines for the other.
    assert_eq!(
        exemplars_drawn(&blend, &data),
        exemplars_drawn(&plain, &data)
    );
    assert_eq!(exemplar_card(&blend)["baselines"], true);
    assert_eq!(
        stored_exemplars(&blend, false),
        stored_exemplars(&plain, false)
    );
    assert_ne!(
        stored_exemplars(&blend, true),
        stored_exemplars(&blend, false)
    );

    let session = tmp.path().join("session");
    common::tiny_session(&session, 2);
    // Its exemplars without their baselines cannot be read by its per-voice part: refused.
    let mixed = tmp.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    for f in [
        "emovox.json",
        "emovox.safetensors",
        exemplars::EXEMPLARS_CARD,
        exemplars::EXEMPLARS_FILE,
    ] {
        std::fs::copy(blend.join(f), mixed.join(f)).unwrap();
    }
    let mut card = exemplar_card(&mixed);
    card.as_object_mut().unwrap().remove("baselines");
    std::fs::write(mixed.join(exemplars::EXEMPLARS_CARD), card.to_string()).unwrap();
    let never = tmp.path().join("never");
    let (ok, log) = quick_tune(&mixed, &session, &never, &[]);
    assert!(
        !ok && log.contains("both as computed and on each voice's baseline"),
        "{log}"
    );
    assert!(!never.exists());

    // Tuned, every network learns and the parts keep their readings.
    let tuned = tmp.path().join("tuned");
    let (ok, log) = quick_tune(&blend, &session, &tuned, &[]);
    assert!(ok, "{log}");
    let card = ModelCard::load(&tuned).unwrap();
    let start = ModelCard::load(&blend).unwrap();
    assert_eq!(card.networks(), 4);
    assert_eq!(card.blend, start.blend);
    assert_eq!(card.normalisation, start.normalisation);
    assert!(card.training.holdout.is_some());
    assert_eq!(card.training.members.len(), 4);
    let (before, after) = (
        emovox::model::Classifier::load(&blend).unwrap(),
        emovox::model::Classifier::load(&tuned).unwrap(),
    );
    assert!(after.reads_per_voice());
    let signal = emovox::audio::decode_file(&common::wav(common::REFERENCE_STEMS[0]))
        .unwrap()
        .samples;
    let frames = emovox::model::input::to_f16(&emovox::model::input::signal_frames(
        &mut emovox::dsp::StreamingExtractor::new(),
        &signal,
    ));
    assert_ne!(
        before.classify_frames(&frames).unwrap(),
        after.classify_frames(&frames).unwrap()
    );
    // Each network's weights moved, the per-voice part's too.
    let weights = |dir: &Path| {
        candle_core::safetensors::load(ModelCard::weights_path(dir), &candle_core::Device::Cpu)
            .unwrap()
    };
    let (a, b) = (weights(&blend), weights(&tuned));
    for i in 0..4 {
        use emovox::model::classifier::member_weights;
        let (a, b) = (member_weights(&a, i), member_weights(&b, i));
        let moved = a.iter().any(|(name, t)| {
            let d = (t - &b[name]).unwrap().abs().unwrap().sum_all().unwrap();
            d.to_scalar::<f32>().unwrap() > 0.0
        });
        assert!(moved, "network {i} did not learn");
    }
    assert_eq!(exemplar_card(&tuned)["baselines"], true);
}
