//! Training: decode and featurise the clips once (with augmented copies, [`prepare`]), then
//! minibatch AdamW on random 3 s crops, validating on held-out speakers after every epoch
//! ([`validate`]) and keeping the best weights (early stopping); [`averaging`] readies the
//! weights that are scored and shipped; [`members`] trains an ensemble's networks side by
//! side; [`voices`] centres clips on their voices for a per-voice model.

mod averaging;
pub mod exemplars;
pub mod holdout;
pub mod masks;
pub mod members;
pub mod mixup;
pub mod prepare;
pub mod validate;
pub mod voices;

pub use members::{member_records, train_members, Ensemble};
pub use prepare::{
    prepare, prepare_versions, prepare_versions_cancellable, Augmentation, PreparedClip, Versions,
    AUGMENTATIONS, LIGHT_AUGMENTATIONS,
};
pub use validate::{
    centre_score, classifier_outcomes, ensemble_outcomes, evaluate, evaluate_centre, outcomes,
    per_voice_outcomes,
};

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};

use super::card::Normalisation;
use super::input::{fill_window, InputGroup, Normaliser, DROPPED_STD, INPUT_DIM, WINDOW_FRAMES};
use super::metrics::{Metrics, Outcome};
use super::net::{initialise, EmotionNet, Frozen, NetConfig};
use super::rng::Rng;
use crate::labels::Emotion;
use averaging::{ready_for_inference, WeightAverage};

/// The training recipe: the best of those measured on held-out actors in a PyTorch probe
/// before this code existed (conv front end, augmentation, label smoothing, one-cycle AdamW).
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
    /// Draw each epoch's clips speaker by speaker (a random speaker, then one of their
    /// clips), so a corpus of two voices and thousands of clips counts as two voices.
    pub balance_speakers: bool,
    /// Clips drawn per epoch; `None`: every training clip once.
    pub epoch_clips: Option<usize>,
    /// Share of draws that take one of a clip's room versions, when it has any.
    pub room_share: f64,
    /// Masks over each training window's frames and inputs; `None`: none.
    pub input_masks: Option<masks::InputMasks>,
    /// Ensembles: only the first this many members train with `input_masks`, the rest
    /// without, so that the average keeps an unmasked member's reading of the voices
    /// training covers beside a masked one's; `None`: every member.
    pub masked_members: Option<usize>,
    /// Kinds of input trained without: read as 0 (see `DROPPED_STD`). From scratch only;
    /// fine-tuning keeps the starting model's normalisation, and with it what it dropped.
    pub dropped_inputs: Vec<InputGroup>,
    /// Windows blended with others of their batch; `None`: none.
    pub mixup: Option<mixup::Mixup>,
    pub net: NetConfig,
    /// Fine-tuning: start from these weights instead of random ones.
    pub start: Option<StartFrom>,
    /// Fine-tuning: which layers learn ([`Layers::All`] from scratch).
    pub layers: Layers,
    /// Fine-tuning: BatchNorm keeps the starting model's statistics (normalises with them
    /// while training too) instead of following the new data's.
    pub freeze_batch_norm: bool,
    /// Fine-tuning: strength of the pull back toward the starting weights (L2-SP: adds
    /// `l2_sp · (w − w₀)` to every trainable weight's gradient); 0: none.
    pub l2_sp: f64,
    /// Share of every batch drawn from the rehearsal clips ([`train_with`]), when there
    /// are any.
    pub rehearsal_share: f64,
}

/// Which layers fine-tuning changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layers {
    /// Every layer.
    #[default]
    All,
    /// The LSTM, attention and head; the convolutional front end (and its BatchNorm)
    /// is kept as it was.
    Upper,
    /// Attention and head only.
    Head,
}

