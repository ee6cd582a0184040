//! Making the trained weights ready to score or ship: a moving average of the weights and
//! BatchNorm statistics over the whole training set (both optional, both measured).

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use super::prepare::PreparedClip;
use super::{make_batch, TrainConfig};
use crate::model::input::Normaliser;
use crate::model::net::EmotionNet;
use crate::model::rng::Rng;

/// Puts the weights to be scored or shipped in place: the running average of the weights
/// when one is kept, then BatchNorm statistics for them when asked for.
#[allow(clippy::too_many_arguments)]
pub(super) fn ready_for_inference(
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
pub(super) struct WeightAverage {
    decay: f64,
    updates: usize,
    values: Vec<Tensor>,
}

impl WeightAverage {
    pub(super) fn new(vars: &[Var], decay: f64) -> candle_core::Result<Self> {
        Ok(Self {
            decay,
            updates: 0,
            values: vars
                .iter()
                .map(|v| v.as_tensor().copy())
                .collect::<candle_core::Result<_>>()?,
        })
    }

    pub(super) fn update(&mut self, vars: &[Var]) -> candle_core::Result<()> {
        self.updates += 1;
        let n = self.updates as f64;
        let d = self.decay.min((1.0 + n) / (10.0 + n));
        for (avg, v) in self.values.iter_mut().zip(vars) {
            *avg = (avg.affine(d, 0.0)? + v.as_tensor().detach().affine(1.0 - d, 0.0)?)?;
        }
        Ok(())
    }

    pub(super) fn apply(&self, vars: &[Var]) -> candle_core::Result<()> {
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
    // The statistics the network will run with: windows as inference reads them.
    let unmasked = TrainConfig {
        input_masks: None,
        mixup: None,
        ..cfg.clone()
    };
    let inputs = order
        .chunks(batch)
        .map(|items| {
            let picked: Vec<&PreparedClip> = items.iter().map(|&i| &clips[i]).collect();
            Ok(make_batch(&picked, norm, &unmasked, 1, rng, buffer)?.0)
        })
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

#[cfg(test)]
mod tests {
    use super::super::{sorted_vars, train};
    use super::*;
    use crate::labels::Emotion;
    use crate::model::input::{fill_window, INPUT_DIM, WINDOW_FRAMES};
    use crate::model::net::NetConfig;
    use half::f16;

    /// Clips exactly one window long, one version each: every batch is fixed, so the
    /// statistics the first BatchNorm should hold can be computed here independently.
    #[test]
    fn precise_batch_norm_holds_the_training_set_statistics() {
        let mut rng = Rng::new(7);
        let clips: Vec<PreparedClip> = (0..5)
            .map(|i| PreparedClip {
                emotion: Emotion::ALL[i % Emotion::COUNT],
                actor: 1,
                corpus: "test".into(),
                speaker: "1".into(),
                room_versions: 0,
                voice_shifts: Vec::new(),
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
        let trained = train(&clips, &[], &[], &cfg, |_| {}).unwrap();
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
            let vars = sorted_vars(&trained.varmap).unwrap();
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
}
