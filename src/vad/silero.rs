//! Silero VAD v6 for 16 kHz audio (MIT licence, `weights/silero-vad/`), as plain loops.
//!
//! The network, per 512-sample chunk (32 ms) with the chunk's 64 preceding samples as
//! context: an STFT written as a convolution (256-sample frames every 128 samples, 129
//! bins, magnitude), four convolutions with ReLU (129→128, 128→64 stride 2, 64→64 stride
//! 2, 64→128), one LSTM cell of 128 whose state carries from chunk to chunk, then ReLU, a
//! 1×1 convolution and a sigmoid: the probability that the chunk holds speech. It is
//! small enough (about 0.7 M multiply-adds a chunk) that dot products in registers beat
//! any framework's per-call overhead, so it runs here without candle.

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors};

use super::dots::{dot, Weights};
use super::spectrum::{Spectrum, SpectrumScratch};
use crate::fastmath::{sigmoid, tanh};

/// Samples a chunk holds (32 ms at 16 kHz): the only size the 16 kHz model accepts.
pub const CHUNK: usize = 512;
/// Samples of the previous chunk that precede each chunk in the network's input.
const CONTEXT: usize = 64;
/// The network's input: context plus chunk, then reflected by `CONTEXT` on the right.
const INPUT: usize = CONTEXT + CHUNK;
const PADDED: usize = INPUT + CONTEXT;
const FILTER: usize = 256;
const STFT_HOP: usize = 128;
/// STFT frames per chunk: (640 − 256) / 128 + 1.
const FRAMES: usize = (PADDED - FILTER) / STFT_HOP + 1;
const BINS: usize = FILTER / 2 + 1;
const HIDDEN: usize = 128;

/// The weights the shipped binary carries (1.2 MB).
const EMBEDDED: &[u8] = include_bytes!("../../weights/silero-vad/silero_vad_16k.safetensors");

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("voice activity weights: {0}")]
    Format(String),
    #[error("voice activity weights: tensor {name} is missing")]
    Missing { name: String },
    #[error("voice activity weights: tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
}

/// A 1-D convolution with kernel 3 and padding 1 over `[position][channel]` rows: each
/// output position is one product of the weights (stored `[out][tap][in]`) with its patch
/// of three consecutive input rows, which away from a chunk's edges is a run of the input
/// as it is.
#[derive(Clone, Debug)]
struct Conv {
    weights: Weights,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
    stride: usize,
}

impl Conv {
    const K: usize = 3;

    /// From PyTorch's `[out][in][tap]` weights.
    fn new(w: &[f32], bias: Vec<f32>, cin: usize, cout: usize, stride: usize) -> Self {
        let mut taps_first = vec![0.0f32; w.len()];
        for (src, dst) in w
            .chunks_exact(cin * Self::K)
            .zip(taps_first.chunks_exact_mut(cin * Self::K))
            .take(cout)
        {
            for c in 0..cin {
                for k in 0..Self::K {
                    dst[k * cin + c] = src[c * Self::K + k];
                }
            }
        }
        Self {
            weights: Weights::new(&taps_first, cout, cin * Self::K),
            bias,
            cin,
            cout,
            stride,
        }
    }

    fn out_len(&self, t: usize) -> usize {
        (t + 2 - Self::K) / self.stride + 1
    }

