//! Getting audio in: any file a user has, as mono f32 at 16 kHz, and live microphones
//! through a lock-free ring; and out again, to play a file back (`playback`).

pub mod capture;
pub mod decode;
pub mod playback;
pub mod resample;
pub mod ring;
pub mod wav;

pub use decode::{decode_bytes, decode_bytes_limited, decode_file, DecodeError, Decoded};
