//! The voice gate's own test set and benchmark (issue 13, deliverable 4): Silero VAD
//! ([`SpeechGate`]) against the energy gate it replaced ([`EnergyGate`]), on speech in
//! synthetic room noise and on noise alone. Not a criterion bench: it prints markdown
//! tables. Run: `cargo bench --bench vad` (EMOVOX_DATA pointing at the shared corpora).
//!
//! ## Test set
//! Speech: every 6th file of RAVDESS actors 17–20 (40 clips), every 140th row of TESS's
//! metadata.csv (20 clips, both speakers), every 29th row of EMOVO's (20 clips, all six
//! speakers); without EMOVOX_DATA the five clips of tests/fixtures/wav. Each clip gets
//! 1 s of silence before and after, so every onset follows a stretch of non-speech, and
//! is then mixed with each [`Noise`] at 20, 10 and 0 dB SNR ([`mix_at_snr`]; the noise
//! runs through the padding too). Noise alone: each [`Noise`] at −50, −40 and −30 dBFS
//! for 10 s, and 10 s of digital silence.
//!
//! ## Reference labels
//! From the clean, padded clip, per 10 ms frame as the features count them (frame `i`
//! covers samples `160·i − 80 .. 160·i + 80`, so `1 + n/160` frames): a frame is speech
//! when its RMS is above `max(loudest frame − 35 dB, −55 dBFS)`; then gaps shorter than
//! 200 ms between speech frames are filled, and runs shorter than 50 ms are dropped.
//! The reference onset is the first speech frame.
//!
//! ## Metrics
//! - Precision and recall of the gates' frame flags, pooled over the clips of a condition
//!   (frames summed, not per-clip ratios averaged). Silero's 32 ms decisions are mapped
//!   to frames with [`chunk_of_frame`](emovox::vad::chunk_of_frame); the energy gate
//!   sees `frame_energy_db` of each frame of the [`StreamingExtractor`].
//! - Onset delay: the first gate-open frame from 250 ms before the reference onset to
//!   the reference's last speech frame, minus the onset (negative: opened early). A gate
//!   already open 250 ms before the onset counts as "early" (it was open in the lead-in
//!   noise), one that never opens in that span as "missed"; neither enters the median
//!   and 90th percentile.
//! - Windows as `predict` reads them: 3 s (300 frames) every 0.25 s
//!   ([`window_starts`]), speech when at least 25 of its frames are (src/predict.rs). On
//!   noise alone: the share of frames and of windows marked speech, and the files that
//!   would get a label (any speech window). In speech + noise: the share of the clean
//!   version's speech windows (by the same gate) that are still speech windows.
//! - CPU, one thread, on the clips concatenated and cycled: 4000 samples (a 250 ms hop)
//!   pushed through a gate in one call, and Silero fed one 512-sample chunk per call.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use rayon::prelude::*;

use emovox::audio::decode_file;
use emovox::dsp::stft::PowerSpectrum;
use emovox::dsp::{frame_count, FrameFeatures, StreamingExtractor, HOP_LENGTH, N_BINS, N_FFT};
use emovox::model::input::{window_starts, WINDOW_FRAMES};
use emovox::vad::energy::{frame_energy_db, EnergyGate};
use emovox::vad::noise::{mix_at_snr, rms_dbfs, Noise};
use emovox::vad::{frame_flags, SpeechGate, CHUNK};