    /// `x` is `[chunk][t][cin]` for `m` chunks; writes `[chunk][out_len][cout]` into `out`
    /// with ReLU applied. Patches that reach past a chunk's edge (its padding of one) are
    /// copied with zeros there; the rest are read in place.
    fn forward_relu(
        &self,
        x: &[f32],
        t: usize,
        m: usize,
        scratch: &mut Scratch,
        out: &mut Vec<f32>,
    ) {
        let (cin, k) = (self.cin, Self::K);
        let t_out = self.out_len(t);
        let patch = cin * k;
        debug_assert!(t <= FRAMES && x.len() >= m * t * cin);
        // Where each output position's patch starts (one row before its centre row
        // j · stride), and which positions reach past an edge: the same in every chunk.
        let start = |j: usize| (j * self.stride).checked_sub(1);
        let inside = |j: usize| start(j).is_some_and(|s| s + k <= t);
        let (mut edge_at, mut n_edges) = ([0usize; FRAMES], 0);
        for j in (0..t_out).filter(|&j| !inside(j)) {
            edge_at[n_edges] = j;
            n_edges += 1;
        }
        let edges = &edge_at[..n_edges];
        let patches = &mut scratch.patches;
        patches.clear();
        patches.resize(m * edges.len() * patch, 0.0);
        for (chunk, copies) in x
            .chunks_exact(t * cin)
            .take(m)
            .zip(patches.chunks_exact_mut(edges.len().max(1) * patch))
        {
            for (&j, copy) in edges.iter().zip(copies.chunks_exact_mut(patch)) {
                for (tap, dst) in copy.chunks_exact_mut(cin).enumerate() {
                    // Input position of this tap, shifted by the padding of one.
                    if let Some(p) = (j * self.stride + tap).checked_sub(1).filter(|&p| p < t) {
                        dst.copy_from_slice(&chunk[p * cin..(p + 1) * cin]);
                    }
                }
            }
        }
        let mut slot = [usize::MAX; FRAMES];
        for (e, &j) in edges.iter().enumerate() {
            slot[j] = e;
        }
        let patches = &*patches;
        let row = |r: usize| {
            let (chunk, j) = (r / t_out, r % t_out);
            match (slot[j], start(j)) {
                (usize::MAX, Some(s)) => &x[(chunk * t + s) * cin..][..patch],
                (e, _) => &patches[(chunk * edges.len() + e) * patch..][..patch],
            }
        };
        out.clear();
        out.resize(m * t_out * self.cout, 0.0);
        self.weights.apply_each(m * t_out, row, out);
        for v in out.chunks_exact_mut(self.cout) {
            for (v, b) in v.iter_mut().zip(&self.bias) {
                *v = (*v + b).max(0.0);
            }
        }
    }
}

/// The network's weights.
#[derive(Clone, Debug)]
pub struct SileroNet {
    /// STFT magnitudes: an FFT, as the shipped weights' basis is the Hann-windowed DFT.
    spectrum: Spectrum,
    encoder: [Conv; 4],
    /// `[4·HIDDEN][HIDDEN]` each, gates in PyTorch's order (input, forget, cell, output).
    w_ih: Weights,
    w_hh: Weights,
    /// `b_ih + b_hh`, folded once.
    bias: Vec<f32>,
    out_weight: Vec<f32>,
    out_bias: f32,
}