impl Layers {
    /// Whether the variable `name` learns.
    fn trains(self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Upper => !(name.starts_with("conv") || name.starts_with("bn")),
            Self::Head => name.starts_with("attention") || name.starts_with("head"),
        }
    }

    fn frozen(self, batch_norm: bool) -> Frozen {
        Frozen {
            batch_norm: batch_norm || self != Self::All,
            front_end: self != Self::All,
            lstm: self == Self::Head,
        }
    }
}

impl std::fmt::Display for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Self::All => "all",
            Self::Upper => "upper",
            Self::Head => "head",
        })
    }
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

    /// Optimiser steps in one epoch when `own` places of each batch hold training clips
    /// (the rest rehearsal).
    pub fn steps_per_epoch_with(&self, clips: usize, own: usize) -> usize {
        self.epoch_clips.unwrap_or(clips).div_ceil(own.max(1))
    }

    /// The places of a batch that rehearsal takes, given `exemplars` clips to rehearse.
    pub fn rehearsed_per_batch(&self, exemplars: usize) -> usize {
        let batch = self.batch_size.max(1);
        if exemplars == 0 {
            0
        } else {
            ((batch as f64 * self.rehearsal_share).round() as usize).min(batch - 1)
        }
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
            balance_speakers: false,
            epoch_clips: None,
            room_share: 0.5,
            input_masks: None,
            masked_members: None,
            dropped_inputs: Vec::new(),
            mixup: None,
            net: NetConfig::default(),
            start: None,
            layers: Layers::All,
            freeze_batch_norm: false,
            l2_sp: 0.0,
            rehearsal_share: 0.0,
        }
    }
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
        /// Centre-window scores on the validation clips checked each epoch.
        validation: Option<&'a Metrics>,
        /// What chooses the kept epoch: the mean over held-out corpora of their macro-F1,
        /// averaged with the same in rooms when validating there.
        score: Option<f64>,
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
    /// The kept weights on the validation clips in synthetic rooms, when given.
    pub validation_in_rooms: Option<Metrics>,
    /// Each validation clip's outcome behind `validation` (for scores per corpus), and the
    /// same in rooms; empty without validation.
    pub outcomes: Vec<Outcome>,
    pub outcomes_in_rooms: Vec<Outcome>,
    pub seconds: f64,
}

/// Trains on `train`, validating on `val` after every epoch when it is not empty. With
/// `val_in_rooms` (the same clips degraded) as well, the kept epoch is the one with the
/// best mean of the two macro-F1s: a model for real rooms is chosen on rooms too.
pub fn train(
    train: &[PreparedClip],
    val: &[PreparedClip],
    val_in_rooms: &[PreparedClip],
    cfg: &TrainConfig,
    progress: impl FnMut(Progress),
) -> candle_core::Result<Trained> {
    train_with(train, val, val_in_rooms, &[], cfg, progress)
}

/// [`train`], with `rehearsal` clips (the starting model's exemplars, when fine-tuning)
/// making up `cfg.rehearsal_share` of every batch; an epoch is still one pass over
/// `train`.
pub fn train_with(
    train: &[PreparedClip],
    val: &[PreparedClip],
    val_in_rooms: &[PreparedClip],
    rehearsal: &[PreparedClip],
    cfg: &TrainConfig,
    progress: impl FnMut(Progress),
) -> candle_core::Result<Trained> {
    let never = AtomicBool::new(false);
    train_cancellable(train, val, val_in_rooms, rehearsal, cfg, &never, progress)
}

/// The error [`train_cancellable`] returns when `cancel` was set.
pub const CANCELLED: &str = "training cancelled";

