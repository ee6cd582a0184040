//! A recording session on disk: a folder holding `audio.wav` (16-bit, written as it is
//! recorded), `labels.txt` (Audacity label track) and `session.json` (device, rate,
//! times, model, the predictions timeline, the labels). Metadata and labels are written
//! atomically (temporary file + rename), so a crash leaves the old or the new version.

pub mod labels;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::labels::Emotion;
use crate::newest_writer::NewestWriter;
pub use labels::Region;

pub const AUDIO_FILE: &str = "audio.wav";
pub const LABELS_FILE: &str = "labels.txt";
pub const META_FILE: &str = "session.json";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{}: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: not a session file: {reason}", path.display())]
    Json {
        path: PathBuf,
        reason: serde_json::Error,
    },
    #[error("{}: {reason}", path.display())]
    Labels {
        path: PathBuf,
        reason: labels::LabelError,
    },
}

/// One prediction as the session keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub t: f64,
    pub speech: bool,
    pub label: Option<Emotion>,
    pub probabilities: [f32; Emotion::COUNT],
}

/// A session's predictions as CSV, a row per prediction: `t,speech,label,<eight
/// probabilities by name>`, `t` in seconds into the recording and the label empty without
/// speech (the columns of `emovox predict --timeline --csv` where they mean the same).
pub fn predictions_csv(predictions: &[PredictionRecord]) -> String {
    let mut out = format!("t,speech,label,{}\n", Emotion::names().join(",")).into_bytes();
    for p in predictions {
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!(
                "{:.3},{},{}",
                p.t,
                p.speech,
                p.label.map_or("", Emotion::name)
            ),
        );
        let _ = crate::predict::write_probabilities(&mut out, &p.probabilities);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `session.json`. Unknown fields are ignored and missing ones take defaults, so files
/// from other versions still open.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    pub device: String,
    pub rate: u32,
    pub started: String,
    pub ended: Option<String>,
    pub seconds: f64,
    pub model: String,
    pub labels: Vec<Region>,
    pub predictions: Vec<PredictionRecord>,
    /// The last label runs on with the recording (it was marked "from now").
    #[serde(skip)]
    pub open_label: bool,
}

/// Where sessions go unless the user picks a folder: `$EMOVOX_SESSIONS`, else
/// `$XDG_DATA_HOME/emovox/sessions`, else `~/.local/share/emovox/sessions`.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMOVOX_SESSIONS") {
        return PathBuf::from(dir);
    }
    data_dir().join("sessions")
}

/// The app's data folder: `$XDG_DATA_HOME/emovox`, else `~/.local/share/emovox`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("emovox")
}

/// A new, empty session folder under `root`, named by the time (UTC).
pub fn create_dir(root: &Path) -> Result<PathBuf, SessionError> {
    let stamp = crate::clock::now_stamp();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |reason| SessionError::Io { path, reason }
    };
    std::fs::create_dir_all(root).map_err(io(root))?;
    // Two sessions in the same second get -2, -3…
    for n in 1..1000 {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&dir)(e)),
        }
    }
    Err(io(root)(std::io::Error::other(
        "too many sessions started this second",
    )))
}

