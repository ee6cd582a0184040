//! `emovox listen` on a real audio stack: a PulseAudio server whose default input hears
//! what is played into a null sink (tests/virtual-mic, from the workplace's recipe).
//! cpal opens ALSA's "default" device, which the pulse plugin routes to that server.
//! Needs the Debian packages .ci/setup installs (pulseaudio pulseaudio-utils alsa-utils
//! libasound2-plugins).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn virtual_mic(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/virtual-mic");
    let status = Command::new("bash")
        .arg(&script)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        status.success(),
        "virtual-mic {args:?} failed: is PulseAudio installed? (bash .ci/setup installs it)"
    );
}

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

/// One test, because its two parts share (and the second kills) the sound server.
#[test]
fn listening_through_a_real_audio_stack() {
    virtual_mic(&["start"]);
    hears_a_clip_played_into_the_microphone();
    playback_is_heard_through_the_virtual_microphone();
    a_vanishing_server_ends_with_an_error_not_a_hang();
    virtual_mic(&["start"]);
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

fn hears_a_clip_played_into_the_microphone() {
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
    let player = std::thread::spawn(move || virtual_mic(&["play", clip.to_str().unwrap()]));
    seen.extend(lines.iter());
    player.join().unwrap();
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

fn a_vanishing_server_ends_with_an_error_not_a_hang() {
    let mut child = listen(&["--seconds", "60", "--json"]);
    let lines = json_lines(&mut child);
    lines.recv_timeout(Duration::from_secs(15)).unwrap();
    virtual_mic(&["stop"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("emovox listen hung after its sound server died");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no audio from") || stderr.contains("failed"),
        "{stderr}"
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
    // It stopped well before the clip's 3.7 s were played.
    assert!(rest.len() < 8, "{} more lines after Ctrl-C", rest.len());
}
