//! Synthetic room noises at a chosen level, and speech mixed into them at a chosen SNR: the
//! voice gate's test set and benchmark are built from these, so both hold the gate to the
//! noises a laptop microphone meets (fans, hum, hiss, keyboards) without shipping audio.

use std::f32::consts::PI;

use crate::dsp::SAMPLE_RATE;

/// The noises the gate must not call speech.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noise {
    /// Hiss: flat spectrum.
    White,
    /// −3 dB per octave, like air conditioning.
    Pink,
    /// −6 dB per octave, like rumble.
    Brown,
    /// Mains hum: 50 Hz and its harmonics, slightly buzzy.
    Hum,
    /// A fan: rumble with a blade tone and a slow beat.
    Fan,
    /// Keyboard clicks: short decaying bursts about six times a second.
    Keyboard,
}

impl Noise {
    pub const ALL: [Noise; 6] = [
        Noise::White,
        Noise::Pink,
        Noise::Brown,
        Noise::Hum,
        Noise::Fan,
        Noise::Keyboard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Noise::White => "white",
            Noise::Pink => "pink",
            Noise::Brown => "brown",
            Noise::Hum => "hum",
            Noise::Fan => "fan",
            Noise::Keyboard => "keyboard",
        }
    }

    /// `n` samples of this noise at 16 kHz with an RMS level of `dbfs` (a full-scale sine
    /// is −3 dBFS), the same for the same `seed`.
    pub fn generate(self, n: usize, dbfs: f32, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix(seed ^ (self as u64).wrapping_mul(0x9E37_79B9));
        let rate = SAMPLE_RATE as f32;
        let raw: Vec<f32> = match self {
            Noise::White => (0..n).map(|_| rng.gaussian()).collect(),
            Noise::Pink => pink(&mut rng, n),
            Noise::Brown => brown(&mut rng, n),
            Noise::Hum => (0..n)
                .map(|i| {
                    let t = i as f32 / rate;
                    (1..=6)
                        .map(|h| (2.0 * PI * 50.0 * h as f32 * t).sin() / h as f32)
                        .sum::<f32>()
                })
                .collect(),
            Noise::Fan => {
                let rumble = brown(&mut rng, n);
                let hiss = pink(&mut rng, n);
                (0..n)
                    .map(|i| {
                        let t = i as f32 / rate;
                        let beat = 1.0 + 0.2 * (2.0 * PI * 0.7 * t).sin();
                        beat * (rumble[i] + 0.3 * hiss[i] + 0.2 * (2.0 * PI * 120.0 * t).sin())
                    })
                    .collect()
            }
            Noise::Keyboard => keyboard(&mut rng, n),
        };
        scale_to(raw, dbfs)
    }
}

/// `speech + noise`, the noise scaled so that speech (its RMS over the samples louder than
/// −50 dBFS, so leading silence does not count) stands `snr_db` above it.
pub fn mix_at_snr(speech: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let active: Vec<f32> = speech
        .chunks(160)
        .filter(|c| rms_dbfs(c) > -50.0)
        .flatten()
        .copied()
        .collect();
    let target = rms_dbfs(&active) - snr_db;
    let gain = 10f32.powf((target - rms_dbfs(noise)) / 20.0);
    speech
        .iter()
        .zip(noise.iter().cycle())
        .map(|(s, n)| s + gain * n)
        .collect()
}

/// RMS level in dBFS, where a full-scale sine reads −3 dB.
pub fn rms_dbfs(x: &[f32]) -> f32 {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32;
    10.0 * ms.max(1e-12).log10()
}

fn scale_to(x: Vec<f32>, dbfs: f32) -> Vec<f32> {
    let gain = 10f32.powf((dbfs - rms_dbfs(&x)) / 20.0);
    x.into_iter().map(|v| v * gain).collect()
}

/// Paul Kellet's economy pink filter over white noise.
fn pink(rng: &mut SplitMix, n: usize) -> Vec<f32> {
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    (0..n)
        .map(|_| {
            let w = rng.gaussian();
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect()
}

/// Leaky integration of white noise (the leak keeps it from wandering off).
fn brown(rng: &mut SplitMix, n: usize) -> Vec<f32> {
    let mut y = 0.0f32;
    (0..n)
        .map(|_| {
            y = 0.995 * y + 0.1 * rng.gaussian();
            y
        })
        .collect()
}

/// Clicks: 5 ms bursts of noise under a fast decay, at irregular intervals around 160 ms.
fn keyboard(rng: &mut SplitMix, n: usize) -> Vec<f32> {
    let rate = SAMPLE_RATE as f32;
    let mut out = vec![0.0f32; n];
    let mut at = (rng.uniform() * 0.1 * rate) as usize;
    while at < n {
        let len = (0.005 * rate) as usize;
        let loudness = 0.5 + rng.uniform();
        for k in 0..len.min(n - at) {
            out[at + k] = loudness * rng.gaussian() * (-(k as f32) / (0.001 * rate)).exp();
        }
        at += ((0.08 + 0.16 * rng.uniform()) * rate) as usize;
    }
    out
}

/// A small, seedable generator, so a test set is the same on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller).
    fn gaussian(&mut self) -> f32 {
        let u = self.uniform().max(1e-7);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_noise_has_the_level_asked_for() {
        for noise in Noise::ALL {
            let x = noise.generate(16_000, -40.0, 1);
            assert!((rms_dbfs(&x) + 40.0).abs() < 0.01, "{}", noise.name());
        }
    }

    #[test]
    fn speech_stands_at_the_snr_asked_for() {
        let speech: Vec<f32> = (0..16_000)
            .map(|i| {
                if i < 8000 {
                    0.0
                } else {
                    0.1 * (i as f32 * 0.1).sin()
                }
            })
            .collect();
        let noise = Noise::White.generate(16_000, -30.0, 2);
        let mixed = mix_at_snr(&speech, &noise, 10.0);
        let added: Vec<f32> = mixed.iter().zip(&speech).map(|(m, s)| m - s).collect();
        let speech_db = rms_dbfs(&speech[8000..]);
        assert!((speech_db - rms_dbfs(&added) - 10.0).abs() < 0.01);
    }
}
