//! Rooms and microphones for training: a clip as a laptop microphone in an ordinary room
//! would hear it. A synthetic room impulse response ([`reverberate`]), background noise at a
//! chosen SNR ([`add_colored_noise`], [`add_babble`]), the microphone's band and colouring
//! ([`band_limit`], [`peaking_eq`]) and its level ([`gain`]), and a [`RoomRecipe`] that draws
//! one random room per clip and applies them in that order. The recipe's defaults are the
//! ranges that raised macro-F1 on room-degraded held-back audio in every pairing of a
//! PyTorch probe before this code (RT60 0.2–0.9 s, 5–30 dB SNR, 80–300 Hz to 3.4–8 kHz,
//! ±15 dB); the recipe goes into the model card.
//!
//! Everything is a pure function of 16 kHz mono samples and, where random, of
//! [`Rng`], so the same seed gives the same room; a degraded validation set is
//! reproducible with [`RoomRecipe::degrade_seeded`].

use std::cell::RefCell;
use std::f64::consts::{LN_10, PI};
use std::fmt;

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use crate::dsp::SAMPLE_RATE;
use crate::model::rng::Rng;
use crate::vad::noise::{rms_dbfs, Noise};

const RATE: f64 = SAMPLE_RATE as f64;
const NYQUIST: f64 = RATE / 2.0;
/// SNR is measured on the 10 ms frames of the clean signal louder than −50 dBFS, the rule
/// `vad::noise::mix_at_snr` uses, so a clip's leading and trailing silence does not count.
const FRAME: usize = 160;
const ACTIVE_DBFS: f32 = -50.0;
/// The longest impulse response made, whatever RT60 is asked for: it bounds the cost of the
/// convolution (the default recipe stays under 0.9 s).
const MAX_RIR_S: f64 = 2.0;
/// Where the diffuse tail starts after the direct path: the first reflections of a room a few
/// metres across arrive this much later than the direct sound.
const PREDELAY_S: (f64, f64) = (0.002, 0.006);
/// A low-pass this close to Nyquist is no band limit at all, and its bilinear poles would
/// sit on the unit circle; above it the microphone keeps the whole band.
const LOWPASS_LIMIT_HZ: f64 = 0.95 * NYQUIST;
/// Q of a 2nd-order Butterworth section.
const BUTTERWORTH_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Qs of the two sections of a 4th-order Butterworth filter, 1 / (2 cos θ) for θ = π/8, 3π/8.
const BUTTERWORTH4_Q: [f64; 2] = [0.541_196_100_146_197, 1.306_562_964_876_376_5];

thread_local! {
    /// One planner per thread: it caches plans by length, and [`fft_size`] keeps the
    /// lengths to a handful, so the cache stays small however many clips pass.
    static PLANNER: RefCell<RealFftPlanner<f32>> = RefCell::new(RealFftPlanner::new());
}

// ---------------------------------------------------------------------------------------
// Reverberation

/// The clip heard in a room: convolved with [`room_impulse_response`] (`rt60_s`, direct path
/// `direct_to_reverb_db` above the diffuse tail). The output keeps the input's length (the
/// tail past the end is dropped) and its RMS level. A non-positive or non-finite RT60 leaves
/// the clip as it is.
pub fn reverberate(
    signal: &[f32],
    rt60_s: f64,
    direct_to_reverb_db: f64,
    rng: &mut Rng,
) -> Vec<f32> {
    if signal.is_empty()
        || !(rt60_s.is_finite() && rt60_s > 0.0)
        || !direct_to_reverb_db.is_finite()
    {
        return signal.to_vec();
    }
    let rir = room_impulse_response(rt60_s, direct_to_reverb_db, rng);
    let mut out = convolve_head(signal, &rir);
    let (before, after) = (power(signal), power(&out));
    if before > 0.0 && after > 0.0 {
        let g = (before / after).sqrt() as f32;
        out.iter_mut().for_each(|v| *v *= g);
    }
    out
}

/// A synthetic room impulse response at 16 kHz: a unit direct path at sample 0, then, a few
/// milliseconds later, Gaussian noise whose energy falls 60 dB in `rt60_s` (the diffuse
/// reverberation of a room), scaled so that the direct path's energy stands
/// `direct_to_reverb_db` above the tail's. It ends where the tail reaches −60 dB (at most
/// 2 s).
pub fn room_impulse_response(rt60_s: f64, direct_to_reverb_db: f64, rng: &mut Rng) -> Vec<f32> {
    let rt60 = if rt60_s.is_finite() && rt60_s > 0.0 {
        rt60_s.min(MAX_RIR_S)
    } else {
        return vec![1.0];
    };
    let predelay = (rng.range(PREDELAY_S.0, PREDELAY_S.1) * RATE).round() as usize;
    let tail_len = ((rt60 * RATE).ceil() as usize).max(1);
    // Amplitude falls by 10^-3 (energy by 10^-6) over rt60_s, one constant factor a sample.
    let step = (-3.0 * LN_10 / (rt60_s * RATE)).exp();
    let mut envelope = 1.0f64;
    let tail: Vec<f64> = (0..tail_len)
        .map(|_| {
            let v = rng.normal() * envelope;
            envelope *= step;
            v
        })
        .collect();
    let energy: f64 = tail.iter().map(|v| v * v).sum();
    let ratio = 10f64.powf(direct_to_reverb_db / 10.0);
    let scale = if energy > 0.0 && ratio.is_finite() && ratio > 0.0 {
        (1.0 / (energy * ratio)).sqrt()
    } else {
        0.0
    };
    let mut rir = vec![0.0f32; predelay];
    if let Some(direct) = rir.first_mut() {
        *direct = 1.0;
    } else {
        rir.push(1.0);
    }
    rir.extend(tail.iter().map(|v| (v * scale) as f32));
    rir
}

