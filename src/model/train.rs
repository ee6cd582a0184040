//! Training: decode and featurise the clips once (with augmented copies), then minibatch
//! AdamW on random 3 s crops, validating on held-out actors after every epoch and keeping
//! the best weights (early stopping).

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use half::f16;
use rayon::prelude::*;

use super::augment::{self, Rng};
use super::card::Normalisation;
use super::classifier::{argmax, batch_probabilities, clip_probabilities};
use super::dataset::Clip;
use super::infer::InferenceNet;
use super::input::{fill_window, signal_frames, to_f16, Normaliser, INPUT_DIM, WINDOW_FRAMES};
use super::metrics::Metrics;
use super::net::{initialise, EmotionNet, NetConfig};
use crate::audio::{decode_file, DecodeError};
use crate::dsp::StreamingExtractor;
use crate::labels::Emotion;

/// The training recipe (MODEL-NOTES.md's best, measured on held-out actors).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub label_smoothing: f64,
    /// Share of the steps spent warming the learning rate up (one-cycle schedule).
    pub warmup: f64,
    pub clip_norm: f64,
    /// Epochs without a better validation macro-F1 before stopping.
    pub patience: usize,
    pub augment: bool,
    /// Recompute BatchNorm's statistics over the whole training set before each
    /// validation instead of keeping the running averages of the last few batches.
    pub precise_batch_norm: bool,
    /// Decay of the moving average of the weights that is validated and shipped; 0 ships
    /// the live weights.
    pub weight_average: f64,
    pub net: NetConfig,
    /// Fine-tuning: start from these weights instead of random ones.
    pub start: Option<StartFrom>,
}

/// Trained weights to fine-tune, with the normalisation they were trained under (kept:
/// the network's first layer expects inputs scaled that way).
#[derive(Clone, Debug)]
pub struct StartFrom {
    pub weights: std::path::PathBuf,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl TrainConfig {
    /// The network trained from scratch.
    pub fn default_net() -> NetConfig {
        NetConfig::default()
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            seed: 1,
            batch_size: 32,
            learning_rate: 2e-3,
            weight_decay: 1e-2,
            label_smoothing: 0.1,
            warmup: 0.15,
            clip_norm: 5.0,
            patience: 8,
            augment: true,
            precise_batch_norm: false,
            weight_average: 0.0,
            net: NetConfig::default(),
            start: None,
        }
    }
}

/// One augmented version made of every training clip besides the original.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Augmentation {
    /// White noise at this signal-to-noise ratio (dB).
    Noise(f64),
    /// Pitch (and formants) shifted by this many semitones, length kept.
    Pitch(f64),
    /// Played this many times faster, pitch kept.
    Stretch(f64),
}

impl Augmentation {
    fn apply(self, signal: &[f32], rng: &mut Rng) -> Vec<f32> {
        match self {
            Self::Noise(snr_db) => augment::add_noise(signal, snr_db, rng),
            Self::Pitch(semitones) => augment::pitch_shift(signal, semitones),
            Self::Stretch(rate) => augment::time_stretch(signal, rate),
        }
    }
}

impl std::fmt::Display for Augmentation {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Noise(snr_db) => write!(f, "noise {snr_db} dB SNR"),
            Self::Pitch(semitones) => write!(f, "pitch {semitones:+} semitones"),
            Self::Stretch(rate) => write!(f, "time stretch {rate}"),
        }
    }
}

/// The augmented versions made of every training clip besides the original.
pub const AUGMENTATIONS: [Augmentation; 9] = [
    Augmentation::Noise(20.0),
    Augmentation::Pitch(1.0),
    Augmentation::Pitch(-1.0),
    Augmentation::Pitch(2.0),
    Augmentation::Pitch(-2.0),
    Augmentation::Pitch(3.0),
    Augmentation::Pitch(-3.0),
    Augmentation::Stretch(0.9),
    Augmentation::Stretch(1.1),
];

/// A clip's label and its model-input frames: the original first, then augmented versions.
pub struct PreparedClip {
    pub emotion: Emotion,
    pub actor: u8,
    pub versions: Vec<Vec<f16>>,
}

