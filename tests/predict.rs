//! `emovox predict` as a user runs it: the real binary on real files and folders, its
//! three output formats, bad files among good ones, and lists of files split into shards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{fixtures, wav, REFERENCE_STEMS};
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::input::{
    signal_frames, speech_window, to_f16, window_starts, INPUT_DIM, WINDOW_FRAMES,
};
use emovox::predict::file_voice;
use emovox::vad::noise::Noise;
use emovox::vad::{frame_flags, SpeechGate};

fn emovox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("predict")
        .args(args)
        .output()
        .expect("running emovox")
}

/// `emovox predict ARGS` with `input` on its standard input.
fn emovox_reading(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("predict")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running emovox");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh folder, removed when the test ends, passed or failed.
fn tmp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("emovox-predict-")
        .tempdir()
        .unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn probabilities(v: &serde_json::Value) -> Vec<f64> {
    Emotion::ALL
        .iter()
        .map(|e| {
            v[e.name()]
                .as_f64()
                .unwrap_or_else(|| panic!("{} in {v}", e.name()))
        })
        .collect()
}

#[test]
fn a_folder_gives_one_json_line_per_file_agreeing_with_the_model() {
    let o = emovox(&[
        "--json",
        "--timeline",
        fixtures().join("wav").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&o);
    let mut stems: Vec<&str> = REFERENCE_STEMS.to_vec();
    stems.sort_unstable();
    assert_eq!(lines.len(), stems.len());
    let model = common::shipped();
    let mut extractor = StreamingExtractor::new();
    for (line, stem) in lines.iter().zip(stems) {
        let path = line["path"].as_str().unwrap();
        assert!(
            path.ends_with(&format!("{stem}.wav")),
            "{path} in sorted order"
        );
        let p = probabilities(&line["probabilities"]);
        let sum: f64 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{stem}: sum {sum}");
        assert_eq!(line["label"], Emotion::ALL[argmax_f64(&p)].name(), "{stem}");
        // Every window is what the model says of those 3 s, read as the live view reads
        // them (looped where the speech starts late in the window).
        let signal = decode_file(&wav(stem)).unwrap().samples;
        let frames = to_f16(&signal_frames(&mut extractor, &signal));
        let n = frames.len() / INPUT_DIM;
        let speech = frame_flags(&mut SpeechGate::default(), &signal, n);
        let mut looped = Vec::new();
        let timeline = line["timeline"].as_array().unwrap();
        for (w, &start) in timeline.iter().zip(&window_starts(n)) {
            let end = (start + WINDOW_FRAMES).min(n);
            let window = speech_window(
                &frames[start * INPUT_DIM..end * INPUT_DIM],
                speech[start..end].iter().copied(),
                &mut looped,
            );
            // A per-voice model reads every window on the whole file's voice.
            let voice = model
                .reads_per_voice()
                .then(|| file_voice(&frames, &speech));
            let expected = model.windows_of(voice.as_ref(), window, &[0]).unwrap()[0];
            for (a, b) in probabilities(&w["probabilities"]).iter().zip(expected) {
                assert!(
                    (a - f64::from(b)).abs() <= 0.6e-4,
                    "{stem}: {w} vs {expected:?}"
                );
            }
        }
        // The file's probabilities are the mean over its windows with speech (each
        // printed to four decimals, hence the tolerance).
        let speech_windows: Vec<Vec<f64>> = line["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["speech"] == true)
            .map(|w| probabilities(&w["probabilities"]))
            .collect();
        assert!(!speech_windows.is_empty(), "{stem}");
        for (k, a) in p.iter().enumerate() {
            let mean =
                speech_windows.iter().map(|w| w[k]).sum::<f64>() / speech_windows.len() as f64;
            assert!((a - mean).abs() <= 1e-4, "{stem}: {p:?}");
        }
        let duration = line["duration_s"].as_f64().unwrap();
        assert!((duration - signal.len() as f64 / 16_000.0).abs() < 1e-3);
        let speech = line["speech_s"].as_f64().unwrap();
        assert!(
            speech > 0.5 && speech < duration,
            "{stem}: speech {speech} of {duration}"
        );
    }
    let o = emovox(&["--json", fixtures().join("wav").to_str().unwrap()]);
    assert!(
        json_lines(&o)
            .iter()
            .all(|line| line.get("timeline").is_none()),
        "timeline only when asked"
    );
}

#[test]
fn a_per_voice_model_reads_every_window_of_a_file_on_the_files_voice() {
    let tmp = tmp_dir();
    let model_dir = common::shipped_copy(&tmp.path().join("per-voice"), true);
    let stem = REFERENCE_STEMS[2];
    let o = emovox(&[
        "--json",
        "--timeline",
        "--weights",
        model_dir.to_str().unwrap(),
        wav(stem).to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = &json_lines(&o)[0];
    let model = emovox::model::Classifier::load(&model_dir).unwrap();
    let signal = decode_file(&wav(stem)).unwrap().samples;
    let frames = to_f16(&signal_frames(&mut StreamingExtractor::new(), &signal));
    let n = frames.len() / INPUT_DIM;
    let speech = frame_flags(&mut SpeechGate::default(), &signal, n);
    let voice = file_voice(&frames, &speech);
    assert!(voice.frames() > 0, "the gate heard speech");
    let mut looped = Vec::new();
    let mut unlike_alone = 0;
    let timeline = line["timeline"].as_array().unwrap();
    for (w, &start) in timeline.iter().zip(&window_starts(n)) {
        let end = (start + WINDOW_FRAMES).min(n);
        let window = speech_window(
            &frames[start * INPUT_DIM..end * INPUT_DIM],
            speech[start..end].iter().copied(),
            &mut looped,
        );
        let expected = model.windows_of(Some(&voice), window, &[0]).unwrap()[0];
        let printed = probabilities(&w["probabilities"]);
        for (a, b) in printed.iter().zip(expected) {
            assert!((a - f64::from(b)).abs() <= 0.6e-4, "{w} vs {expected:?}");
        }
        // Read on the window alone, the answer would be another.
        let alone = model.windows(window, &[0]).unwrap()[0];
        unlike_alone += usize::from(
            printed
                .iter()
                .zip(alone)
                .any(|(a, b)| (a - f64::from(b)).abs() > 1e-3),
        );
    }
    assert!(unlike_alone > 0, "every window read as if alone");
}

#[test]
fn the_timeline_lists_every_window_with_its_speech_flag() {
    let tmp = tmp_dir();
    let dir = tmp.path();
    // A clip with 2 s of silence before it: the windows over the silence are not speech.
    let clip = decode_file(&wav("03-01-02-01-02-02-05")).unwrap().samples;
    let mut signal = vec![0.0f32; 32_000];
    signal.extend(&clip);
    let padded = dir.join("padded.wav");
    write_wav(&padded, &signal);
    let o = emovox(&["--json", "--timeline", padded.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = &json_lines(&o)[0];
    let timeline = line["timeline"].as_array().unwrap();
    let frames = signal.len() / 160 + 1;
    let starts = window_starts(frames);
    assert_eq!(timeline.len(), starts.len());
    for (w, start) in timeline.iter().zip(&starts) {
        let s = w["start_s"].as_f64().unwrap();
        assert!((s - *start as f64 / 100.0).abs() < 1e-6, "{w}");
        let e = w["end_s"].as_f64().unwrap();
        assert!((e - s - 3.0).abs() < 1e-6, "a 3 s window: {w}");
        let p = probabilities(&w["probabilities"]);
        if w["speech"] == true {
            assert_eq!(w["label"], Emotion::ALL[argmax_f64(&p)].name(), "{w}");
        } else {
            assert!(w["label"].is_null(), "no label without speech: {w}");
        }
    }
    // The first window holds 2 s of silence and the clip's leading room tone; the last
    // holds speech.
    let speech: Vec<bool> = timeline.iter().map(|w| w["speech"] == true).collect();
    assert!(speech.last() == Some(&true), "{speech:?}");
    let speech_s = line["speech_s"].as_f64().unwrap();
    assert!(speech_s < line["duration_s"].as_f64().unwrap() - 2.0);

    // Silence alone, and a fan with no one speaking: no window is speech, and the file
    // gets no label.
    let silent = dir.join("silent.wav");
    write_wav(&silent, &vec![0.0; 16_000 * 4]);
    let fan = dir.join("fan.wav");
    write_wav(&fan, &Noise::Fan.generate(16_000 * 6, -35.0, 11));
    for path in [&silent, &fan] {
        let o = emovox(&["--json", "--timeline", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let line = &json_lines(&o)[0];
        assert_eq!(line["speech_s"], 0.0, "{line}");
        assert!(line["label"].is_null(), "{line}");
        assert!(line["probabilities"].is_null(), "{line}");
        assert!(line["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["speech"] == false && w["label"].is_null()));
        // The text and CSV forms say the same.
        let o = emovox(&[path.to_str().unwrap()]);
        assert!(stdout(&o).contains("no speech"), "{}", stdout(&o));
        let o = emovox(&["--csv", path.to_str().unwrap()]);
        let row = stdout(&o).lines().nth(1).unwrap().to_owned();
        assert!(row.contains(",,"), "empty label in {row}");
    }
}

#[test]
fn csv_has_a_header_and_a_row_per_file_or_per_window() {
    let a = wav("03-01-01-01-01-01-01");
    let b = wav("03-01-02-01-02-02-05");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = emovox(&["--csv", a, b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "path,label,duration_s,speech_s,neutral,calm,happy,sad,angry,fearful,disgust,surprised"
    );
    assert_eq!(rows.len(), 3);
    assert!(rows[1].starts_with(&format!("{a},")));
    assert_eq!(rows[1].split(',').count(), 12);

    let o = emovox(&["--csv", "--timeline", a, b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("path,start_s,end_s,speech,label,neutral"));
    // 3.30 s → 3 windows; 4.24 s → 6 windows.
    assert_eq!(rows.len(), 1 + 3 + 6, "{text}");
    assert!(rows[1..].iter().all(|r| r.split(',').count() == 13));
}

#[test]
fn a_bad_file_is_reported_and_skipped_and_the_exit_code_says_so() {
    let tmp = tmp_dir();
    let dir = tmp.path();
    let truncated = dir.join("truncated.wav");
    let bytes = std::fs::read(wav("03-01-01-01-01-01-01")).unwrap();
    std::fs::write(&truncated, &bytes[..30]).unwrap();
    let garbage = dir.join("garbage.mp3");
    std::fs::write(&garbage, b"this is not audio at all").unwrap();
    std::fs::copy(wav("03-01-05-02-01-01-10"), dir.join("good.wav")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not audio, and not looked at").unwrap();
    // Links are followed, except one back up the tree (it would never end): that one is
    // reported and not followed again, and is no failure. A link that leads nowhere is
    // reported and counted.
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir, dir.join("loop")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("moved-away.wav"), dir.join("gone.wav")).unwrap();
    let o = emovox(&["--json", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "only the good file: {}", stdout(&o));
    assert!(lines[0]["path"].as_str().unwrap().ends_with("good.wav"));
    let err = stderr(&o);
    assert!(
        err.contains("truncated.wav") && err.contains("cut short"),
        "{err}"
    );
    assert!(
        err.contains("garbage.mp3") && err.contains("not an audio file"),
        "{err}"
    );
    assert!(!err.contains("notes.txt"), "{err}");
    #[cfg(unix)]
    {
        assert!(
            err.contains("loop: a link back to") && err.contains("not followed again"),
            "{err}"
        );
        assert!(err.contains("gone.wav: No such file"), "{err}");
        assert!(
            err.contains("3 of the files given could not be analysed"),
            "{err}"
        );
    }

    let o = emovox(&["/no/such/file.wav"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/no/such/file.wav: no such file or folder"));
}

/// The five fixture clips as a list of files, one path a line, in the order given, with
/// blank lines between some.
fn list_of(stems: &[&str]) -> String {
    let mut list = String::new();
    for (i, stem) in stems.iter().enumerate() {
        list.push_str(wav(stem).to_str().unwrap());
        list.push_str(if i % 2 == 0 { "\n\n" } else { "\n" });
    }
    list
}

#[test]
fn shards_of_a_list_are_disjoint_cover_it_and_ignore_its_order() {
    let tmp = tmp_dir();
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, list_of(&REFERENCE_STEMS)).unwrap();
    let list = list.to_str().unwrap();
    let mut reversed = REFERENCE_STEMS;
    reversed.reverse();
    let reversed = list_of(&reversed);

    let whole = emovox(&["--json", "--files-from", list]);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole: BTreeSet<String> = stdout(&whole).lines().map(str::to_owned).collect();
    assert_eq!(whole.len(), REFERENCE_STEMS.len());
    for n in [2, 3] {
        let mut union = BTreeSet::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let o = emovox(&["--json", "--files-from", list, "--shard", &shard]);
            assert!(o.status.success(), "{shard}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("(shard {shard} of 5 inputs)")),
                "{}",
                stderr(&o)
            );
            // The same shard from the list in the opposite order, read from stdin: the
            // same files, in the same (sorted) order, with the same results.
            let from_stdin = emovox_reading(
                &["--json", "--files-from", "-", "--shard", &shard],
                &reversed,
            );
            assert!(
                from_stdin.status.success(),
                "{shard}: {}",
                stderr(&from_stdin)
            );
            assert_eq!(stdout(&o), stdout(&from_stdin), "{shard}");
            let lines = json_lines(&o);
            let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
            assert!(paths.windows(2).all(|p| p[0] < p[1]), "{shard}: {paths:?}");
            // Five files dealt to n shards: no shard holds more than its share.
            assert!(paths.len() <= 5usize.div_ceil(n), "{shard}: {paths:?}");
            for line in stdout(&o).lines() {
                assert!(union.insert(line.to_owned()), "{shard} repeats {line}");
            }
        }
        assert_eq!(union, whole, "{n} shards together are the whole list");
    }
    // More shards than files: the ones left over are empty, and that is no failure.
    let o = emovox(&["--json", "--files-from", list, "--shard", "7/7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("analysed 0 files"), "{}", stderr(&o));
}

#[test]
fn csv_shards_concatenate_once_the_later_ones_leave_out_the_header() {
    let tmp = tmp_dir();
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, list_of(&REFERENCE_STEMS)).unwrap();
    let list = list.to_str().unwrap();
    let first = emovox(&["--csv", "--files-from", list, "--shard", "1/2"]);
    let second = emovox(&[
        "--csv",
        "--no-header",
        "--files-from",
        list,
        "--shard",
        "2/2",
    ]);
    for o in [&first, &second] {
        assert!(o.status.success(), "{}", stderr(o));
    }
    let joined = stdout(&first) + &stdout(&second);
    let rows: Vec<&str> = joined.lines().collect();
    assert!(rows[0].starts_with("path,label,"), "{joined}");
    assert_eq!(rows.len(), 1 + 5, "{joined}");
    assert!(
        rows[1..].iter().all(|r| r.split(',').count() == 12),
        "{joined}"
    );
    // --no-header is for CSV only.
    let o = emovox(&["--json", "--no-header", "--files-from", list]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("give it with --csv"), "{}", stderr(&o));
}

#[test]
fn bad_shards_missing_lists_and_missing_listed_files_are_named() {
    let clip = wav("03-01-01-01-01-01-01");
    let clip = clip.to_str().unwrap();
    for (shard, says) in [
        ("0/4", "shards are counted from 1"),
        ("5/4", "shard 5 of 4 does not exist"),
        ("1/0", "at least one shard"),
        ("2", "write K/N"),
        ("one/4", "K 'one' is not a whole number"),
    ] {
        let o = emovox(&["--shard", shard, clip]);
        assert_eq!(o.status.code(), Some(2), "{shard}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("'{shard}' for '--shard <K/N>'")),
            "{err}"
        );
        assert!(err.contains(says), "{shard}: {err}");
    }
    // Neither paths nor a list: nothing to do.
    let o = emovox(&["--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let tmp = tmp_dir();
    let missing_list = tmp.path().join("no-such-list.txt");
    let o = emovox(&["--files-from", missing_list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "reading the list of files {}",
            missing_list.display()
        )) && err.contains("No such file"),
        "{err}"
    );

    // A listed file that is not there is named with its line; the others are analysed.
    let gone = tmp.path().join("gone.wav");
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, format!("{clip}\n\n{}\n", gone.display())).unwrap();
    let o = emovox(&["--json", "--files-from", list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json_lines(&o).len(), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{} line 3: {}: no such file or folder",
            list.display(),
            gone.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("1 of the files given could not be analysed"),
        "{err}"
    );
    let o = emovox_reading(
        &["--json", "--files-from", "-"],
        &format!("{}\n", gone.display()),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("standard input line 1: "),
        "{}",
        stderr(&o)
    );
    // Under shards, only the shard it falls to reports it.
    let codes: Vec<Option<i32>> = ["1/2", "2/2"]
        .iter()
        .map(|shard| {
            let o = emovox(&[
                "--json",
                "--files-from",
                list.to_str().unwrap(),
                "--shard",
                shard,
            ]);
            assert_eq!(stderr(&o).contains("gone.wav"), o.status.code() == Some(1));
            o.status.code()
        })
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, [Some(0), Some(1)], "{codes:?}");
}

fn argmax_f64(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}

/// 16-bit mono 16 kHz.
fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}
