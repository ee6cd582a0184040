//! The emotion model: what it reads ([`input`]), the network ([`net`], its LSTM loops in
//! `recurrence`, its training-time convolutions in `time_conv` and BatchNorm tails in
//! `norm_pool`, and its inference pass
//! [`infer`]), the file that carries it ([`card`]), how it is trained ([`train`]), tuned to one voice ([`tune`]), kept as personal models
//! ([`personal`]) and used ([`classifier`]), the voice baseline a per-voice model reads
//! inputs from ([`voice`]), and the data and scores around
//! it; [`rng`] is the seeded generator that initialisation, dropout, augmentation and rooms
//! draw from. Only this module knows candle.

pub mod augment;
mod bias;
pub mod blend;
pub mod card;
pub mod classifier;
pub mod dataset;
pub mod infer;
pub mod input;
pub mod metrics;
pub mod net;
mod norm_pool;
pub mod personal;
mod recurrence;
pub mod rng;
pub mod room;
mod time_conv;
pub mod train;
pub mod tune;
pub mod voice;

pub use card::{FeatureConfig, ModelCard};
pub use classifier::Classifier;