const RATE: usize = 16_000;
/// Silence (or the condition's noise) before and after each clip.
const PAD: usize = RATE;
const SNRS_DB: [f32; 3] = [20.0, 10.0, 0.0];
const NOISE_ALONE_DBFS: [f32; 3] = [-50.0, -40.0, -30.0];
const NOISE_ALONE_SAMPLES: usize = 10 * RATE;
/// Reference labels: speech stands within this many dB of the clip's loudest frame …
const REFERENCE_RANGE_DB: f32 = 35.0;
/// … and above this level, whatever the clip's loudest frame.
const REFERENCE_FLOOR_DBFS: f32 = -55.0;
/// Gaps shorter than this many frames (200 ms) inside speech are speech.
const REFERENCE_FILL_FRAMES: usize = 20;
/// Runs shorter than this many frames (50 ms) are not.
const REFERENCE_MIN_RUN_FRAMES: usize = 5;
/// How far before the reference onset a gate's opening still counts as its onset.
const ONSET_LEAD_FRAMES: usize = 25;
/// A window is speech when at least this many of its frames are (as in src/predict.rs).
const MIN_SPEECH_FRAMES: usize = 25;
/// One 250 ms hop of the live engine.
const HOP_SAMPLES: usize = 4000;
const TIMED_HOPS: usize = 2400;
const TIMED_CHUNKS: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Silero,
    Energy,
}

const GATES: [Gate; 2] = [Gate::Silero, Gate::Energy];

impl Gate {
    fn name(self) -> &'static str {
        match self {
            Gate::Silero => "Silero",
            Gate::Energy => "energy",
        }
    }

    /// The gate's decision for each of the signal's `1 + n/160` frames.
    fn frame_flags(self, signal: &[f32]) -> Vec<bool> {
        let n = frame_count(signal.len());
        match self {
            Gate::Silero => frame_flags(&mut SpeechGate::default(), signal, n),
            Gate::Energy => {
                let mut extractor = StreamingExtractor::new();
                let mut gate = EnergyGate::default();
                let mut flags = Vec::with_capacity(n);
                let mut on_frame =
                    |f: &FrameFeatures| flags.push(gate.update(frame_energy_db(&f.power)));
                extractor.push(signal, &mut on_frame);
                extractor.finish(&mut on_frame);
                flags
            }
        }
    }
}

struct Clip {
    /// Corpus and file, for messages.
    name: String,
    samples: Vec<f32>,
}

/// Where the speech came from, and the clips.
struct SpeechSet {
    description: String,
    clips: Vec<Clip>,
}

/// A clip with 1 s of silence on each side.
fn padded(clip: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; PAD];
    out.extend_from_slice(clip);
    out.resize(out.len() + PAD, 0.0);
    out
}

#[derive(Clone, Copy)]
struct Condition {
    /// `None`: clean.
    noise: Option<Noise>,
    snr_db: f32,
}

impl Condition {
    fn name(&self) -> String {
        match self.noise {
            None => "clean".to_owned(),
            Some(noise) => format!("{} {:.0} dB", noise.name(), self.snr_db),
        }
    }

    /// The padded clip in this condition; the noise depends only on the clip, so one
    /// clip meets the same noise at every SNR.
    fn signal(&self, clean: &[f32], clip_index: usize) -> Vec<f32> {
        match self.noise {
            None => clean.to_vec(),
            Some(noise) => {
                let n = noise.generate(clean.len(), -30.0, 1000 + clip_index as u64);
                mix_at_snr(clean, &n, self.snr_db)
            }
        }
    }
}

