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
