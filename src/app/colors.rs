//! The colours the app uses everywhere: one per emotion (bars, timeline, labels) and the
//! magma colour map for spectrograms.

use crate::labels::Emotion;

/// One colour per emotion, the same in every panel. Chosen to stay apart from each other
/// on a dark background; sad and calm are the cool pair, angry and surprised the warm one.
pub fn emotion_rgb(e: Emotion) -> [u8; 3] {
    match e {
        Emotion::Neutral => [160, 160, 160],
        Emotion::Calm => [77, 182, 172],
        Emotion::Happy => [240, 196, 48],
        Emotion::Sad => [74, 128, 230],
        Emotion::Angry => [226, 64, 52],
        Emotion::Fearful => [160, 100, 215],
        Emotion::Disgust => [124, 168, 56],
        Emotion::Surprised => [240, 128, 188],
    }
}

/// matplotlib's magma at nine evenly spaced points; between them, linear interpolation.
const MAGMA: [[f32; 3]; 9] = [
    [0.0, 0.0, 4.0],
    [28.0, 16.0, 68.0],
    [79.0, 18.0, 123.0],
    [129.0, 37.0, 129.0],
    [181.0, 54.0, 122.0],
    [229.0, 80.0, 100.0],
    [251.0, 135.0, 97.0],
    [254.0, 194.0, 135.0],
    [252.0, 253.0, 191.0],
];

/// Magma for `x` in 0..=1 (clamped): dark purple-black to pale yellow, perceptually even.
pub fn magma(x: f32) -> [u8; 3] {
    let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
    let pos = x * (MAGMA.len() - 1) as f32;
    let i = (pos as usize).min(MAGMA.len() - 2);
    let f = pos - i as f32;
    let (a, b) = (MAGMA[i], MAGMA[i + 1]);
    std::array::from_fn(|c| (a[c] + (b[c] - a[c]) * f).round() as u8)
}

/// Spectrogram decibels shown from this floor...
pub const DB_FLOOR: f32 = -90.0;
/// ...to this ceiling (mel power of full-scale speech sits around 0 to +20 dB).
pub const DB_CEILING: f32 = 10.0;

/// The colour of one mel-dB value.
pub fn db_rgb(db: f32) -> [u8; 3] {
    magma((db - DB_FLOOR) / (DB_CEILING - DB_FLOOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magma_runs_dark_to_light_and_clamps() {
        assert_eq!(magma(0.0), [0, 0, 4]);
        assert_eq!(magma(1.0), [252, 253, 191]);
        assert_eq!(magma(-3.0), magma(0.0));
        assert_eq!(magma(f32::NAN), magma(0.0));
        let lum = |c: [u8; 3]| 0.3 * c[0] as f32 + 0.59 * c[1] as f32 + 0.11 * c[2] as f32;
        let steps: Vec<f32> = (0..=20).map(|i| lum(magma(i as f32 / 20.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }

    #[test]
    fn every_emotion_has_its_own_colour() {
        let mut colours: Vec<[u8; 3]> = Emotion::ALL.iter().map(|&e| emotion_rgb(e)).collect();
        colours.sort();
        colours.dedup();
        assert_eq!(colours.len(), Emotion::COUNT);
    }
}
