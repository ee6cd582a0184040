//! emovox: recognise emotion in speech, live from a microphone or from audio files.
//!
//! Data flows one way: [`audio`] turns any file into mono 16 kHz samples, [`dsp`] turns
//! samples into librosa-exact frame features, one frame at a time or a whole signal at once.

pub mod app;
pub mod audio;
pub mod clock;
pub mod dsp;
pub mod engine;
pub mod fsutil;
pub mod labels;
pub mod model;
pub mod npy;
pub mod session;