/// Decodes and featurises clips in parallel; `augment` adds the [`AUGMENTATIONS`].
/// `on_done` is called once per clip (for a progress bar).
pub fn prepare(
    clips: &[Clip],
    augment: bool,
    seed: u64,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<PreparedClip>, DecodeError> {
    clips
        .par_iter()
        .enumerate()
        .map_init(StreamingExtractor::new, |extractor, (i, clip)| {
            let mut signal = decode_file(&clip.path)?.samples;
            if let Some((start, end)) = clip.span {
                let rate = f64::from(crate::dsp::SAMPLE_RATE);
                let b = ((end * rate) as usize).min(signal.len());
                let a = ((start * rate) as usize).min(b);
                signal = signal[a..b].to_vec();
            }
            let mut versions = vec![to_f16(&signal_frames(extractor, &signal))];
            if augment {
                let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for augmentation in AUGMENTATIONS {
                    let audio = augmentation.apply(&signal, &mut rng);
                    versions.push(to_f16(&signal_frames(extractor, &audio)));
                }
            }
            on_done();
            Ok(PreparedClip {
                emotion: clip.emotion,
                actor: clip.actor,
                versions,
            })
        })
        .collect()
}

/// What the caller hears after every step and epoch.
pub enum Progress<'a> {
    Step {
        step: usize,
        total: usize,
        loss: f64,
    },
    Epoch {
        epoch: usize,
        mean_loss: f64,
        validation: Option<&'a Metrics>,
        improved: bool,
    },
}

/// A trained network and what it learnt on.
pub struct Trained {
    pub varmap: VarMap,
    pub net: EmotionNet,
    pub normalisation: Normalisation,
    /// Mean training loss of each epoch run.
    pub losses: Vec<f64>,
    /// The epoch (1-based) whose weights were kept.
    pub best_epoch: usize,
    pub validation: Option<Metrics>,
    pub seconds: f64,
}

