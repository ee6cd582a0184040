//! The network: a convolutional front end that shortens the sequence fourfold, a
//! bidirectional LSTM, attention pooling over time and a linear head.
//!
//! (B, 300, 65) → Conv1d 65→C k5 → BatchNorm → ReLU → MaxPool 2 → Conv1d C→C k5 → BatchNorm
//! → ReLU → MaxPool 2 → (B, 75, C) → dropout → BiLSTM H per direction → (B, 75, 2H) →
//! softmax-over-time attention pool → dropout → Linear 2H→8. The conv front end gained 15 F1
//! points over a plain LSTM on held-out actors in the probe that chose this recipe, and it is
//! what makes a 2-core CPU fast enough: the LSTM then runs 75 steps instead of 300.

use candle_core::{DType, Device, Module, ModuleT, Result, Tensor};
use candle_nn::{batch_norm, linear, BatchNorm, BatchNormConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::bias::add_bias;
use super::norm_pool::norm_relu_pool;
use super::recurrence::{lstm_recurrence, recur};
use super::rng::Rng;
use super::time_conv::time_conv;
// The inference pass (`infer/`) runs the same loops.
pub(super) use super::recurrence::{recur_strided, recur_strided_paired, transpose, GateLayout};

/// Sizes of the network; recorded in the model card so loading builds the same shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    pub input_dim: usize,
    pub conv_channels: usize,
    pub lstm_hidden: usize,
    pub classes: usize,
    pub dropout: f32,
    /// Leading inputs (the first 40 are the MFCCs) from which each window's own mean over
    /// time is taken away before the first convolution: cepstral mean normalisation per
    /// 3 s window, which removes a fixed colouring by the microphone and the room. The
    /// window is the unit everywhere, so it is the same live and offline. 0: none (older
    /// cards).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub centred_inputs: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            input_dim: super::input::INPUT_DIM,
            conv_channels: 128,
            lstm_hidden: 128,
            classes: 8,
            dropout: 0.3,
            centred_inputs: 0,
        }
    }
}

/// One LSTM direction with PyTorch's parameter names and gate order (input, forget, cell,
/// output). candle-nn's `LSTM` steps by slicing its input inside the time loop; this one
/// projects the whole input sequence with one matrix product first.
pub struct Lstm {
    pub(super) w_ih: Tensor,
    pub(super) w_hh: Tensor,
    pub(super) b_ih: Tensor,
    pub(super) b_hh: Tensor,
    pub(super) hidden: usize,
}

impl Lstm {
    pub fn new(input: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let w_ih = vb.get_with_hints((4 * hidden, input), "weight_ih", init)?;
        let w_hh = vb.get_with_hints((4 * hidden, hidden), "weight_hh", init)?;
        let b_ih = vb.get_with_hints(4 * hidden, "bias_ih", init)?;
        let b_hh = vb.get_with_hints(4 * hidden, "bias_hh", init)?;
        Ok(Self {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            hidden,
        })
    }

    /// (B, T, in) → (B, T, H), run forwards or backwards in time. The input projection
    /// is candle ops; the recurrence runs as plain loops over the weights (`recur`), about
    /// twice as fast as candle's matrix products even on a batch of 32. Training runs the
    /// same loops as one differentiable op with its own backward pass
    /// (`recurrence::lstm_recurrence`), one graph node per direction.
    pub fn forward(&self, x: &Tensor, reverse: bool, train: bool) -> Result<Tensor> {
        let (b, t, input) = x.dims3()?;
        let projected = add_bias(
            &x.reshape((b * t, input))?.matmul(&self.w_ih.t()?)?,
            &(&self.b_ih + &self.b_hh)?,
        )?
        .reshape((b, t, 4 * self.hidden))?;
        if !train {
            let w_hh: Vec<f32> = self.w_hh.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let gates: Vec<f32> = projected.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let h = recur(&gates, b, t, self.hidden, &w_hh, reverse);
            return Tensor::from_vec(h, (b, t, self.hidden), x.device())?.to_dtype(x.dtype());
        }
        lstm_recurrence(&projected, &self.w_hh, reverse)
    }
}