/// The first `signal.len()` samples of `signal * kernel` (linear convolution), by one FFT
/// long enough that the circular product does not wrap.
fn convolve_head(signal: &[f32], kernel: &[f32]) -> Vec<f32> {
    let n = signal.len();
    if n == 0 || kernel.is_empty() {
        return vec![0.0; n];
    }
    let size = fft_size(n + kernel.len() - 1);
    let (forward, inverse) = PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(size), p.plan_fft_inverse(size))
    });
    let mut scratch = forward.make_scratch_vec();
    let mut spectrum = |x: &[f32]| {
        let mut input = forward.make_input_vec();
        input.iter_mut().zip(x).for_each(|(d, s)| *d = *s);
        let mut out = forward.make_output_vec();
        // The buffers come from this plan, so their lengths always fit.
        let _ = forward.process_with_scratch(&mut input, &mut out, &mut scratch);
        out
    };
    let mut product = spectrum(signal);
    let kernel_spectrum = spectrum(kernel);
    let norm = 1.0 / size as f32;
    for (a, b) in product.iter_mut().zip(&kernel_spectrum) {
        *a = *a * *b * norm;
    }
    // A real signal's DC and Nyquist bins are real; rounding must not make realfft refuse them.
    if let Some(first) = product.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = product.last_mut() {
        last.im = 0.0;
    }
    let mut out = inverse.make_output_vec();
    let mut scratch = inverse.make_scratch_vec();
    let _ = inverse.process_with_scratch(&mut product, &mut out, &mut scratch);
    out.truncate(n);
    out
}

/// The smallest 2^k or 3·2^k that holds `len`: fast for the FFT, and few enough distinct
/// sizes that the thread's planner caches only a handful of plans.
fn fft_size(len: usize) -> usize {
    let pow2 = len.next_power_of_two();
    let three = 3 * (pow2 / 4);
    if three >= len {
        three
    } else {
        pow2
    }
}

// ---------------------------------------------------------------------------------------
// Noise

/// Stationary noise colours, as `vad::noise` makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Hiss: flat spectrum.
    White,
    /// −3 dB per octave, like air conditioning.
    Pink,
    /// −6 dB per octave, like rumble.
    Brown,
}

impl From<Colour> for Noise {
    fn from(colour: Colour) -> Noise {
        match colour {
            Colour::White => Noise::White,
            Colour::Pink => Noise::Pink,
            Colour::Brown => Noise::Brown,
        }
    }
}

/// The background noises a [`RoomRecipe`] draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    White,
    Pink,
    Brown,
    /// Other people talking: a few other training clips summed ([`add_babble`]).
    Babble,
}

impl NoiseKind {
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::White => "white",
            NoiseKind::Pink => "pink",
            NoiseKind::Brown => "brown",
            NoiseKind::Babble => "babble",
        }
    }

    fn colour(self) -> Option<Colour> {
        match self {
            NoiseKind::White => Some(Colour::White),
            NoiseKind::Pink => Some(Colour::Pink),
            NoiseKind::Brown => Some(Colour::Brown),
            NoiseKind::Babble => None,
        }
    }
}

/// `signal` plus noise of `colour`, the signal's active part (10 ms frames above −50 dBFS)
/// standing `snr_db` above the noise. A silent signal gets no noise: there is no level to
/// measure the SNR from.
pub fn add_colored_noise(signal: &[f32], colour: Colour, snr_db: f64, rng: &mut Rng) -> Vec<f32> {
    if signal.is_empty() {
        return Vec::new();
    }
    let noise = Noise::from(colour).generate(signal.len(), -30.0, rng.next_u64());
    mix_at_snr(signal, &noise, snr_db)
}

/// `signal` plus babble: every non-empty clip of `others`, each brought to the same active
/// level, starting at a random point and looped to the signal's length, summed and mixed
/// `snr_db` below the signal's active part. The caller picks the talkers (3–5 make babble;
/// one is a competing voice); [`RoomRecipe`] picks them from its pool.
pub fn add_babble(signal: &[f32], others: &[&[f32]], snr_db: f64, rng: &mut Rng) -> Vec<f32> {
    if signal.is_empty() {
        return Vec::new();
    }
    let mut babble = vec![0.0f32; signal.len()];
    for talker in others.iter().filter(|c| !c.is_empty()) {
        let start = rng.below(talker.len());
        let level = active_power(talker);
        if level <= 0.0 {
            continue;
        }
        let g = (1.0 / level.sqrt()) as f32;
        for (b, s) in babble.iter_mut().zip(talker.iter().cycle().skip(start)) {
            *b += g * s;
        }
    }
    mix_at_snr(signal, &babble, snr_db)
}

/// `signal + g·noise` with g set so that the signal's active power over the noise's power is
/// `snr_db`; no noise when either is silent or the SNR is not a number.
fn mix_at_snr(signal: &[f32], noise: &[f32], snr_db: f64) -> Vec<f32> {
    let (speech, background) = (active_power(signal), power(noise));
    let ratio = 10f64.powf(snr_db / 10.0);
    let g = if speech > 0.0 && background > 0.0 && ratio.is_finite() && ratio > 0.0 {
        (speech / (background * ratio)).sqrt() as f32
    } else {
        0.0
    };
    signal
        .iter()
        .zip(noise.iter().chain(std::iter::repeat(&0.0)))
        .map(|(s, n)| s + g * n)
        .collect()
}