fn conditions() -> Vec<Condition> {
    let mut out = vec![Condition {
        noise: None,
        snr_db: f32::INFINITY,
    }];
    for noise in Noise::ALL {
        for snr_db in SNRS_DB {
            out.push(Condition {
                noise: Some(noise),
                snr_db,
            });
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(()); // `cargo bench` asks every bench to list itself.
    }
    let started = Instant::now();
    let speech = speech_set()?;
    println!("# Voice gate: Silero VAD against the energy gate\n");
    println!("{}\n", speech.description);

    if speech.clips.is_empty() {
        bail!("no speech clips found");
    }
    let clean: Vec<Vec<f32>> = speech.clips.iter().map(|c| padded(&c.samples)).collect();
    let reference: Vec<Vec<bool>> = clean.iter().map(|c| reference_flags(c)).collect();
    for (clip, r) in speech.clips.iter().zip(&reference) {
        if !r.contains(&true) {
            bail!("{}: no reference speech frame", clip.name);
        }
    }
    let conditions = conditions();
    // Every condition × clip, each gate's frame flags, in parallel (the CPU timing below
    // runs alone, on one thread).
    let jobs: Vec<(usize, usize)> = (0..conditions.len())
        .flat_map(|c| (0..clean.len()).map(move |k| (c, k)))
        .collect();
    let flags: Vec<[Vec<bool>; 2]> = jobs
        .par_iter()
        .map(|&(c, k)| {
            let signal = conditions[c].signal(&clean[k], k);
            GATES.map(|g| g.frame_flags(&signal))
        })
        .collect();
    let flags_of = |c: usize, k: usize, g: usize| &flags[c * clean.len() + k][g];

    print!(
        "{}",
        precision_recall_table(&conditions, &reference, &flags_of)
    );
    print!("{}", onset_table(&conditions, &reference, &flags_of));
    print!("{}", window_kept_table(&conditions, clean.len(), &flags_of));
    print!("{}", noise_alone_table());
    let accuracy_s = started.elapsed().as_secs_f64();
    print!("{}", cpu_table(&speech.clips));
    println!(
        "\nTotal run time {:.1} s (test set {:.1} s on {} threads, CPU timing {:.1} s).",
        started.elapsed().as_secs_f64(),
        accuracy_s,
        rayon::current_num_threads(),
        started.elapsed().as_secs_f64() - accuracy_s
    );
    Ok(())
}

/// The shared corpora when EMOVOX_DATA is set, else the test fixtures.
fn speech_set() -> anyhow::Result<SpeechSet> {
    if let Some(data) = std::env::var_os("EMOVOX_DATA").map(PathBuf::from) {
        return corpus_set(&data);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wav");
    eprintln!(
        "EMOVOX_DATA is not set: using the clips in {}",
        dir.display()
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    paths.sort();
    let clips = paths
        .iter()
        .map(|p| load("fixture", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SpeechSet {
        description: format!(
            "Speech: EMOVOX_DATA is not set, so only the {} clips of tests/fixtures/wav \
             ({:.0} s); the numbers below are a smoke test, not the benchmark.",
            clips.len(),
            seconds(&clips)
        ),
        clips,
    })
}

fn corpus_set(data: &Path) -> anyhow::Result<SpeechSet> {
    let mut clips = Vec::new();
    for actor in 17..=20 {
        let dir = data.join(format!("ravdess/Actor_{actor:02}"));
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        paths.sort();
        for p in paths.iter().step_by(6) {
            clips.push(load("ravdess", p)?);
        }
    }
    let ravdess = clips.len();
    let mut description = format!("Speech: {ravdess} RAVDESS clips (actors 17–20, every 6th file)");
    for corpus in ["tess", "emovo"] {
        let rows = metadata(&data.join(corpus))?;
        let step = (rows.len() / 20).max(1);
        let chosen: Vec<&(String, String)> = rows.iter().step_by(step).take(20).collect();
        let mut speakers: Vec<&str> = chosen.iter().map(|(_, s)| s.as_str()).collect();
        speakers.dedup();
        for (file, _) in &chosen {
            clips.push(load(corpus, &data.join(corpus).join(file))?);
        }
        let _ = write!(
            description,
            ", {} {} clips (every {step}th of metadata.csv; speakers {})",
            chosen.len(),
            corpus.to_uppercase(),
            speakers.join(" ")
        );
    }
    let _ = write!(
        description,
        ": {} clips, {:.0} s, each with 1 s before and after.",
        clips.len(),
        seconds(&clips)
    );
    Ok(SpeechSet { description, clips })
}

/// `(file_name, speaker)` for every row of `dir/metadata.csv`, in file order.
fn metadata(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let path = dir.join("metadata.csv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(file), Some(speaker)) = (fields.first(), fields.get(2)) else {
            bail!("{}: row without three fields: {line}", path.display());
        };
        rows.push((file.trim().to_owned(), speaker.trim().to_owned()));
    }
    Ok(rows)
}

fn load(corpus: &str, path: &Path) -> anyhow::Result<Clip> {
    let samples = decode_file(path)
        .with_context(|| format!("decoding {}", path.display()))?
        .samples;
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    Ok(Clip {
        name: format!("{corpus}/{file}"),
        samples,
    })
}

fn seconds(clips: &[Clip]) -> f64 {
    clips.iter().map(|c| c.samples.len()).sum::<usize>() as f64 / RATE as f64
}

/// The reference labels of the module doc comment.
fn reference_flags(clean: &[f32]) -> Vec<bool> {
    let n = frame_count(clean.len());
    let db: Vec<f32> = (0..n)
        .map(|i| {
            let centre = i * HOP_LENGTH;
            let lo = centre.saturating_sub(HOP_LENGTH / 2).min(clean.len());
            let hi = (centre + HOP_LENGTH / 2).min(clean.len());
            rms_dbfs(&clean[lo..hi])
        })
        .collect();
    let loudest = db.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let threshold = (loudest - REFERENCE_RANGE_DB).max(REFERENCE_FLOOR_DBFS);
    let mut speech: Vec<bool> = db.iter().map(|&d| d > threshold).collect();
    // Fill the short gaps between speech frames first, then drop the short runs left.
    for (start, len) in runs(&speech, false) {
        let inside = start > 0 && start + len < speech.len();
        if inside && len < REFERENCE_FILL_FRAMES {
            speech[start..start + len].fill(true);
        }
    }
    for (start, len) in runs(&speech, true) {
        if len < REFERENCE_MIN_RUN_FRAMES {
            speech[start..start + len].fill(false);
        }
    }
    speech
}

/// `(start, length)` of every run of `value` in `flags`.
fn runs(flags: &[bool], value: bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        if flags[i] == value {
            let len = flags[i..].iter().take_while(|&&f| f == value).count();
            out.push((i, len));
            i += len;
        } else {
            i += 1;
        }
    }
    out
}

/// Start frames of the windows `predict` marks as speech.
fn speech_windows(flags: &[bool]) -> Vec<usize> {
    window_starts(flags.len())
        .into_iter()
        .filter(|&s| {
            let end = (s + WINDOW_FRAMES).min(flags.len());
            flags[s.min(end)..end].iter().filter(|&&f| f).count() >= MIN_SPEECH_FRAMES
        })
        .collect()
}

/// Rows of a table: each condition, then all noises pooled at each SNR.
fn row_groups(conditions: &[Condition]) -> Vec<(String, Vec<usize>)> {
    let mut rows: Vec<(String, Vec<usize>)> = conditions
        .iter()
        .enumerate()
        .map(|(c, cond)| (cond.name(), vec![c]))
        .collect();
    for snr in SNRS_DB {
        let members = conditions
            .iter()
            .enumerate()
            .filter(|(_, cond)| cond.noise.is_some() && cond.snr_db == snr)
            .map(|(c, _)| c)
            .collect();
        rows.push((format!("**all noises {snr:.0} dB**"), members));
    }
    rows
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}", 100.0 * part as f64 / whole as f64)
    }
}

