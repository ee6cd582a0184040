//! `librosa.feature.chroma_stft(S=power, sr=16000, n_chroma=12, tuning=0.0)` with the
//! filter bank of `librosa.filters.chroma(sr=16000, n_fft=512)`.
//!
//! Tuning is fixed at 0: librosa would otherwise estimate it per call, which would make a
//! live window differ from the same audio read from a file.

use super::{N_BINS, N_CHROMA, N_FFT, SAMPLE_RATE};

/// Weights below this are set to zero. The Gaussian bumps reach e^-72 ≈ 5e-32, and such a
/// weight times a quiet bin's power is a subnormal float, which costs the CPU a hundred
/// cycles or more (measured: the whole stream ran 1.8× slower). The largest weight of
/// every FFT bin is above 0.01, so this changes a max-normalised chroma value by < 1e-5.
const ZERO_BELOW: f32 = 1e-7;

/// The chroma filter bank, stored bin-major (`weights[bin][pitch class]`).
///
/// Measured: the non-zero weights as (bin, weight) lists took 1.3 µs a frame; this dense
/// bank, with the 12 pitch classes as the inner loop, vectorises and takes a third of that.
pub struct ChromaFilterBank {
    weights: Vec<[f32; N_CHROMA]>,
}

impl ChromaFilterBank {
    pub fn new() -> Self {
        let rows = chroma_weights();
        let weights = (0..N_BINS)
            .map(|f| {
                let mut column = [0.0f32; N_CHROMA];
                for (w, row) in column.iter_mut().zip(&rows) {
                    *w = if row[f] < ZERO_BELOW { 0.0 } else { row[f] };
                }
                column
            })
            .collect();
        Self { weights }
    }

    /// Raw chroma, then `util.normalize(norm=inf)` per frame: divided by its largest value
    /// unless that is below the smallest normal f32, when it is left as it is.
    ///
    /// Four partial sums, over every fourth bin each, added at the end: one sum waits
    /// for the previous bin's multiply-add before each of 257 bins, four overlap
    /// (measured with perf over the 1,200 RAVDESS files: 0.16 µs a frame, was 0.27). The
    /// order of the additions changes a value by a rounding or two: the worst error
    /// against librosa went from 4.2e-7 to 1.1e-6 (the parity test allows 5e-6).
    pub fn apply(&self, power: &[f32; N_BINS], chroma: &mut [f32; N_CHROMA]) {
        const SUMS: usize = 4;
        let mut acc = [[0.0f32; N_CHROMA]; SUMS];
        let columns = self.weights.chunks_exact(SUMS);
        let (rest_columns, rest_power) = (columns.remainder(), &power[N_BINS / SUMS * SUMS..]);
        for (columns, p) in columns.zip(power.chunks_exact(SUMS)) {
            for ((acc, column), &p) in acc.iter_mut().zip(columns).zip(p) {
                for (out, &w) in acc.iter_mut().zip(column) {
                    *out += w * p;
                }
            }
        }
        for (column, &p) in rest_columns.iter().zip(rest_power) {
            for (out, &w) in acc[0].iter_mut().zip(column) {
                *out += w * p;
            }
        }
        for (k, c) in chroma.iter_mut().enumerate() {
            *c = (acc[0][k] + acc[1][k]) + (acc[2][k] + acc[3][k]);
        }
        let max = chroma.iter().fold(0.0f32, |m, &c| m.max(c.abs()));
        if max >= f32::MIN_POSITIVE {
            for c in chroma.iter_mut() {
                *c /= max;
            }
        }
    }
}

impl Default for ChromaFilterBank {
    fn default() -> Self {
        Self::new()
    }
}

/// The dense weights exactly as `librosa.filters.chroma` computes them (ctroct 5,
/// octwidth 2, norm 2, base_c), in f64 and stored as f32.
pub fn chroma_weights() -> Vec<[f32; N_BINS]> {
    let n_chroma = N_CHROMA as f64;
    let sr = f64::from(SAMPLE_RATE);
    // Bin positions in chroma units for every FFT bin but DC; A4 = 440 Hz at tuning 0.
    let mut frqbins = vec![0.0f64; N_FFT];
    for (k, b) in frqbins.iter_mut().enumerate().skip(1) {
        let hz = k as f64 * sr / N_FFT as f64;
        *b = n_chroma * (hz / (440.0 / 16.0)).log2();
    }
    // librosa's made-up value for the 0 Hz bin: 1.5 octaves below bin 1.
    frqbins[0] = frqbins[1] - 1.5 * n_chroma;
    let binwidth: Vec<f64> = (0..N_FFT)
        .map(|k| {
            if k + 1 < N_FFT {
                (frqbins[k + 1] - frqbins[k]).max(1.0)
            } else {
                1.0
            }
        })
        .collect();
    let half = (n_chroma / 2.0).round();
    let mut wts = vec![vec![0.0f64; N_FFT]; N_CHROMA];
    for (c, row) in wts.iter_mut().enumerate() {
        for (k, w) in row.iter_mut().enumerate() {
            let d = (frqbins[k] - c as f64 + half + 10.0 * n_chroma).rem_euclid(n_chroma) - half;
            *w = (-0.5 * (2.0 * d / binwidth[k]).powi(2)).exp();
        }
    }
    // Normalise each column (FFT bin) to unit L2 norm, then weight by octave.
    for k in 0..N_FFT {
        let norm = wts.iter().map(|row| row[k] * row[k]).sum::<f64>().sqrt();
        let octave = (-0.5 * ((frqbins[k] / n_chroma - 5.0) / 2.0).powi(2)).exp();
        for row in wts.iter_mut() {
            if norm > f64::MIN_POSITIVE {
                row[k] /= norm;
            }
            row[k] *= octave;
        }
    }
    // base_c: roll so that row 0 is C rather than A.
    wts.rotate_left(3);
    wts.iter()
        .map(|row| {
            let mut out = [0.0f32; N_BINS];
            for (o, &w) in out.iter_mut().zip(row) {
                *o = w as f32;
            }
            out
        })
        .collect()
}
