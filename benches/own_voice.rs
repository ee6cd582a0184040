//! The own-voice benchmark (issue 17): a TESS or EMOVO speaker stands in for the user.
//! Part of their clips become a real recorded session (one `audio.wav`, the clips joined
//! with short gaps, every clip's region labelled in `labels.txt`), the plain command
//! `emovox train --from weights --sessions SESSION --out DIR` tunes on it, and both the
//! starting and the tuned model are scored on the rest of that speaker's clips (UAR over
//! their classes) and on RAVDESS actors 17–20 (macro-F1: what the tuned model forgot).
//! Not a criterion bench: it prints a markdown table.
//!
//!     EMOVOX_DATA=/work/shared/data cargo bench --bench own_voice
//!
//! ## Sessions and scored clips
//! A speaker's clips are grouped by what is said (TESS: the word, EMOVO: the sentence),
//! each group holding the same words in every emotion. Groups are drawn in a seeded order
//! and go whole into the session until it holds [`SESSION_S`] seconds of audio (gaps
//! included); the clips of the session are shuffled, so emotions alternate as in a real
//! session. The scored clips are the groups left, at most [`MAX_SCORED_GROUPS`] of them:
//! no word or sentence of the session is ever scored, so nothing leaks through the text.
//! Gaps are [`GAP_S`] of quiet noise (−60 dBFS), not digital silence.
//!
//! ## Settings
//! - `EMOVOX_DATA`: the corpora (tess/, emovo/, ravdess/).
//! - `EMOVOX_BENCH_SPEAKERS`: e.g. `tess:OAF,emovo:f1` [default: all eight].
//! - `EMOVOX_BENCH_FROM`: the model to tune [default: `weights`].
//! - `EMOVOX_TUNE_ARGS`: extra flags for `emovox train` (to compare recipes; the bar is
//!   the plain command, with none).
//! - `EMOVOX_BENCH_OUT`: where sessions, tuned models and `results.json` go [default:
//!   `target/own-voice`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use emovox::audio::{decode_file, WavStreamWriter};
use emovox::labels::Emotion;
use emovox::model::rng::Rng;
use emovox::session::{Region, Session, AUDIO_FILE};

/// Audio per session, gaps included: 3.5 minutes.
const SESSION_S: f64 = 210.0;
/// Quiet between clips in a session.
const GAP_S: f64 = 0.5;
/// Most groups (words or sentences, each in all seven emotions) scored per speaker.
const MAX_SCORED_GROUPS: usize = 20;
const RATE: u32 = 16_000;
const ALL_SPEAKERS: &str =
    "tess:OAF,tess:YAF,emovo:f1,emovo:f2,emovo:f3,emovo:m1,emovo:m2,emovo:m3";
const RAVDESS_HELD_OUT: &str = "ravdess:17,ravdess:18,ravdess:19,ravdess:20";

struct Row {
    file: String,
    label: String,
    speaker: String,
    /// What is said: TESS's word, EMOVO's sentence code.
    group: String,
}

#[derive(Default, Clone, serde::Serialize)]
struct Scores {
    speaker: String,
    session_s: f64,
    session_clips: usize,
    scored_clips: usize,
    own_uar_before: f64,
    own_uar_after: f64,
    ravdess_f1_before: f64,
    ravdess_f1_after: f64,
    tune_s: f64,
    holdout_before_uar: Option<f64>,
    holdout_after_uar: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let data =
        PathBuf::from(std::env::var("EMOVOX_DATA").unwrap_or_else(|_| "../shared/data".into()));
    let speakers = std::env::var("EMOVOX_BENCH_SPEAKERS").unwrap_or_else(|_| ALL_SPEAKERS.into());
    let from =
        PathBuf::from(std::env::var("EMOVOX_BENCH_FROM").unwrap_or_else(|_| "weights".into()));
    let extra: Vec<String> = std::env::var("EMOVOX_TUNE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let out = PathBuf::from(
        std::env::var("EMOVOX_BENCH_OUT").unwrap_or_else(|_| "target/own-voice".into()),
    );
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let exe = env!("CARGO_BIN_EXE_emovox");
    anyhow::ensure!(
        data.join("ravdess").is_dir(),
        "EMOVOX_DATA ({}) has no ravdess/ folder",
        data.display()
    );
    let from_name = card_name(&from)?;
    eprintln!(
        "own-voice benchmark: tuning {from_name} ({}) with `emovox train --from {} --sessions SESSION --out DIR{}`",
        commit_of(exe),
        from.display(),
        extra.iter().map(|a| format!(" {a}")).collect::<String>()
    );