impl SileroNet {
    /// The weights compiled into the binary, parsed once.
    pub fn embedded() -> &'static SileroNet {
        static NET: std::sync::OnceLock<SileroNet> = std::sync::OnceLock::new();
        NET.get_or_init(|| {
            #[allow(clippy::expect_used)]
            SileroNet::from_safetensors(EMBEDDED)
                // The bytes are part of the binary and a unit test parses them.
                .expect("the embedded voice activity weights parse")
        })
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<SileroNet, VadError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| VadError::Format(e.to_string()))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(VadError::Format(format!(
                    "tensor {name} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>();
            tensors.insert(name, (view.shape().to_vec(), data));
        }
        let mut take = |name: &str, expected: &[usize]| -> Result<Vec<f32>, VadError> {
            let (shape, data) = tensors.remove(name).ok_or_else(|| VadError::Missing {
                name: name.to_owned(),
            })?;
            if shape != expected {
                return Err(VadError::Shape {
                    name: name.to_owned(),
                    found: shape,
                    expected: expected.to_vec(),
                });
            }
            Ok(data)
        };
        let stft_basis = take("stft_conv.weight", &[2 * BINS, 1, FILTER])?;
        let mut conv = |i: usize, cin: usize, cout: usize, stride: usize| {
            Ok::<_, VadError>(Conv::new(
                &take(&format!("conv{i}.weight"), &[cout, cin, Conv::K])?,
                take(&format!("conv{i}.bias"), &[cout])?,
                cin,
                cout,
                stride,
            ))
        };
        let encoder = [
            conv(1, BINS, 128, 1)?,
            conv(2, 128, 64, 2)?,
            conv(3, 64, 64, 2)?,
            conv(4, 64, HIDDEN, 1)?,
        ];
        let w_ih = take("lstm_cell.weight_ih", &[4 * HIDDEN, HIDDEN])?;
        let w_hh = take("lstm_cell.weight_hh", &[4 * HIDDEN, HIDDEN])?;
        let b_ih = take("lstm_cell.bias_ih", &[4 * HIDDEN])?;
        let b_hh = take("lstm_cell.bias_hh", &[4 * HIDDEN])?;
        let bias = b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect();
        let out_weight = take("final_conv.weight", &[1, HIDDEN, 1])?;
        let out_bias = take("final_conv.bias", &[1])?;
        Ok(SileroNet {
            spectrum: Spectrum::new(&stft_basis, BINS, FILTER),
            encoder,
            w_ih: Weights::new(&w_ih, 4 * HIDDEN, HIDDEN),
            w_hh: Weights::new(&w_hh, 4 * HIDDEN, HIDDEN),
            bias,
            out_weight,
            out_bias: out_bias.first().copied().unwrap_or(0.0),
        })
    }
}

/// What carries from one chunk to the next: the LSTM state and the last samples, plus
/// scratch space so a chunk allocates nothing once warmed up.
#[derive(Clone, Debug)]
pub struct SileroState {
    h: [f32; HIDDEN],
    c: [f32; HIDDEN],
    input: [f32; PADDED],
    scratch: Scratch,
}

/// Buffers reused from call to call, sized for the largest block of chunks seen.
#[derive(Clone, Debug, Default)]
struct Scratch {
    /// Each chunk's STFT frames, `[chunk][FRAMES][FILTER]`.
    frames: Vec<f32>,
    /// Layer outputs in turn, `[chunk][position][channel]`; `a` first holds the STFT
    /// magnitudes, `[chunk][FRAMES][BINS]`, and at the end the encoder's `[chunk][HIDDEN]`.
    a: Vec<f32>,
    b: Vec<f32>,
    /// The patches that reach past a chunk's edge, `[chunk][edge][tap][channel]`.
    patches: Vec<f32>,
    /// The LSTM's input projection, `[chunk][4·HIDDEN]`.
    dots: Vec<f32>,
    gates: Vec<f32>,
    spectrum: SpectrumScratch,
}

impl Default for SileroState {
    fn default() -> Self {
        Self {
            h: [0.0; HIDDEN],
            c: [0.0; HIDDEN],
            input: [0.0; PADDED],
            scratch: Scratch {
                frames: Vec::with_capacity(FRAMES * FILTER),
                a: Vec::with_capacity(BINS * FRAMES),
                b: Vec::with_capacity(BINS * FRAMES),
                patches: Vec::with_capacity(2 * BINS * Conv::K),
                dots: Vec::with_capacity(4 * HIDDEN),
                gates: Vec::with_capacity(4 * HIDDEN),
                spectrum: SpectrumScratch::default(),
            },
        }
    }
}

impl SileroNet {
    /// The speech probability of the next 512 samples; advances `state`.
    pub fn step(&self, state: &mut SileroState, chunk: &[f32; CHUNK]) -> f32 {
        let mut p = 0.0;
        self.step_many(state, std::slice::from_ref(chunk), |v| p = v);
        p
    }