fn precision_recall_table<'a>(
    conditions: &[Condition],
    reference: &[Vec<bool>],
    flags_of: &impl Fn(usize, usize, usize) -> &'a Vec<bool>,
) -> String {
    let mut out = String::from(
        "\n## Frame precision and recall (%)\n\n\
         Against the reference labels, frames pooled over the clips.\n\n\
         | condition | Silero precision | Silero recall | energy precision | energy recall |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for (name, members) in row_groups(conditions) {
        let _ = write!(out, "| {name} ");
        for g in 0..GATES.len() {
            let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
            for &c in &members {
                for (k, r) in reference.iter().enumerate() {
                    for (&truth, &said) in r.iter().zip(flags_of(c, k, g)) {
                        tp += usize::from(truth && said);
                        fp += usize::from(!truth && said);
                        fn_ += usize::from(truth && !said);
                    }
                }
            }
            let _ = write!(
                out,
                "| {} | {} ",
                percent(tp, tp + fp),
                percent(tp, tp + fn_)
            );
        }
        out.push_str("|\n");
    }
    out
}

/// Nearest-rank percentile of `values` (sorted here), `None` when empty.
fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
    values.sort_unstable();
    let rank = ((p * values.len() as f64).ceil() as usize).max(1);
    values.get(rank - 1).copied()
}

