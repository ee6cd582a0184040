//! A copied emovox stands alone: with nothing beside it, run from an empty folder with a
//! home of its own, it predicts and opens its window, because the shipped model and the
//! voice gate are built into it; and it says which commit it was built from.
//!
//! The source tree cannot be moved away under a running test, so the copied binary is run
//! from an empty folder (a relative `weights/` finds nothing) with no `EMOVOX_*`
//! variables, and strace shows that it opens no file of the source tree and no model file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// A scratch place: `bin/emovox` (a copy of the binary under test), an empty `cwd/`, a
/// `home/` and a clip of speech copied out of the fixtures.
struct Alone {
    dir: TempDir,
}

impl Alone {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["bin", "cwd", "home", "audio"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        // Copied by `cp`, not by this process: a file this process holds open for writing
        // is inherited by whatever another test thread forks meanwhile, and exec then
        // fails with "Text file busy" (ETXTBSY) until that child has exec'd in turn.
        let copied = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_emovox"))
            .arg(dir.path().join("bin/emovox"))
            .status()
            .expect("running cp");
        assert!(copied.success(), "cp: {copied}");
        std::fs::copy(
            common::wav("03-01-05-02-01-01-10"),
            dir.path().join("audio/clip.wav"),
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The copied binary, started in the empty folder with a bare environment.
    fn command(&self) -> Command {
        let mut c = Command::new(self.path("bin/emovox"));
        c.current_dir(self.path("cwd"))
            .env_clear()
            .env("HOME", self.path("home"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running emovox")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_line(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_str(text(&o.stdout).trim()).unwrap()
}

#[test]
fn a_copied_binary_predicts_from_an_empty_folder() {
    let alone = Alone::new();
    let clip = alone.path("audio/clip.wav");
    let got = json_line(&alone.run(&["predict", "--json", clip.to_str().unwrap()]));
    let label = got["label"].as_str().expect("a label");
    assert!(
        emovox::labels::Emotion::names().iter().any(|n| n == label),
        "{got}"
    );
    // The same answer as the model in the source tree's weights/, named explicitly.
    let weights = common::shipped_weights();
    let from_folder = json_line(&alone.run(&[
        "predict",
        "--json",
        "--weights",
        weights.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]));
    assert_eq!(got["label"], from_folder["label"]);
    assert_eq!(got["probabilities"], from_folder["probabilities"]);
    // Nothing was left in the empty folder or the home.
    for sub in ["cwd", "home"] {
        let left: Vec<_> = std::fs::read_dir(alone.path(sub)).unwrap().collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

/// Every file the copied binary touches while it predicts, as strace saw it: none is in the
/// source tree, and no model file is opened anywhere.
#[test]
fn a_copied_binary_reads_no_model_files() {
    let alone = Alone::new();
    let log = alone.path("files.log");
    let clip = alone.path("audio/clip.wav");
    let mut strace = Command::new("strace");
    strace
        .current_dir(alone.path("cwd"))
        .env_clear()
        .env("HOME", alone.path("home"))
        .args(["-f", "-e", "trace=%file", "-o"])
        .arg(&log)
        .arg(alone.path("bin/emovox"))
        .arg("predict")
        .arg(&clip);
    let o = match strace.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("strace cannot be run ({e}): skipping (.ci/setup --test installs it)");
            return;
        }
    };
    let err = text(&o.stderr);
    if !o.status.success() && err.contains("ptrace") {
        eprintln!("strace may not trace here: skipping: {err}");
        return;
    }
    assert!(o.status.success(), "{err}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("clip.wav"), "strace saw no files:\n{log}");
    let root = env!("CARGO_MANIFEST_DIR");
    // The copied binary's own folder is allowed even when TMPDIR lies inside the tree.
    let own = alone.dir.path().to_string_lossy().into_owned();
    for line in log.lines() {
        let outside = line.replace(&own, "");
        assert!(
            !outside.contains(root)
                && !line.contains("emovox.json")
                && !line.contains("emovox.safetensors")
                && !line.contains("silero"),
            "{line}"
        );
    }
}

#[test]
fn a_weights_folder_given_is_used_and_named_when_missing() {
    let alone = Alone::new();
    let missing = alone.path("nowhere");
    let clip = alone.path("audio/clip.wav");
    let o = alone.run(&[
        "predict",
        "--weights",
        missing.to_str().unwrap(),
        clip.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    let card = missing.join("emovox.json");
    assert!(
        err.contains(&format!("{}: cannot read the model card", card.display())),
        "{err}"
    );
    // $EMOVOX_WEIGHTS too (and --weights wins over it).
    let o = alone
        .command()
        .env("EMOVOX_WEIGHTS", &missing)
        .args(["predict", clip.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains(&card.display().to_string()));
    let weights = common::shipped_weights();
    let o = alone
        .command()
        .env("EMOVOX_WEIGHTS", &missing)
        .args(["predict", "--weights", weights.to_str().unwrap()])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let alone = Alone::new();
    let o = alone.run(&["--version"]);
    assert!(o.status.success());
    let commit = emovox::BUILD_COMMIT;
    assert_eq!(
        text(&o.stdout).trim(),
        format!("emovox {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
    // Built from this repository (and git is here): a commit of it, not "unknown".
    let root = env!("CARGO_MANIFEST_DIR");
    let git = Command::new("git")
        .args(["-C", root, "rev-parse", "--show-toplevel"])
        .output();
    let Ok(top) = git else {
        eprintln!("no git: the commit cannot be checked");
        return;
    };
    let top = text(&top.stdout);
    if Path::new(top.trim()) != Path::new(root) {
        eprintln!("not built in a repository of its own: the commit cannot be checked");
        return;
    }
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    let found = Command::new("git")
        .args(["-C", root, "cat-file", "-t", hash])
        .output()
        .unwrap();
    assert_eq!(text(&found.stdout).trim(), "commit", "{commit}");
}

/// The app loads its model the same way before its window opens; a model it could not
/// load would end it with an error at once. Under Xvfb (tests/screenshot), from the empty
/// folder, it must still be running after 5 s and draw a live window.
#[test]
fn a_copied_binary_opens_its_window_from_an_empty_folder() {
    let alone = Alone::new();
    let shot = alone.path("shot.png");
    let clip = alone.path("audio/clip.wav");
    // `env` keeps the DISPLAY the script sets and drops everything else emovox could use
    // to find the source tree.
    let status = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screenshot"))
        .args(["-w", "5", "-s", "1024x700"])
        .arg(&shot)
        .args(["--", "env", "-u", "EMOVOX_WEIGHTS", "-u", "EMOVOX_SESSIONS"])
        .arg(format!("--chdir={}", alone.path("cwd").display()))
        .arg(format!("HOME={}", alone.path("home").display()))
        .arg(alone.path("bin/emovox"))
        .arg("--replay")
        .arg(&clip)
        .arg("--listen")
        .status()
        .unwrap();
    let log = std::fs::read_to_string(shot.with_extension("png.log")).unwrap_or_default();
    assert!(status.success(), "the app died:\n{log}");
    let colours = Command::new("identify")
        .args(["-format", "%k"])
        .arg(&shot)
        .output()
        .unwrap();
    let colours: usize = text(&colours.stdout).trim().parse().unwrap();
    assert!(
        colours > 200,
        "only {colours} colours: a blank window?\n{log}"
    );
}
