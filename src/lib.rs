//! emovox: recognise emotion in speech, live from a microphone or from audio files.
//!
//! Data flows one way: [`audio`] turns any file (or a microphone) into mono 16 kHz
//! samples, [`dsp`] turns samples into librosa-exact frame features, [`model`] classifies
//! windows of them, [`engine`] runs all that live on a worker thread and emits events,
//! which the desktop [`app`] draws and [`session`] keeps on disk; [`predict`] reports on
//! whole files for the batch command and the HTTP server ([`serve`]).

pub mod app;
pub mod audio;
pub mod clock;
pub mod dsp;
pub mod engine;
pub mod fastmath;
pub mod fsutil;
pub mod labels;
pub mod model;
pub mod newest_writer;
pub mod npy;
pub mod predict;
pub mod serve;
pub mod session;
pub mod vad;

/// The git commit this emovox was built from, recorded by `build.rs` at build time: a
/// short hash, with "-dirty" when the files the binary is built from differed from it, or
/// "unknown" when it was built without git or outside its repository.
pub const BUILD_COMMIT: &str = env!("EMOVOX_COMMIT");