fn onset_table<'a>(
    conditions: &[Condition],
    reference: &[Vec<bool>],
    flags_of: &impl Fn(usize, usize, usize) -> &'a Vec<bool>,
) -> String {
    let mut out = format!(
        "\n## Onset delay (ms)\n\n\
         First open frame − reference onset, over {} clips. \"early\": already open {} ms before the onset; \"missed\": never open from then \
         to the last speech frame; neither is in the median and p90.\n\n\
         | condition | Silero median | Silero p90 | Silero early / missed \
         | energy median | energy p90 | energy early / missed |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        reference.len(),
        ONSET_LEAD_FRAMES * 10
    );
    for (name, members) in row_groups(conditions) {
        let _ = write!(out, "| {name} ");
        for g in 0..GATES.len() {
            let (mut delays_ms, mut early, mut missed) = (Vec::new(), 0, 0);
            for &c in &members {
                for (k, r) in reference.iter().enumerate() {
                    let flags = flags_of(c, k, g);
                    let (Some(onset), Some(last)) =
                        (r.iter().position(|&s| s), r.iter().rposition(|&s| s))
                    else {
                        continue;
                    };
                    let from = onset.saturating_sub(ONSET_LEAD_FRAMES);
                    if flags.get(from).copied().unwrap_or(false) {
                        early += 1;
                        continue;
                    }
                    match (from..=last).find(|&f| flags.get(f).copied().unwrap_or(false)) {
                        Some(f) => delays_ms.push((f as i64 - onset as i64) * 10),
                        None => missed += 1,
                    }
                }
            }
            let show = |v: Option<i64>| v.map_or("–".to_owned(), |v| v.to_string());
            let _ = write!(
                out,
                "| {} | {} | {early} / {missed} ",
                show(percentile(&mut delays_ms, 0.5)),
                show(percentile(&mut delays_ms, 0.9))
            );
        }
        out.push_str("|\n");
    }
    out
}

fn window_kept_table<'a>(
    conditions: &[Condition],
    n_clips: usize,
    flags_of: &impl Fn(usize, usize, usize) -> &'a Vec<bool>,
) -> String {
    let mut out = String::from(
        "\n## Speech windows kept in noise (%)\n\n\
         The clean version's speech windows (3 s every 0.25 s, ≥ 25 speech frames; by the \
         same gate) that are still speech windows. Target at 10 dB: ≥ 90 %.\n\n\
         | noise |",
    );
    let mut rule = String::from("|---|");
    for gate in GATES {
        for snr in SNRS_DB {
            let _ = write!(out, " {} {snr:.0} dB |", gate.name());
            rule.push_str("---:|");
        }
    }
    let _ = write!(out, "\n{rule}\n");
    let clean_windows: Vec<[Vec<usize>; 2]> = (0..n_clips)
        .map(|k| [0, 1].map(|g| speech_windows(flags_of(0, k, g))))
        .collect();
    let noises: Vec<(String, Vec<Noise>)> = Noise::ALL
        .iter()
        .map(|n| (n.name().to_owned(), vec![*n]))
        .chain(std::iter::once(("**all**".to_owned(), Noise::ALL.to_vec())))
        .collect();
    for (name, members) in noises {
        let _ = write!(out, "| {name} |");
        for g in 0..GATES.len() {
            for snr in SNRS_DB {
                let (mut kept, mut all) = (0, 0);
                for (c, cond) in conditions.iter().enumerate() {
                    let in_row = cond.noise.is_some_and(|n| members.contains(&n));
                    if !in_row || cond.snr_db != snr {
                        continue;
                    }
                    for (k, clean) in clean_windows.iter().enumerate() {
                        let noisy = speech_windows(flags_of(c, k, g));
                        all += clean[g].len();
                        kept += clean[g].iter().filter(|w| noisy.contains(w)).count();
                    }
                }
                let _ = write!(out, " {} |", percent(kept, all));
            }
        }
        out.push('\n');
    }
    out
}

