//! Helpers shared by the integration tests: where the fixtures are and how to read them,
//! and a private sound server for the tests that need one (virtual_mic).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod virtual_mic;

use std::path::{Path, PathBuf};

use emovox::model::Classifier;
use emovox::npy;

/// The five files librosa's reference output was computed for (tests/fixtures/README.md).
pub const REFERENCE_STEMS: [&str; 5] = [
    "03-01-01-01-01-01-01",
    "03-01-02-01-02-02-05",
    "03-01-05-02-01-01-10",
    "03-01-08-02-02-02-20",
    "03-01-05-02-01-01-01-48k",
];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The folder of the model shipped in the repository (weights and model card).
pub fn shipped_weights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")
}

/// The shipped model, loaded.
pub fn shipped() -> Classifier {
    Classifier::load(&shipped_weights())
        .unwrap_or_else(|e| panic!("loading the shipped model: {e:#}"))
}

/// The shipped model's weights and card copied into `dir` as one model (a blend's first
/// part: the other parts' tensors stay in the file, unread), the card saying whether it
/// reads per voice (the weights are the same either way: what such tests check is how
/// frames are read, and a per-voice model's reading of a plain one's weights is still a
/// reading).
pub fn shipped_copy(dir: &Path, per_voice: bool) -> PathBuf {
    use emovox::model::ModelCard;
    std::fs::create_dir_all(dir).unwrap();
    let weights = shipped_weights();
    std::fs::copy(
        ModelCard::weights_path(&weights),
        ModelCard::weights_path(dir),
    )
    .unwrap();
    let mut card = ModelCard::load(&weights).unwrap();
    card.normalisation.per_voice = per_voice;
    card.blend.clear();
    card.save(dir).unwrap();
    dir.to_path_buf()
}

/// Writes `samples` as a 16 kHz mono float WAV at `path` (a longer stream made from fixtures).
pub fn write_wav_16k(path: &Path, samples: impl IntoIterator<Item = f32>) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for x in samples {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
}

pub fn wav(stem: &str) -> PathBuf {
    fixtures().join("wav").join(format!("{stem}.wav"))
}

/// A librosa reference array: `{stem}.{name}.npy`.
pub fn reference(stem: &str, name: &str) -> npy::Array {
    let path = fixtures()
        .join("reference")
        .join(format!("{stem}.{name}.npy"));
    npy::read_f32(&path).unwrap_or_else(|e| panic!("reading fixture: {e}"))
}

/// A session folder as the app writes it (the session writer's WAV and `session.json`),
/// of the four 16 kHz RAVDESS fixture clips (neutral, calm, angry, surprised) repeated
/// `rounds` times with half a second of quiet between them, every clip labelled.
pub fn tiny_session(dir: &Path, rounds: usize) {
    use emovox::audio::{decode_file, WavStreamWriter};
    use emovox::labels::Emotion;
    use emovox::session::{Region, Session, AUDIO_FILE};

    let clips = [
        ("03-01-01-01-01-01-01", Emotion::Neutral),
        ("03-01-02-01-02-02-05", Emotion::Calm),
        ("03-01-05-02-01-01-10", Emotion::Angry),
        ("03-01-08-02-02-02-20", Emotion::Surprised),
    ];
    std::fs::create_dir_all(dir).unwrap();
    let mut wav = WavStreamWriter::create(&dir.join(AUDIO_FILE), 16_000).unwrap();
    let gap = vec![0.0005f32; 8000];
    let mut labels = Vec::new();
    let mut t = 0.0;
    for _ in 0..rounds {
        for (stem, emotion) in clips {
            wav.write(&gap).unwrap();
            t += 0.5;
            let audio = decode_file(&self::wav(stem)).unwrap().samples;
            wav.write(&audio).unwrap();
            let end = t + audio.len() as f64 / 16_000.0;
            labels.push(Region {
                start_s: t,
                end_s: end,
                label: emotion,
            });
            t = end;
        }
    }
    let seconds = wav.seconds();
    wav.finish().unwrap();
    Session {
        device: "test".into(),
        rate: 16_000,
        seconds,
        labels,
        ..Session::default()
    }
    .save(dir)
    .unwrap();
}
