//! `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80)`, split in two: the
//! per-value log, which a stream can do frame by frame, and the `top_db` clip, which
//! needs the maximum of the whole signal and so only the whole-signal call applies.

use super::{AMIN, TOP_DB};

/// `10·log10(max(amin, x))`, librosa's decibels before the `top_db` clip.
#[inline]
pub fn power_to_db(x: f32) -> f32 {
    10.0 * x.max(AMIN).log10()
}

/// librosa's `top_db` clip over a whole array: nothing may lie more than 80 dB below
/// its maximum.
pub fn clip_top_db(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = max - TOP_DB;
    for v in values {
        *v = v.max(floor);
    }
}
