//! `emovox features` as a user runs it: the real binary, real files, its output and exit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{reference, wav};
use emovox::npy;

fn emovox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(args)
        .output()
        .expect("running emovox")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh folder, removed when the test ends, passed or failed.
/// Runs `emovox` with `command`, `--FLAG=BAD` and `--out out` for each bad value (`=` so
/// that clap reads "-0.1" as the value, not as a flag) and checks each is refused with
/// `message`.
fn refuses_each(command: &[&str], flag: &str, bad_values: &[&str], message: &str, out: &str) {
    for bad in bad_values {
        let flag = format!("--{flag}={bad}");
        let mut args = command.to_vec();
        args.extend([flag.as_str(), "--out", out]);
        let o = emovox(&args);
        assert!(!o.status.success(), "{bad} was accepted");
        assert!(stderr(&o).contains(message), "{bad}: {}", stderr(&o));
    }
}

/// `train --from … --sessions …` with `flags` (ones only training from scratch takes) is
/// refused with `message` before anything is read, and nothing is written to `out`.
fn refused_when_tuning(flags: &[&str], message: &str, out: &str) {
    let mut args = vec![
        "train",
        "--from",
        "/nonexistent-model",
        "--sessions",
        "/nonexistent-session",
    ];
    args.extend(flags);
    args.extend(["--out", out]);
    let o = emovox(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains(message), "{}", stderr(&o));
    assert!(!std::path::Path::new(out).exists());
}

fn tmp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("emovox-cli-")
        .tempdir()
        .unwrap()
}

