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
    /// not valid is the defaults too, with the sentence that says so.
    pub fn load(path: &Path) -> (Settings, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => return (Settings::default(), Some(ignored(path, &e.to_string()))),
        };
        match serde_json::from_str(&text) {
            Ok(settings) => (settings, None),
            Err(e) => (Settings::default(), Some(ignored(path, &e.to_string()))),
        }
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

fn ignored(path: &Path, reason: &str) -> String {
    format!(
        "Ignored the settings file {} ({reason}); starting with the defaults, and it will be \
         rewritten when a setting changes.",
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
