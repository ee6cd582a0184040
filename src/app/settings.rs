//! What the app remembers between runs: the input (by cpal's stable id, its name as a
//! fallback), the sessions folder, the model, the window's size and the folder the last
//! file was opened from, and the files opened last. A small JSON file in the platform's config folder
//! (`$XDG_CONFIG_HOME/emovox/settings.json`, else `~/.config/emovox/settings.json`),
//! written atomically whenever what it holds changes. Every field is optional and
//! `#[serde(default)]`, so a file from an older or newer version still reads; a file that
//! cannot be read or parsed is ignored with a message, never a crash. Plain data: no egui.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::capture::DeviceInfo;
use crate::model::classifier::ModelSource;

/// The settings file's name in the config folder.
pub const FILE: &str = "settings.json";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The chosen input: cpal's id (stable across runs and list orders) and its name
    /// (shown in notes, and matched when the id is not found). `None`: the system default.
    pub input: Option<SavedInput>,
    pub sessions: Option<PathBuf>,
    pub model: Option<SavedModel>,
    /// The window's inner size in points.
    pub window_size: Option<[f32; 2]>,
    /// The folder the last file was opened from (File → Open starts there).
    pub open_folder: Option<PathBuf>,
    /// The files opened last, the most recent first, at most [`MAX_RECENT`] (absent from
    /// older files: none).
    pub recent_files: Vec<PathBuf>,
}

/// Recent files remembered.
pub const MAX_RECENT: usize = 10;

/// The window's size when none is remembered, in points.
pub const DEFAULT_WINDOW: [f32; 2] = [1200.0, 780.0];
/// The smallest and largest remembered side, in points.
const WINDOW_SIDE: std::ops::RangeInclusive<f32> = 200.0..=16384.0;

/// The size to open the window at: the remembered one with each side clamped to
/// 200..=16384 points, or [`DEFAULT_WINDOW`] where a side is not a positive finite number.
/// A hand-edited `[1e9, 1e9]` would otherwise stop the window opening on every start.
pub fn window_size(saved: Option<[f32; 2]>) -> [f32; 2] {
    match saved {
        Some([w, h]) if [w, h].iter().all(|s| s.is_finite() && *s > 0.0) => [
            w.clamp(*WINDOW_SIDE.start(), *WINDOW_SIDE.end()),
            h.clamp(*WINDOW_SIDE.start(), *WINDOW_SIDE.end()),
        ],
        _ => DEFAULT_WINDOW,
    }
}

/// Puts `path` first among the recent files, once, keeping at most [`MAX_RECENT`].
pub fn remember_recent(recent: &mut Vec<PathBuf>, path: PathBuf) {
    recent.retain(|p| *p != path);
    recent.insert(0, path);
    recent.truncate(MAX_RECENT);
}

/// The folders of the recent files, the most recent first, each once.
pub fn recent_folders(recent: &[PathBuf]) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = Vec::new();
    for folder in recent.iter().filter_map(|p| p.parent()) {
        if !folders.iter().any(|f| f == folder) {
            folders.push(folder.to_path_buf());
        }
    }
    folders
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedInput {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedModel {
    BuiltIn,
    Folder(PathBuf),
}

impl From<&ModelSource> for SavedModel {
    fn from(source: &ModelSource) -> Self {
        match source {
            ModelSource::Shipped => SavedModel::BuiltIn,
            ModelSource::Folder(dir) => SavedModel::Folder(dir.clone()),
        }
    }
}

impl From<&SavedModel> for ModelSource {
    fn from(saved: &SavedModel) -> Self {
        match saved {
            SavedModel::BuiltIn => ModelSource::Shipped,
            SavedModel::Folder(dir) => ModelSource::Folder(dir.clone()),
        }
    }
}

/// `$XDG_CONFIG_HOME/emovox/settings.json`, else `~/.config/emovox/settings.json`.
pub fn default_path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(std::env::temp_dir)
        .join("emovox")
        .join(FILE)
}

impl Settings {
    /// Reads the settings. No file yet is the defaults; a file that cannot be read or is
    /// not valid is the defaults too, with the sentence that says so. A file that does not
    /// parse is moved aside to `settings.json.bad` first, since the next change rewrites
    /// the settings file and the user may want what was in it.
    pub fn load(path: &Path) -> (Settings, Option<String>) {
        match Self::read(path) {
            Ok(settings) => (settings, None),
            Err(ReadError::Io(e)) => (Settings::default(), Some(ignored(path, &e, None))),
            Err(ReadError::Parse(e)) => {
                let bad = bad_path(path);
                let kept = std::fs::rename(path, &bad).map(|()| bad);
                (Settings::default(), Some(ignored(path, &e, Some(kept))))
            }
        }
    }

    /// Reads the settings without side effects: no file yet is the defaults.
    pub fn read(path: &Path) -> Result<Settings, ReadError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(ReadError::Io(e.to_string())),
        };
        let mut settings: Settings =
            serde_json::from_slice(&bytes).map_err(|e| ReadError::Parse(e.to_string()))?;
        // A hand-edited list can be of any length.
        settings.recent_files.truncate(MAX_RECENT);
        Ok(settings)
    }

    /// Writes the settings atomically, creating the folder.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes())
    }
}

/// Why the settings file was not read: it could not be read, or it did not parse.
#[derive(Debug)]
pub enum ReadError {
    Io(String),
    Parse(String),
}

/// Where a settings file that does not parse is kept: `settings.json.bad` beside it.
pub fn bad_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bad");
    path.with_file_name(name)
}

