//! RAVDESS's published layout: `Actor_NN/03-01-EE-II-SS-RR-AA.wav` (any sample rate,
//! and any audio format the decoder reads), everything known about a clip in its name.

use std::path::Path;

use super::{audio_files, Clip, DatasetError, Intensity, Scan};
use crate::labels::Emotion;

/// Walks `dir` recursively, in sorted order, and parses every audio file's name; files
/// that are not RAVDESS speech are rejected with the reason.
pub fn scan(dir: &Path, corpus: &str) -> Result<Scan, DatasetError> {
    let found = audio_files(dir)?;
    let mut out = Scan {
        rejected: found.rejected,
        ..Scan::default()
    };
    for path in found.files {
        match parse_path(&path) {
            Ok(mut clip) => {
                clip.corpus = corpus.to_owned();
                out.clips.push(clip);
            }
            Err(why) => out.rejected.push((path, why)),
        }
    }
    Ok(out)
}

/// Whether a file is named like RAVDESS (seven two-digit fields), speech or not: one
/// such file makes a folder a RAVDESS folder.
pub fn looks_like_ravdess(path: &Path) -> bool {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let fields: Vec<&str> = stem.split('-').collect();
    fields.len() == 7
        && fields
            .iter()
            .all(|f| f.len() == 2 && f.bytes().all(|b| b.is_ascii_digit()))
}

/// How a RAVDESS actor is named as a speaker: `Actor_05`, as its folder.
pub fn speaker_name(actor: u8) -> String {
    format!("Actor_{actor:02}")
}

/// Parses a clip's path: its name, and the `Actor_NN` folder when there is one, which must
/// agree with the name. The clip's corpus is left empty ([`scan`] names it); its speaker
/// is the actor, `Actor_NN`.
pub fn parse_path(path: &Path) -> Result<Clip, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the file name is not UTF-8")?;
    let clip = parse_name(name, path)?;
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    if let Some(actor) = folder.and_then(|f| f.strip_prefix("Actor_")) {
        if actor.parse::<u8>().ok() != Some(clip.actor) {
            return Err(format!(
                "the name says actor {:02} but the folder is Actor_{actor}",
                clip.actor
            ));
        }
    }
    Ok(clip)
}

/// Parses `03-01-EE-II-SS-RR-AA.wav` (or `.flac`, `.mp3`, `.ogg`).
fn parse_name(name: &str, path: &Path) -> Result<Clip, String> {
    if !super::is_audio(path) {
        return Err("not an audio file (.wav, .flac, .mp3, .ogg)".into());
    }
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let fields: Vec<&str> = stem.split('-').collect();
    let codes: Vec<u8> = fields
        .iter()
        .map(|f| {
            if f.len() == 2 {
                f.parse::<u8>().ok()
            } else {
                None
            }
        })
        .collect::<Option<_>>()
        .filter(|c: &Vec<u8>| c.len() == 7)
        .ok_or("the name is not seven two-digit fields (03-01-EE-II-SS-RR-AA)")?;
    let [modality, channel, emotion, intensity, statement, repetition, actor] = codes[..] else {
        return Err("the name is not seven two-digit fields".into());
    };
    match modality {
        3 => {}
        1 | 2 => {
            return Err(format!(
                "modality {modality:02} is video; emovox reads audio-only files (03)"
            ))
        }
        m => return Err(format!("unknown modality {m:02}")),
    }
    match channel {
        1 => {}
        2 => return Err("vocal channel 02 is song; emovox reads speech (01)".into()),
        c => return Err(format!("unknown vocal channel {c:02}")),
    }
    let emotion =
        Emotion::from_ravdess_code(emotion).ok_or(format!("unknown emotion code {emotion:02}"))?;
    let intensity = match intensity {
        1 => Intensity::Normal,
        2 if emotion == Emotion::Neutral => return Err("neutral has no strong intensity".into()),
        2 => Intensity::Strong,
        i => return Err(format!("unknown intensity {i:02}")),
    };
    if !(1..=2).contains(&statement) {
        return Err(format!("unknown statement {statement:02}"));
    }
    if !(1..=2).contains(&repetition) {
        return Err(format!("unknown repetition {repetition:02}"));
    }
    if !(1..=24).contains(&actor) {
        return Err(format!("actor {actor:02} is outside 01-24"));
    }
    Ok(Clip {
        span: None,
        path: path.to_owned(),
        emotion,
        intensity,
        statement,
        repetition,
        actor,
        corpus: String::new(),
        speaker: speaker_name(actor),
    })
}