fn noise_alone_table() -> String {
    let mut files: Vec<(String, Vec<f32>)> = Vec::new();
    for noise in Noise::ALL {
        for (i, dbfs) in NOISE_ALONE_DBFS.into_iter().enumerate() {
            let samples = noise.generate(NOISE_ALONE_SAMPLES, dbfs, 42 + i as u64);
            files.push((format!("{} {dbfs:.0} dBFS", noise.name()), samples));
        }
    }
    let noisy_files = files.len();
    files.push(("digital silence".to_owned(), vec![0.0; NOISE_ALONE_SAMPLES]));
    let flags: Vec<[Vec<bool>; 2]> = files
        .par_iter()
        .map(|(_, x)| GATES.map(|g| g.frame_flags(x)))
        .collect();
    let mut out = String::from(
        "\n## Noise alone (10 s each)\n\n\
         Share of frames and of windows marked speech (%), and whether the file would get a \
         label. Target: ≤ 5 % of windows, no labels.\n\n\
         | noise | Silero frames | Silero windows | Silero label | energy frames \
         | energy windows | energy label |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    // Totals over the noises (not the silence): frames, windows, labelled files.
    let mut totals = [[0usize; 5]; 2];
    for (i, ((name, _), f)) in files.iter().zip(&flags).enumerate() {
        let _ = write!(out, "| {name} ");
        for (g, f) in f.iter().enumerate() {
            let speech_frames = f.iter().filter(|&&s| s).count();
            let windows = window_starts(f.len()).len();
            let speech_windows = speech_windows(f).len();
            let labelled = speech_windows > 0;
            let _ = write!(
                out,
                "| {} | {} | {} ",
                percent(speech_frames, f.len()),
                percent(speech_windows, windows),
                if labelled { "**yes**" } else { "no" }
            );
            if i < noisy_files {
                let t = &mut totals[g];
                t[0] += speech_frames;
                t[1] += f.len();
                t[2] += speech_windows;
                t[3] += windows;
                t[4] += usize::from(labelled);
            }
        }
        out.push_str("|\n");
    }
    let _ = write!(out, "| **all {noisy_files} noises** ");
    for t in totals {
        let _ = write!(
            out,
            "| {} | {} | {} / {noisy_files} ",
            percent(t[0], t[1]),
            percent(t[2], t[3]),
            t[4]
        );
    }
    out.push_str("|\n");
    out
}

/// Mean and p99 (µs) of `n` calls of `step`, after `warm_up` untimed ones.
fn time_calls(n: usize, warm_up: usize, mut step: impl FnMut(usize)) -> (f64, f64) {
    for i in 0..warm_up {
        step(i);
    }
    let mut ns: Vec<i64> = (warm_up..warm_up + n)
        .map(|i| {
            let t = Instant::now();
            step(i);
            t.elapsed().as_nanos() as i64
        })
        .collect();
    let mean = ns.iter().sum::<i64>() as f64 / n as f64 / 1000.0;
    let p99 = percentile(&mut ns, 0.99).unwrap_or(0) as f64 / 1000.0;
    (mean, p99)
}

fn cpu_table(clips: &[Clip]) -> String {
    // The clips one after another, unpadded, cycled: a stream of real speech.
    let stream: Vec<f32> = clips
        .iter()
        .flat_map(|c| c.samples.iter().copied())
        .collect();
    let at = |i: usize, len: usize| -> Vec<f32> {
        (0..len)
            .map(|j| stream[(i * len + j) % stream.len()])
            .collect()
    };
    let hops: Vec<Vec<f32>> = (0..TIMED_HOPS + 50).map(|i| at(i, HOP_SAMPLES)).collect();
    let chunks: Vec<Vec<f32>> = (0..TIMED_CHUNKS + 200).map(|i| at(i, CHUNK)).collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = format!(
        "\n## CPU, one thread, real speech (µs per call)\n\n\
         Target: Silero ≤ 1 ms per 250 ms hop. The energy gate's rows count either the whole \
         feature extractor it was fed from (which the engine runs anyway for the model) or \
         only the power spectrum it reads. Load average at the start: {}.\n\n\
         | what | calls | mean µs | p99 µs | mean, share of 250 ms |\n\
         |---|---:|---:|---:|---:|\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut row = |what: &str, calls: usize, (mean, p99): (f64, f64), per_hop: f64| {
        let _ = writeln!(
            out,
            "| {what} | {calls} | {mean:.1} | {p99:.1} | {:.2} % |",
            100.0 * mean * per_hop / 250_000.0
        );
    };

    let mut gate = SpeechGate::default();
    let mut sink = 0usize;
    let hop = time_calls(TIMED_HOPS, 50, |i| {
        gate.push(&hops[i], |c| sink += usize::from(c.speech));
    });
    row(
        "Silero: 4000 samples (250 ms) in one push",
        TIMED_HOPS,
        hop,
        1.0,
    );
    let mut gate = SpeechGate::default();
    let chunk = time_calls(TIMED_CHUNKS, 200, |i| {
        gate.push(&chunks[i], |c| sink += usize::from(c.speech));
    });
    let chunks_per_hop = HOP_SAMPLES as f64 / CHUNK as f64;
    row(
        "Silero: one 512-sample chunk (share: 7.8 of them)",
        TIMED_CHUNKS,
        chunk,
        chunks_per_hop,
    );

    let mut extractor = StreamingExtractor::new();
    let mut energy = EnergyGate::default();
    let with_features = time_calls(TIMED_HOPS, 50, |i| {
        extractor.push(&hops[i], |f| {
            sink += usize::from(energy.update(frame_energy_db(&f.power)))
        });
    });
    row(
        "energy: all features (StreamingExtractor) + gate, 250 ms",
        TIMED_HOPS,
        with_features,
        1.0,
    );
    // The gate's own cost were it to compute only the power spectrum it reads: 25 frames
    // of 512 samples every 160 (the content of the frames does not change the cost).
    let mut spectrum = PowerSpectrum::new();
    let mut energy = EnergyGate::default();
    let mut power = [0.0f32; N_BINS];
    let frames_per_hop = HOP_SAMPLES / HOP_LENGTH;
    let own_stft = time_calls(TIMED_HOPS, 50, |i| {
        for f in 0..frames_per_hop {
            let mut frame = [0.0f32; N_FFT];
            let hop = &hops[i];
            for (j, x) in frame.iter_mut().enumerate() {
                *x = hop[(f * HOP_LENGTH + j) % hop.len()];
            }
            spectrum.compute(&frame, &mut power);
            sink += usize::from(energy.update(frame_energy_db(&power)));
        }
    });
    row(
        "energy: power spectrum only + gate, 250 ms",
        TIMED_HOPS,
        own_stft,
        1.0,
    );
    std::hint::black_box(sink);
    out
}
