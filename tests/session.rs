//! Sessions on disk: audio that stays readable after a crash, labels Audacity can open,
//! metadata written atomically, errors (a full disk, a path that cannot be a folder) that
//! say which file and why.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use emovox::audio::decode_file;
use emovox::audio::WavStreamWriter;
use emovox::labels::Emotion;
use emovox::session::{self, Region, Session, SessionError};

/// A fresh folder, removed with everything in it when the returned guard is dropped,
/// passed or failed.
fn temp() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("emovox-session-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_owned();
    (tmp, dir)
}

fn tone(seconds: f64) -> Vec<f32> {
    (0..(seconds * 16_000.0) as usize)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / 16_000.0).sin())
        .collect()
}

#[test]
fn a_finished_recording_reads_back_sample_for_sample() {
    let (_tmp, dir) = temp();
    let path = dir.join(session::AUDIO_FILE);
    let signal = tone(2.3);
    let mut w = WavStreamWriter::create(&path, 16_000).unwrap();
    for chunk in signal.chunks(333) {
        w.write(chunk).unwrap();
    }
    assert!((w.seconds() - 2.3).abs() < 1e-3);
    w.finish().unwrap();
    let back = decode_file(&path).unwrap().samples;
    assert_eq!(back.len(), signal.len());
    let worst = back
        .iter()
        .zip(&signal)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 32767.0, "{worst}");
}

#[test]
fn a_crash_loses_at_most_the_last_second() {
    let (_tmp, dir) = temp();
    let path = dir.join(session::AUDIO_FILE);
    let mut w = WavStreamWriter::create(&path, 16_000).unwrap();
    for chunk in tone(3.7).chunks(160) {
        w.write(chunk).unwrap();
    }
    // The process dies: no finish, no flush of what is still buffered.
    std::mem::forget(w);
    let back = decode_file(&path).unwrap();
    assert!(
        back.seconds() >= 2.7 && back.seconds() <= 3.7,
        "{} s",
        back.seconds()
    );
}

#[test]
fn a_full_disk_is_an_error_not_a_panic() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let err = match WavStreamWriter::create(full, 16_000) {
        Err(e) => e,
        Ok(mut w) => w.write(&tone(1.5)).unwrap_err(),
    };
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{err}");
}

#[test]
fn sessions_save_load_and_list_newest_first() {
    let (_tmp, root) = temp();
    let first = session::create_dir(&root).unwrap();
    let second = session::create_dir(&root).unwrap();
    assert_ne!(first, second);
    let mut s = Session {
        device: "virtmic".into(),
        rate: 16_000,
        started: emovox::clock::now_iso(),
        model: "m".into(),
        ..Session::default()
    };
    s.extend_to(2.0);
    s.mark_from(0.5, Emotion::Happy);
    s.extend_to(4.0);
    s.mark_from(3.0, Emotion::Sad);
    s.extend_to(5.0);
    s.close_label();
    assert_eq!(
        s.labels,
        vec![
            Region {
                start_s: 0.5,
                end_s: 3.0,
                label: Emotion::Happy
            },
            Region {
                start_s: 3.0,
                end_s: 5.0,
                label: Emotion::Sad
            },
        ]
    );
    s.save(&second).unwrap();
    let text = std::fs::read_to_string(second.join(session::LABELS_FILE)).unwrap();
    assert_eq!(text, "0.500000\t3.000000\thappy\n3.000000\t5.000000\tsad\n");
    assert_eq!(Session::load(&second).unwrap(), s);

    // Labels edited in Audacity win over the copy in session.json.
    std::fs::write(second.join(session::LABELS_FILE), "1\t2\tangry\n").unwrap();
    let edited = Session::load(&second).unwrap();
    assert_eq!(edited.labels.len(), 1);
    assert_eq!(edited.labels[0].label, Emotion::Angry);

    // A damaged session.json is listed with its error, not skipped or fatal.
    std::fs::write(first.join(session::META_FILE), "{ not json").unwrap();
    let listed = session::list(&root);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, second);
    assert!(listed[0].1.is_ok());
    assert!(matches!(listed[1].1, Err(SessionError::Json { .. })));
}

