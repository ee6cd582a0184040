//! Getting audio in: any file a user has, as mono f32 at 16 kHz.

pub mod decode;
pub mod resample;
pub mod wav;

pub use decode::{decode_bytes, decode_file, DecodeError, Decoded};
