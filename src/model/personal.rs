//! Personal models: the models the app tunes to the user's voice, one folder each under
//! the app's data folder (`$XDG_DATA_HOME/emovox/models/<name>/`, beside the default
//! sessions folder), each holding the weights, the card and the exemplars
//! ([`super::tune`]). The model picker lists them from here.

use std::path::{Path, PathBuf};

use super::card::ModelCard;
use super::classifier::BUILT_IN;

/// Where personal models are kept unless told otherwise: `$EMOVOX_MODELS`, else
/// `$XDG_DATA_HOME/emovox/models`, else `~/.local/share/emovox/models`.
pub fn default_root() -> PathBuf {
    match std::env::var_os("EMOVOX_MODELS").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => crate::session::data_dir().join("models"),
    }
}

/// One folder of the models folder: its name and its card, or why the card cannot be
/// read.
#[derive(Clone, Debug)]
pub struct PersonalModel {
    pub dir: PathBuf,
    /// The folder's name, what the picker calls it.
    pub name: String,
    pub card: Result<ModelCard, String>,
}

/// The folders under `root`, newest name first (names from the date sort by time),
/// with their cards; a folder whose card cannot be read is listed with the reason, and
/// so is a models folder that cannot be read. Folders whose names start with a dot are
/// tunings in progress and are left out (and those of tunings that never finished are
/// removed: [`super::tune::remove_stale_work`]); a missing `root` holds none.
pub fn list(root: &Path) -> Vec<PersonalModel> {
    super::tune::remove_stale_work(root);
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            return vec![PersonalModel {
                dir: root.to_owned(),
                name: root.display().to_string(),
                card: Err(format!("cannot read the models folder: {e}")),
            }]
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.push(PersonalModel {
                    dir: root.to_owned(),
                    name: root.display().to_string(),
                    card: Err(format!("cannot read the models folder: {e}")),
                });
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if name.starts_with('.') || !dir.is_dir() {
            continue;
        }
        let card = ModelCard::load(&dir).map_err(|e| e.to_string());
        out.push(PersonalModel { dir, name, card });
    }
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}

/// A name for a new personal model: the date and time (UTC), e.g. `2026-11-29_07-42-10`.
pub fn new_name() -> String {
    crate::clock::now_stamp()
}

/// Whether `name` can name a personal model's folder: not empty, one folder (no `/`),
/// not hidden, not the built-in model's name. The reason, in words, when not.
pub fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Type a name for the model.".into());
    }
    if name.contains('/') || name.contains('\\') {
        return Err(format!("\"{name}\": a name cannot hold / or \\."));
    }
    if name.starts_with('.') {
        return Err(format!("\"{name}\": a name cannot start with a dot."));
    }
    if name == BUILT_IN {
        return Err(format!("\"{name}\" is the built-in model's name."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_one_plain_folder_are_refused() {
        assert!(check_name("my voice").is_ok());
        assert!(check_name(&new_name()).is_ok());
        for bad in ["", "  ", "a/b", "..", ".hidden", "built-in"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn unreadable_cards_are_listed_with_the_reason_and_work_in_progress_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("broken")).unwrap();
        std::fs::write(tmp.path().join("broken/emovox.json"), "not json").unwrap();
        std::fs::create_dir(tmp.path().join(".x.tuning-1-0")).unwrap();
        std::fs::write(tmp.path().join("a-file"), "").unwrap();
        let listed = list(tmp.path());
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].name, "broken");
        assert!(listed[0]
            .card
            .as_ref()
            .is_err_and(|e| e.contains("emovox.json")));
        assert!(list(&tmp.path().join("missing")).is_empty());
    }
}