#[test]
fn prints_one_line_per_file() {
    let a = wav("03-01-01-01-01-01-01");
    let b = wav("03-01-05-02-01-01-01-48k");
    let o = emovox(&["features", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // 52,853 samples at 16 kHz: 3.303 s, 1 + 52853 / 160 = 331 frames, 193 stacked rows.
    assert!(
        lines[0].ends_with("3.303 s\t331 frames\t193x331"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("411 frames\t193x411"), "{}", lines[1]);
}

#[test]
fn writes_a_feature_as_npy_shaped_like_librosa() {
    let stem = "03-01-02-01-02-02-05";
    let tmp = tmp_dir();
    let out = tmp.path().join("mfcc.npy");
    let o = emovox(&[
        "features",
        wav(stem).to_str().unwrap(),
        "--feature",
        "mfcc",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = npy::read_f32(&out).unwrap();
    let want = reference(stem, "mfcc");
    assert_eq!(got.shape, want.shape);
    let worst = got
        .data
        .iter()
        .zip(&want.data)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst < 5e-3,
        "MFCC written by the CLI differs from librosa by {worst}"
    );
}

#[test]
fn stacks_all_features_by_default_in_the_documented_order() {
    let stem = "03-01-08-02-02-02-20";
    let tmp = tmp_dir();
    let out = tmp.path().join("all.npy");
    let o = emovox(&[
        "features",
        wav(stem).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = npy::read_f32(&out).unwrap();
    let frames = 344;
    assert_eq!(got.shape, vec![193, frames]);
    // Rows 168..180 are chroma: after mel (64), mel_db (64) and MFCC (40).
    let chroma = reference(stem, "chroma").data;
    let worst = got.data[168 * frames..180 * frames]
        .iter()
        .zip(&chroma)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-5, "chroma rows differ by {worst}");
}

#[test]
fn stats_line_has_the_documented_shape() {
    let a = wav("03-01-01-01-01-01-01");
    let o = emovox(&["features", a.to_str().unwrap(), "--stats", "--threads", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    let fields: Vec<&str> = last.split(' ').collect();
    assert_eq!(fields.len(), 8, "{last}");
    assert_eq!(
        [fields[0], fields[2], fields[4], fields[6]],
        ["files", "audio_s", "wall_s", "x_realtime"]
    );
    assert_eq!(fields[1], "1");
    assert_eq!(fields[3], "3.303");
    assert!(fields[5].parse::<f64>().unwrap() > 0.0);
    assert!(fields[7].parse::<f64>().unwrap() > 0.0);
}

#[test]
fn a_bad_file_is_one_plain_line_and_a_failing_exit() {
    let tmp = tmp_dir();
    let bad = tmp.path().join("notes.wav");
    std::fs::write(&bad, b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
    let o = emovox(&["features", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("notes.wav") && err.contains("cut short"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn good_files_are_still_listed_when_one_fails() {
    let tmp = tmp_dir();
    let missing = tmp.path().join("missing.wav");
    let good = wav("03-01-01-01-01-01-01");
    let o = emovox(&[
        "features",
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(stdout(&o).lines().count(), 1);
    let err = stderr(&o);
    assert!(err.contains("missing.wav"), "{err}");
    assert!(err.contains("1 of 2 files could not be read"), "{err}");
    // The reason is said once, not repeated by the error chain.
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn usage_errors_are_refused() {
    let a = wav("03-01-01-01-01-01-01");
    let a = a.to_str().unwrap();
    let o = emovox(&["features", a, a, "--out", "x.npy"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("exactly one FILE"), "{}", stderr(&o));
    let o = emovox(&["features", a, "--feature", "loudness"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown feature 'loudness'"),
        "{}",
        stderr(&o)
    );
    let o = emovox(&["features", a, "--out", "/nonexistent-dir/x.npy"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent-dir/x.npy"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn evaluate_scores_the_labelled_regions_of_sessions() {
    let tmp = tmp_dir();
    let dir = tmp.path().join("session");
    std::fs::create_dir_all(&dir).unwrap();
    // A session as the app writes it: the audio, its labels, its metadata.
    std::fs::copy(
        common::wav("03-01-05-02-01-01-10"),
        dir.join(emovox::session::AUDIO_FILE),
    )
    .unwrap();
    let session = emovox::session::Session {
        rate: 16_000,
        seconds: 3.7,
        labels: vec![
            emovox::session::Region {
                start_s: 0.4,
                end_s: 3.6,
                label: emovox::labels::Emotion::Angry,
            },
            // Too short to judge: skipped.
            emovox::session::Region {
                start_s: 3.6,
                end_s: 3.7,
                label: emovox::labels::Emotion::Sad,
            },
        ],
        ..Default::default()
    };
    session.save(&dir).unwrap();
    let out = emovox(&["evaluate", "--sessions", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["n"], 1);
    let angry_support = &v["per_class"]["angry"]["support"];
    assert_eq!(angry_support, 1, "{v}");
    // Models averaged score sessions too, and the summary names them.
    let averaged = emovox(&[
        "evaluate",
        "--sessions",
        dir.to_str().unwrap(),
        "--average-with",
        "built-in",
    ]);
    assert!(averaged.status.success(), "{}", stderr(&averaged));
    assert!(
        stderr(&averaged).contains("averaged with emovox-ravdess-cbl (built in) on 1 labelled"),
        "{}",
        stderr(&averaged)
    );
    // Neither --data nor --sessions: a usage error.
    assert!(!emovox(&["evaluate"]).status.success());
}

#[test]
fn train_refuses_a_weight_average_outside_zero_to_one_before_reading_anything() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    refuses_each(
        &["train", "--data", "/nonexistent-data"],
        "weight-average",
        &["1.5", "1", "-0.1", "NaN"],
        "--weight-average must be at least 0 and below 1",
        out,
    );
    let o = emovox(&[
        "train",
        "--data",
        "/nonexistent-data",
        "--weight-average",
        "much",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--weight-average"), "{}", stderr(&o));
    assert!(!std::path::Path::new(out).exists());
}

#[test]
fn train_refuses_a_width_outside_8_to_512_before_reading_anything() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    refuses_each(
        &["train", "--data", "/nonexistent-data"],
        "width",
        &["0", "7", "513", "1024"],
        "--width must be from 8 to 512",
        out,
    );
    // Tuning keeps the starting model's shape, so a width there is a mistake to name.
    refused_when_tuning(
        &["--width", "64"],
        "--width is for training from scratch",
        out,
    );
}

#[test]
fn train_refuses_members_outside_1_to_8_before_reading_anything() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    refuses_each(
        &["train", "--data", "/nonexistent-data"],
        "members",
        &["0", "9", "64"],
        "--members must be from 1 to 8",
        out,
    );
    // Tuning keeps the starting model's members and inputs.
    refused_when_tuning(
        &["--members", "2", "--centre-mfcc"],
        "--members, --centre-mfcc are for training from scratch",
        out,
    );
    refused_when_tuning(
        &["--centre-all"],
        "--centre-all is for training from scratch",
        out,
    );
    // Centring all the inputs includes the MFCCs: asking for both is a mistake to name.
    let both = emovox(&[
        "train",
        "--data",
        "/nonexistent-data",
        "--centre-mfcc",
        "--centre-all",
        "--out",
        out,
    ]);
    assert!(!both.status.success());
    let said = stderr(&both);
    assert!(
        said.contains("--centre-all") && said.contains("cannot be used with"),
        "{said}"
    );
}

#[test]
fn train_refuses_voice_draws_without_centre_voice_and_both_when_tuning() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    // A tuned model reads as its starting model does: per voice or not.
    refused_when_tuning(
        &["--centre-voice", "--voice-draws"],
        "--centre-voice, --voice-draws are for training from scratch",
        out,
    );
    // Draws are of voice baselines: without --centre-voice there are none to draw.
    let alone = emovox(&[
        "train",
        "--data",
        "/nonexistent-data",
        "--voice-draws",
        "--out",
        out,
    ]);
    assert!(!alone.status.success());
    let said = stderr(&alone);
    assert!(said.contains("--centre-voice"), "{said}");
    assert!(!std::path::Path::new(out).exists());
    // Draws are drawn per augmented window: without augmentation there would be none,
    // while the card said there were.
    let plain = emovox(&[
        "train",
        "--data",
        "/nonexistent-data",
        "--centre-voice",
        "--voice-draws",
        "--no-augment",
        "--out",
        out,
    ]);
    assert!(!plain.status.success());
    let said = stderr(&plain);
    assert!(
        said.contains("--voice-draws") && said.contains("cannot be used with"),
        "{said}"
    );
}

#[test]
fn train_refuses_input_masks_or_mixup_when_tuning_or_without_augmentation() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    for flag in ["--input-masks", "--mixup"] {
        refused_when_tuning(
            &[flag],
            &format!("{flag} is for training from scratch"),
            out,
        );
        // Both are augmentations: asking for one with augmentation off is a mistake to name.
        let both = emovox(&[
            "train",
            "--data",
            "/nonexistent-data",
            flag,
            "--no-augment",
            "--out",
            out,
        ]);
        assert!(!both.status.success());
        let said = stderr(&both);
        assert!(
            said.contains(flag) && said.contains("cannot be used with"),
            "{said}"
        );
        assert!(!std::path::Path::new(out).exists());
    }
    // The masks take a strength; a named one is refused the same way, an unknown one
    // is refused naming the strengths there are.
    refused_when_tuning(
        &["--input-masks", "light"],
        "--input-masks is for training from scratch",
        out,
    );
    let unknown = emovox(&[
        "train",
        "--data",
        "/nonexistent-data",
        "--input-masks",
        "gentle",
        "--out",
        out,
    ]);
    assert!(!unknown.status.success());
    let said = stderr(&unknown);
    assert!(
        said.contains("gentle") && said.contains("strong") && said.contains("light"),
        "{said}"
    );
    assert!(!std::path::Path::new(out).exists());
}

#[test]
fn train_refuses_masked_members_a_mask_share_or_dropped_inputs_out_of_range() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--data", "/nonexistent-data", "--out", out];
        args.extend_from_slice(extra);
        let run = emovox(&args);
        assert!(!run.status.success(), "{extra:?}");
        assert!(!std::path::Path::new(out).exists());
        stderr(&run)
    };
    for (masked, members) in [("3", "2"), ("0", "2")] {
        let said = train(&[
            "--input-masks",
            "--members",
            members,
            "--masked-members",
            masked,
        ]);
        assert!(
            said.contains("--masked-members must be from 1 to --members (2)")
                && said.contains(&format!("(got {masked})")),
            "{said}"
        );
    }
    // Without masks or without members there is nothing for it to choose.
    for extra in [
        &["--members", "2", "--masked-members", "1"][..],
        &["--input-masks", "--masked-members", "1"][..],
    ] {
        let said = train(extra);
        assert!(
            said.contains("--masked-members") && said.contains("required"),
            "{said}"
        );
    }
    // A share of the windows masked: above 0, at most 1, and only with masks.
    for share in ["0", "1.5", "-0.2", "NaN"] {
        let said = train(&["--input-masks", &format!("--mask-share={share}")]);
        assert!(
            said.contains("--mask-share must be above 0 and at most 1"),
            "{share}: {said}"
        );
    }
    // The first masked epoch: within the epochs trained, and only with masks.
    for (first, epochs) in [("0", "10"), ("11", "10")] {
        let said = train(&[
            "--input-masks",
            "--epochs",
            epochs,
            "--masks-from-epoch",
            first,
        ]);
        assert!(
            said.contains("--masks-from-epoch must be from 1 to --epochs (10)")
                && said.contains(&format!("(got {first})")),
            "{said}"
        );
    }
    let said = train(&["--masks-from-epoch", "5"]);
    assert!(
        said.contains("--masks-from-epoch") && said.contains("required"),
        "{said}"
    );
    // Inputs dropped: not all of them, and only kinds there are.
    let said = train(&["--drop-inputs", "chroma,mfcc,tonnetz,contrast"]);
    assert!(
        said.contains("--drop-inputs cannot drop every kind of input"),
        "{said}"
    );
    let said = train(&["--drop-inputs", "chroma,pitch"]);
    assert!(
        said.contains("pitch") && said.contains("tonnetz") && said.contains("contrast"),
        "{said}"
    );
    let said = train(&["--mask-share", "0.5"]);
    assert!(
        said.contains("--mask-share") && said.contains("required"),
        "{said}"
    );
}

#[test]
fn train_refuses_a_negative_or_not_a_number_l2_sp_before_reading_anything() {
    let tmp = tmp_dir();
    let out = tmp.path().join("never-written");
    let out = out.to_str().unwrap();
    refuses_each(
        &[
            "train",
            "--from",
            "/nonexistent-model",
            "--sessions",
            "/nonexistent-session",
        ],
        "l2-sp",
        &["-0.1", "NaN", "inf"],
        "--l2-sp must be a number of at least 0",
        out,
    );
    assert!(!std::path::Path::new(out).exists());
}