/// [`train_with`], stopping before the next step once `cancel` is set (with the error
/// [`CANCELLED`]): the app's Cancel button.
pub fn train_cancellable(
    train: &[PreparedClip],
    val: &[PreparedClip],
    val_in_rooms: &[PreparedClip],
    rehearsal: &[PreparedClip],
    cfg: &TrainConfig,
    cancel: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> candle_core::Result<Trained> {
    let started = Instant::now();
    // Normalisation from the original (unaugmented) training clips only, or the one the
    // starting weights were trained under.
    let (mean, std) = match &cfg.start {
        Some(start) => (start.mean.clone(), start.std.clone()),
        None => {
            let (mean, mut std) = Normaliser::fit(
                train
                    .iter()
                    .filter_map(|c| c.versions.first())
                    .map(Vec::as_slice),
            );
            for group in &cfg.dropped_inputs {
                std[group.range()].fill(DROPPED_STD);
            }
            (mean, std)
        }
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
    let trainable: Vec<Var> = if cfg.layers == Layers::All {
        trainable_vars(&varmap)?
    } else {
        sorted_vars(&varmap)?
            .into_iter()
            .filter(|(n, _)| !n.contains("running_") && cfg.layers.trains(n))
            .map(|(_, v)| v)
            .collect()
    };
    let frozen = cfg.layers.frozen(cfg.freeze_batch_norm);
    // L2-SP pulls toward the weights training started from.
    let anchor: Vec<Tensor> = if cfg.l2_sp > 0.0 {
        trainable
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?
    } else {
        Vec::new()
    };
    let mut opt = AdamW::new(
        trainable.clone(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;

    let batch = cfg.batch_size.max(1);
    // Rehearsal takes its share of every batch; the training clips fill the rest.
    let rehearsed = cfg.rehearsed_per_batch(rehearsal.len());
    let own = batch - rehearsed;
    let total_steps = (cfg.steps_per_epoch_with(train.len(), own) * cfg.epochs).max(1);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let speakers = speaker_groups(train);
    let val_check = per_corpus_sample(val, CHECK_CLIPS_PER_CORPUS);
    let rooms_check = per_corpus_sample(val_in_rooms, CHECK_CLIPS_PER_CORPUS);
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
        let drawn: Vec<usize> = if cfg.balance_speakers && !speakers.is_empty() {
            let n = cfg.epoch_clips.unwrap_or(train.len());
            (0..n)
                .map(|_| {
                    let group = &speakers[rng.below(speakers.len())];
                    group[rng.below(group.len())]
                })
                .collect()
        } else {
            rng.shuffle(&mut order);
            let n = cfg.epoch_clips.unwrap_or(train.len()).min(order.len());
            order[..n].to_vec()
        };
        let mut epoch_loss = 0.0;
        for items in drawn.chunks(own) {
            if cancel.load(Ordering::Relaxed) {
                return Err(candle_core::Error::Msg(CANCELLED.into()));
            }
            opt.set_learning_rate(one_cycle(cfg.learning_rate, cfg.warmup, step, total_steps));
            let mut picked: Vec<&PreparedClip> = items.iter().map(|&i| &train[i]).collect();
            for _ in 0..rehearsed {
                picked.push(&rehearsal[rng.below(rehearsal.len())]);
            }
            let (inputs, targets) = make_batch(&picked, &norm, cfg, epoch, &mut rng, &mut x)?;
            let logits = net.forward_frozen(&inputs, Some(&mut rng), frozen)?;
            let loss = smoothed_cross_entropy(&logits, &targets)?;
            let mut grads = loss.backward()?;
            pull_toward(&mut grads, &trainable, &anchor, cfg.l2_sp)?;
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
        let mean_loss = epoch_loss / drawn.len().max(1) as f64;
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
            let (m, clean) = centre_score(&net, &norm, &val_check)?;
            let score = if val_in_rooms.is_empty() {
                clean
            } else {
                0.5 * (clean + centre_score(&net, &norm, &rooms_check)?.1)
            };
            if best.as_ref().is_none_or(|(f1, ..)| score > *f1) {
                best = Some((score, epoch, snapshot(&varmap)?));
            }
            restore(&varmap, &live)?;
            Some((m, score))
        };
        let improved = validation.is_some() && best.as_ref().is_some_and(|(_, e, _)| *e == epoch);
        progress(Progress::Epoch {
            epoch,
            mean_loss,
            validation: validation.as_ref().map(|(m, _)| m),
            score: validation.as_ref().map(|(_, s)| *s),
            improved,
        });
        if let Some((_, best_epoch, ..)) = &best {
            if epoch - best_epoch >= cfg.patience {
                break;
            }
        }
    }
    let (mut val_outcomes, mut rooms_outcomes) = (Vec::new(), Vec::new());
    let (best_epoch, validation) = match best {
        Some((_, epoch, weights)) => {
            restore(&varmap, &weights)?;
            rooms_outcomes = outcomes(&net, &norm, val_in_rooms)?;
            val_outcomes = outcomes(&net, &norm, val)?;
            (epoch, Some(Metrics::from_outcomes(&val_outcomes)))
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
        normalisation: Normalisation {
            mean,
            std,
            per_voice: false,
        },
        losses,
        best_epoch,
        validation,
        validation_in_rooms: (!rooms_outcomes.is_empty())
            .then(|| Metrics::from_outcomes(&rooms_outcomes)),
        outcomes: val_outcomes,
        outcomes_in_rooms: rooms_outcomes,
        seconds: started.elapsed().as_secs_f64(),
    })
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

/// A batch of random crops (and, when augmenting, random versions) with smoothed targets,
/// for training epoch `epoch` (1-based; it decides whether masks apply).
pub(crate) fn make_batch(
    items: &[&PreparedClip],
    norm: &Normaliser,
    cfg: &TrainConfig,
    epoch: usize,
    rng: &mut Rng,
    buffer: &mut [f32],
) -> candle_core::Result<(Tensor, Tensor)> {
    let size = WINDOW_FRAMES * INPUT_DIM;
    let smooth = cfg.label_smoothing;
    let mut targets = vec![(smooth / Emotion::COUNT as f64) as f32; items.len() * Emotion::COUNT];
    for (k, (&clip, slot)) in items.iter().zip(buffer.chunks_exact_mut(size)).enumerate() {
        // Room versions are the last `room_versions`; without any, the draw is the one
        // the recipe always made.
        let plain = clip.versions.len() - clip.room_versions;
        let version = if !cfg.augment {
            0
        } else if clip.room_versions > 0 && rng.uniform() < cfg.room_share {
            plain + rng.below(clip.room_versions)
        } else {
            rng.below(plain)
        };
        let frames = &clip.versions[version];
        let n = frames.len() / INPUT_DIM;
        let start = if n > WINDOW_FRAMES {
            rng.below(n - WINDOW_FRAMES + 1)
        } else {
            0
        };
        fill_window(frames, start, norm, slot);
        if cfg.augment && clip.voice_shifts.len() >= INPUT_DIM {
            // A poorer baseline than the voice's own: (x − b) = (x − m) + (m − b).
            let draws = clip.voice_shifts.len() / INPUT_DIM;
            let j = rng.below(draws);
            let shift = &clip.voice_shifts[j * INPUT_DIM..(j + 1) * INPUT_DIM];
            for row in slot.chunks_exact_mut(INPUT_DIM) {
                for ((v, s), inv_std) in row.iter_mut().zip(shift).zip(&norm.inv_std) {
                    *v += s * inv_std;
                }
            }
        }
        if let Some(masks) = cfg.input_masks.filter(|m| cfg.augment && m.in_epoch(epoch)) {
            masks.apply(slot, rng);
        }
        targets[k * Emotion::COUNT + clip.emotion.index()] += (1.0 - smooth) as f32;
    }
    if let Some(mixup) = cfg.mixup.filter(|_| cfg.augment) {
        let windows = &mut buffer[..items.len() * size];
        mixup.apply(windows, &mut targets, size, Emotion::COUNT, rng);
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

/// L2-SP: adds `strength · (w − w₀)` to each trainable weight's gradient, the gradient of
/// `strength / 2 · ‖w − w₀‖²`, so fine-tuning stays near the weights it started from.
fn pull_toward(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    anchor: &[Tensor],
    strength: f64,
) -> candle_core::Result<()> {
    if strength <= 0.0 {
        return Ok(());
    }
    for (v, w0) in vars.iter().zip(anchor) {
        let pull = (v.as_tensor().detach() - w0)?.affine(strength, 0.0)?;
        let g = match grads.remove(v.as_tensor()) {
            Some(g) => (g + pull)?,
            None => pull,
        };
        grads.insert(v.as_tensor(), g);
    }
    Ok(())
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

/// Clips per held-out corpus checked after each epoch: TESS's one held-out voice has 1,400
/// clips, and scoring them all every epoch cost more than a tenth of the training time.
/// The kept epoch is scored on every clip.
const CHECK_CLIPS_PER_CORPUS: usize = 300;

/// At most `limit` clips of each corpus, spread evenly over its clips in their order.
fn per_corpus_sample(clips: &[PreparedClip], limit: usize) -> Vec<&PreparedClip> {
    let mut corpora: Vec<&str> = Vec::new();
    for c in clips {
        if !corpora.contains(&c.corpus.as_str()) {
            corpora.push(&c.corpus);
        }
    }
    let mut out = Vec::new();
    for corpus in corpora {
        let of: Vec<&PreparedClip> = clips.iter().filter(|c| c.corpus == corpus).collect();
        let step = of.len().div_ceil(limit).max(1);
        out.extend(of.into_iter().step_by(step));
    }
    out
}

/// Training clip indices grouped by speaker (corpus and speaker), in order of appearance.
fn speaker_groups(clips: &[PreparedClip]) -> Vec<Vec<usize>> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, c) in clips.iter().enumerate() {
        let key = (c.corpus.as_str(), c.speaker.as_str());
        match keys.iter().position(|k| *k == key) {
            Some(g) => groups[g].push(i),
            None => {
                keys.push(key);
                groups.push(vec![i]);
            }
        }
    }
    groups
}

/// Every variable with its name, in name order. A poisoned lock (a thread panicked while
/// holding it) is an error: an empty list would let training optimise no variables and
/// snapshots restore nothing, without a word.
pub(crate) fn sorted_vars(varmap: &VarMap) -> candle_core::Result<Vec<(String, Var)>> {
    let data = varmap.data().lock().map_err(|_| {
        candle_core::Error::Msg(
            "the model's variables are unusable: a thread panicked while holding them".into(),
        )
    })?;
    let mut named: Vec<(String, Var)> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

/// Every variable but BatchNorm's running statistics, in name order.
fn trainable_vars(varmap: &VarMap) -> candle_core::Result<Vec<Var>> {
    Ok(sorted_vars(varmap)?
        .into_iter()
        .filter(|(n, _)| !n.contains("running_"))
        .map(|(_, v)| v)
        .collect())
}

/// Copies of every variable's value, running statistics included.
fn snapshot(varmap: &VarMap) -> candle_core::Result<Vec<Tensor>> {
    sorted_vars(varmap)?
        .iter()
        .map(|(_, v)| v.as_tensor().copy())
        .collect()
}

fn restore(varmap: &VarMap, values: &[Tensor]) -> candle_core::Result<()> {
    for ((_, v), t) in sorted_vars(varmap)?.iter().zip(values) {
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

    #[test]
    fn a_poisoned_variable_map_is_an_error_not_an_empty_model() {
        let varmap = VarMap::new();
        EmotionNet::new(
            &TrainConfig::default_net(),
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        assert!(!trainable_vars(&varmap).unwrap().is_empty());
        let shared = varmap.clone();
        let panicked = std::thread::spawn(move || {
            let _held = shared.data().lock().unwrap();
            panic!("a thread dies holding the variables");
        })
        .join();
        assert!(panicked.is_err());
        let err = trainable_vars(&varmap).unwrap_err().to_string();
        assert!(err.contains("panicked while holding them"), "{err}");
        assert!(snapshot(&varmap).is_err());
        assert!(restore(&varmap, &[]).is_err());
    }
}
