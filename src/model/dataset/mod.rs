//! Labelled speech on disk, in the three layouts people publish it in:
//!
//! - **RAVDESS names** ([`ravdess`]): `Actor_NN/03-01-EE-II-SS-RR-AA.wav`, everything in
//!   the name;
//! - **`metadata.csv`** ([`metadata`]): the Hugging Face "audiofolder" convention,
//!   `file_name,label[,speaker]` with `file_name` relative to the folder;
//! - **a folder per label** ([`folders`]): `DIR/angry/*.wav`.
//!
//! [`scan`] tells them apart (a `metadata.csv` wins; else any file named like RAVDESS; else
//! label folders) and gives every clip its corpus (the name of the folder it was read
//! from) and speaker. Audio may be WAV, FLAC, MP3 or Ogg: whatever
//! [`crate::audio::decode_file`] reads.
//!
//! Files that do not fit are reported with the reason, never silently dropped: a user's
//! copy may hold songs, video files or stray recordings next to the speech. A label
//! emovox does not have is different: it is refused, naming the file and the line,
//! because training on a guess would be worse than not training.

pub mod folders;
pub mod metadata;
pub mod ravdess;
pub mod split;

use std::path::{Path, PathBuf};

use crate::labels::Emotion;

pub use ravdess::{parse_actor_list, parse_path};
pub use split::Split;

/// Emotional intensity as RAVDESS codes it (neutral has only normal; other corpora:
/// normal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intensity {
    Normal,
    Strong,
}

/// One speech clip and what is known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    pub path: PathBuf,
    pub emotion: Emotion,
    pub intensity: Intensity,
    /// RAVDESS: 1 = "Kids are talking by the door", 2 = "Dogs are sitting by the door";
    /// 0 elsewhere.
    pub statement: u8,
    /// RAVDESS: 1 or 2; 0 elsewhere.
    pub repetition: u8,
    /// RAVDESS: 1–24; odd actors are male, even female. 0: not a RAVDESS actor (another
    /// corpus, or a voice from a recorded session).
    pub actor: u8,
    /// The stretch of the file to use, in seconds (a labelled region of a session);
    /// `None` is the whole file.
    pub span: Option<(f64, f64)>,
    /// The name of the folder the clip was read from ("ravdess", "tess"), or "sessions".
    pub corpus: String,
    /// Who speaks, unique within the corpus: RAVDESS "Actor_05"; the `speaker` column of
    /// a metadata.csv; else the corpus name (one unknown voice).
    pub speaker: String,
}

impl Clip {
    /// A whole file of a corpus that is not RAVDESS (no intensity, statement or actor
    /// number): what the metadata.csv and folder-per-label layouts, and sessions, know.
    pub fn labelled(path: PathBuf, emotion: Emotion, corpus: &str, speaker: &str) -> Self {
        Self {
            path,
            emotion,
            intensity: Intensity::Normal,
            statement: 0,
            repetition: 0,
            actor: 0,
            span: None,
            corpus: corpus.to_owned(),
            speaker: speaker.to_owned(),
        }
    }

    pub fn is_female(&self) -> bool {
        self.actor.is_multiple_of(2)
    }
}

/// How a folder's clips are labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Ravdess,
    Metadata,
    Folders,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Ravdess => "RAVDESS names",
            Layout::Metadata => "metadata.csv",
            Layout::Folders => "a folder per label",
        })
    }
}

/// What a folder held: the clips that fit, and every other audio file with the reason.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub clips: Vec<Clip>,
    pub rejected: Vec<(PathBuf, String)>,
}

impl Scan {
    /// RAVDESS actors present, ascending (clips of other corpora have none).
    pub fn actors(&self) -> Vec<u8> {
        let mut a: Vec<u8> = self
            .clips
            .iter()
            .map(|c| c.actor)
            .filter(|&a| a > 0)
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    }

