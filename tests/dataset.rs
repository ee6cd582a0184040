//! Reading labelled audio: small corpora made here in each of the three layouts (RAVDESS
//! names, metadata.csv, a folder per label), `emovox evaluate` over two of them, and the
//! real corpora: `emovox features` over the whole of RAVDESS actors 01–20 (1,200 files,
//! five of them stereo) and the 48 kHz originals, and the TESS and EMOVO metadata. The
//! data is not part of the repository: set EMOVOX_DATA to the folder holding `ravdess/`,
//! `ravdess-48k/`, `tess/` and `emovo/` (.ci/run points it at the shared copy). Without it
//! those tests say so and pass, except under CI, where the data must be there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use emovox::audio::decode_file;
use emovox::labels::Emotion;
use emovox::model::dataset::{detect, scan, scan_all, DatasetError, Layout, Scan};
use emovox::model::room::RoomRecipe;

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

/// A fresh empty folder `name` (corpora are named by their folder) inside a temporary
/// one, which is removed with everything in it when the returned guard is dropped,
/// passed or failed.
fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("emovox-dataset-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, dir)
}

/// A tenth of a second of a quiet tone as 16 kHz 16-bit WAV, with its folders.
fn write_wav(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..1600 {
        let x = (i as f32 * 0.1).sin() * 1000.0;
        w.write_sample(x as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn labels(s: &Scan) -> Vec<(String, Emotion, String)> {
    s.clips
        .iter()
        .map(|c| {
            let name = c.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, c.emotion, c.speaker.clone())
        })
        .collect()
}

#[test]
fn metadata_csv_with_synonyms_quotes_and_extra_columns() {
    let (_tmp, dir) = tmp("meta");
    for f in [
        "a/one.wav",
        "a/two, quoted.wav",
        "b/three.wav",
        "b/four.wav",
    ] {
        write_wav(&dir.join(f));
    }
    std::fs::write(
        dir.join("metadata.csv"),
        "file_name,notes,Label,speaker,age\r\n\
         a/one.wav,loud,anger,s1,30\r\n\
         \"a/two, quoted.wav\",\"said \"\"no\"\"\",Pleasant_Surprise,s1,30\r\n\
         \r\n\
         b/three.wav,,ps,s2,41\r\n\
         b/four.wav,,sadness,,41\r\n\
         b/missing.wav,,happy,s2,41\r\n",
    )
    .unwrap();
    assert_eq!(detect(&dir).unwrap(), Layout::Metadata);
    let s = scan(&dir).unwrap();
    assert_eq!(
        labels(&s),
        vec![
            ("one.wav".into(), Emotion::Angry, "s1".into()),
            ("two, quoted.wav".into(), Emotion::Surprised, "s1".into()),
            ("three.wav".into(), Emotion::Surprised, "s2".into()),
            // An empty speaker field: the corpus stands in for the voice.
            ("four.wav".into(), Emotion::Sad, "meta".into()),
        ]
    );
    assert!(s.clips.iter().all(|c| c.corpus == "meta" && c.actor == 0));
    // The missing file is left out with the line that lists it (line 7: a blank line
    // counts).
    assert_eq!(s.rejected.len(), 1, "{:?}", s.rejected);
    assert!(s.rejected[0].0.ends_with("b/missing.wav"));
    assert!(s.rejected[0].1.contains("line 7"), "{}", s.rejected[0].1);
}

#[test]
fn metadata_without_a_speaker_column_is_one_voice() {
    let (_tmp, dir) = tmp("nospeaker");
    write_wav(&dir.join("x.wav"));
    write_wav(&dir.join("y.flac.wav"));
    std::fs::write(
        dir.join("metadata.csv"),
        "file_name,label\nx.wav,fear\ny.flac.wav,disgusted\n",
    )
    .unwrap();
    let s = scan(&dir).unwrap();
    assert_eq!(
        labels(&s),
        vec![
            ("x.wav".into(), Emotion::Fearful, "nospeaker".into()),
            ("y.flac.wav".into(), Emotion::Disgust, "nospeaker".into()),
        ]
    );
}

#[test]
fn an_unknown_label_is_refused_naming_the_file_and_line() {
    let (_tmp, dir) = tmp("badlabel");
    write_wav(&dir.join("ok.wav"));
    write_wav(&dir.join("bored.wav"));
    let csv = dir.join("metadata.csv");
    std::fs::write(
        &csv,
        "file_name,label,speaker\nok.wav,happy,a\nbored.wav,boredom,a\n",
    )
    .unwrap();
    let err = scan(&dir).unwrap_err();
    assert!(
        matches!(&err, DatasetError::Line { line: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    for part in [
        csv.to_str().unwrap(),
        "line 3",
        "bored.wav",
        "'boredom'",
        "neutral, calm",
    ] {
        assert!(text.contains(part), "'{part}' missing from: {text}");
    }

    // A header without a label column, and a row with a field too many, name their lines.
    std::fs::write(&csv, "file_name,emotion\nok.wav,happy\n").unwrap();
    let text = scan(&dir).unwrap_err().to_string();
    assert!(
        text.contains("line 1") && text.contains("file_name and label"),
        "{text}"
    );
    std::fs::write(&csv, "file_name,label\nok.wav,happy\nbored.wav,sad,extra\n").unwrap();
    let text = scan(&dir).unwrap_err().to_string();
    assert!(
        text.contains("line 3") && text.contains("3 fields"),
        "{text}"
    );
}

#[test]
fn a_folder_per_label_with_synonyms() {
    let (_tmp, dir) = tmp("perlabel");
    for f in [
        "angry/a.wav",
        "anger/b.wav",
        "Sad/c.wav",
        "happiness/take2/d.wav",
        "stray.wav",
    ] {
        write_wav(&dir.join(f));
    }
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/README.txt"), "not audio").unwrap();
    assert_eq!(detect(&dir).unwrap(), Layout::Folders);
    let s = scan(&dir).unwrap();
    assert_eq!(
        labels(&s),
        vec![
            // Sorted by path: "Sad" before the lower-case names.
            ("c.wav".into(), Emotion::Sad, "perlabel".into()),
            ("b.wav".into(), Emotion::Angry, "perlabel".into()),
            ("a.wav".into(), Emotion::Angry, "perlabel".into()),
            ("d.wav".into(), Emotion::Happy, "perlabel".into()),
        ]
    );
    assert_eq!(s.rejected.len(), 1);
    assert!(s.rejected[0].1.contains("not inside a label folder"));

    write_wav(&dir.join("boredom/e.wav"));
    let err = scan(&dir).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("boredom") && text.contains("not an emotion"),
        "{text}"
    );
}

/// One rule for links (the same as `predict`'s): followed, to files and folders; one back
/// up the tree is left out with the reason; one that leads nowhere stops the scan, naming
/// it, since a corpus read in part would change the scores without a word.
#[cfg(unix)]
#[test]
fn links_are_followed_a_loop_is_left_out_and_a_broken_one_is_an_error() {
    use std::os::unix::fs::symlink;
    let (_tmp, root) = tmp("links");
    let dir = root.join("linked");
    write_wav(&dir.join("angry/a.wav"));
    write_wav(&root.join("elsewhere/calm-takes/b.wav"));
    write_wav(&root.join("elsewhere/c.wav"));
    symlink(root.join("elsewhere/calm-takes"), dir.join("calm")).unwrap();
    symlink(root.join("elsewhere/c.wav"), dir.join("angry/c.wav")).unwrap();
    symlink(&dir, dir.join("angry/again")).unwrap();
    let s = scan(&dir).unwrap();
    assert_eq!(
        labels(&s),
        vec![
            ("a.wav".into(), Emotion::Angry, "linked".into()),
            ("c.wav".into(), Emotion::Angry, "linked".into()),
            ("b.wav".into(), Emotion::Calm, "linked".into()),
        ]
    );
    assert_eq!(s.rejected.len(), 1, "{:?}", s.rejected);
    assert_eq!(s.rejected[0].0, dir.join("angry/again"));
    assert!(
        s.rejected[0].1.contains("a link back to") && s.rejected[0].1.contains("not followed"),
        "{}",
        s.rejected[0].1
    );

    symlink(root.join("moved-away"), dir.join("sad")).unwrap();
    let err = scan(&dir).unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");
    assert!(err.to_string().contains("sad"), "{err}");
}

#[test]
fn ravdess_names_in_any_audio_format_and_several_corpora_at_once() {
    let (_tmp, root) = tmp("several");
    let ravdess = root.join("my-ravdess");
    write_wav(&ravdess.join("Actor_05/03-01-04-01-01-02-05.wav"));
    // Named like RAVDESS, FLAC by extension: read by name (the decoder is not asked).
    write_wav(&ravdess.join("Actor_06/03-01-02-02-01-01-06.flac"));
    write_wav(&ravdess.join("Actor_06/03-02-02-02-01-01-06.wav"));
    assert_eq!(detect(&ravdess).unwrap(), Layout::Ravdess);
    let labelled = root.join("labelled");
    write_wav(&labelled.join("neutral/n.wav"));
    let s = scan_all(&[ravdess.clone(), labelled.clone()]).unwrap();
    let got: Vec<(&str, &str, Emotion)> = s
        .clips
        .iter()
        .map(|c| (c.corpus.as_str(), c.speaker.as_str(), c.emotion))
        .collect();
    assert_eq!(
        got,
        vec![
            ("my-ravdess", "Actor_05", Emotion::Sad),
            ("my-ravdess", "Actor_06", Emotion::Calm),
            ("labelled", "labelled", Emotion::Neutral),
        ]
    );
    assert_eq!(s.actors(), vec![5, 6]);
    assert_eq!(s.corpora(), vec!["my-ravdess", "labelled"]);
    assert_eq!(s.rejected.len(), 1, "the song is left out");
    // Two folders of the same name would mix their scores: refused.
    let twin = root.join("elsewhere").join("labelled");
    write_wav(&twin.join("sad/s.wav"));
    let err = scan_all(&[labelled, twin]).unwrap_err().to_string();
    assert!(err.contains("corpus 'labelled' is already read"), "{err}");
    // A folder of corpora given as one corpus: the corpus inside is named.
    let (_tmp, corpora) = tmp("corpora");
    write_wav(&corpora.join("c1/a.wav"));
    std::fs::write(
        corpora.join("c1/metadata.csv"),
        "file_name,label\na.wav,sad\n",
    )
    .unwrap();
    assert_eq!(scan(&corpora.join("c1")).unwrap().clips.len(), 1);
    let err = scan(&corpora).unwrap_err().to_string();
    assert!(
        err.contains("c1: a corpus with its own metadata.csv"),
        "{err}"
    );
    // A folder that is not there says so.
    let err = scan(&root.join("absent")).unwrap_err().to_string();
    assert!(err.contains("absent"), "{err}");
}

/// `emovox evaluate --data A B` with the shipped model: a line per corpus and one for
/// all, the calm rule stated for the corpus without calm, and `per_corpus` in the JSON.
#[test]
fn evaluate_scores_each_corpus_given() {
    let (_tmp, root) = tmp("evaluate");
    let (rav, other) = two_corpora(&root);
    let run = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_emovox"));
        cmd.args(["evaluate", "--data"]).arg(&rav).arg(&other);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(false);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
            .to_owned()
    };
    let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    let (rav_line, other_line, all_line) = (line("rav"), line("other"), line("all"));
    assert_eq!(words(&rav_line)[1], "2", "{rav_line}");
    assert_eq!(words(&rav_line)[5], "2", "calm and angry: {rav_line}");
    assert!(!rav_line.contains("no calm"), "{rav_line}");
    assert_eq!(words(&other_line)[1], "2", "{other_line}");
    assert!(
        other_line.contains("no calm: calm predictions counted as neutral"),
        "{other_line}"
    );
    assert_eq!(words(&all_line)[1], "4", "{all_line}");
    for l in [&rav_line, &other_line, &all_line] {
        for score in &words(l)[2..5] {
            let v: f64 = score.parse().unwrap();
            assert!((0.0..=1.0).contains(&v), "{l}");
        }
    }
    assert!(text.contains("confusion (rows: true"), "{text}");

    let v: serde_json::Value = serde_json::from_str(run(true).trim()).unwrap();
    assert_eq!(v["n"], 4);
    for key in [
        "accuracy",
        "macro_f1",
        "macro_precision",
        "macro_recall",
        "uar",
    ] {
        assert!(v[key].is_f64(), "{key}: {v}");
    }
    let rav = &v["per_corpus"]["rav"];
    assert_eq!(rav["n"], 2);
    assert_eq!(rav["classes"], serde_json::json!(["calm", "angry"]));
    assert_eq!(rav["calm_as_neutral"], false);
    let other = &v["per_corpus"]["other"];
    assert_eq!(
        other["classes"],
        serde_json::json!(["neutral", "surprised"])
    );
    assert_eq!(other["calm_as_neutral"], true);
    // The text and the JSON agree.
    let uar: f64 = words(&other_line)[3].parse().unwrap();
    assert!((other["uar"].as_f64().unwrap() - uar).abs() < 5e-4);
}

/// TESS and EMOVO as published here: metadata.csv, FLAC, seven labels each (no calm).
#[test]
fn tess_and_emovo_are_read_from_their_metadata() {
    let Some(data) = data_dir() else { return };
    for (name, clips, speakers) in [("tess", 2800, 2), ("emovo", 588, 6)] {
        let dir = data.join(name);
        assert_eq!(detect(&dir).unwrap(), Layout::Metadata, "{name}");
        let s = scan(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.rejected.is_empty(), "{name}: {:?}", &s.rejected[..1]);
        assert_eq!(s.clips.len(), clips, "{name}");
        assert_eq!(s.corpora(), vec![name.to_owned()]);
        assert_eq!(
            s.speakers(name).len(),
            speakers,
            "{name}: {:?}",
            s.speakers(name)
        );
        let emotions: BTreeSet<Emotion> = s.clips.iter().map(|c| c.emotion).collect();
        assert_eq!(emotions.len(), 7, "{name}: {emotions:?}");
        assert!(!emotions.contains(&Emotion::Calm), "{name} has no calm");
        // Equal classes: every emotion has a seventh of the clips.
        for e in &emotions {
            let n = s.clips.iter().filter(|c| c.emotion == *e).count();
            assert_eq!(n, clips / 7, "{name} {e}");
        }
        let first = decode_file(&s.clips[0].path).unwrap();
        assert_eq!(first.source_rate, 16_000, "{name}");
        assert!(first.seconds() > 0.5, "{name}: {}", first.seconds());
    }
    let both = scan_all(&[data.join("tess"), data.join("emovo"), data.join("ravdess")]).unwrap();
    assert_eq!(both.clips.len(), 2800 + 588 + 1200);
    assert_eq!(both.corpora(), vec!["tess", "emovo", "ravdess"]);
    assert_eq!(both.speakers("ravdess").len(), 20);
}

/// Two small corpora made of the fixture clips: `rav` in RAVDESS layout (actors 05 and
/// 10) and `other` with a metadata.csv (speakers p1 and p2, no calm).
fn two_corpora(root: &Path) -> (PathBuf, PathBuf) {
    let rav = root.join("rav");
    for stem in ["03-01-02-01-02-02-05", "03-01-05-02-01-01-10"] {
        let actor = &stem[18..];
        let to = rav
            .join(format!("Actor_{actor}"))
            .join(format!("{stem}.wav"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(common::wav(stem), to).unwrap();
    }
    let other = root.join("other");
    std::fs::create_dir_all(other.join("clips")).unwrap();
    std::fs::copy(
        common::wav("03-01-08-02-02-02-20"),
        other.join("clips/x.wav"),
    )
    .unwrap();
    std::fs::copy(
        common::wav("03-01-01-01-01-01-01"),
        other.join("clips/y.wav"),
    )
    .unwrap();
    std::fs::write(
        other.join("metadata.csv"),
        "file_name,label,speaker\nclips/x.wav,surprise,p1\nclips/y.wav,neutral,p2\n",
    )
    .unwrap();
    (rav, other)
}

fn emovox(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emovox"))
        .args(args)
        .output()
        .unwrap()
}

/// `train --val-corpus` leaves a corpus out and `--val-speakers` holds out voices of any
/// corpus; the card records which. A name not in the data is refused before training.
#[test]
fn train_holds_out_a_corpus_or_speakers_and_records_it() {
    let (_tmp, root) = tmp("splits");
    let (rav, other) = two_corpora(&root);
    let out = root.join("model");
    let quick = ["--epochs", "1", "--no-augment", "--out"].map(std::ffi::OsStr::new);
    let train = |split: &[&str]| {
        let mut args = vec![
            "train".as_ref(),
            "--data".as_ref(),
            rav.as_os_str(),
            other.as_os_str(),
        ];
        args.extend(split.iter().map(std::ffi::OsStr::new));
        args.extend(quick);
        args.push(out.as_os_str());
        emovox(&args)
    };

    let o = train(&["--val-corpus", "other"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let card = emovox::model::ModelCard::load(&out).unwrap();
    let v = card.validation.unwrap();
    assert_eq!(v.corpora, vec!["other"]);
    assert!(
        v.actors.is_empty(),
        "naming a corpus replaces the default actors"
    );
    assert_eq!(v.files, 2);
    assert!(v.uar.is_some());
    assert_eq!(card.training.train_files, 2);
    assert_eq!(card.training.train_actors, vec![5, 10]);

    let o = train(&["--val-speakers", "other:p2,rav:5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = emovox::model::ModelCard::load(&out)
        .unwrap()
        .validation
        .unwrap();
    assert_eq!(v.speakers, vec!["other:p2", "rav:Actor_05"]);
    assert_eq!(v.files, 2);

    for (bad, why) in [
        (
            ["--val-speakers", "other:P2"],
            "corpus 'other' has no speaker 'P2' (its speakers: p1, p2)",
        ),
        (
            ["--val-corpus", "tess"],
            "there is no corpus 'tess' in the data (its corpora: rav, other)",
        ),
    ] {
        let o = train(&bad);
        assert!(!o.status.success(), "{bad:?} was accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{bad:?}: {err}");
    }
}

/// `train --rooms` makes room versions, `--val-in-rooms` scores the held-out clips in
/// rooms too, and the card records the recipe, the balancing and both scores.
#[test]
fn train_in_rooms_records_the_recipe_and_both_scores() {
    let (_tmp, root) = tmp("rooms");
    let (rav, other) = two_corpora(&root);
    let out = root.join("model");
    let args: Vec<&std::ffi::OsStr> = vec![
        "train".as_ref(),
        "--data".as_ref(),
        rav.as_os_str(),
        other.as_os_str(),
        "--val-corpus".as_ref(),
        "other".as_ref(),
        "--rooms".as_ref(),
        "2".as_ref(),
        "--val-in-rooms".as_ref(),
        "--augment-set".as_ref(),
        "light".as_ref(),
        "--balance-speakers".as_ref(),
        "--epoch-clips".as_ref(),
        "6".as_ref(),
        "--epochs".as_ref(),
        "1".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    let o = emovox(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Two clips, each the original, four light augmentations and two rooms.
    assert!(err.contains("prepared 14 training versions"), "{err}");
    assert!(err.contains("validation in synthetic rooms"), "{err}");
    let card = emovox::model::ModelCard::load(&out).unwrap();
    let t = &card.training;
    assert_eq!(t.rooms, 2);
    assert_eq!(t.room_recipe, Some(RoomRecipe::default()));
    assert!(t.balance_speakers);
    assert_eq!(t.epoch_clips, Some(6));
    assert_eq!(t.augmentation.len(), 4);
    assert_eq!(t.corpora, vec!["rav 2 clips, 2 speakers"]);
    assert_eq!(t.speakers.len(), 2, "{:?}", t.speakers);
    assert!(
        t.speakers.iter().all(|s| s.starts_with("rav:")),
        "{:?}",
        t.speakers
    );
    // A corpus emovox does not know is named with a pointer to its own terms.
    assert_eq!(
        t.licences,
        vec!["rav: not known to emovox; see the corpus's own terms"]
    );
    let v = card.validation.unwrap();
    let rooms = v.in_rooms.expect("scores in rooms");
    assert_eq!(rooms.files, 2);
    assert_eq!(v.per_corpus.len(), 1);
    assert_eq!(v.per_corpus[0].corpus, "other");
    assert!(v.per_corpus[0].uar_in_rooms.is_some());
}

/// `evaluate --speakers` scores only those voices; `--in-rooms SEED` degrades every clip
/// the same way on every run and says so, in a room per clip or (`--room-per-speaker`)
/// per speaker.
#[test]
fn evaluate_picks_speakers_and_plays_clips_in_seeded_rooms() {
    let (_tmp, root) = tmp("evaluate-rooms");
    let (rav, other) = two_corpora(&root);
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_emovox"));
        cmd.args(["evaluate", "--json", "--data"])
            .arg(&rav)
            .arg(&other)
            .args(extra);
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
        (v, err)
    };
    let (v, _) = run(&["--speakers", "other:p1,rav:10"]);
    assert_eq!(v["n"], 2);
    assert_eq!(v["per_corpus"]["other"]["n"], 1);
    assert_eq!(v["per_corpus"]["rav"]["n"], 1);

    let (a, _) = run(&["--in-rooms", "7"]);
    let (b, _) = run(&["--in-rooms", "7"]);
    assert_eq!(a, b, "the same rooms on every run");
    assert_eq!(a["n"], 4);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emovox"));
    cmd.args(["evaluate", "--data"])
        .arg(&rav)
        .args(["--in-rooms", "7"]);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in synthetic rooms (seed 7, one per clip)"),
        "{err}"
    );

    // One room per speaker: also the same on every run, and said.
    let (c, _) = run(&["--in-rooms", "7", "--room-per-speaker"]);
    let (d, _) = run(&["--in-rooms", "7", "--room-per-speaker"]);
    assert_eq!(c, d);
    assert_eq!(c["n"], 4);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emovox"));
    cmd.args(["evaluate", "--data"])
        .arg(&rav)
        .args(["--in-rooms", "7", "--room-per-speaker"]);
    let err = String::from_utf8_lossy(&cmd.output().unwrap().stderr).into_owned();
    assert!(err.contains("one per speaker"), "{err}");
    // Without rooms there is no room to share.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emovox"));
    cmd.args(["evaluate", "--data"])
        .arg(&rav)
        .arg("--room-per-speaker");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--in-rooms"));
}
