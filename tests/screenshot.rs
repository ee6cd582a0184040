//! The real window on a real X server: the app runs under Xvfb (tests/screenshot)
//! with a clip standing in for the microphone, and the picture it
//! draws must be a live window, not a blank one. Needs xvfb, imagemagick and Mesa's GL
//! driver (.ci/setup --test installs them).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_window_opens_under_xvfb_and_draws() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The picture and its log go in a folder removed when the test ends, passed or failed
    // (the log is in the failure message).
    let tmp = tempfile::Builder::new()
        .prefix("emovox-shot-")
        .tempdir()
        .unwrap();
    let out = tmp.path().join("shot.png");
    let clip = common::wav("03-01-05-02-01-01-10");
    let status = Command::new("bash")
        .arg(root.join("tests/screenshot"))
        .args(["-w", "5", "-s", "1280x800"])
        .arg(&out)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_emovox"))
        .arg("--replay")
        .arg(&clip)
        .arg("--listen")
        // The settings it remembers go in the temporary folder, not the user's.
        .env("XDG_CONFIG_HOME", tmp.path())
        .status()
        .unwrap();
    let log = std::fs::read_to_string(out.with_extension("png.log")).unwrap_or_default();
    assert!(
        status.success(),
        "the app died or no screenshot was taken:\n{log}"
    );
    // A blank or black window has a handful of colours; the app's spectrogram alone has
    // hundreds.
    let colours = Command::new("identify")
        .args(["-format", "%k"])
        .arg(&out)
        .output()
        .unwrap();
    let colours: usize = String::from_utf8_lossy(&colours.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(
        colours > 200,
        "only {colours} colours: a blank window?\n{log}"
    );
}
