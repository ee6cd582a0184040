//! A folder per label: `DIR/angry/*.wav`, `DIR/sad/take2/x.flac`. The top folder under
//! `DIR` is the label (a synonym such as `anger` works too); one speaker, the corpus.

use std::path::Path;

use super::{audio_files, Clip, DatasetError, Scan};
use crate::labels::Emotion;

/// Reads every audio file under `dir`, labelled by the folder directly under `dir` that
/// holds it. A folder with audio whose name is not an emotion is an error naming it;
/// audio lying in `dir` itself is rejected.
pub fn scan(dir: &Path, corpus: &str) -> Result<Scan, DatasetError> {
    let found = audio_files(dir)?;
    let mut out = Scan {
        rejected: found.rejected,
        ..Scan::default()
    };
    for path in found.files {
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        let mut parts = relative.components();
        let (Some(folder), Some(_)) = (parts.next(), parts.next()) else {
            out.rejected.push((
                path,
                "not inside a label folder (such as angry/ or sad/)".into(),
            ));
            continue;
        };
        let name = folder.as_os_str().to_string_lossy().into_owned();
        let Some(emotion) = Emotion::from_label(&name) else {
            // Most often a folder of corpora given where one corpus was meant.
            if dir.join(folder).join(super::metadata::FILE).is_file() {
                return Err(DatasetError::Other {
                    path: dir.join(folder),
                    what: format!(
                        "a corpus with its own {}, not a label folder: give it to --data by itself",
                        super::metadata::FILE
                    ),
                });
            }
            return Err(DatasetError::Folder {
                path: dir.join(folder),
                name,
            });
        };
        out.clips
            .push(Clip::labelled(path, emotion, corpus, corpus));
    }
    Ok(out)
}