    /// The speech probabilities of consecutive chunks, in order, bit for bit those of
    /// [`SileroNet::step`] on each in turn. The parts that carry nothing from chunk to
    /// chunk (the STFT, the encoder, the LSTM's input projection) run over all the chunks
    /// together; only the recurrence goes chunk by chunk.
    pub fn step_many(
        &self,
        state: &mut SileroState,
        chunks: &[[f32; CHUNK]],
        mut on_probability: impl FnMut(f32),
    ) {
        let m = chunks.len();
        let SileroState {
            h,
            c,
            input,
            scratch,
        } = state;
        // Each chunk's frames: context (the last 64 samples of the previous chunk's
        // input), the chunk, reflection padding on the right (the edge sample not
        // repeated); 256-sample frames every 128 samples.
        scratch.frames.clear();
        for chunk in chunks {
            input.copy_within(INPUT - CONTEXT..INPUT, 0);
            input[CONTEXT..INPUT].copy_from_slice(chunk);
            for k in 0..CONTEXT {
                input[INPUT + k] = input[INPUT - 2 - k];
            }
            for f in 0..FRAMES {
                scratch
                    .frames
                    .extend_from_slice(&input[f * STFT_HOP..f * STFT_HOP + FILTER]);
            }
        }

        // STFT magnitudes, `[chunk][FRAMES][BINS]`: the first convolution's input as it is.
        let mut a = std::mem::take(&mut scratch.a);
        self.spectrum
            .magnitudes(&scratch.frames, &mut scratch.spectrum, &mut a);
        let mut b = std::mem::take(&mut scratch.b);
        let mut t = FRAMES;
        for (i, conv) in self.encoder.iter().enumerate() {
            if i % 2 == 0 {
                conv.forward_relu(&a, t, m, scratch, &mut b);
            } else {
                conv.forward_relu(&b, t, m, scratch, &mut a);
            }
            t = conv.out_len(t);
        }
        // Four layers: the result is back in `a`, `[chunk][HIDDEN]` (one step left).

        // The input projection of every chunk, `[chunk][4·HIDDEN]`.
        let mut projected = std::mem::take(&mut scratch.dots);
        projected.clear();
        projected.resize(4 * HIDDEN * m, 0.0);
        self.w_ih.apply(&a[..m * HIDDEN], &mut projected);
        let gates = &mut scratch.gates;
        gates.resize(4 * HIDDEN, 0.0);
        for chunk in 0..m {
            self.w_hh.apply(&h[..], gates);
            let x = &projected[chunk * 4 * HIDDEN..(chunk + 1) * 4 * HIDDEN];
            for ((out, b), x) in gates.iter_mut().zip(&self.bias).zip(x) {
                *out += b + x;
            }
            // Branch-free sigmoid and tanh, so the loop vectorises.
            let (gi, rest) = gates.split_at(HIDDEN);
            let (gf, rest) = rest.split_at(HIDDEN);
            let (gg, go) = rest.split_at(HIDDEN);
            for k in 0..HIDDEN {
                let i = sigmoid(gi[k]);
                let f = sigmoid(gf[k]);
                let g = tanh(gg[k]);
                let o = sigmoid(go[k]);
                c[k] = f * c[k] + i * g;
                h[k] = o * tanh(c[k]);
            }
            let relu_h = h.map(|v| v.max(0.0));
            on_probability(sigmoid(self.out_bias + dot(&self.out_weight, &relu_h)));
        }
        scratch.dots = projected;
        scratch.a = a;
        scratch.b = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_weights_parse() {
        let net = SileroNet::from_safetensors(EMBEDDED).expect("parses");
        // The shipped basis is the Hann-windowed DFT: its magnitudes come from an FFT.
        assert!(
            matches!(net.spectrum, Spectrum::Fft { .. }),
            "{:?}",
            net.spectrum
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let e = SileroNet::from_safetensors(b"not a safetensors file").unwrap_err();
        assert!(e.to_string().starts_with("voice activity weights"), "{e}");
    }
}