/// A 1-D convolution over time ("same" padding, stride 1) as one matrix product over
/// unfolded input. candle 0.11's own `conv1d` computes a wrong kernel gradient on CPU
/// (relative error ~1 against finite differences, `tests/gradients.rs`), which left the
/// front end untrained; the unfolding and one large matrix product, as one op with a
/// backward pass of its own (checked against finite differences), are right, and fast on
/// a CPU.
pub struct TimeConv {
    /// (out, in, kernel), PyTorch's layout and name.
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
}

impl TimeConv {
    pub fn new(input: usize, output: usize, kernel: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / ((input * kernel) as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints((output, input, kernel), "weight", init)?;
        let bias = vb.get_with_hints(output, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self { weight, bias })
    }

    /// (B, T, in) → (B, T, out), time-major: one op with its own backward pass
    /// ([`time_conv`]; `tests/gradients.rs` holds it to finite differences and to
    /// candle's `conv1d`, whose forward pass is right).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        time_conv(x, &self.weight, &self.bias)
    }
}

/// What a fine-tuning pass leaves alone ([`EmotionNet::forward_frozen`]); the default
/// freezes nothing (training from scratch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frozen {
    /// BatchNorm normalises with its running statistics and does not update them.
    pub batch_norm: bool,
    /// No gradient reaches the convolutional front end (convolutions and BatchNorm).
    pub front_end: bool,
    /// Nor the LSTM (which then runs its inference loops).
    pub lstm: bool,
}

pub struct EmotionNet {
    pub(super) conv1: TimeConv,
    pub(super) bn1: BatchNorm,
    pub(super) conv2: TimeConv,
    pub(super) bn2: BatchNorm,
    pub(super) forward_lstm: Lstm,
    pub(super) backward_lstm: Lstm,
    pub(super) attention: Linear,
    pub(super) head: Linear,
    config: NetConfig,
}

impl EmotionNet {
    pub fn new(config: &NetConfig, vb: VarBuilder) -> Result<Self> {
        let c = config.conv_channels;
        let h = config.lstm_hidden;
        let bn = BatchNormConfig {
            eps: 1e-5,
            momentum: 0.1,
            ..Default::default()
        };
        Ok(Self {
            conv1: TimeConv::new(config.input_dim, c, 5, vb.pp("conv1"))?,
            bn1: batch_norm(c, bn, vb.pp("bn1"))?,
            conv2: TimeConv::new(c, c, 5, vb.pp("conv2"))?,
            bn2: batch_norm(c, bn, vb.pp("bn2"))?,
            forward_lstm: Lstm::new(c, h, vb.pp("lstm_forward"))?,
            backward_lstm: Lstm::new(c, h, vb.pp("lstm_backward"))?,
            attention: linear(2 * h, 1, vb.pp("attention"))?,
            head: linear(2 * h, config.classes, vb.pp("head"))?,
            config: config.clone(),
        })
    }

    /// (B, T, input_dim) → logits (B, classes). With `dropout` (training) BatchNorm uses
    /// batch statistics and dropout masks come from that generator; without, inference.
    pub fn forward(&self, x: &Tensor, dropout: Option<&mut Rng>) -> Result<Tensor> {
        self.forward_frozen(x, dropout, Frozen::default())
    }

    /// [`forward`](Self::forward) for fine-tuning, leaving the `frozen` parts alone: no
    /// gradient flows into them, and frozen BatchNorm normalises with (and keeps) its
    /// running statistics even while training.
    pub fn forward_frozen(
        &self,
        x: &Tensor,
        mut dropout: Option<&mut Rng>,
        frozen: Frozen,
    ) -> Result<Tensor> {
        let train = dropout.is_some();
        let stats = train && !frozen.batch_norm;
        let x = &centre(x, self.config.centred_inputs)?;
        let x = conv_block(&self.conv1, &self.bn1, x, stats)?;
        let x = conv_block(&self.conv2, &self.bn2, &x, stats)?;
        let x = if frozen.front_end { x.detach() } else { x };
        let x = apply_dropout(&x, self.config.dropout, dropout.as_deref_mut())?;
        let lstm_train = train && !frozen.lstm;
        let h = Tensor::cat(
            &[
                self.forward_lstm.forward(&x, false, lstm_train)?,
                self.backward_lstm.forward(&x, true, lstm_train)?,
            ],
            2,
        )?;
        // Attention pooling: a softmax over time of one score per step. The plain-op
        // softmax, because the fused one has no gradient.
        let weights = candle_nn::ops::softmax(&self.attention.forward(&h)?, 1)?;
        let pooled = h.broadcast_mul(&weights)?.sum(1)?;
        let pooled = apply_dropout(&pooled, self.config.dropout, dropout)?;
        self.head.forward(&pooled)
    }
}