    let ravdess = data.join("ravdess");
    let ravdess_args = |weights: &Path| -> Vec<String> {
        vec![
            "evaluate".into(),
            "--data".into(),
            ravdess.display().to_string(),
            "--speakers".into(),
            RAVDESS_HELD_OUT.into(),
            "--weights".into(),
            weights.display().to_string(),
            "--json".into(),
        ]
    };
    let ravdess_before = corpus_score(exe, &ravdess_args(&from), "ravdess", "macro_f1")?;

    let mut all = Vec::new();
    for spec in speakers.split(',').filter(|s| !s.is_empty()) {
        let (corpus, speaker) = spec
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{spec}: expected CORPUS:SPEAKER"))?;
        let dir = out.join(format!("{corpus}-{speaker}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let rows = read_rows(&data.join(corpus), corpus, speaker)?;
        anyhow::ensure!(!rows.is_empty(), "{spec}: no clips");
        let (session_rows, scored_rows) = split_groups(&rows, corpus, speaker);
        let session_dir = dir.join("session");
        let (session_s, regions) = write_session(&session_dir, &data.join(corpus), &session_rows)?;
        let score_corpus = dir.join("score").join(format!("own-{speaker}"));
        write_scored(&score_corpus, &data.join(corpus), &scored_rows)?;
        let own_args = |weights: &Path| -> Vec<String> {
            vec![
                "evaluate".into(),
                "--data".into(),
                score_corpus.display().to_string(),
                "--weights".into(),
                weights.display().to_string(),
                "--json".into(),
            ]
        };
        let own_corpus = format!("own-{speaker}");
        let own_before = corpus_score(exe, &own_args(&from), &own_corpus, "uar")?;
        let tuned = dir.join("tuned");
        let mut args: Vec<String> = vec![
            "train".into(),
            "--from".into(),
            from.display().to_string(),
            "--sessions".into(),
            session_dir.display().to_string(),
            "--out".into(),
            tuned.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        let started = Instant::now();
        let log = run(exe, &args)?;
        let tune_s = started.elapsed().as_secs_f64();
        std::fs::write(dir.join("train.log"), &log)?;
        let own_after = corpus_score(exe, &own_args(&tuned), &own_corpus, "uar")?;
        let ravdess_after = corpus_score(exe, &ravdess_args(&tuned), "ravdess", "macro_f1")?;
        let (holdout_before_uar, holdout_after_uar) = holdout_of(&tuned);
        let s = Scores {
            speaker: spec.to_owned(),
            session_s,
            session_clips: regions,
            scored_clips: scored_rows.len(),
            own_uar_before: own_before,
            own_uar_after: own_after,
            ravdess_f1_before: ravdess_before,
            ravdess_f1_after: ravdess_after,
            tune_s,
            holdout_before_uar,
            holdout_after_uar,
        };
        eprintln!(
            "{spec}: own UAR {own_before:.3} → {own_after:.3}, RAVDESS 17–20 F1 {ravdess_before:.3} → {ravdess_after:.3}, tuning {tune_s:.0} s"
        );
        all.push(s);
    }
    print_table(&all, &from_name);
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&all)?,
    )?;
    Ok(())
}

fn print_table(all: &[Scores], from_name: &str) {
    println!("| speaker | session | scored clips | own UAR before → after | held-out regions UAR before → after | RAVDESS 17–20 F1 before → after | tuning |");
    println!("|---|---|---|---|---|---|---|");
    let opt = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"));
    for s in all {
        println!(
            "| {} | {:.0} s, {} clips | {} | {:.3} → {:.3} | {} → {} | {:.3} → {:.3} | {:.0} s |",
            s.speaker,
            s.session_s,
            s.session_clips,
            s.scored_clips,
            s.own_uar_before,
            s.own_uar_after,
            opt(s.holdout_before_uar),
            opt(s.holdout_after_uar),
            s.ravdess_f1_before,
            s.ravdess_f1_after,
            s.tune_s
        );
    }
    let n = all.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
    let min = |f: &dyn Fn(&Scores) -> f64| all.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: &dyn Fn(&Scores) -> f64| all.iter().map(f).fold(0.0, f64::max);
    println!(
        "| **mean** ({from_name}) | | | **{:.3} → {:.3}** | | **{:.3} → {:.3}** (worst {:.3}) | {:.0} s (max {:.0}) |",
        mean(&|s| s.own_uar_before),
        mean(&|s| s.own_uar_after),
        mean(&|s| s.ravdess_f1_before),
        mean(&|s| s.ravdess_f1_after),
        min(&|s| s.ravdess_f1_after),
        mean(&|s| s.tune_s),
        max(&|s| s.tune_s),
    );
}

/// The speaker's rows of a corpus's metadata.csv (file_name,label,speaker; no quoting).
fn read_rows(corpus_dir: &Path, corpus: &str, speaker: &str) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(corpus_dir.join("metadata.csv"))?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let [file, label, who] = f[..] else { continue };
        if who != speaker {
            continue;
        }
        rows.push(Row {
            file: file.to_owned(),
            label: label.to_owned(),
            speaker: who.to_owned(),
            group: group_of(corpus, file),
        });
    }
    Ok(rows)
}