impl Session {
    /// Writes `labels.txt` and `session.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), SessionError> {
        let labels_path = dir.join(LABELS_FILE);
        crate::fsutil::write_atomic(&labels_path, labels::to_audacity(&self.labels).as_bytes())
            .map_err(|reason| SessionError::Io {
                path: labels_path,
                reason,
            })?;
        let meta_path = dir.join(META_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|reason| SessionError::Json {
            path: meta_path.clone(),
            reason,
        })?;
        crate::fsutil::write_atomic(&meta_path, &json).map_err(|reason| SessionError::Io {
            path: meta_path,
            reason,
        })
    }

    /// Reads a session folder. `labels.txt` is the labels' source of truth (it may have
    /// been edited in Audacity); `session.json` holds the rest.
    pub fn load(dir: &Path) -> Result<Self, SessionError> {
        let meta_path = dir.join(META_FILE);
        let text = std::fs::read(&meta_path).map_err(|reason| SessionError::Io {
            path: meta_path.clone(),
            reason,
        })?;
        let mut session: Session =
            serde_json::from_slice(&text).map_err(|reason| SessionError::Json {
                path: meta_path,
                reason,
            })?;
        let labels_path = dir.join(LABELS_FILE);
        match std::fs::read_to_string(&labels_path) {
            Ok(text) => {
                session.labels =
                    labels::parse_audacity(&text).map_err(|reason| SessionError::Labels {
                        path: labels_path,
                        reason,
                    })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(reason) => {
                return Err(SessionError::Io {
                    path: labels_path,
                    reason,
                })
            }
        }
        Ok(session)
    }

    /// Marks "from `t` on" as `label` (keys 1–8 while recording): the region open at `t`
    /// ends there and a new one starts, running on with the recording.
    pub fn mark_from(&mut self, t: f64, label: Emotion) {
        labels::insert(
            &mut self.labels,
            Region {
                start_s: t,
                end_s: f64::INFINITY,
                label,
            },
        );
        if let Some(last) = self.labels.last_mut() {
            last.end_s = self.seconds.max(t);
        }
        self.open_label = true;
    }

    /// The recording has reached `seconds`; an open label follows it.
    pub fn extend_to(&mut self, seconds: f64) {
        self.seconds = seconds;
        if self.open_label {
            if let Some(last) = self.labels.last_mut() {
                last.end_s = seconds.max(last.start_s);
            }
        }
    }

    /// The recording stopped: the open label ends where it is.
    pub fn close_label(&mut self) {
        self.open_label = false;
    }
}

/// The sessions under `root`, newest first: (folder, metadata). Entries that are not
/// session folders (files, folders without `session.json` or `audio.wav`) are skipped.
/// Nothing that could hold a session is hidden: a session whose metadata cannot be read,
/// an entry that cannot be looked into (a folder without permission, a broken link) and
/// `root` itself when it exists but cannot be read are listed with the error. A `root`
/// that does not exist yet holds no sessions.
pub fn list(root: &Path) -> Vec<(PathBuf, Result<Session, SessionError>)> {
    let io = |path: &Path, reason| {
        (
            path.to_owned(),
            Err(SessionError::Io {
                path: path.to_owned(),
                reason,
            }),
        )
    };
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => return vec![io(root, e)],
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                out.push(io(root, e));
                continue;
            }
        };
        match holds_session(&path) {
            Ok(true) => {
                let session = Session::load(&path);
                out.push((path, session));
            }
            Ok(false) => {}
            Err(e) => out.push(io(&path, e)),
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
}

/// Whether `path` is a session folder (links followed): a folder holding `session.json`
/// or `audio.wav`. An error when that cannot be told.
fn holds_session(path: &Path) -> std::io::Result<bool> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(false);
    }
    Ok(path.join(META_FILE).try_exists()? || path.join(AUDIO_FILE).try_exists()?)
}

/// Saves sessions on a thread of its own, so the GUI thread never waits for the disk.
/// Only the newest pending save of each session folder is written.
pub struct Autosaver(NewestWriter<Session>);

impl Default for Autosaver {
    fn default() -> Self {
        Self::new()
    }
}

impl Autosaver {
    pub fn new() -> Self {
        Self(NewestWriter::new("emovox-autosave", |session, dir| {
            session.save(dir).map_err(|e| e.to_string())
        }))
    }

    pub fn save(&self, dir: &Path, session: &Session) {
        self.0.write(dir, session.clone());
    }

    /// Waits (at most 10 s) until the saves asked for so far are done.
    pub fn wait(&self) {
        self.0.wait();
    }

    /// Errors from saves so far, in words.
    pub fn errors(&self) -> Vec<String> {
        self.0
            .outcomes()
            .into_iter()
            .filter_map(|w| w.result.err())
            .map(|e| format!("the session was not saved: {e}"))
            .collect()
    }
}