impl EmotionNet {
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// The inputs of the first BatchNorm for a batch of windows, flattened to (B·T, C).
    pub(super) fn bn1_input(&self, x: &Tensor) -> Result<Tensor> {
        let y = self
            .conv1
            .forward(&centre(x, self.config.centred_inputs)?)?;
        let (b, t, c) = y.dims3()?;
        y.reshape((b * t, c))
    }

    /// The inputs of the second BatchNorm, with the first one in inference mode.
    pub(super) fn bn2_input(&self, x: &Tensor) -> Result<Tensor> {
        let x = &centre(x, self.config.centred_inputs)?;
        let y = self
            .conv2
            .forward(&conv_block(&self.conv1, &self.bn1, x, false)?)?;
        let (b, t, c) = y.dims3()?;
        y.reshape((b * t, c))
    }
}

/// Takes each window's mean over time away from its first `k` inputs of (B, T, C).
fn centre(x: &Tensor, k: usize) -> Result<Tensor> {
    if k == 0 {
        return Ok(x.clone());
    }
    let d = x.dim(2)?;
    let head = x.narrow(2, 0, k)?;
    let head = head.broadcast_sub(&head.mean_keepdim(1)?)?;
    if k >= d {
        return Ok(head);
    }
    Tensor::cat(&[&head, &x.narrow(2, k, d - k)?], 2)
}

/// Convolution → BatchNorm → ReLU → max over pairs of steps, time-major (B, T, C). BatchNorm
/// treats every step of every item as one sample, as `BatchNorm1d` on (B, C, T) does; with
/// `batch_stats` (training) it normalises with the batch's statistics and moves its
/// running ones, the tail as one op ([`norm_relu_pool`]), else with the running ones.
fn conv_block(conv: &TimeConv, bn: &BatchNorm, x: &Tensor, batch_stats: bool) -> Result<Tensor> {
    let y = conv.forward(x)?;
    if batch_stats {
        return norm_relu_pool(bn, &y);
    }
    let (b, t, c) = y.dims3()?;
    max_pool2(
        &bn.forward_t(&y.reshape((b * t, c))?, false)?
            .reshape((b, t, c))?
            .relu()?,
    )
}

/// Max over pairs of time steps: (B, T, C) → (B, T / 2, C), an odd last step dropped.
fn max_pool2(x: &Tensor) -> Result<Tensor> {
    let (b, t, c) = x.dims3()?;
    x.narrow(1, 0, t / 2 * 2)?.reshape((b, t / 2, 2, c))?.max(2)
}

/// Inverted dropout with a mask from our own generator, so a training run repeats exactly
/// for a seed (candle's CPU random numbers cannot be seeded).
fn apply_dropout(x: &Tensor, p: f32, rng: Option<&mut Rng>) -> Result<Tensor> {
    let Some(rng) = rng else { return Ok(x.clone()) };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.uniform() < f64::from(p) {
                0.0
            } else {
                keep
            }
        })
        .collect();
    x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
}

/// Gives every variable a fresh value from `rng`, in name order, so initialisation repeats
/// for a seed: weights uniform in ±1/√fan_in (PyTorch's default bound), LSTM biases
/// likewise, other biases and BatchNorm shifts 0, BatchNorm scales and running variances 1.
pub fn initialise(varmap: &candle_nn::VarMap, rng: &mut Rng) -> Result<()> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map lock poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let is_bn = name.starts_with("bn");
        let value = |v: f32| Tensor::full(v, dims.as_slice(), &Device::Cpu);
        let t = if is_bn && (name.ends_with("running_var") || name.ends_with(".weight")) {
            value(1.0)?
        } else if is_bn || (name.ends_with(".bias") && !name.contains("lstm")) {
            value(0.0)?
        } else {
            let fan_in = if name.contains("lstm") {
                dims[0] / 4
            } else {
                n / dims[0].max(1)
            };
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            let values: Vec<f32> = (0..n).map(|_| rng.range(-bound, bound) as f32).collect();
            Tensor::from_vec(values, dims.as_slice(), &Device::Cpu)?
        };
        var.set(&t.to_dtype(DType::F32)?)?;
    }
    Ok(())
}