/// Mean square over the 10 ms frames louder than −50 dBFS; over the whole signal when no
/// frame is that loud (a quiet recording still has a level).
fn active_power(signal: &[f32]) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for frame in signal.chunks(FRAME).filter(|f| rms_dbfs(f) > ACTIVE_DBFS) {
        sum += frame.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        count += frame.len();
    }
    if count == 0 {
        power(signal)
    } else {
        sum / count as f64
    }
}

/// Mean square; 0 for an empty signal.
fn power(signal: &[f32]) -> f64 {
    signal.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / signal.len().max(1) as f64
}

// ---------------------------------------------------------------------------------------
// Microphone

/// One second-order IIR section, normalised so that a0 = 1 (RBJ's audio EQ cookbook).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn new(b: [f64; 3], a: [f64; 3]) -> Self {
        let [a0, a1, a2] = a;
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [a1 / a0, a2 / a0],
        }
    }

    fn highpass(hz: f64, q: f64) -> Self {
        let (cos, alpha) = Self::angle(hz, q);
        let k = (1.0 + cos) / 2.0;
        Self::new([k, -2.0 * k, k], [1.0 + alpha, -2.0 * cos, 1.0 - alpha])
    }

    fn lowpass(hz: f64, q: f64) -> Self {
        let (cos, alpha) = Self::angle(hz, q);
        let k = (1.0 - cos) / 2.0;
        Self::new([k, 2.0 * k, k], [1.0 + alpha, -2.0 * cos, 1.0 - alpha])
    }

    fn peaking(hz: f64, gain_db: f64, q: f64) -> Self {
        let (cos, alpha) = Self::angle(hz, q);
        let a = 10f64.powf(gain_db / 40.0);
        Self::new(
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        )
    }

    fn angle(hz: f64, q: f64) -> (f64, f64) {
        let w0 = 2.0 * PI * hz / RATE;
        (w0.cos(), w0.sin() / (2.0 * q))
    }
}

/// The high-pass and low-pass sections of [`band_limit`]; a frequency that is not a number,
/// not positive or (low-pass) within 5 % of Nyquist adds none.
fn band_sections(highpass_hz: f64, lowpass_hz: f64) -> Vec<Biquad> {
    let mut sections = Vec::new();
    if highpass_hz.is_finite() && highpass_hz > 0.0 && highpass_hz < LOWPASS_LIMIT_HZ {
        sections.push(Biquad::highpass(highpass_hz, BUTTERWORTH_Q));
    }
    if lowpass_hz.is_finite() && lowpass_hz > 0.0 && lowpass_hz < LOWPASS_LIMIT_HZ {
        sections.extend(BUTTERWORTH4_Q.map(|q| Biquad::lowpass(lowpass_hz, q)));
    }
    sections
}

/// Runs the sections in series (transposed direct form II, state in f64 so a high-pass near
/// 80 Hz, whose poles sit close to the unit circle, stays clean).
fn filter(signal: &[f32], sections: &[Biquad]) -> Vec<f32> {
    if sections.is_empty() {
        return signal.to_vec();
    }
    let mut state = vec![[0.0f64; 2]; sections.len()];
    signal
        .iter()
        .map(|&x| {
            let mut v = f64::from(x);
            for (s, z) in sections.iter().zip(state.iter_mut()) {
                let y = s.b[0] * v + z[0];
                z[0] = s.b[1] * v - s.a[0] * y + z[1];
                z[1] = s.b[2] * v - s.a[1] * y;
                v = y;
            }
            v as f32
        })
        .collect()
}

/// A microphone's band: a 2nd-order Butterworth high-pass at `highpass_hz` (the gentle bass
/// roll-off of a small capsule) and a 4th-order Butterworth low-pass at `lowpass_hz` (the
/// steeper edge of a codec or anti-aliasing filter). A low-pass at or above 7.6 kHz (95 % of
/// Nyquist), or a non-positive frequency, is left out.
pub fn band_limit(signal: &[f32], highpass_hz: f64, lowpass_hz: f64) -> Vec<f32> {
    filter(signal, &band_sections(highpass_hz, lowpass_hz))
}

/// A microphone's colouring: a peaking EQ (RBJ cookbook) of `gain_db` at `centre_hz` with
/// bandwidth `q`. Left as it is when a value is not usable.
pub fn peaking_eq(signal: &[f32], centre_hz: f64, gain_db: f64, q: f64) -> Vec<f32> {
    filter(signal, eq_section(centre_hz, gain_db, q).as_slice())
}

fn eq_section(centre_hz: f64, gain_db: f64, q: f64) -> Option<Biquad> {
    let usable = centre_hz.is_finite()
        && centre_hz > 0.0
        && centre_hz < LOWPASS_LIMIT_HZ
        && gain_db.is_finite()
        && gain_db != 0.0
        && q.is_finite()
        && q > 0.0;
    usable.then(|| Biquad::peaking(centre_hz, gain_db, q))
}

/// The level changed by `db`, clipped to [−1, 1] as a hot microphone's converter clips.
pub fn gain(signal: &[f32], db: f64) -> Vec<f32> {
    let g = if db.is_finite() {
        10f64.powf(db / 20.0) as f32
    } else {
        1.0
    };
    signal.iter().map(|&v| (v * g).clamp(-1.0, 1.0)).collect()
}

// ---------------------------------------------------------------------------------------
// The recipe

