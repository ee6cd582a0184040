//! The first voice gate, kept as the baseline the gate benchmark (`benches/vad.rs`) measures
//! Silero against: frame energy against a tracked noise floor, with a hangover so the pauses
//! inside a sentence do not flicker to "no speech". It calls any steady noise well above the
//! floor speech until the floor has risen to it, which is why it no longer gates anything.

use crate::dsp::{N_BINS, N_FFT, WIN_LENGTH};

/// Speech must stand this far above the noise floor.
const ABOVE_FLOOR_DB: f32 = 15.0;
/// Nothing quieter is speech, however quiet the room (RAVDESS's quietest speech frames sit
/// near -50 dBFS; its silences near -95).
const MIN_SPEECH_DBFS: f32 = -70.0;
/// The floor never sinks below this, so digital silence does not make breath noise speech.
const LOWEST_FLOOR_DBFS: f32 = -90.0;
/// Where the floor starts: a quiet room.
const START_FLOOR_DBFS: f32 = -70.0;
/// How fast the floor rises while the signal stays above it (per 10 ms frame: 2 dB/s), so
/// a noisier room is learnt within seconds while speech does not drag the floor up.
const FLOOR_RISE_DB: f32 = 0.02;
/// How quickly the floor follows a quieter signal down (fraction per frame).
const FLOOR_FALL: f32 = 0.2;
/// Consecutive loud frames that open the gate (30 ms): a click does not.
const OPEN_FRAMES: u32 = 3;
/// Frames the gate stays open after the last loud one (300 ms).
const HANGOVER_FRAMES: u32 = 30;

/// Mean-square level of a frame in dBFS (a full-scale sine reads -3 dB), from its power
/// spectrum: by Parseval, one-sided power ≈ n_fft/2 · Σ(x·w)², and Σw² = 3/8 · win_length
/// for the periodic Hann window.
pub fn frame_energy_db(power: &[f32; N_BINS]) -> f32 {
    let sum: f32 = power.iter().sum();
    let window_energy = 0.375 * WIN_LENGTH as f32;
    let mean_square = 2.0 * sum / (N_FFT as f32 * window_energy);
    10.0 * mean_square.max(1e-12).log10()
}

#[derive(Clone, Debug)]
pub struct EnergyGate {
    floor_db: f32,
    loud_run: u32,
    hangover: u32,
}

impl Default for EnergyGate {
    fn default() -> Self {
        Self {
            floor_db: START_FLOOR_DBFS,
            loud_run: 0,
            hangover: 0,
        }
    }
}

impl EnergyGate {
    /// Takes one frame's energy; says whether the gate is open (speech) at this frame.
    pub fn update(&mut self, energy_db: f32) -> bool {
        if energy_db < self.floor_db {
            self.floor_db += FLOOR_FALL * (energy_db - self.floor_db);
        } else {
            self.floor_db += FLOOR_RISE_DB;
        }
        self.floor_db = self.floor_db.max(LOWEST_FLOOR_DBFS);
        let loud = energy_db > (self.floor_db + ABOVE_FLOOR_DB).max(MIN_SPEECH_DBFS);
        self.loud_run = if loud { self.loud_run + 1 } else { 0 };
        if self.loud_run >= OPEN_FRAMES {
            self.hangover = HANGOVER_FRAMES;
            true
        } else if self.hangover > 0 {
            self.hangover -= 1;
            true
        } else {
            false
        }
    }

    pub fn floor_db(&self) -> f32 {
        self.floor_db
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::StreamingExtractor;

    fn energies(signal: &[f32]) -> Vec<f32> {
        let mut ex = StreamingExtractor::new();
        let mut out = Vec::new();
        ex.push(signal, |f| out.push(frame_energy_db(&f.power)));
        out
    }

    #[test]
    fn a_sine_reads_its_mean_square_level() {
        // Amplitude 0.1: mean square 0.005, -23.0 dBFS.
        let sine: Vec<f32> = (0..16_000)
            .map(|i| 0.1 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin())
            .collect();
        let e = energies(&sine);
        let mid = e[e.len() / 2];
        assert!((mid + 23.0).abs() < 0.2, "{mid} dBFS");
    }

    #[test]
    fn opens_on_a_tone_after_silence_and_closes_after_the_hangover() {
        let mut gate = EnergyGate::default();
        let silence = [-100.0f32; 200];
        assert!(silence.iter().all(|&e| !gate.update(e)));
        assert!(!gate.update(-40.0) && !gate.update(-40.0));
        assert!(gate.update(-40.0), "three loud frames open the gate");
        let open_after: usize = (0..100).take_while(|_| gate.update(-100.0)).count();
        assert_eq!(open_after, HANGOVER_FRAMES as usize);
    }

    #[test]
    fn a_steady_noise_becomes_the_floor() {
        let mut gate = EnergyGate::default();
        // A fan at -45 dBFS: loud at first, then learnt as the floor and no longer speech.
        let open: Vec<bool> = (0..3000).map(|_| gate.update(-45.0)).collect();
        assert!(open[100]);
        assert!(!open[2999], "floor {}", gate.floor_db());
        // Speech 20 dB above the fan still opens it.
        assert!((0..5).any(|_| gate.update(-25.0)));
    }
}