#[test]
fn a_folder_that_cannot_be_made_is_a_clear_error() {
    let (_tmp, root) = temp();
    let file = root.join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let err = session::create_dir(&file.join("sessions")).unwrap_err();
    assert!(err.to_string().contains("not-a-folder"), "{err}");
    let err = Session::default().save(&file).unwrap_err();
    assert!(err.to_string().contains("not-a-folder"), "{err}");
}

/// Whether permission bits stop this process (they do not stop root, who reads any
/// folder): the tests that lean on them say so when they cannot.
#[cfg(unix)]
fn permissions_hold(locked: &std::path::Path) -> bool {
    let held = std::fs::read_dir(locked).is_err();
    if !held {
        eprintln!(
            "note: permission bits do not stop this process (running as root?): \
             an unreadable folder cannot be made here, so that case is not exercised"
        );
    }
    held
}

#[cfg(unix)]
#[test]
fn folders_that_cannot_be_looked_into_are_listed_with_why_not_hidden() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let (_tmp, root) = temp();
    let good = root.join("2026-01-01_10-00-00");
    std::fs::create_dir(&good).unwrap();
    Session::default().save(&good).unwrap();
    // Not sessions, and skipped without a word: a plain file, a folder holding neither
    // session.json nor audio.wav.
    std::fs::write(root.join("notes.txt"), "x").unwrap();
    std::fs::create_dir(root.join("photos")).unwrap();
    // A link that leads nowhere may have been a session: listed with why, on any machine.
    let dangling = root.join("2026-01-02_10-00-00");
    std::os::unix::fs::symlink(root.join("moved-away"), &dangling).unwrap();
    // A session folder this process may not look into.
    let locked = root.join("2026-01-03_10-00-00");
    std::fs::create_dir(&locked).unwrap();
    Session::default().save(&locked).unwrap();
    mode(&locked, 0o000);
    let held = permissions_hold(&locked);
    let listed = session::list(&root);
    mode(&locked, 0o755);

    let paths: Vec<&PathBuf> = listed.iter().map(|(p, _)| p).collect();
    assert_eq!(paths, [&locked, &dangling, &good], "{listed:?}");
    match &listed[0].1 {
        Err(SessionError::Io { path, reason }) if held => {
            assert_eq!(
                reason.kind(),
                std::io::ErrorKind::PermissionDenied,
                "{reason}"
            );
            assert!(path.starts_with(&locked), "{}", path.display());
        }
        Ok(_) if !held => {}
        other => panic!("the locked folder (permissions hold: {held}): {other:?}"),
    }
    let Err(err @ SessionError::Io { .. }) = &listed[1].1 else {
        panic!("the dangling link: {:?}", listed[1].1);
    };
    assert!(err.to_string().contains("2026-01-02_10-00-00"), "{err}");
    assert!(listed[2].1.is_ok());

    // The folder itself unreadable: one entry saying so, not an empty list.
    mode(&root, 0o000);
    let held = permissions_hold(&root);
    let listed = session::list(&root);
    mode(&root, 0o755);
    if held {
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].0, root);
        assert!(matches!(&listed[0].1, Err(SessionError::Io { .. })));
    }
    // A folder that does not exist yet holds no sessions; that is not a problem.
    assert!(session::list(&root.join("not-yet")).is_empty());
}

#[test]
fn the_autosaver_writes_the_newest_save_and_says_what_it_could_not_save() {
    let (_tmp, dir) = temp();
    let saver = session::Autosaver::new();
    for seconds in 1..=30 {
        let s = Session {
            seconds: f64::from(seconds),
            ..Session::default()
        };
        saver.save(&dir, &s);
    }
    // A folder that is not there: the save fails, and says so in words.
    let gone = dir.join("removed-meanwhile");
    saver.save(&gone, &Session::default());
    saver.wait();
    assert_eq!(Session::load(&dir).unwrap().seconds, 30.0);
    let errors = saver.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("the session was not saved: ")
            && errors[0].contains("removed-meanwhile"),
        "{errors:?}"
    );
    assert!(saver.errors().is_empty(), "said once");
}