/// How training clips are put in random rooms and microphones. Every range is `(low, high)`,
/// drawn uniformly; the defaults are the probe's ranges (see the module's comment). Recorded
/// in the model card; a card without some field reads the default for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomRecipe {
    /// Chance that a degraded version is reverberant at all.
    pub reverb_probability: f64,
    /// Reverberation time (energy −60 dB), seconds.
    pub rt60_s: (f64, f64),
    /// Direct path over diffuse tail, dB: high is a close talker, low a far one.
    pub direct_to_reverb_db: (f64, f64),
    /// Chance that a degraded version has background noise.
    pub noise_probability: f64,
    /// The noises, one drawn with equal chance (repeat a kind to weight it).
    pub noise_kinds: Vec<NoiseKind>,
    /// Speech (active part) over noise, dB.
    pub snr_db: (f64, f64),
    /// How many other clips make babble, inclusive.
    pub babble_talkers: (usize, usize),
    /// Microphone high-pass corner, Hz.
    pub highpass_hz: (f64, f64),
    /// Microphone low-pass corner, Hz; from 7.6 kHz up it is the full band.
    pub lowpass_hz: (f64, f64),
    /// Microphone colouring: a peaking EQ of this gain (dB) ...
    pub eq_gain_db: (f64, f64),
    /// ... at this centre (Hz) ...
    pub eq_centre_hz: (f64, f64),
    /// ... and this Q.
    pub eq_q: (f64, f64),
    /// Level change, dB; the result is clipped to [−1, 1].
    pub gain_db: (f64, f64),
}

impl Default for RoomRecipe {
    fn default() -> Self {
        RoomRecipe {
            reverb_probability: 0.7,
            rt60_s: (0.2, 0.9),
            direct_to_reverb_db: (-3.0, 10.0),
            noise_probability: 1.0,
            noise_kinds: vec![
                NoiseKind::White,
                NoiseKind::Pink,
                NoiseKind::Brown,
                NoiseKind::Babble,
            ],
            snr_db: (5.0, 30.0),
            babble_talkers: (3, 5),
            highpass_hz: (80.0, 300.0),
            lowpass_hz: (3400.0, 8000.0),
            eq_gain_db: (-6.0, 6.0),
            eq_centre_hz: (500.0, 4000.0),
            eq_q: (0.7, 2.0),
            gain_db: (-15.0, 15.0),
        }
    }
}

