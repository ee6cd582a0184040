//! The live engine: a source (microphone, file, or a file replayed like a microphone)
//! feeds a worker thread that turns audio into spectrogram columns, levels and emotion
//! predictions, sent as [`Event`]s on a bounded channel.

pub mod events;
pub mod pipeline;
pub mod worker;

pub use events::{voice_words, Event, Level, Prediction, RecordingStatus, RunSummary, SourceInfo};
pub use pipeline::{Pipeline, PipelineConfig};
pub use worker::{Command, Engine, EngineConfig, EngineError, Source};