/// The message for a settings file not used; `kept` is where a bad one was moved.
fn ignored(path: &Path, reason: &str, kept: Option<std::io::Result<PathBuf>>) -> String {
    let kept = match kept {
        None => String::new(),
        Some(Ok(bad)) => format!(" It was kept as {}.", bad.display()),
        Some(Err(e)) => format!(" It could not be kept aside ({e})."),
    };
    format!(
        "Ignored the settings file {} ({reason}); starting with the defaults, and it will be \
         rewritten when a setting changes.{kept}",
        path.display()
    )
}

/// Finds the remembered input among `devices`: by id, else (an id can change when a
/// driver does) by exact name. `Err` is the note to show when it is gone.
pub fn find_input(saved: &SavedInput, devices: &[DeviceInfo]) -> Result<usize, String> {
    devices
        .iter()
        .position(|d| !saved.id.is_empty() && d.id == saved.id)
        .or_else(|| devices.iter().position(|d| d.name == saved.name))
        .ok_or_else(|| {
            format!(
                "The input used last time ({}) is not connected; using the system default.",
                saved.name
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(index: usize, id: &str, name: &str) -> DeviceInfo {
        DeviceInfo {
            index,
            name: name.into(),
            id: id.into(),
            default_rate: None,
            default_channels: None,
            is_default: false,
        }
    }

    #[test]
    fn settings_round_trip_and_unknown_or_missing_fields_are_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.json");
        assert_eq!(Settings::load(&path), (Settings::default(), None));
        let s = Settings {
            input: Some(SavedInput {
                id: "alsa:hw:1".into(),
                name: "USB mic".into(),
            }),
            sessions: Some("/tmp/s".into()),
            model: Some(SavedModel::Folder("/tmp/m".into())),
            window_size: Some([1000.0, 700.0]),
            open_folder: Some("/tmp/audio".into()),
            recent_files: vec!["/tmp/audio/b.wav".into(), "/tmp/a.wav".into()],
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), (s, None));
        std::fs::write(&path, r#"{"sessions": "/x", "from_a_newer_version": 3}"#).unwrap();
        let (read, problem) = Settings::load(&path);
        assert_eq!(problem, None);
        assert_eq!(read.sessions, Some(PathBuf::from("/x")));
        assert_eq!(read.input, None);
        // A file from before recent files were remembered.
        assert!(read.recent_files.is_empty());
    }

    #[test]
    fn recent_files_put_the_latest_first_once_and_keep_ten() {
        let mut recent = Vec::new();
        for i in 0..12 {
            remember_recent(&mut recent, PathBuf::from(format!("/a/{i}.wav")));
        }
        remember_recent(&mut recent, PathBuf::from("/a/5.wav"));
        let names: Vec<String> = recent.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "/a/5.wav",
                "/a/11.wav",
                "/a/10.wav",
                "/a/9.wav",
                "/a/8.wav",
                "/a/7.wav",
                "/a/6.wav",
                "/a/4.wav",
                "/a/3.wav",
                "/a/2.wav"
            ]
        );
        remember_recent(&mut recent, PathBuf::from("/b/x.wav"));
        assert_eq!(
            recent_folders(&recent),
            [PathBuf::from("/b"), PathBuf::from("/a")]
        );
    }

    #[test]
    fn a_corrupt_file_is_the_defaults_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{\"sessions\": ").unwrap();
        let (read, problem) = Settings::load(&path);
        assert_eq!(read, Settings::default());
        let problem = problem.unwrap();
        assert!(
            problem.starts_with("Ignored the settings file") && problem.contains("settings.json"),
            "{problem}"
        );
        // The bad file is kept aside, before anything rewrites the settings, and the
        // message names where.
        let bad = dir.path().join("settings.json.bad");
        assert_eq!(std::fs::read_to_string(&bad).unwrap(), "{\"sessions\": ");
        assert!(!path.exists());
        assert!(problem.contains(&bad.display().to_string()), "{problem}");
    }

    #[test]
    fn a_hand_edited_recent_list_is_cut_to_ten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let files: Vec<String> = (0..25).map(|i| format!("\"/a/{i}.wav\"")).collect();
        std::fs::write(
            &path,
            format!("{{\"recent_files\": [{}]}}", files.join(",")),
        )
        .unwrap();
        let (read, problem) = Settings::load(&path);
        assert_eq!(problem, None);
        assert_eq!(read.recent_files.len(), MAX_RECENT);
        assert_eq!(read.recent_files[0], PathBuf::from("/a/0.wav"));
    }

    #[test]
    fn the_window_size_is_clamped_or_the_default() {
        assert_eq!(window_size(None), DEFAULT_WINDOW);
        assert_eq!(window_size(Some([1000.0, 700.0])), [1000.0, 700.0]);
        assert_eq!(window_size(Some([1e9, 1e9])), [16384.0, 16384.0]);
        assert_eq!(window_size(Some([50.0, 20000.0])), [200.0, 16384.0]);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -5.0, 0.0] {
            assert_eq!(window_size(Some([bad, 700.0])), DEFAULT_WINDOW, "{bad}");
            assert_eq!(window_size(Some([1000.0, bad])), DEFAULT_WINDOW, "{bad}");
        }
    }

    #[test]
    fn the_input_is_found_by_id_then_by_name() {
        let saved = SavedInput {
            id: "alsa:hw:2".into(),
            name: "USB mic".into(),
        };
        let moved = [
            device(0, "alsa:hw:0", "Built-in"),
            device(1, "alsa:hw:2", "USB mic"),
        ];
        assert_eq!(find_input(&saved, &moved), Ok(1));
        let renumbered = [
            device(0, "alsa:hw:3", "USB mic"),
            device(1, "x", "Built-in"),
        ];
        assert_eq!(find_input(&saved, &renumbered), Ok(0));
        let gone = [device(0, "alsa:hw:0", "Built-in")];
        assert!(find_input(&saved, &gone)
            .unwrap_err()
            .contains("(USB mic) is not connected"));
    }
}
