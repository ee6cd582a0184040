//! `emovox listen` on a real audio stack: a private PulseAudio server whose default input
//! hears what is played into a null sink (tests/virtual-mic).
//! cpal opens ALSA's "default" device, which the pulse plugin routes to the server that
//! `PULSE_SERVER` names: the private one, so the machine's own sound server is left alone.
//! Needs the Debian packages .ci/setup installs (pulseaudio pulseaudio-utils alsa-utils
//! libasound2-plugins).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::virtual_mic::{self, VirtualMic};
use serde_json::Value;

fn listen(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_emovox"))
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The child's stdout lines, parsed, as they come.
fn json_lines(child: &mut Child) -> mpsc::Receiver<Value> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    rx
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut s).unwrap();
    s
}

fn check_schema(v: &Value) {
    let t = v["t"].as_f64().unwrap();
    assert!(t > 0.0);
    let speech = v["speech"].as_bool().unwrap();
    assert_eq!(v["label"].is_string(), speech, "{v}");
    let probs = v["probabilities"].as_object().unwrap();
    assert_eq!(probs.len(), 8);
    let sum: f64 = probs.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 2e-3, "{sum}");
    assert!(v["latency_ms"].as_f64().unwrap() >= 0.0);
}

/// One test, because its parts share (and the last stops) the private sound server. It runs
/// in a child process whose environment names that server, since the app's playback plays
/// from this process.
#[test]
fn listening_through_a_real_audio_stack() {
    let Some(mic) = virtual_mic::enter("listening_through_a_real_audio_stack") else {
        return;
    };
    hears_a_clip_played_into_the_microphone(&mic);
    playback_is_heard_through_the_virtual_microphone();
    a_vanishing_server_ends_with_an_error_not_a_hang(&mic);
}

/// The app's playback (the default output is the virtual microphone's sink): its cursor
/// runs in real time to the end, and `listen` hears the speech it plays.
fn playback_is_heard_through_the_virtual_microphone() {
    let mut child = listen(&["--seconds", "6", "--json"]);
    let lines = json_lines(&mut child);
    let mut seen = vec![lines.recv_timeout(Duration::from_secs(15)).unwrap()];
    let signal = emovox::audio::decode_file(&common::wav("03-01-05-02-01-01-10"))
        .unwrap()
        .samples;
    let duration = signal.len() as f64 / 16_000.0;
    let started = Instant::now();
    let playback = emovox::audio::playback::play(&signal, 0.0).unwrap();
    let mut positions = Vec::new();
    while !playback.finished() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "playback never ended"
        );
        positions.push(playback.position_s());
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!((playback.position_s() - duration).abs() < 0.01);
    assert!(
        positions.windows(2).all(|w| w[1] >= w[0]),
        "the cursor went back"
    );
    assert!(
        elapsed > 0.8 * duration,
        "{duration} s played in {elapsed} s"
    );
    playback.stop();
    seen.extend(lines.iter());
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", stderr_of(&mut child));
    let spoken = seen.iter().filter(|v| v["speech"] == true).count();
    assert!(
        spoken >= 4,
        "only {spoken} windows with speech while playing: {seen:?}"
    );
}

fn hears_a_clip_played_into_the_microphone(mic: &VirtualMic) {
    let mut child = listen(&["--seconds", "8", "--json", "--stats"]);
    let lines = json_lines(&mut child);
    let mut seen = Vec::new();
    // 1.5 s of the microphone's silence first.
    let before = loop {
        let v = lines.recv_timeout(Duration::from_secs(15)).unwrap();
        let t = v["t"].as_f64().unwrap();
        seen.push(v);
        if t >= 1.5 {
            break t;
        }
    };
    let clip = common::wav("03-01-05-02-01-01-01-48k");
    std::thread::scope(|scope| {
        let player = scope.spawn(|| mic.play(&clip));
        seen.extend(lines.iter());
        player.join().unwrap();
    });
    let status = child.wait().unwrap();
    let stderr = stderr_of(&mut child);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("latency p50"), "{stderr}");

    seen.iter().for_each(check_schema);
    let times: Vec<f64> = seen.iter().map(|v| v["t"].as_f64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| (w[1] - w[0] - 0.25).abs() < 1e-6),
        "{times:?}"
    );
    assert!((times.last().unwrap() - 8.0).abs() < 1e-6, "{times:?}");
    for v in seen.iter().filter(|v| v["t"].as_f64().unwrap() <= before) {
        assert_eq!(
            v["speech"], false,
            "speech in the silence before the clip: {v}"
        );
    }
    let during: Vec<&Value> = seen
        .iter()
        .filter(|v| {
            let t = v["t"].as_f64().unwrap();
            t > before && t <= before + 5.0
        })
        .collect();
    let spoken = during.iter().filter(|v| v["speech"] == true).count();
    assert!(
        spoken >= 4,
        "only {spoken} windows with speech during the clip"
    );
    // The clip lasts 3.7 s; by t = 8 it has been over for about two seconds.
    assert_eq!(seen.last().unwrap()["speech"], false);
}

fn a_vanishing_server_ends_with_an_error_not_a_hang(mic: &VirtualMic) {
    let mut child = listen(&["--seconds", "60", "--json"]);
    let lines = json_lines(&mut child);
    lines.recv_timeout(Duration::from_secs(15)).unwrap();
    mic.stop();
    // A thread waits for the exit, so the test hears of it when it happens.
    let mut stderr = child.stderr.take().unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait().unwrap()));
    let Ok(status) = rx.recv_timeout(Duration::from_secs(20)) else {
        Command::new("kill").arg(&pid).status().unwrap();
        panic!("emovox listen hung after its sound server died");
    };
    let mut stderr_text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut stderr_text).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr_text}");
    assert!(
        stderr_text.contains("no audio from") || stderr_text.contains("failed"),
        "{stderr_text}"
    );
}

