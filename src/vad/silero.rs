//! Silero VAD v5 for 16 kHz audio (MIT licence, `weights/silero-vad/`), as plain loops.
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

/// A 1-D convolution with kernel 3 and padding 1, weights kept as PyTorch lays them out
/// (`[out][in][3]`), so each output is one dot product with a gathered input patch.
#[derive(Clone, Debug)]
struct Conv {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
    stride: usize,
}

impl Conv {
    const K: usize = 3;

    fn out_len(&self, t: usize) -> usize {
        (t + 2 - Self::K) / self.stride + 1
    }

    /// `x` is `[cin][t]`; writes `[cout][out_len]` into `out` with ReLU applied.
    fn forward_relu(&self, x: &[f32], t: usize, patch: &mut Vec<f32>, out: &mut Vec<f32>) {
        let t_out = self.out_len(t);
        out.clear();
        out.resize(self.cout * t_out, 0.0);
        for j in 0..t_out {
            patch.clear();
            for c in 0..self.cin {
                for k in 0..Self::K {
                    // Position in the input, shifted by the padding of one.
                    let p = (j * self.stride + k).checked_sub(1).filter(|&p| p < t);
                    patch.push(p.map_or(0.0, |p| x[c * t + p]));
                }
            }
            let n = self.cin * Self::K;
            for o in 0..self.cout {
                let v = self.bias[o] + dot(&self.weight[o * n..(o + 1) * n], patch);
                out[o * t_out + j] = v.max(0.0);
            }
        }
    }
}

/// The network's weights.
#[derive(Clone, Debug)]
pub struct SileroNet {
    /// `[2·BINS][FILTER]`: real parts, then imaginary parts.
    stft_basis: Vec<f32>,
    encoder: [Conv; 4],
    /// `[4·HIDDEN][HIDDEN]` each, gates in PyTorch's order (input, forget, cell, output).
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
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
            Ok::<_, VadError>(Conv {
                weight: take(&format!("conv{i}.weight"), &[cout, cin, Conv::K])?,
                bias: take(&format!("conv{i}.bias"), &[cout])?,
                cin,
                cout,
                stride,
            })
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
            stft_basis,
            encoder,
            w_ih,
            w_hh,
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
    a: Vec<f32>,
    b: Vec<f32>,
    patch: Vec<f32>,
    gates: Vec<f32>,
}

impl Default for SileroState {
    fn default() -> Self {
        Self {
            h: [0.0; HIDDEN],
            c: [0.0; HIDDEN],
            input: [0.0; PADDED],
            a: Vec::with_capacity(BINS * FRAMES),
            b: Vec::with_capacity(BINS * FRAMES),
            patch: Vec::with_capacity(BINS * Conv::K),
            gates: vec![0.0; 4 * HIDDEN],
        }
    }
}

impl SileroNet {
    /// The speech probability of the next 512 samples; advances `state`.
    pub fn step(&self, state: &mut SileroState, chunk: &[f32; CHUNK]) -> f32 {
        // Context: the last 64 samples of the previous chunk's input.
        state.input.copy_within(INPUT - CONTEXT..INPUT, 0);
        state.input[CONTEXT..INPUT].copy_from_slice(chunk);
        // Reflection padding on the right (the edge sample not repeated).
        for k in 0..CONTEXT {
            state.input[INPUT + k] = state.input[INPUT - 2 - k];
        }

        // STFT magnitude, `[BINS][FRAMES]`.
        let SileroState {
            a, b, patch, gates, ..
        } = state;
        a.clear();
        a.resize(BINS * FRAMES, 0.0);
        for f in 0..FRAMES {
            let frame = &state.input[f * STFT_HOP..f * STFT_HOP + FILTER];
            for bin in 0..BINS {
                let re = dot(&self.stft_basis[bin * FILTER..(bin + 1) * FILTER], frame);
                let im_row = (BINS + bin) * FILTER;
                let im = dot(&self.stft_basis[im_row..im_row + FILTER], frame);
                a[bin * FRAMES + f] = (re * re + im * im).sqrt();
            }
        }

        let mut t = FRAMES;
        for (i, conv) in self.encoder.iter().enumerate() {
            let (x, y) = if i % 2 == 0 {
                (&*a, &mut *b)
            } else {
                (&*b, &mut *a)
            };
            conv.forward_relu(x, t, patch, y);
            t = conv.out_len(t);
        }
        // Four layers: the result is back in `a`, `[HIDDEN][1]`.
        let x = &a[..HIDDEN];

        for (g, out) in gates.iter_mut().enumerate() {
            let row = g * HIDDEN..(g + 1) * HIDDEN;
            *out = self.bias[g] + dot(&self.w_ih[row.clone()], x) + dot(&self.w_hh[row], &state.h);
        }
        for k in 0..HIDDEN {
            let i = sigmoid(gates[k]);
            let f = sigmoid(gates[HIDDEN + k]);
            let g = gates[2 * HIDDEN + k].tanh();
            let o = sigmoid(gates[3 * HIDDEN + k]);
            state.c[k] = f * state.c[k] + i * g;
            state.h[k] = o * state.c[k].tanh();
        }
        let relu_h = state.h.map(|v| v.max(0.0));
        sigmoid(self.out_bias + dot(&self.out_weight, &relu_h))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A dot product with 16 independent accumulators, which the compiler keeps in vector
/// registers (the sums differ from a sequential sum only by rounding).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ac, ar) = a.as_chunks::<16>();
    let (bc, br) = b.as_chunks::<16>();
    let mut acc = [0.0f32; 16];
    for (x, y) in ac.iter().zip(bc) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_weights_parse() {
        let net = SileroNet::from_safetensors(EMBEDDED).expect("parses");
        assert_eq!(net.stft_basis.len(), 2 * BINS * FILTER);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let e = SileroNet::from_safetensors(b"not a safetensors file").unwrap_err();
        assert!(e.to_string().starts_with("voice activity weights"), "{e}");
    }

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }
}