    /// Corpora present, in the order they were read.
    pub fn corpora(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.clips {
            if !out.contains(&c.corpus) {
                out.push(c.corpus.clone());
            }
        }
        out
    }

    /// Speakers of one corpus, sorted.
    pub fn speakers(&self, corpus: &str) -> Vec<String> {
        let mut s: Vec<String> = self
            .clips
            .iter()
            .filter(|c| c.corpus == corpus)
            .map(|c| c.speaker.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Why a folder could not be read as a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{}: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    /// A line of a metadata.csv that cannot be used (1-based line number).
    #[error("{}, line {line}: {what}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        what: String,
    },
    /// A label folder whose name is not an emotion emovox knows.
    #[error("{}: '{name}' is not an emotion emovox knows ({})", path.display(), known_labels())]
    Folder { path: PathBuf, name: String },
    #[error("{}: {what}", path.display())]
    Other { path: PathBuf, what: String },
}

/// The labels a dataset may use, for messages.
pub fn known_labels() -> String {
    format!(
        "expected one of {} or a synonym such as {}",
        Emotion::names().join(", "),
        crate::labels::SYNONYMS
            .iter()
            .map(|(w, _)| *w)
            .filter(|w| w.len() > 3)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub use crate::audio::files::{is_audio, AUDIO_EXTENSIONS};

/// The name a folder is known by as a corpus: its last component ("tess" for
/// `data/tess/`), resolved for `.` and `..`.
pub fn corpus_name(dir: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(dir)
        .or_else(|| dir.canonicalize().ok().as_deref().and_then(named))
        .unwrap_or_else(|| dir.display().to_string())
}

/// The terms of a corpus emovox knows by its folder name, for the model card: weights
/// carry the licences of the data they were trained on. `None` for any other corpus.
pub fn licence(corpus: &str) -> Option<&'static str> {
    match corpus.to_ascii_lowercase().as_str() {
        "ravdess" => Some("RAVDESS (Livingstone & Russo 2018): CC BY-NC-SA 4.0"),
        "tess" => {
            Some("TESS (Pichora-Fuller & Dupuis 2020, University of Toronto): CC BY-NC-ND 4.0")
        }
        "emovo" => Some("EMOVO (Costantini et al., LREC 2014): research use"),
        _ => None,
    }
}

/// The licence line of every corpus among `corpora`, once each, in order: a known one's
/// terms, the user's own for recorded sessions, otherwise a pointer to the corpus's own.
pub fn licences<'a>(corpora: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for corpus in corpora {
        let line = match licence(corpus) {
            Some(terms) => terms.to_owned(),
            None if corpus == "sessions" => "sessions: the user's own recordings".to_owned(),
            None => format!("{corpus}: not known to emovox; see the corpus's own terms"),
        };
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// Which layout `dir` is in: a `metadata.csv` wins, then any audio file named like
/// RAVDESS, then a folder per label.
pub fn detect(dir: &Path) -> Result<Layout, DatasetError> {
    if dir.join(metadata::FILE).is_file() {
        return Ok(Layout::Metadata);
    }
    let found = audio_files(dir)?;
    if found.files.iter().any(|f| ravdess::looks_like_ravdess(f)) {
        Ok(Layout::Ravdess)
    } else {
        Ok(Layout::Folders)
    }
}

/// Reads one folder in whichever layout it is in; its clips' corpus is the folder's name.
pub fn scan(dir: &Path) -> Result<Scan, DatasetError> {
    let corpus = corpus_name(dir);
    match detect(dir)? {
        Layout::Metadata => metadata::scan(dir, &corpus),
        Layout::Ravdess => ravdess::scan(dir, &corpus),
        Layout::Folders => folders::scan(dir, &corpus),
    }
}

/// Reads several folders as one dataset, in the order given. Corpus names must differ,
/// since scores and validation splits are kept per corpus.
pub fn scan_all(dirs: &[PathBuf]) -> Result<Scan, DatasetError> {
    let mut out = Scan::default();
    let mut names: Vec<(String, &Path)> = Vec::new();
    for dir in dirs {
        let name = corpus_name(dir);
        if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            return Err(DatasetError::Other {
                path: dir.clone(),
                what: format!(
                    "corpus '{name}' is already read from {}; give folders with different names",
                    first.display()
                ),
            });
        }
        names.push((name, dir.as_path()));
        let scanned = scan(dir)?;
        out.clips.extend(scanned.clips);
        out.rejected.extend(scanned.rejected);
    }
    Ok(out)
}

/// The audio files under a corpus folder, and what was left out while walking it.
#[derive(Debug, Default)]
pub struct Found {
    /// Sorted by path.
    pub files: Vec<PathBuf>,
    /// Links back to a folder above them, with why they are not followed again.
    pub rejected: Vec<(PathBuf, String)>,
}

/// Every audio file under `dir`, recursively, sorted, links followed as
/// [`crate::audio::files`] says. A part of the folder that cannot be read is an error
/// naming it: a corpus read in part would change training and scores without a word.
/// A link back to a folder above it is left out with the reason (its files are found
/// through that folder).
pub fn audio_files(dir: &Path) -> Result<Found, DatasetError> {
    let walked = crate::audio::files::audio_files(dir).map_err(|reason| DatasetError::Io {
        path: dir.to_owned(),
        reason,
    })?;
    if let Some((path, reason)) = walked.unreadable.into_iter().next() {
        return Err(DatasetError::Io { path, reason });
    }
    let rejected = walked
        .loops
        .into_iter()
        .map(|(link, target)| {
            let why = format!(
                "a link back to {}, which is read already; not followed again",
                target.display()
            );
            (link, why)
        })
        .collect();
    Ok(Found {
        files: walked.files,
        rejected,
    })
}

/// Parses a validation speaker list: `CORPUS:SPEAKER` items separated by commas
/// (`tess:OAF,emovo:f1`). RAVDESS actors may be written as numbers (`ravdess:5`,
/// `ravdess:05`), which mean `Actor_05`.
pub fn parse_speaker_list(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((corpus, speaker)) = item.split_once(':') else {
            return Err(format!(
                "'{item}' is not CORPUS:SPEAKER (for example tess:OAF or ravdess:Actor_05)"
            ));
        };
        let (corpus, speaker) = (corpus.trim(), speaker.trim());
        if corpus.is_empty() || speaker.is_empty() {
            return Err(format!("'{item}' is not CORPUS:SPEAKER"));
        }
        let speaker = match speaker.parse::<u8>() {
            Ok(n) => ravdess::speaker_name(n),
            Err(_) => speaker.to_owned(),
        };
        let pair = (corpus.to_owned(), speaker);
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    if out.is_empty() {
        return Err("the speaker list is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences_name_known_corpora_once_and_point_elsewhere_for_others() {
        let lines = licences(["ravdess", "TESS", "ravdess", "sessions", "mine"]);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].contains("CC BY-NC-SA 4.0"));
        assert!(lines[1].contains("CC BY-NC-ND 4.0"));
        assert!(lines[2].starts_with("sessions: "));
        assert!(lines[3].starts_with("mine: not known"));
    }

    #[test]
    fn speaker_lists() {
        assert_eq!(
            parse_speaker_list("tess:OAF, emovo:f1,ravdess:5,tess:OAF").unwrap(),
            vec![
                ("tess".to_owned(), "OAF".to_owned()),
                ("emovo".to_owned(), "f1".to_owned()),
                ("ravdess".to_owned(), "Actor_05".to_owned()),
            ]
        );
        for bad in ["", "OAF", "tess:", ":OAF", ","] {
            assert!(parse_speaker_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn corpus_names_are_the_last_folder() {
        assert_eq!(corpus_name(Path::new("data/tess")), "tess");
        assert_eq!(corpus_name(Path::new("data/tess/")), "tess");
        assert!(!corpus_name(Path::new(".")).is_empty());
    }
}