/// Ctrl-C ends a run cleanly with the summary. A replayed file stands in for the
/// microphone, so this needs no sound server.
#[test]
fn ctrl_c_stops_cleanly_with_the_summary() {
    let clip = common::wav("03-01-05-02-01-01-10");
    let mut child = listen(&["--replay", clip.to_str().unwrap(), "--stats"]);
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Two predictions in (0.5 s of real-time audio), interrupt.
    let first = lines.next().unwrap().unwrap();
    lines.next().unwrap().unwrap();
    assert!(first.contains(" s "), "{first}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let stderr = stderr_of(&mut child);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("latency p50"), "{stderr}");
    // The shipped model reads per voice: it says it is learning this one.
    assert!(stderr.contains("learning the voice"), "{stderr}");
    // It stopped well before the clip's 3.7 s were played.
    assert!(rest.len() < 8, "{} more lines after Ctrl-C", rest.len());
}

/// A sound server the user already runs, as a desktop does: found by clients at
/// `$XDG_RUNTIME_DIR/pulse/native`, with no `PULSE_SERVER`. It is stopped, by its pid,
/// when dropped.
struct UsersServer {
    runtime: tempfile::TempDir,
    pid: String,
}

impl UsersServer {
    fn start() -> UsersServer {
        let runtime = tempfile::Builder::new()
            .prefix("emovox-users-pulse")
            .tempdir()
            .unwrap();
        let status = users_env(Command::new("pulseaudio"), runtime.path())
            .args([
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "-n",
                "-L",
                "module-native-protocol-unix",
                "-L",
                "module-null-sink sink_name=users_own_sink",
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the user's pulseaudio did not start");
        let pid = std::fs::read_to_string(runtime.path().join("pulse/pid")).unwrap();
        UsersServer {
            runtime,
            pid: pid.trim().to_owned(),
        }
    }

    /// `pactl ARGS` as the user's own programs run it.
    fn pactl(&self, args: &[&str]) -> Option<String> {
        let out = users_env(Command::new("pactl"), self.runtime.path())
            .args(args)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for UsersServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
        let _ = Command::new("tail")
            .args(["--pid", &self.pid, "-f", "/dev/null"])
            .status();
    }
}

/// The environment of a user's session whose runtime folder is `runtime`. Clients may not
/// start a server themselves (autospawn), so one that answers is the one that was running.
fn users_env(mut command: Command, runtime: &Path) -> Command {
    let client_conf = runtime.join("client.conf");
    std::fs::write(&client_conf, "autospawn = no\n").unwrap();
    command
        .env_remove("PULSE_SERVER")
        .env_remove("DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime)
        .env("PULSE_STATE_PATH", runtime)
        .env("PULSE_CLIENTCONFIG", client_conf)
        .env("DBUS_SESSION_BUS_ADDRESS", "disabled:");
    command
}

/// The tests' private server neither joins nor stops a server that is already running:
/// the user's one keeps its own sink, gains none of the virtual microphone's, and still
/// answers, as the same process, after the private one has come and gone.
#[test]
fn a_sound_server_already_running_is_left_untouched() {
    let users = UsersServer::start();
    let info = users.pactl(&["info"]).expect("the user's server answers");
    assert!(
        info.contains(users.runtime.path().to_str().unwrap()),
        "{info}"
    );

    // The script runs in the user's environment, where their server is the default one.
    let private = tempfile::tempdir().unwrap();
    let private_dir = private.path().to_str().unwrap();
    // Stops the private server should an assertion fail before the test stops it.
    struct Stop<'a>(&'a str);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = virtual_mic::script(&["stop", self.0]).output();
        }
    }
    let _stop = Stop(private_dir);
    let out = users_env(
        virtual_mic::script(&["start", private_dir]),
        users.runtime.path(),
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = format!("unix:{private_dir}/native");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("PULSE_SERVER={server}")
    );
    let private_sinks = Command::new("pactl")
        .args(["list", "short", "sinks"])
        .env("PULSE_SERVER", &server)
        .output()
        .unwrap();
    let private_sinks = String::from_utf8_lossy(&private_sinks.stdout);
    assert!(private_sinks.contains("virtmic_sink"), "{private_sinks}");
    assert!(!private_sinks.contains("users_own_sink"), "{private_sinks}");
    let users_sinks = users.pactl(&["list", "short", "sinks"]).unwrap();
    assert!(!users_sinks.contains("virtmic_sink"), "{users_sinks}");

    let status = users_env(
        virtual_mic::script(&["stop", private_dir]),
        users.runtime.path(),
    )
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(status.success());
    assert!(
        Command::new("pactl")
            .arg("info")
            .env("PULSE_SERVER", &server)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| !s.success()),
        "the private server still answers after stop"
    );

    let users_sinks = users
        .pactl(&["list", "short", "sinks"])
        .expect("the user's server still answers");
    assert!(users_sinks.contains("users_own_sink"), "{users_sinks}");
    let pid = std::fs::read_to_string(users.runtime.path().join("pulse/pid")).unwrap();
    assert_eq!(
        pid.trim(),
        users.pid,
        "the user's server is another process"
    );
}
