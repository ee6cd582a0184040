//! The voice activity gate: is someone speaking? One gate serves the live engine, `predict`,
//! `serve`, `evaluate` and the app, so "speech" means the same thing everywhere.
//!
//! A level gate cannot tell a fan from a voice (both are loud and steady), so the gate is a
//! small neural detector, Silero VAD ([`silero`]), that scores every 32 ms chunk; a
//! hysteresis turns its probabilities into open/closed decisions.

mod dots;
pub mod energy;
pub mod noise;
pub mod silero;
mod spectrum;

pub use silero::{SileroNet, SileroState, VadError, CHUNK};

use crate::dsp::HOP_LENGTH;

/// Whole chunks scored together when many arrive at once (2 s): each of the detector's
/// weight rows is then read once for all of them.
const BLOCK: usize = 64;

/// A chunk scoring at least this opens the gate (Silero's own default threshold).
pub const OPEN_AT: f32 = 0.5;
/// An open gate counts a chunk below this as quiet (Silero's threshold − 0.15), so a
/// voice that wavers around 0.5 does not flicker.
pub const QUIET_BELOW: f32 = 0.35;
/// Quiet chunks that close an open gate (about 100 ms, Silero's minimum silence): the
/// pauses between words keep the gate open, the end of a sentence closes it.
const CLOSE_AFTER_QUIET: u32 = 3;

/// The gate's reading of one 32 ms chunk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkSpeech {
    /// Chunks since the gate was created or reset; chunk `k` covers samples
    /// `k·CHUNK .. (k+1)·CHUNK`.
    pub index: usize,
    pub probability: f32,
    pub speech: bool,
}

/// A streaming voice gate: feed it 16 kHz samples in pieces of any size.
#[derive(Clone, Debug)]
pub struct SpeechGate {
    net: &'static SileroNet,
    state: SileroState,
    pending: [f32; CHUNK],
    filled: usize,
    chunks: usize,
    open: bool,
    quiet: u32,
}

impl Default for SpeechGate {
    fn default() -> Self {
        Self::new(SileroNet::embedded())
    }
}

impl SpeechGate {
    pub fn new(net: &'static SileroNet) -> Self {
        Self {
            net,
            state: SileroState::default(),
            pending: [0.0; CHUNK],
            filled: 0,
            chunks: 0,
            open: false,
            quiet: 0,
        }
    }

    /// Forgets everything heard, for a new signal.
    pub fn reset(&mut self) {
        *self = Self::new(self.net);
    }

    /// Takes samples; calls `on_chunk` for every whole chunk they complete.
    pub fn push(&mut self, mut samples: &[f32], mut on_chunk: impl FnMut(ChunkSpeech)) {
        while !samples.is_empty() {
            if self.filled == 0 {
                // Whole chunks in blocks (a file's samples arrive all at once): the same
                // probabilities as chunk by chunk, at a fraction of the memory traffic.
                let (whole, _) = samples.as_chunks::<CHUNK>();
                for block in whole.chunks(BLOCK) {
                    let mut probabilities = [0.0f32; BLOCK];
                    let mut count = 0;
                    self.net.step_many(&mut self.state, block, |p| {
                        probabilities[count] = p;
                        count += 1;
                    });
                    for &p in &probabilities[..count] {
                        on_chunk(self.decide(p));
                    }
                }
                samples = &samples[whole.len() * CHUNK..];
                if samples.is_empty() {
                    break;
                }
            }
            let n = (CHUNK - self.filled).min(samples.len());
            self.pending[self.filled..self.filled + n].copy_from_slice(&samples[..n]);
            self.filled += n;
            samples = &samples[n..];
            if self.filled == CHUNK {
                self.filled = 0;
                let chunk = self.pending;
                on_chunk(self.step(&chunk));
            }
        }
    }

    /// Scores a last partial chunk, padded with silence, so every sample is judged.
    pub fn finish(&mut self, on_chunk: impl FnMut(ChunkSpeech)) {
        if self.filled > 0 {
            let missing = CHUNK - self.filled;
            self.push(&vec![0.0; missing], on_chunk);
        }
    }

    fn step(&mut self, chunk: &[f32; CHUNK]) -> ChunkSpeech {
        let probability = self.net.step(&mut self.state, chunk);
        self.decide(probability)
    }

    /// The hysteresis: the gate's decision after a chunk of this probability.
    fn decide(&mut self, probability: f32) -> ChunkSpeech {
        if probability >= OPEN_AT {
            self.open = true;
            self.quiet = 0;
        } else if self.open && probability < QUIET_BELOW {
            self.quiet += 1;
            if self.quiet >= CLOSE_AFTER_QUIET {
                self.open = false;
                self.quiet = 0;
            }
        }
        let index = self.chunks;
        self.chunks += 1;
        ChunkSpeech {
            index,
            probability,
            speech: self.open,
        }
    }
}

/// The chunk whose decision a 10 ms feature frame takes: the one holding the frame's
/// centre sample.
pub fn chunk_of_frame(frame: usize) -> usize {
    frame * HOP_LENGTH / CHUNK
}

/// Speech flags for the `n_frames` feature frames of a whole signal.
pub fn frame_flags(gate: &mut SpeechGate, signal: &[f32], n_frames: usize) -> Vec<bool> {
    let mut chunks = Vec::with_capacity(signal.len() / CHUNK + 1);
    gate.reset();
    gate.push(signal, |c| chunks.push(c.speech));
    gate.finish(|c| chunks.push(c.speech));
    (0..n_frames)
        .map(|i| {
            chunks
                .get(chunk_of_frame(i))
                .or(chunks.last())
                .copied()
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probabilities(signal: &[f32], piece: usize) -> Vec<f32> {
        let mut gate = SpeechGate::default();
        let mut out = Vec::new();
        for part in signal.chunks(piece) {
            gate.push(part, |c| out.push(c.probability));
        }
        out
    }

    #[test]
    fn pieces_of_any_size_give_the_same_chunks() {
        // Over two blocks of whole chunks and a part of a third: a signal given at once is
        // scored in blocks, one given in small pieces chunk by chunk; the bits agree.
        let signal: Vec<f32> = (0..70_000)
            .map(|i| 0.1 * (i as f32 * 0.05).sin() * (i as f32 * 0.001).cos())
            .collect();
        let whole = probabilities(&signal, signal.len());
        assert_eq!(whole.len(), 70_000 / CHUNK);
        for piece in [1, 37, 160, 511, 4096] {
            assert_eq!(probabilities(&signal, piece), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn silence_is_not_speech() {
        let p = probabilities(&[0.0; 16_000], 16_000);
        assert!(p.iter().all(|&p| p < QUIET_BELOW), "{p:?}");
    }

    #[test]
    fn frames_take_the_chunk_that_holds_their_centre() {
        assert_eq!(chunk_of_frame(0), 0);
        assert_eq!(chunk_of_frame(3), 0); // centre 480
        assert_eq!(chunk_of_frame(4), 1); // centre 640
        assert_eq!(chunk_of_frame(16), 5); // centre 2560 = 5·512
    }
}