/// Trains on `train`, validating on `val` after every epoch when it is not empty.
pub fn train(
    train: &[PreparedClip],
    val: &[PreparedClip],
    cfg: &TrainConfig,
    mut progress: impl FnMut(Progress),
) -> candle_core::Result<Trained> {
    let started = Instant::now();
    // Normalisation from the original (unaugmented) training clips only, or the one the
    // starting weights were trained under.
    let (mean, std) = match &cfg.start {
        Some(start) => (start.mean.clone(), start.std.clone()),
        None => Normaliser::fit(
            train
                .iter()
                .filter_map(|c| c.versions.first())
                .map(Vec::as_slice),
        ),
    };
    let norm = Normaliser::from_mean_std(&mean, &std);

    let mut rng = Rng::new(cfg.seed);
    let varmap = VarMap::new();
    let net = EmotionNet::new(
        &cfg.net,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )?;
    initialise(&varmap, &mut rng)?;
    if let Some(start) = &cfg.start {
        // A clone shares the variables; `load` needs it mutable.
        varmap.clone().load(&start.weights)?;
    }
    let trainable: Vec<Var> = trainable_vars(&varmap);
    let mut opt = AdamW::new(
        trainable.clone(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;

    let batch = cfg.batch_size.max(1);
    let steps_per_epoch = train.len().div_ceil(batch);
    let total_steps = (steps_per_epoch * cfg.epochs).max(1);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut x = vec![0.0f32; batch * WINDOW_FRAMES * INPUT_DIM];
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    let mut average = if cfg.weight_average > 0.0 {
        Some(WeightAverage::new(&trainable, cfg.weight_average)?)
    } else {
        None
    };
    let mut losses = Vec::new();
    let mut step = 0;
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        for items in order.chunks(batch) {
            opt.set_learning_rate(one_cycle(cfg.learning_rate, cfg.warmup, step, total_steps));
            let (inputs, targets) = make_batch(train, items, &norm, cfg, &mut rng, &mut x)?;
            let logits = net.forward(&inputs, Some(&mut rng))?;
            let loss = smoothed_cross_entropy(&logits, &targets)?;
            let mut grads = loss.backward()?;
            clip_gradients(&mut grads, &trainable, cfg.clip_norm)?;
            opt.step(&grads)?;
            if let Some(average) = &mut average {
                average.update(&trainable)?;
            }
            let loss = f64::from(loss.to_scalar::<f32>()?);
            epoch_loss += loss * items.len() as f64;
            step += 1;
            progress(Progress::Step {
                step,
                total: total_steps,
                loss,
            });
        }
        let mean_loss = epoch_loss / train.len().max(1) as f64;
        losses.push(mean_loss);
        // Validation scores the weights as they would be shipped (averaged, with their
        // BatchNorm statistics); training then goes on from the live weights.
        // Early stopping watches one centre window per clip: a tenth of the cost of every
        // window (which took 7 of an epoch's 24 s). The kept epoch is scored in full below.
        let validation = if val.is_empty() {
            None
        } else {
            let live = snapshot(&varmap)?;
            ready_for_inference(
                &net,
                &varmap,
                &trainable,
                average.as_ref(),
                train,
                &norm,
                cfg,
                epoch,
                &mut x,
            )?;
            let m = evaluate_centre(&net, &norm, val)?;
            if best.as_ref().is_none_or(|(f1, ..)| m.macro_f1 > *f1) {
                best = Some((m.macro_f1, epoch, snapshot(&varmap)?));
            }
            restore(&varmap, &live)?;
            Some(m)
        };
        let improved = validation.is_some() && best.as_ref().is_some_and(|(_, e, _)| *e == epoch);
        progress(Progress::Epoch {
            epoch,
            mean_loss,
            validation: validation.as_ref(),
            improved,
        });
        if let Some((_, best_epoch, ..)) = &best {
            if epoch - best_epoch >= cfg.patience {
                break;
            }
        }
    }
    let (best_epoch, validation) = match best {
        Some((_, epoch, weights)) => {
            restore(&varmap, &weights)?;
            (epoch, Some(evaluate(&net, &norm, val)?))
        }
        None => {
            let epoch = losses.len();
            ready_for_inference(
                &net,
                &varmap,
                &trainable,
                average.as_ref(),
                train,
                &norm,
                cfg,
                epoch,
                &mut x,
            )?;
            (epoch, None)
        }
    };
    Ok(Trained {
        varmap,
        net,
        normalisation: Normalisation { mean, std },
        losses,
        best_epoch,
        validation,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Puts the weights to be scored or shipped in place: the running average of the weights
/// when one is kept, then BatchNorm statistics for them when asked for.
#[allow(clippy::too_many_arguments)]
fn ready_for_inference(
    net: &EmotionNet,
    varmap: &VarMap,
    trainable: &[Var],
    average: Option<&WeightAverage>,
    train: &[PreparedClip],
    norm: &Normaliser,
    cfg: &TrainConfig,
    epoch: usize,
    buffer: &mut [f32],
) -> candle_core::Result<()> {
    if let Some(average) = average {
        average.apply(trainable)?;
    }
    if cfg.precise_batch_norm {
        let mut rng = Rng::new(cfg.seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        precise_batch_norm(net, varmap, train, norm, cfg, &mut rng, buffer)?;
    }
    Ok(())
}

/// An exponential moving average of the trainable weights (Polyak averaging): the
/// validation score of the live weights swings by several F1 points from one epoch to
/// the next, and their average over the last few epochs is a steadier model. The decay
/// starts low so that early weights do not linger (TensorFlow's num_updates rule).
struct WeightAverage {
    decay: f64,
    updates: usize,
    values: Vec<Tensor>,
}

impl WeightAverage {
    fn new(vars: &[Var], decay: f64) -> candle_core::Result<Self> {
        Ok(Self {
            decay,
            updates: 0,
            values: vars
                .iter()
                .map(|v| v.as_tensor().copy())
                .collect::<candle_core::Result<_>>()?,
        })
    }

    fn update(&mut self, vars: &[Var]) -> candle_core::Result<()> {
        self.updates += 1;
        let n = self.updates as f64;
        let d = self.decay.min((1.0 + n) / (10.0 + n));
        for (avg, v) in self.values.iter_mut().zip(vars) {
            *avg = (avg.affine(d, 0.0)? + v.as_tensor().detach().affine(1.0 - d, 0.0)?)?;
        }
        Ok(())
    }

    fn apply(&self, vars: &[Var]) -> candle_core::Result<()> {
        for (avg, v) in self.values.iter().zip(vars) {
            v.set(avg)?;
        }
        Ok(())
    }
}

/// Sets BatchNorm's statistics to plain averages over one pass of the training set
/// (every clip once, a random version and crop each, as training draws them). The
/// running averages that training keeps follow the last few batches, and with augmented
/// versions drawn at random they wander enough to move validation F1 by several points
/// from one epoch to the next. The second layer's statistics are taken with the first
/// layer already in inference mode, as the network will run.
fn precise_batch_norm(
    net: &EmotionNet,
    varmap: &VarMap,
    clips: &[PreparedClip],
    norm: &Normaliser,
    cfg: &TrainConfig,
    rng: &mut Rng,
    buffer: &mut [f32],
) -> candle_core::Result<()> {
    let mut order: Vec<usize> = (0..clips.len()).collect();
    rng.shuffle(&mut order);
    let batch = cfg.batch_size.max(1);
    let inputs = order
        .chunks(batch)
        .map(|items| Ok(make_batch(clips, items, norm, cfg, rng, buffer)?.0))
        .collect::<candle_core::Result<Vec<Tensor>>>()?;
    for layer in ["bn1", "bn2"] {
        let mut moments = Moments::default();
        for x in &inputs {
            let y = if layer == "bn1" {
                net.bn1_input(x)?
            } else {
                net.bn2_input(x)?
            };
            moments.add(&y)?;
        }
        let (mean, var) = moments.finish()?;
        set_var(varmap, &format!("{layer}.running_mean"), &mean)?;
        set_var(varmap, &format!("{layer}.running_var"), &var)?;
    }
    Ok(())
}

/// Per-channel mean and (unbiased) variance accumulated over (rows, channels) tensors.
#[derive(Default)]
struct Moments {
    rows: usize,
    sum: Vec<f64>,
    squares: Vec<f64>,
}

impl Moments {
    fn add(&mut self, y: &Tensor) -> candle_core::Result<()> {
        let (rows, _) = y.dims2()?;
        let sum = y.sum(0)?.to_vec1::<f32>()?;
        let squares = y.sqr()?.sum(0)?.to_vec1::<f32>()?;
        self.sum.resize(sum.len(), 0.0);
        self.squares.resize(squares.len(), 0.0);
        for (acc, v) in self.sum.iter_mut().zip(sum) {
            *acc += f64::from(v);
        }
        for (acc, v) in self.squares.iter_mut().zip(squares) {
            *acc += f64::from(v);
        }
        self.rows += rows;
        Ok(())
    }

    fn finish(&self) -> candle_core::Result<(Tensor, Tensor)> {
        let n = self.rows.max(2) as f64;
        let mean: Vec<f32> = self.sum.iter().map(|s| (s / n) as f32).collect();
        let var: Vec<f32> = self
            .sum
            .iter()
            .zip(&self.squares)
            .map(|(s, q)| ((q - s * s / n) / (n - 1.0)).max(0.0) as f32)
            .collect();
        let len = mean.len();
        Ok((
            Tensor::from_vec(mean, len, &Device::Cpu)?,
            Tensor::from_vec(var, len, &Device::Cpu)?,
        ))
    }
}

fn set_var(varmap: &VarMap, name: &str, value: &Tensor) -> candle_core::Result<()> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?;
    let var = data
        .get(name)
        .ok_or_else(|| candle_core::Error::Msg(format!("no variable {name}")))?;
    var.set(value)
}

/// Scores whole clips (their original version) the way `evaluate` does.
pub fn evaluate(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Metrics> {
    let net = InferenceNet::new(net)?;
    let mut truth = Vec::with_capacity(clips.len());
    let mut predicted = Vec::with_capacity(clips.len());
    for clip in clips {
        let Some(frames) = clip.versions.first() else {
            continue;
        };
        truth.push(clip.emotion.index());
        predicted.push(argmax(&clip_probabilities(&net, norm, frames)?));
    }
    Ok(Metrics::from_predictions(
        &truth,
        &predicted,
        Emotion::COUNT,
    ))
}

/// Scores clips on one window each, the one at their centre, in batches.
pub fn evaluate_centre(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Metrics> {
    let windows: Vec<(&[f16], usize)> = clips
        .iter()
        .map(|clip| {
            let frames = clip.versions.first().map_or(&[][..], Vec::as_slice);
            (
                frames,
                (frames.len() / INPUT_DIM).saturating_sub(WINDOW_FRAMES) / 2,
            )
        })
        .collect();
    let predicted: Vec<usize> = batch_probabilities(&InferenceNet::new(net)?, norm, &windows)?
        .iter()
        .map(argmax)
        .collect();
    let truth: Vec<usize> = clips.iter().map(|c| c.emotion.index()).collect();
    Ok(Metrics::from_predictions(
        &truth,
        &predicted,
        Emotion::COUNT,
    ))
}

/// Learning rate at `step` of a one-cycle schedule: linear warm-up from peak / 25, then a
/// cosine down to peak / 10⁴ (PyTorch's OneCycleLR shape).
pub fn one_cycle(peak: f64, warmup: f64, step: usize, total: usize) -> f64 {
    let warm = ((total as f64) * warmup).max(1.0);
    let s = step as f64;
    let (start, end) = (peak / 25.0, peak / 1e4);
    if s < warm {
        start + (peak - start) * s / warm
    } else {
        let progress = ((s - warm) / (total as f64 - warm).max(1.0)).min(1.0);
        end + (peak - end) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// A batch of random crops (and, when augmenting, random versions) with smoothed targets.
fn make_batch(
    clips: &[PreparedClip],
    items: &[usize],
    norm: &Normaliser,
    cfg: &TrainConfig,
    rng: &mut Rng,
    buffer: &mut [f32],
) -> candle_core::Result<(Tensor, Tensor)> {
    let size = WINDOW_FRAMES * INPUT_DIM;
    let smooth = cfg.label_smoothing;
    let mut targets = vec![(smooth / Emotion::COUNT as f64) as f32; items.len() * Emotion::COUNT];
    for (k, (&i, slot)) in items.iter().zip(buffer.chunks_exact_mut(size)).enumerate() {
        let clip = &clips[i];
        let version = if cfg.augment {
            rng.below(clip.versions.len())
        } else {
            0
        };
        let frames = &clip.versions[version];
        let n = frames.len() / INPUT_DIM;
        let start = if n > WINDOW_FRAMES {
            rng.below(n - WINDOW_FRAMES + 1)
        } else {
            0
        };
        fill_window(frames, start, norm, slot);
        targets[k * Emotion::COUNT + clip.emotion.index()] += (1.0 - smooth) as f32;
    }
    let x = Tensor::from_slice(
        &buffer[..items.len() * size],
        (items.len(), WINDOW_FRAMES, INPUT_DIM),
        &Device::Cpu,
    )?;
    let t = Tensor::from_vec(targets, (items.len(), Emotion::COUNT), &Device::Cpu)?;
    Ok((x, t))
}

/// Cross-entropy against smoothed target distributions, from differentiable plain ops.
fn smoothed_cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    (targets * logp)?.sum(1)?.mean(0)?.neg()
}

/// Scales all gradients down together when their global L2 norm exceeds `max_norm`.
fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max_norm: f64,
) -> candle_core::Result<()> {
    let mut sum = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sum += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = sum.sqrt();
    if norm > max_norm {
        let scale = max_norm / norm;
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * scale)?);
            }
        }
    }
    Ok(())
}

/// Every variable with its name, in name order.
fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let Ok(data) = varmap.data().lock() else {
        return Vec::new();
    };
    let mut named: Vec<(String, Var)> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Every variable but BatchNorm's running statistics, in name order.
fn trainable_vars(varmap: &VarMap) -> Vec<Var> {
    sorted_vars(varmap)
        .into_iter()
        .filter(|(n, _)| !n.contains("running_"))
        .map(|(_, v)| v)
        .collect()
}

/// Copies of every variable's value, running statistics included.
fn snapshot(varmap: &VarMap) -> candle_core::Result<Vec<Tensor>> {
    sorted_vars(varmap)
        .iter()
        .map(|(_, v)| v.as_tensor().copy())
        .collect()
}

fn restore(varmap: &VarMap, values: &[Tensor]) -> candle_core::Result<()> {
    for ((_, v), t) in sorted_vars(varmap).iter().zip(values) {
        v.set(t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_warms_up_then_anneals() {
        let lr = |s| one_cycle(1.0, 0.15, s, 100);
        assert!((lr(0) - 0.04).abs() < 1e-12);
        assert!((lr(15) - 1.0).abs() < 1e-12);
        assert!(lr(10) > lr(5) && lr(50) < lr(20) && lr(99) < 0.01);
    }

    /// Clips exactly one window long, one version each: every batch is fixed, so the
    /// statistics the first BatchNorm should hold can be computed here independently.
    #[test]
    fn precise_batch_norm_holds_the_training_set_statistics() {
        let mut rng = Rng::new(7);
        let clips: Vec<PreparedClip> = (0..5)
            .map(|i| PreparedClip {
                emotion: Emotion::ALL[i % Emotion::COUNT],
                actor: 1,
                versions: vec![(0..WINDOW_FRAMES * INPUT_DIM)
                    .map(|_| f16::from_f32(rng.normal() as f32 * 3.0 + 1.0))
                    .collect()],
            })
            .collect();
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 2,
            augment: false,
            precise_batch_norm: true,
            net: NetConfig {
                conv_channels: 8,
                lstm_hidden: 8,
                ..NetConfig::default()
            },
            ..TrainConfig::default()
        };
        let trained = train(&clips, &[], &cfg, |_| {}).unwrap();
        let norm =
            Normaliser::from_mean_std(&trained.normalisation.mean, &trained.normalisation.std);
        let mut x = vec![0.0f32; clips.len() * WINDOW_FRAMES * INPUT_DIM];
        for (clip, slot) in clips
            .iter()
            .zip(x.chunks_exact_mut(WINDOW_FRAMES * INPUT_DIM))
        {
            fill_window(&clip.versions[0], 0, &norm, slot);
        }
        let x = Tensor::from_vec(x, (clips.len(), WINDOW_FRAMES, INPUT_DIM), &Device::Cpu).unwrap();
        let y = trained.net.bn1_input(&x).unwrap();
        let mean = y.mean(0).unwrap();
        let var = y
            .broadcast_sub(&mean)
            .unwrap()
            .sqr()
            .unwrap()
            .mean(0)
            .unwrap();
        let held = |name: &str| {
            let vars = sorted_vars(&trained.varmap);
            let (_, v) = vars.iter().find(|(n, _)| n == name).unwrap();
            v.as_tensor().to_vec1::<f32>().unwrap()
        };
        let close = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(a, b)| (a - b).abs() <= 1e-3 * (1.0 + b.abs()))
        };
        let (mean, var) = (
            mean.to_vec1::<f32>().unwrap(),
            var.to_vec1::<f32>().unwrap(),
        );
        assert!(
            close(&held("bn1.running_mean"), &mean),
            "{:?} vs {mean:?}",
            held("bn1.running_mean")
        );
        assert!(
            close(&held("bn1.running_var"), &var),
            "{:?} vs {var:?}",
            held("bn1.running_var")
        );
        let bn2 = held("bn2.running_var");
        assert!(bn2.iter().all(|v| v.is_finite() && *v > 0.0), "{bn2:?}");
    }

    #[test]
    fn weight_average_follows_the_weights_with_a_warming_decay() {
        let var = Var::from_slice(&[0.0f32, 10.0], 2, &Device::Cpu).unwrap();
        let mut average = WeightAverage::new(std::slice::from_ref(&var), 0.3).unwrap();
        // Decay min(0.3, (1 + n) / (10 + n)): 2/11, then 3/12, then 0.3 (not 4/13).
        let mut expected = [0.0f64, 10.0];
        for (step, value) in [4.0f32, 8.0, 2.0].into_iter().enumerate() {
            var.set(&Tensor::from_slice(&[value, -value], 2, &Device::Cpu).unwrap())
                .unwrap();
            average.update(std::slice::from_ref(&var)).unwrap();
            let d = [2.0 / 11.0, 0.25, 0.3][step];
            expected = [
                d * expected[0] + (1.0 - d) * f64::from(value),
                d * expected[1] - (1.0 - d) * f64::from(value),
            ];
        }
        average.apply(std::slice::from_ref(&var)).unwrap();
        let got = var.as_tensor().to_vec1::<f32>().unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!((f64::from(*g) - e).abs() < 1e-5, "{got:?} vs {expected:?}");
        }
    }

    /// The names the model card records for its augmentation.
    #[test]
    fn augmentations_are_named_plainly() {
        let names: Vec<String> = AUGMENTATIONS.iter().map(ToString::to_string).collect();
        assert_eq!(names[0], "noise 20 dB SNR");
        assert!(
            names.contains(&"pitch -3 semitones".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"pitch +1 semitones".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"time stretch 0.9".to_owned()), "{names:?}");
    }
}