/// What a clip says: TESS `OAF_angry/OAF_back_angry.flac` → "back"; EMOVO
/// `f1/dis-f1-b1.flac` → "b1".
fn group_of(corpus: &str, file: &str) -> String {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<&str> = stem.split(['_', '-']).collect();
    match corpus {
        "tess" if parts.len() >= 3 => parts[1..parts.len() - 1].join("_"),
        _ => parts.last().map_or(stem.clone(), |s| (*s).to_owned()),
    }
}

/// Whole groups into the session (in a seeded order) until it holds [`SESSION_S`]
/// seconds, at about 2.5 s a clip for the estimate; the next groups are scored.
fn split_groups<'a>(rows: &'a [Row], corpus: &str, speaker: &str) -> (Vec<&'a Row>, Vec<&'a Row>) {
    let mut groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let seed = format!("{corpus}:{speaker}")
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Rng::new(seed).shuffle(&mut groups);
    let per_group = rows.len() / groups.len().max(1);
    let mean_clip_s = if corpus == "tess" { 2.0 } else { 3.1 };
    let session_groups = ((SESSION_S / ((mean_clip_s + GAP_S) * per_group as f64)).round()
        as usize)
        .clamp(1, groups.len().saturating_sub(1).max(1));
    let (session, rest) = groups.split_at(session_groups);
    let scored: Vec<&str> = rest.iter().take(MAX_SCORED_GROUPS).copied().collect();
    let pick = |gs: &[&str]| {
        rows.iter()
            .filter(|r| gs.contains(&r.group.as_str()))
            .collect::<Vec<_>>()
    };
    let mut session_rows = pick(session);
    Rng::new(seed ^ 0x5E55).shuffle(&mut session_rows);
    (session_rows, pick(&scored))
}