/// One drawn room and microphone: what [`RoomRecipe::draw`] picked for a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    pub reverb: Option<Reverb>,
    pub noise: Option<RoomNoise>,
    pub highpass_hz: f64,
    pub lowpass_hz: f64,
    pub eq_centre_hz: f64,
    pub eq_gain_db: f64,
    pub eq_q: f64,
    pub gain_db: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reverb {
    pub rt60_s: f64,
    pub direct_to_reverb_db: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoomNoise {
    pub kind: NoiseKind,
    pub snr_db: f64,
    /// For babble, the indices of the pool's clips that talk.
    pub talkers: Vec<usize>,
}

impl RoomRecipe {
    /// Draws one room for a clip. `pool_len` is the size of the babble pool that
    /// [`Room::apply`] will get; with an empty pool babble is not drawn.
    pub fn draw(&self, pool_len: usize, rng: &mut Rng) -> Room {
        let pick = |rng: &mut Rng, (lo, hi): (f64, f64)| rng.range(lo, hi);
        let reverb = (rng.uniform() < self.reverb_probability).then(|| Reverb {
            rt60_s: pick(rng, self.rt60_s),
            direct_to_reverb_db: pick(rng, self.direct_to_reverb_db),
        });
        let kinds: Vec<NoiseKind> = self
            .noise_kinds
            .iter()
            .copied()
            .filter(|k| *k != NoiseKind::Babble || pool_len > 0)
            .collect();
        let noise = if rng.uniform() < self.noise_probability && !kinds.is_empty() {
            let kind = kinds.get(rng.below(kinds.len())).copied();
            kind.map(|kind| {
                let snr_db = pick(rng, self.snr_db);
                let talkers = if kind == NoiseKind::Babble {
                    self.pick_talkers(pool_len, rng)
                } else {
                    Vec::new()
                };
                RoomNoise {
                    kind,
                    snr_db,
                    talkers,
                }
            })
        } else {
            None
        };
        Room {
            reverb,
            noise,
            highpass_hz: pick(rng, self.highpass_hz),
            lowpass_hz: pick(rng, self.lowpass_hz),
            eq_centre_hz: pick(rng, self.eq_centre_hz),
            eq_gain_db: pick(rng, self.eq_gain_db),
            eq_q: pick(rng, self.eq_q),
            gain_db: pick(rng, self.gain_db),
        }
    }

    /// Distinct pool indices, as many as `babble_talkers` draws (all of a smaller pool).
    fn pick_talkers(&self, pool_len: usize, rng: &mut Rng) -> Vec<usize> {
        let (lo, hi) = self.babble_talkers;
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let wanted = lo + rng.below(hi - lo + 1);
        if wanted >= pool_len {
            return (0..pool_len).collect();
        }
        let mut talkers = Vec::with_capacity(wanted);
        while talkers.len() < wanted {
            let i = rng.below(pool_len);
            if !talkers.contains(&i) {
                talkers.push(i);
            }
        }
        talkers
    }

    /// `signal` in one random room ([`draw`](Self::draw) then [`Room::apply`]). Babble comes
    /// from `babble_pool` (other training clips; if the clip itself is in it, it may talk
    /// over itself at a random offset, which is harmless at these SNRs).
    pub fn degrade(&self, signal: &[f32], babble_pool: &[&[f32]], rng: &mut Rng) -> Vec<f32> {
        let room = self.draw(babble_pool.len(), rng);
        room.apply(signal, babble_pool, rng)
    }

    /// [`degrade`](Self::degrade) with its own generator, seeded from `seed` and the clip's
    /// index: the same (seed, clip, pool) always gives the same degradation, so a degraded
    /// validation set is the same in every run.
    pub fn degrade_seeded(
        &self,
        signal: &[f32],
        babble_pool: &[&[f32]],
        seed: u64,
        clip_index: u64,
    ) -> Vec<f32> {
        let mut rng = Rng::new(clip_seed(seed, clip_index));
        self.degrade(signal, babble_pool, &mut rng)
    }

    /// `signal` in the room drawn for `room_index` from `seed` (every clip given the same
    /// index hears the same room, microphone and kind of noise, as one speaker's session
    /// does), with its own stretch of that noise from `clip_index`.
    pub fn degrade_in_shared_room(
        &self,
        signal: &[f32],
        babble_pool: &[&[f32]],
        seed: u64,
        room_index: u64,
        clip_index: u64,
    ) -> Vec<f32> {
        let room = self.draw(
            babble_pool.len(),
            &mut Rng::new(clip_seed(seed, room_index)),
        );
        room.apply(
            signal,
            babble_pool,
            &mut Rng::new(clip_seed(seed ^ 0x5eed, clip_index)),
        )
    }
}

/// One generator seed per (run seed, clip): consecutive clips get unrelated streams.
pub fn clip_seed(seed: u64, clip_index: u64) -> u64 {
    Rng::new(seed ^ clip_index.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

impl Room {
    /// Reverb → noise → band limit and colouring → gain, as sound reaches a microphone and
    /// then its converter. `babble_pool` must be the pool the room was drawn for (a talker
    /// index past its end is skipped).
    pub fn apply(&self, signal: &[f32], babble_pool: &[&[f32]], rng: &mut Rng) -> Vec<f32> {
        let mut x = match self.reverb {
            Some(r) => reverberate(signal, r.rt60_s, r.direct_to_reverb_db, rng),
            None => signal.to_vec(),
        };
        if let Some(noise) = &self.noise {
            x = match noise.kind.colour() {
                Some(colour) => add_colored_noise(&x, colour, noise.snr_db, rng),
                None => {
                    let talkers: Vec<&[f32]> = noise
                        .talkers
                        .iter()
                        .filter_map(|&i| babble_pool.get(i).copied())
                        .collect();
                    add_babble(&x, &talkers, noise.snr_db, rng)
                }
            };
        }
        let mut sections = band_sections(self.highpass_hz, self.lowpass_hz);
        sections.extend(eq_section(self.eq_centre_hz, self.eq_gain_db, self.eq_q));
        gain(&filter(&x, &sections), self.gain_db)
    }
}

impl fmt::Display for RoomRecipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = self.noise_kinds.iter().map(|k| k.name()).collect();
        let (lo, hi) = self.babble_talkers;
        write!(
            f,
            "reverb {:.0}% (RT60 {} s, direct/reverb {} dB); noise {:.0}% ({}, babble of \
             {lo}–{hi} clips) at {} dB SNR; high-pass {} Hz, low-pass {} Hz; EQ {} dB at {} Hz, \
             Q {}; gain {} dB, clipped",
            100.0 * self.reverb_probability,
            Span(self.rt60_s),
            Span(self.direct_to_reverb_db),
            100.0 * self.noise_probability,
            kinds.join("/"),
            Span(self.snr_db),
            Span(self.highpass_hz),
            Span(self.lowpass_hz),
            Span(self.eq_gain_db),
            Span(self.eq_centre_hz),
            Span(self.eq_q),
            Span(self.gain_db),
        )
    }
}

/// A range for people: "0.2–0.9", or "-15 to 15" where a dash would read as a minus.
struct Span((f64, f64));

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.0;
        if lo < 0.0 || hi < 0.0 {
            write!(f, "{lo} to {hi}")
        } else {
            write!(f, "{lo}–{hi}")
        }
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reverb {
            Some(r) => write!(
                f,
                "RT60 {:.2} s, direct/reverb {:+.1} dB",
                r.rt60_s, r.direct_to_reverb_db
            )?,
            None => write!(f, "dry")?,
        }
        match &self.noise {
            Some(n) if n.kind == NoiseKind::Babble => write!(
                f,
                "; babble of {} at {:.1} dB SNR",
                n.talkers.len(),
                n.snr_db
            )?,
            Some(n) => write!(f, "; {} noise at {:.1} dB SNR", n.kind.name(), n.snr_db)?,
            None => write!(f, "; no noise")?,
        }
        let lowpass = if self.lowpass_hz < LOWPASS_LIMIT_HZ {
            format!("{:.0} Hz", self.lowpass_hz)
        } else {
            "full band".to_string()
        };
        write!(
            f,
            "; {:.0} Hz – {}; EQ {:+.1} dB at {:.0} Hz (Q {:.1}); gain {:+.1} dB",
            self.highpass_hz, lowpass, self.eq_gain_db, self.eq_centre_hz, self.eq_q, self.gain_db
        )
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_shared_room_is_the_same_room_with_each_clips_own_noise() {
        let recipe = RoomRecipe::default();
        let signal: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let pool: Vec<&[f32]> = vec![&signal];
        let heard =
            |room: u64, clip: u64| recipe.degrade_in_shared_room(&signal, &pool, 3, room, clip);
        assert_eq!(heard(1, 5), heard(1, 5), "seeded");
        assert_ne!(heard(1, 5), heard(1, 6), "each clip its own noise");
        assert_ne!(heard(1, 5), heard(2, 5), "another speaker another room");
    }

    use super::*;

    fn sine(freq: f64, seconds: f64, amplitude: f64) -> Vec<f32> {
        (0..(RATE * seconds) as usize)
            .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / RATE).sin()) as f32)
            .collect()
    }

    /// Something like speech for level and timing purposes: pink noise under a 4 Hz
    /// syllable envelope, after `lead` seconds of silence.
    fn speechlike(seconds: f64, lead: f64, seed: u64) -> Vec<f32> {
        let n = (RATE * seconds) as usize;
        let noise = Noise::Pink.generate(n, -20.0, seed);
        noise
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = i as f64 / RATE;
                if t < lead {
                    0.0
                } else {
                    let syllable = (PI * 4.0 * (t - lead)).sin().abs();
                    v * syllable as f32
                }
            })
            .collect()
    }

    fn db(power: f64) -> f64 {
        10.0 * power.log10()
    }

    fn assert_finite(x: &[f32], what: &str) {
        assert!(x.iter().all(|v| v.is_finite()), "{what}: not finite");
    }

    #[test]
    fn an_impulse_decays_60_db_in_rt60() {
        for (rt60, seed) in [(0.2, 1), (0.5, 2), (0.5, 3), (0.9, 4)] {
            let mut impulse = vec![0.0f32; (1.5 * RATE) as usize];
            impulse[0] = 1.0;
            let y = reverberate(&impulse, rt60, 0.0, &mut Rng::new(seed));
            // Squared envelope in 10 ms frames, skipping the frame with the direct path,
            // fitted by a line in dB over the first 70 % of the decay (−42 dB).
            let frames: Vec<(f64, f64)> = y
                .chunks(FRAME)
                .enumerate()
                .skip(1)
                .take_while(|(k, _)| (*k as f64 + 0.5) * 0.01 < 0.7 * rt60)
                .map(|(k, c)| ((k as f64 + 0.5) * 0.01, db(power(c))))
                .collect();
            let n = frames.len() as f64;
            let (mt, md) = frames
                .iter()
                .fold((0.0, 0.0), |(a, b), (t, d)| (a + t / n, b + d / n));
            let slope = frames.iter().map(|(t, d)| (t - mt) * (d - md)).sum::<f64>()
                / frames.iter().map(|(t, _)| (t - mt).powi(2)).sum::<f64>();
            let measured = -60.0 / slope;
            assert!(
                (measured / rt60 - 1.0).abs() < 0.3,
                "RT60 {rt60}: decays 60 dB in {measured:.3} s"
            );
            // And past rt60 (plus the pre-delay) the response has ended.
            // Only the FFT's rounding is left there, 100 dB below the start of the decay.
            let end = ((rt60 + PREDELAY_S.1) * RATE) as usize + 1;
            let after = db(power(&y[end..]) / power(&y[FRAME..5 * FRAME]));
            assert!(after < -100.0, "RT60 {rt60}: {after:.1} dB after the end");
        }
    }

    #[test]
    fn the_direct_path_stands_at_the_asked_ratio_above_the_tail() {
        for drr in [-3.0, 0.0, 10.0] {
            let rir = room_impulse_response(0.6, drr, &mut Rng::new(9));
            let tail: f64 = rir[1..].iter().map(|v| f64::from(*v).powi(2)).sum();
            let got = db(f64::from(rir[0]).powi(2) / tail);
            assert!((got - drr).abs() < 0.01, "asked {drr} dB, got {got:.3}");
            // The tail starts a few milliseconds after the direct path.
            let first = rir[1..].iter().position(|v| *v != 0.0).unwrap() + 1;
            assert!((32..=96).contains(&first), "tail starts at sample {first}");
        }
    }

    #[test]
    fn reverb_keeps_the_length_and_the_level() {
        let x = speechlike(3.0, 0.3, 5);
        for rt60 in [0.2, 0.5, 0.9] {
            let y = reverberate(&x, rt60, 0.0, &mut Rng::new(3));
            assert_eq!(y.len(), x.len());
            let change = db(power(&y) / power(&x));
            assert!(change.abs() < 1.0, "RT60 {rt60}: level {change:+.2} dB");
            // It did reverberate: the silent lead-in stays silent, the gaps fill up.
            assert!(power(&y[..4000]) < 1e-12);
            assert!(power(&y) > 0.0 && y != x);
        }
        // Against a direct convolution, on a short clip.
        let short: Vec<f32> = x[5000..5800].to_vec();
        let mut rng = Rng::new(11);
        let rir = room_impulse_response(0.05, 3.0, &mut rng.clone());
        let y = reverberate(&short, 0.05, 3.0, &mut rng);
        let direct: Vec<f64> = (0..short.len())
            .map(|k| {
                (0..=k.min(rir.len() - 1))
                    .map(|j| f64::from(rir[j]) * f64::from(short[k - j]))
                    .sum()
            })
            .collect();
        let g = (power(&short) / (direct.iter().map(|v| v * v).sum::<f64>() / 800.0)).sqrt();
        for (a, b) in y.iter().zip(&direct) {
            assert!((f64::from(*a) - g * b).abs() < 1e-5, "{a} vs {}", g * b);
        }
    }

    #[test]
    fn coloured_noise_and_babble_land_at_the_requested_snr() {
        // Half a second of silence first: the SNR is the active part's, not the average's.
        let x = speechlike(2.0, 0.5, 8);
        let active = active_power(&x);
        assert!(db(active / power(&x)) > 1.0);
        let measure = |y: &[f32]| {
            let noise: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
            db(active / power(&noise))
        };
        let mut rng = Rng::new(4);
        for colour in [Colour::White, Colour::Pink, Colour::Brown] {
            for snr in [5.0, 17.5, 30.0] {
                let y = add_colored_noise(&x, colour, snr, &mut rng);
                assert_eq!(y.len(), x.len());
                let got = measure(&y);
                assert!((got - snr).abs() < 0.5, "{colour:?} {snr} dB: {got:.2}");
            }
        }
        let others: Vec<Vec<f32>> = (0..4).map(|s| speechlike(1.3, 0.2, 100 + s)).collect();
        let refs: Vec<&[f32]> = others.iter().map(|c| c.as_slice()).collect();
        for snr in [5.0, 20.0] {
            let y = add_babble(&x, &refs, snr, &mut rng);
            let got = measure(&y);
            assert!((got - snr).abs() < 0.5, "babble {snr} dB: {got:.2}");
            // The babble is looped to the clip's length: its last second is not silent.
            let tail: Vec<f32> = y.iter().zip(&x).skip(16_000).map(|(a, b)| a - b).collect();
            assert!(power(&tail) > 0.0);
        }
    }

    #[test]
    fn band_limit_cuts_outside_the_band_and_passes_inside_it() {
        let level = |freq: f64| {
            let x = sine(freq, 1.0, 0.5);
            let y = band_limit(&x, 200.0, 3400.0);
            // Skip the filters' start-up transient.
            db(power(&y[4000..]) / power(&x[4000..]))
        };
        assert!(level(50.0) < -10.0, "50 Hz: {:.1} dB", level(50.0));
        assert!(level(7000.0) < -10.0, "7 kHz: {:.1} dB", level(7000.0));
        assert!(level(1000.0).abs() < 1.0, "1 kHz: {:.2} dB", level(1000.0));
        // Corners are Butterworth: −3 dB at 200 Hz and at 3.4 kHz.
        assert!((level(200.0) + 3.0).abs() < 0.2, "{}", level(200.0));
        assert!((level(3400.0) + 3.0).abs() < 0.2, "{}", level(3400.0));
        // A low-pass at Nyquist is the full band.
        let x = sine(7000.0, 0.5, 0.5);
        assert_eq!(band_limit(&x, 0.0, 8000.0), x);
    }

    #[test]
    fn the_peaking_eq_lifts_its_centre_and_leaves_the_rest() {
        let level = |freq: f64, gain_db: f64| {
            let x = sine(freq, 1.0, 0.25);
            let y = peaking_eq(&x, 1000.0, gain_db, 1.0);
            db(power(&y[4000..]) / power(&x[4000..]))
        };
        assert!((level(1000.0, 6.0) - 6.0).abs() < 0.1);
        assert!((level(1000.0, -6.0) + 6.0).abs() < 0.1);
        assert!(level(100.0, 6.0).abs() < 0.5);
    }

    #[test]
    fn gain_scales_and_clips() {
        let x = sine(440.0, 0.5, 0.5);
        let quiet = gain(&x, -6.0206);
        assert!(x
            .iter()
            .zip(&quiet)
            .all(|(a, b)| (a / 2.0 - b).abs() < 1e-6));
        let hot = gain(&x, 12.0);
        assert!(hot.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(hot.iter().filter(|v| v.abs() == 1.0).count() > x.len() / 4);
    }

    #[test]
    fn degrade_is_the_same_for_a_seed_and_differs_between_seeds_and_clips() {
        let recipe = RoomRecipe::default();
        let x = speechlike(2.0, 0.2, 1);
        let pool: Vec<Vec<f32>> = (0..8).map(|s| speechlike(1.5, 0.1, 50 + s)).collect();
        let refs: Vec<&[f32]> = pool.iter().map(|c| c.as_slice()).collect();
        let a = recipe.degrade_seeded(&x, &refs, 42, 7);
        assert_eq!(a, recipe.degrade_seeded(&x, &refs, 42, 7));
        assert_eq!(a.len(), x.len());
        assert_ne!(a, recipe.degrade_seeded(&x, &refs, 43, 7));
        assert_ne!(a, recipe.degrade_seeded(&x, &refs, 42, 8));
        let mut r1 = Rng::new(5);
        let mut r2 = Rng::new(5);
        assert_eq!(
            recipe.degrade(&x, &refs, &mut r1),
            recipe.degrade(&x, &refs, &mut r2)
        );
    }

    #[test]
    fn drawn_rooms_stay_in_the_recipe() {
        let recipe = RoomRecipe::default();
        let mut rng = Rng::new(77);
        let (mut reverb, mut babble) = (0, 0);
        let within = |v: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&v);
        for _ in 0..2000 {
            let room = recipe.draw(10, &mut rng);
            if let Some(r) = room.reverb {
                reverb += 1;
                assert!(within(r.rt60_s, recipe.rt60_s));
                assert!(within(r.direct_to_reverb_db, recipe.direct_to_reverb_db));
            }
            let noise = room.noise.as_ref().unwrap();
            assert!(within(noise.snr_db, recipe.snr_db));
            if noise.kind == NoiseKind::Babble {
                babble += 1;
                let mut t = noise.talkers.clone();
                t.sort_unstable();
                t.dedup();
                assert_eq!(t.len(), noise.talkers.len());
                assert!((3..=5).contains(&t.len()) && t.iter().all(|i| *i < 10));
            }
            assert!(within(room.highpass_hz, recipe.highpass_hz));
            assert!(within(room.lowpass_hz, recipe.lowpass_hz));
            assert!(within(room.eq_gain_db, recipe.eq_gain_db));
            assert!(within(room.eq_centre_hz, recipe.eq_centre_hz));
            assert!(within(room.gain_db, recipe.gain_db));
        }
        assert!(
            (1300..1500).contains(&reverb),
            "{reverb} reverberant of 2000"
        );
        assert!((400..600).contains(&babble), "{babble} babble of 2000");
        // No pool, no babble.
        for _ in 0..200 {
            let room = recipe.draw(0, &mut rng);
            assert_ne!(room.noise.unwrap().kind, NoiseKind::Babble);
        }
        let shown = recipe.draw(10, &mut rng).to_string();
        assert!(
            shown.contains("dB SNR") && shown.contains("gain"),
            "{shown}"
        );
        assert!(recipe.to_string().contains("RT60 0.2–0.9 s"), "{recipe}");
    }

    #[test]
    fn a_recipe_that_does_nothing_leaves_the_clip_alone() {
        let recipe = RoomRecipe {
            reverb_probability: 0.0,
            noise_probability: 0.0,
            highpass_hz: (0.0, 0.0),
            lowpass_hz: (8000.0, 8000.0),
            eq_gain_db: (0.0, 0.0),
            gain_db: (0.0, 0.0),
            ..RoomRecipe::default()
        };
        let x = speechlike(1.0, 0.1, 3);
        assert_eq!(recipe.degrade_seeded(&x, &[], 1, 2), x);
    }

    #[test]
    fn the_recipe_round_trips_through_json_and_missing_fields_read_the_defaults() {
        let recipe = RoomRecipe {
            snr_db: (0.0, 20.0),
            noise_kinds: vec![NoiseKind::Babble, NoiseKind::Pink],
            ..RoomRecipe::default()
        };
        let json = serde_json::to_string(&recipe).unwrap();
        assert!(json.contains("\"babble\""), "{json}");
        assert_eq!(serde_json::from_str::<RoomRecipe>(&json).unwrap(), recipe);
        let partial: RoomRecipe = serde_json::from_str(r#"{"rt60_s": [0.3, 0.4]}"#).unwrap();
        assert_eq!(partial.rt60_s, (0.3, 0.4));
        assert_eq!(partial.snr_db, RoomRecipe::default().snr_db);
    }

    #[test]
    fn silence_and_empty_clips_give_no_nan() {
        let silent = vec![0.0f32; 16_000];
        let zeros: Vec<f32> = vec![0.0; 8000];
        let empty: Vec<f32> = Vec::new();
        let pools: [Vec<&[f32]>; 3] = [
            vec![],
            vec![&zeros, &empty, &zeros, &zeros],
            vec![&silent, &zeros, &zeros, &silent, &zeros],
        ];
        let recipe = RoomRecipe::default();
        for x in [&silent, &empty] {
            let mut rng = Rng::new(1);
            let n = x.len();
            let out = [
                reverberate(x, 0.5, 0.0, &mut rng),
                add_colored_noise(x, Colour::White, 10.0, &mut rng),
                add_colored_noise(x, Colour::Pink, 10.0, &mut rng),
                add_colored_noise(x, Colour::Brown, 10.0, &mut rng),
                add_babble(x, &pools[1], 10.0, &mut rng),
                band_limit(x, 200.0, 3400.0),
                peaking_eq(x, 1000.0, 6.0, 1.0),
                gain(x, 15.0),
            ];
            for (i, y) in out.iter().enumerate() {
                assert_eq!(y.len(), n, "step {i}");
                assert_finite(y, &format!("step {i} on {n} samples"));
            }
            for pool in &pools {
                for seed in 0..40 {
                    let y = recipe.degrade_seeded(x, pool, seed, 0);
                    assert_eq!(y.len(), n);
                    assert_finite(&y, &format!("degrade seed {seed}"));
                }
            }
        }
        // Strange parameters leave the clip alone rather than break it.
        let x = speechlike(0.5, 0.0, 2);
        let mut rng = Rng::new(3);
        assert_eq!(reverberate(&x, f64::NAN, 0.0, &mut rng), x);
        assert_eq!(reverberate(&x, 0.0, 0.0, &mut rng), x);
        assert_finite(&reverberate(&x, 5.0, -40.0, &mut rng), "long RT60");
        assert_finite(
            &add_colored_noise(&x, Colour::Pink, f64::INFINITY, &mut rng),
            "inf SNR",
        );
        assert_finite(&band_limit(&x, f64::NAN, -1.0), "NaN corners");
        assert_finite(&gain(&x, f64::NAN), "NaN gain");
    }

    /// Time per clip for the training budget (about 4,000 clips of 3 s, two versions each, on
    /// two cores): `cargo test --release --lib room::tests::time_per_clip -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn time_per_clip() {
        let pool: Vec<Vec<f32>> = (0..40).map(|s| speechlike(3.0, 0.2, 500 + s)).collect();
        let refs: Vec<&[f32]> = pool.iter().map(|c| c.as_slice()).collect();
        let recipe = RoomRecipe::default();
        for seconds in [3.0, 6.0] {
            let clips: Vec<Vec<f32>> = (0..20).map(|s| speechlike(seconds, 0.2, s)).collect();
            // Warm the thread's FFT plans first, as training would after its first clips.
            for (i, c) in clips.iter().enumerate() {
                recipe.degrade_seeded(c, &refs, 0, i as u64);
            }
            let rounds = 400;
            let start = std::time::Instant::now();
            let mut worst = std::time::Duration::ZERO;
            for k in 0..rounds {
                let t = std::time::Instant::now();
                let c = &clips[k % clips.len()];
                std::hint::black_box(recipe.degrade_seeded(c, &refs, 1, k as u64));
                worst = worst.max(t.elapsed());
            }
            let mean = start.elapsed().as_secs_f64() * 1e3 / rounds as f64;
            // Reverberation alone at the longest RT60, the costliest step.
            let t = std::time::Instant::now();
            for (k, c) in clips.iter().enumerate() {
                std::hint::black_box(reverberate(c, 0.9, 0.0, &mut Rng::new(k as u64)));
            }
            let reverb = t.elapsed().as_secs_f64() * 1e3 / clips.len() as f64;
            eprintln!(
                "{seconds} s clips: degrade {mean:.2} ms mean, {:.2} ms worst; reverb at RT60 0.9 s {reverb:.2} ms",
                worst.as_secs_f64() * 1e3
            );
        }
    }
}
