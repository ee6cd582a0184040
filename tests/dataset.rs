//! `emovox features` over the whole of RAVDESS actors 01–20 (1,200 files, five of them
//! stereo) and the 48 kHz originals. The data is not part of the repository: set
//! EMOVOX_DATA to the folder holding `ravdess/` and `ravdess-48k/` (.ci/run points it
//! at the shared copy). Without it the test says so and passes, except under CI, where
//! the data must be there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use emovox::audio::decode_file;

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("EMOVOX_DATA") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var_os("CI").is_some() => panic!("EMOVOX_DATA must be set in CI"),
        None => {
            eprintln!("EMOVOX_DATA is not set: skipping the whole-dataset check");
            None
        }
    }
}

/// Every `.wav` under `dir`, sorted.
fn wavs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "wav") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn features_cli(files: &[PathBuf]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("features")
        .args(files)
        .arg("--stats")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn features_work_on_every_ravdess_file() {
    let Some(data) = data_dir() else { return };
    let files = wavs(&data.join("ravdess"));
    assert_eq!(
        files.len(),
        1200,
        "RAVDESS actors 01-20 hold 1,200 speech files"
    );
    let stereo = files
        .iter()
        .filter(|f| decode_file(f).unwrap().source_channels == 2)
        .count();
    assert_eq!(stereo, 5, "five of the files are stereo");
    let out = features_cli(&files);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1201, "one line per file and the stats line");
    assert!(
        lines[1200].starts_with("files 1200 audio_s "),
        "{}",
        lines[1200]
    );
    for line in &lines[..1200] {
        let frames: usize = line
            .split('\t')
            .nth(2)
            .unwrap()
            .trim_end_matches(" frames")
            .parse()
            .unwrap();
        assert!(
            (250..=600).contains(&frames),
            "RAVDESS clips last 2.5-6 s: {line}"
        );
    }
}

#[test]
fn features_work_on_the_48k_originals() {
    let Some(data) = data_dir() else { return };
    let files = wavs(&data.join("ravdess-48k"));
    assert_eq!(files.len(), 4);
    for f in &files {
        assert_eq!(
            decode_file(f).unwrap().source_rate,
            48_000,
            "{}",
            f.display()
        );
    }
    let out = features_cli(&files);
    assert!(out.lines().last().unwrap().starts_with("files 4 "), "{out}");
}