/// A session folder as the app writes it: `audio.wav` (16 kHz, 16-bit), `labels.txt` and
/// `session.json`. Returns its length in seconds and the number of labelled regions.
fn write_session(dir: &Path, corpus_dir: &Path, rows: &[&Row]) -> anyhow::Result<(f64, usize)> {
    std::fs::create_dir_all(dir)?;
    let mut wav = WavStreamWriter::create(&dir.join(AUDIO_FILE), RATE)?;
    let mut rng = Rng::new(7);
    let gap = |rng: &mut Rng| -> Vec<f32> {
        (0..(GAP_S * f64::from(RATE)) as usize)
            .map(|_| (rng.normal() * 1e-3) as f32)
            .collect()
    };
    let mut labels = Vec::new();
    let mut t = 0.0;
    for row in rows {
        let g = gap(&mut rng);
        wav.write(&g)?;
        t += g.len() as f64 / f64::from(RATE);
        let audio = decode_file(&corpus_dir.join(&row.file))?.samples;
        wav.write(&audio)?;
        let end = t + audio.len() as f64 / f64::from(RATE);
        labels.push(Region {
            start_s: t,
            end_s: end,
            label: row
                .label
                .parse::<Emotion>()
                .map_err(|_| anyhow::anyhow!("{}: label {}", row.file, row.label))?,
        });
        t = end;
    }
    wav.write(&gap(&mut rng))?;
    let seconds = wav.seconds();
    wav.finish()?;
    let n = labels.len();
    Session {
        device: format!(
            "own-voice benchmark ({})",
            rows.first().map_or("", |r| r.speaker.as_str())
        ),
        rate: RATE,
        started: "benchmark".into(),
        ended: Some("benchmark".into()),
        seconds,
        model: String::new(),
        labels,
        ..Session::default()
    }
    .save(dir)?;
    Ok((seconds, n))
}

/// A corpus folder for `evaluate`: the scored clips (linked, or copied) and a
/// metadata.csv naming them.
fn write_scored(dir: &Path, corpus_dir: &Path, rows: &[&Row]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("file_name,label,speaker\n");
    for r in rows {
        let name = Path::new(&r.file)
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("{}: no file name", r.file))?;
        let (from, to) = (corpus_dir.join(&r.file), dir.join(name));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to)?;
        }
        csv.push_str(&format!(
            "{},{},{}\n",
            name.to_string_lossy(),
            r.label,
            r.speaker
        ));
    }
    std::fs::write(dir.join("metadata.csv"), csv)?;
    Ok(())
}

fn run(exe: &str, args: &[String]) -> anyhow::Result<String> {
    let out = Command::new(exe).args(args).output()?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(
        out.status.success(),
        "emovox {} failed:\n{log}",
        args.join(" ")
    );
    Ok(format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// `field` of `corpus` in `evaluate --json`'s per-corpus scores.
fn corpus_score(exe: &str, args: &[String], corpus: &str, field: &str) -> anyhow::Result<f64> {
    let out = Command::new(exe).args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "emovox {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["per_corpus"][corpus][field]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no {field} for {corpus} in {v}"))
}

fn card_name(dir: &Path) -> anyhow::Result<String> {
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("emovox.json"))?)?;
    Ok(format!(
        "{} (commit {})",
        card["name"].as_str().unwrap_or("?"),
        card["training"]["commit"].as_str().unwrap_or("?")
    ))
}

fn commit_of(exe: &str) -> String {
    Command::new(exe)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The held-out regions' UAR before and after, from the tuned model's card (when tuning
/// held some back).
fn holdout_of(tuned: &Path) -> (Option<f64>, Option<f64>) {
    let Ok(text) = std::fs::read_to_string(tuned.join("emovox.json")) else {
        return (None, None);
    };
    let Ok(card) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (None, None);
    };
    let h = &card["training"]["holdout"];
    (h["before"]["uar"].as_f64(), h["after"]["uar"].as_f64())
}
