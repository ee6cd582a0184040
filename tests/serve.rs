//! `emovox serve` over real HTTP on loopback: the real binary, a plain-socket client that
//! can send anything (garbage, empty and oversized bodies, truncated WAVs, slow uploads,
//! many requests at once), and after each abuse the server still answers `/health`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wav;
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::classifier::argmax;

/// A running `emovox serve`, stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_emovox"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting emovox serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("a first line")
            .expect("readable stderr");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .parse()
            .unwrap();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// One request on a fresh connection; (status, headers, body).
    fn request(&self, head: &str, body: &[u8]) -> (u16, String, String) {
        let mut s = self.connect();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        read_response(&mut s)
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, String, String) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        self.request(&head, body)
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        self.request(
            &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
            b"",
        )
    }

    fn assert_healthy(&self) {
        let (status, _, body) = self.get("/health");
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["status"], "ok");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_response(s: &mut TcpStream) -> (u16, String, String) {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("reading the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

fn error_of(body: &str) -> String {
    json(body)["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
        .to_owned()
}

/// The label the model gives a fixture clip in-process.
fn expected_label(stem: &str) -> &'static str {
    let model = common::shipped();
    let signal = decode_file(&wav(stem)).unwrap().samples;
    let p = model
        .classify_signal(&mut StreamingExtractor::new(), &signal)
        .unwrap();
    Emotion::ALL[argmax(&p)].name()
}

const CLIP: &str = "03-01-02-01-02-02-05";

#[test]
fn a_clip_as_the_body_or_as_a_form_field_gets_its_emotion() {
    let server = Server::start(&[]);
    let bytes = std::fs::read(wav(CLIP)).unwrap();
    let (status, head, body) = server.post("/predict", &bytes);
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let v = json(&body);
    assert_eq!(v["label"], expected_label(CLIP));
    let sum: f64 = Emotion::ALL
        .iter()
        .map(|e| v["probabilities"][e.name()].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-3, "{body}");
    assert!(
        (v["duration_s"].as_f64().unwrap() - 4.238).abs() < 0.01,
        "{body}"
    );
    assert!(v["speech_s"].as_f64().unwrap() > 1.0, "{body}");
    assert_eq!(v["model"], "emovox-ravdess-cbl");
    assert!(v.get("timeline").is_none());

    // multipart/form-data, field "file", an MP3 whose name hints the format; timeline.
    let mp3 =
        std::fs::read(common::fixtures().join("compressed/03-01-08-02-02-02-20.mp3")).unwrap();
    let boundary = "emovox-test-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp3\"\r\n\
         Content-Type: audio/mpeg\r\n\r\n"
    )
    .into_bytes();
    form.extend(&mp3);
    form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /predict?timeline=true HTTP/1.1\r\nHost: test\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        form.len()
    );
    let (status, _, body) = server.request(&head, &form);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let timeline = v["timeline"].as_array().expect("a timeline when asked");
    assert_eq!(
        timeline.len(),
        3,
        "3.44 s: windows at 0, 0.25 and 0.44 s: {body}"
    );
    assert!(timeline.iter().all(|w| w["label"].is_string()));

    let (status, _, body) = server.get("/model");
    assert_eq!(status, 200);
    assert_eq!(json(&body)["labels"][0], "neutral");
}

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let server = Server::start(&["--max-body-mb", "1", "--max-audio-s", "3"]);
    let clip = std::fs::read(wav(CLIP)).unwrap();

    let (status, _, body) = server.post("/predict", b"this is not audio at all");
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("not an audio file"), "{body}");

    let (status, _, body) = server.post("/predict", b"");
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("no audio"), "{body}");

    let (status, _, body) = server.post("/predict", &clip[..30]);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("cut short"), "{body}");

    let (status, _, body) = server.post("/predict", &clip[..clip.len() / 2]);
    assert_eq!(status, 400, "a WAV whose data stops halfway: {body}");
    assert!(error_of(&body).contains("claims"), "{body}");

    // Oversized: refused from its Content-Length, before the body is read.
    let head = "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Length: 2000000\r\n\
                Connection: close\r\n\r\n";
    let (status, _, body) = server.request(head, b"");
    assert_eq!(status, 413);
    assert!(error_of(&body).contains("limit"), "{body}");

    // Longer than --max-audio-s 3 (the clip is 4.2 s); a compressed one is stopped while
    // it decodes.
    let (status, _, body) = server.post("/predict", &clip);
    assert_eq!(status, 413, "{body}");
    assert!(error_of(&body).contains("at most 3 s"), "{body}");
    let mp3 =
        std::fs::read(common::fixtures().join("compressed/03-01-08-02-02-02-20.mp3")).unwrap();
    let (status, _, body) = server.post("/predict", &mp3);
    assert_eq!(status, 413, "{body}");
    assert!(error_of(&body).contains("at most 3 s"), "{body}");

    let (status, _, body) = server.get("/no/such/thing");
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("no such endpoint"));
    let (status, _, body) = server.get("/predict");
    assert_eq!(status, 405);
    error_of(&body);
    let (status, _, body) = server.post("/predict?timeline=maybe", &clip);
    assert_eq!(status, 400);
    error_of(&body);

    // Not HTTP at all, then a connection dropped mid-request.
    let (status, _, _) = server.request("GARBAGE \u{1}\u{2}\u{3}\r\n\r\n", b"");
    assert_eq!(status, 400);
    {
        let mut s = server.connect();
        s.write_all(b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\nRIFF")
            .unwrap();
    }
    server.assert_healthy();
}

#[test]
fn many_requests_at_once_are_all_answered() {
    let server = Server::start(&[]);
    let stems = ["03-01-01-01-01-01-01", CLIP, "03-01-05-02-01-01-10"];
    let expected: Vec<&str> = stems.iter().map(|s| expected_label(s)).collect();
    let clips: Vec<Vec<u8>> = stems
        .iter()
        .map(|s| std::fs::read(wav(s)).unwrap())
        .collect();
    std::thread::scope(|scope| {
        for t in 0..12 {
            let (server, clips, expected) = (&server, &clips, &expected);
            scope.spawn(move || {
                for i in 0..3 {
                    let k = (t + i) % clips.len();
                    let (status, _, body) = server.post("/predict", &clips[k]);
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(json(&body)["label"], expected[k], "{}", stems[k]);
                }
            });
        }
    });
    server.assert_healthy();
}

#[test]
fn a_saturated_server_says_503_and_a_stalled_upload_times_out() {
    let server = Server::start(&["--max-in-flight", "1", "--timeout-s", "2"]);
    // A client that sends part of its body and stalls holds the only slot.
    let mut stalled = server.connect();
    stalled
        .write_all(b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\nRIFF")
        .unwrap();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let clip = std::fs::read(wav(CLIP)).unwrap();
    let (status, head, body) = server.post("/predict", &clip);
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(error_of(&body).contains("busy"), "{body}");
    // /health is never refused.
    server.assert_healthy();

    let (status, _, body) = read_response(&mut stalled);
    assert_eq!(status, 408, "{body}");
    assert!(
        error_of(&body).contains("did not arrive within 2 s"),
        "{body}"
    );
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    // The slot is free again.
    let (status, _, body) = server.post("/predict", &clip);
    assert_eq!(status, 200, "{body}");
}
