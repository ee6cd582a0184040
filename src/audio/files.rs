//! Finding audio files in folders: one walk, one rule for links, for `predict` and the
//! dataset reader alike.
//!
//! Links are followed, to files and to folders: a corpus or a recording linked into a
//! folder is read as if it were copied there. A link back to a folder above it (which
//! would never end) is not followed again and is reported as such; its files are found
//! through the folder itself. What cannot be read below the folder (a folder without
//! permission, a link that leads nowhere) is reported with the reason, never passed over.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// File extensions read as audio from folders (what the decoder handles); files named
/// directly are always tried.
pub const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "wave", "flac", "mp3", "ogg", "oga"];

pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct AudioFiles {
    /// Audio files under the folder, sorted by path.
    pub files: Vec<PathBuf>,
    /// What could not be read below the folder, with why; any audio in it is missing from
    /// `files`.
    pub unreadable: Vec<(PathBuf, std::io::Error)>,
    /// Links back to a folder above them, not followed again (that folder's files are in
    /// `files` already), each with the folder it leads to.
    pub loops: Vec<(PathBuf, PathBuf)>,
}

/// Every audio file under `dir`, recursively, links followed (see the module's
/// comment). Only `dir` itself unreadable (or missing) is an error.
pub fn audio_files(dir: &Path) -> std::io::Result<AudioFiles> {
    let mut out = AudioFiles::default();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        match entry {
            Ok(entry) => {
                if entry.file_type().is_file() && is_audio(entry.path()) {
                    out.files.push(entry.into_path());
                }
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_owned();
                if let Some(ancestor) = e.loop_ancestor() {
                    out.loops.push((path, ancestor.to_owned()));
                    continue;
                }
                let depth = e.depth();
                let reason = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("cannot be walked"));
                if depth == 0 {
                    return Err(reason);
                }
                out.unreadable.push((path, reason));
            }
        }
    }
    // The walk visits each folder's entries by name, which is already path order; sorting
    // again makes that a promise rather than a property of the walk.
    out.files.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_told_by_its_extension() {
        for yes in [
            "a.wav", "a.WAV", "b.flac", "c.mp3", "d.ogg", "e.oga", "f.Wave",
        ] {
            assert!(is_audio(Path::new(yes)), "{yes}");
        }
        for no in ["metadata.csv", "README", "x.txt", "wav"] {
            assert!(!is_audio(Path::new(no)), "{no}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_loops_and_unreadable_parts_are_reported() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let (dir, elsewhere) = (tmp.path().join("data"), tmp.path().join("elsewhere"));
        for d in [dir.join("sub"), elsewhere.join("corpus")] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [
            dir.join("a.wav"),
            dir.join("notes.txt"),
            dir.join("sub/b.FLAC"),
            elsewhere.join("x.wav"),
            elsewhere.join("corpus/y.mp3"),
        ] {
            std::fs::write(f, b"").unwrap();
        }
        symlink(elsewhere.join("x.wav"), dir.join("c.wav")).unwrap();
        symlink(elsewhere.join("corpus"), dir.join("linked")).unwrap();
        symlink(&dir, dir.join("sub/loop")).unwrap();
        symlink(elsewhere.join("gone.wav"), dir.join("gone.wav")).unwrap();
        let locked = dir.join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::write(locked.join("z.wav"), b"").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // Root reads any folder: then the locked one is simply walked.
        let permissions_hold = std::fs::read_dir(&locked).is_err();
        let found = audio_files(&dir);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = found.unwrap();

        let mut want = vec![
            dir.join("a.wav"),
            dir.join("c.wav"),
            dir.join("linked/y.mp3"),
            dir.join("sub/b.FLAC"),
        ];
        if !permissions_hold {
            eprintln!("note: permission bits do not stop this process; the locked folder is read");
            want.insert(3, locked.join("z.wav"));
        }
        assert_eq!(found.files, want);
        assert_eq!(found.loops, [(dir.join("sub/loop"), dir.clone())]);
        let unreadable: Vec<(&Path, std::io::ErrorKind)> = found
            .unreadable
            .iter()
            .map(|(p, e)| (p.as_path(), e.kind()))
            .collect();
        let mut want = vec![(dir.join("gone.wav"), std::io::ErrorKind::NotFound)];
        if permissions_hold {
            want.push((locked.clone(), std::io::ErrorKind::PermissionDenied));
        }
        let want: Vec<(&Path, std::io::ErrorKind)> =
            want.iter().map(|(p, k)| (p.as_path(), *k)).collect();
        assert_eq!(unreadable, want);

        // The folder itself missing is the one error.
        let err = audio_files(&tmp.path().join("nowhere")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
