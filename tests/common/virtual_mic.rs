//! A private sound server with a virtual microphone (tests/virtual-mic), for the tests that
//! go through a real audio stack. It runs in a temporary folder of its own and is reached
//! only by processes given `PULSE_SERVER=unix:<folder>/native`, so the machine's own sound
//! server (a developer's desktop) is neither used nor stopped.
//!
//! cpal reaches PulseAudio through ALSA's pulse plugin, which reads `PULSE_SERVER` when it
//! connects. A test that plays or records in its own process therefore runs inside a child
//! copy of the test binary whose environment names the private server ([`enter`]): setting
//! the variable in a running, multi-threaded test binary would race with the other tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Set in a child test process to the name of the test it was started to run.
const CHILD: &str = "EMOVOX_TEST_CHILD";
/// Set in that child to the private server's folder.
const FOLDER: &str = "EMOVOX_VIRTUAL_MIC";

/// `bash tests/virtual-mic ARGS`, ready to run.
pub fn script(args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/virtual-mic"))
        .args(args);
    command
}

fn run_script(args: &[&str]) -> String {
    let out = script(args)
        .output()
        .unwrap_or_else(|e| panic!("running tests/virtual-mic: {e}"));
    assert!(
        out.status.success(),
        "virtual-mic {args:?} failed (is PulseAudio installed? bash .ci/setup --test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private PulseAudio server whose default input hears what is played into its default
/// output. The process that started it stops it when this is dropped (also when a test
/// fails), and its folder is removed.
pub struct VirtualMic {
    folder: PathBuf,
    /// Held by the process that started the server; a child test process only borrows it.
    owned: Option<TempDir>,
}

impl VirtualMic {
    pub fn start() -> VirtualMic {
        let owned = tempfile::Builder::new()
            .prefix("emovox-virtual-mic")
            .tempdir()
            .unwrap();
        let folder = owned.path().to_path_buf();
        let printed = run_script(&["start", folder.to_str().unwrap()]);
        let mic = VirtualMic {
            folder,
            owned: Some(owned),
        };
        assert_eq!(
            printed.trim(),
            format!("PULSE_SERVER={}", mic.server()),
            "virtual-mic start printed something else"
        );
        mic
    }

    /// The server's address, as `PULSE_SERVER` takes it.
    pub fn server(&self) -> String {
        format!("unix:{}", self.folder.join("native").display())
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Plays a file into the microphone; returns when it has been played.
    pub fn play(&self, file: &Path) {
        run_script(&[
            "play",
            self.folder.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
    }

    /// Stops the server now (dropping the microphone would do it too).
    pub fn stop(&self) {
        run_script(&["stop", self.folder.to_str().unwrap()]);
    }
}

impl Drop for VirtualMic {
    fn drop(&mut self) {
        if self.owned.is_some() {
            // Stopping twice is harmless; a failure here is reported, not panicked on,
            // since this may run while a failed test unwinds.
            match script(&["stop", self.folder.to_str().unwrap_or_default()]).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!("virtual-mic stop: {}", String::from_utf8_lossy(&out.stderr)),
                Err(e) => eprintln!("virtual-mic stop: {e}"),
            }
        }
    }
}

/// Runs the test `test` of this test binary again in a child process whose environment adds
/// `vars`, and fails if the child fails. Returns true in that child, which then does the
/// test's work, and false in the parent once the child has passed.
pub fn in_child(test: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(&exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, test)
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(
        out.status.success(),
        "{test}, run with {vars:?}, failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no test called {test}"
    );
    false
}

/// Puts the test `test` inside a private server: in the parent, starts one, runs the test
/// again in a child that every sound goes through that server from ([`in_child`]), then
/// stops it and returns None. In the child, returns the microphone for the test to use.
pub fn enter(test: &str) -> Option<VirtualMic> {
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        let folder = PathBuf::from(std::env::var(FOLDER).unwrap());
        return Some(VirtualMic {
            folder,
            owned: None,
        });
    }
    let mic = VirtualMic::start();
    let server = mic.server();
    let folder = mic.folder.to_str().unwrap().to_owned();
    in_child(test, &[("PULSE_SERVER", &server), (FOLDER, &folder)]);
    None
}