/// Parses an actor list such as `17-20`, `1,5,9` or `01-04,21`.
pub fn parse_actor_list(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("'{part}' is not an actor number (1-24) or a range such as 17-20");
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u8>().map_err(|_| bad())?,
                b.trim().parse::<u8>().map_err(|_| bad())?,
            ),
            None => {
                let a = part.parse::<u8>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if lo == 0 || hi > 24 || lo > hi {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err("the actor list is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Result<Clip, String> {
        parse_path(Path::new(p))
    }

    #[test]
    fn parses_the_published_layout() {
        let c = parse("data/Actor_20/03-01-08-02-02-01-20.wav").unwrap();
        assert_eq!(c.emotion, Emotion::Surprised);
        assert_eq!(c.intensity, Intensity::Strong);
        assert_eq!((c.statement, c.repetition, c.actor), (2, 1, 20));
        assert!(c.is_female());
        assert!(!parse("03-01-01-01-01-01-01.wav").unwrap().is_female());
        assert_eq!(c.speaker, "Actor_20");
        let flac = parse("Actor_05/03-01-04-01-01-02-05.flac").unwrap();
        assert_eq!((flac.emotion, flac.actor), (Emotion::Sad, 5));
    }

    #[test]
    fn ravdess_names_are_recognised_speech_or_not() {
        assert!(looks_like_ravdess(Path::new("x/03-02-03-01-01-01-01.wav")));
        assert!(looks_like_ravdess(Path::new("03-01-03-01-01-01-01.flac")));
        assert!(!looks_like_ravdess(Path::new("angry/03-01-03-01.wav")));
        assert!(!looks_like_ravdess(Path::new(
            "OAF_angry/OAF_back_angry.wav"
        )));
    }

    #[test]
    fn malformed_names_say_why() {
        let cases = [
            ("Actor_01/readme.wav", "seven two-digit fields"),
            ("Actor_01/03-01-01-01-01-01.wav", "seven two-digit fields"),
            ("Actor_01/03-01-1-01-01-01-01.wav", "seven two-digit fields"),
            (
                "Actor_01/03-01-xx-01-01-01-01.wav",
                "seven two-digit fields",
            ),
            ("Actor_01/03-02-03-01-01-01-01.wav", "song"),
            ("Actor_01/01-01-03-01-01-01-01.wav", "video"),
            ("Actor_01/03-01-09-01-01-01-01.wav", "emotion code 09"),
            ("Actor_01/03-01-01-02-01-01-01.wav", "neutral has no strong"),
            ("Actor_01/03-01-03-03-01-01-01.wav", "intensity 03"),
            ("Actor_01/03-01-03-01-03-01-01.wav", "statement 03"),
            ("Actor_01/03-01-03-01-01-00-01.wav", "repetition 00"),
            ("Actor_25/03-01-03-01-01-01-25.wav", "outside 01-24"),
            ("Actor_02/03-01-03-01-01-01-01.wav", "folder is Actor_02"),
            ("Actor_01/03-01-03-01-01-01-01.txt", "not an audio file"),
        ];
        for (path, why) in cases {
            let err = parse(path).unwrap_err();
            assert!(err.contains(why), "{path}: expected '{why}' in '{err}'");
        }
    }

    #[test]
    fn actor_lists() {
        assert_eq!(parse_actor_list("17-20").unwrap(), vec![17, 18, 19, 20]);
        assert_eq!(parse_actor_list("1, 5,01-02").unwrap(), vec![1, 2, 5]);
        for bad in ["", "0", "25", "4-2", "a", "1-", "-3"] {
            assert!(parse_actor_list(bad).is_err(), "{bad}");
        }
    }
}
