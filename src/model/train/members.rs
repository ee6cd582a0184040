//! Ensembles: several networks trained on the same prepared clips with different seeds,
//! whose averaged probabilities are the model. Two narrow networks averaged read unseen
//! voices better than one wide one at two thirds of the arithmetic (README, "Two models
//! averaged").
//!
//! The members train side by side, one core each: a narrow network's training step gains
//! little from a second core (measured: an epoch in 6.8 s on two threads, 8.1–8.7 s on
//! one; the rest is thread start-up and synchronisation), so two members on a core each
//! train faster than one after the other on both. `emovox train` also keeps candle's
//! element-wise ops on each member's thread then (`CANDLE_NUM_THREADS=1`, in `main`).

use std::time::Instant;

use super::prepare::PreparedClip;
use super::validate::ensemble_outcomes;
use super::{train_with, Progress, TrainConfig, Trained};
use crate::model::card::MemberTraining;
use crate::model::input::Normaliser;
use crate::model::metrics::{Metrics, Outcome};

/// Trained members and the ensemble's own scores on the validation clips.
pub struct Ensemble {
    /// In weights order; member `i` trained with seed `cfg.seed + i` (wrapping). Their
    /// weights go into one file with [`crate::model::classifier::save_members`].
    pub members: Vec<Trained>,
    /// The averaged members on every validation clip (whole clips), when validating.
    pub validation: Option<Metrics>,
    pub validation_in_rooms: Option<Metrics>,
    pub outcomes: Vec<Outcome>,
    pub outcomes_in_rooms: Vec<Outcome>,
    /// Wall-clock seconds of the training and the ensemble's validation.
    pub seconds: f64,
}

/// What the card records of each member (nothing for a single network): member `i` took
/// seed `seed + i`.
pub fn member_records(seed: u64, members: &[Trained]) -> Vec<MemberTraining> {
    if members.len() < 2 {
        return Vec::new();
    }
    members
        .iter()
        .enumerate()
        .map(|(i, m)| MemberTraining {
            seed: seed.wrapping_add(i as u64),
            epochs: m.best_epoch,
            seconds: m.seconds,
        })
        .collect()
}

/// Member `index`'s recipe: seed `cfg.seed + index`, and input masks only when it is among
/// the first `cfg.masked_members`.
fn member_config(cfg: &TrainConfig, index: usize) -> TrainConfig {
    TrainConfig {
        seed: cfg.seed.wrapping_add(index as u64),
        input_masks: cfg
            .input_masks
            .filter(|_| cfg.masked_members.is_none_or(|n| index < n)),
        ..cfg.clone()
    }
}

/// Trains `count` members (seeds `cfg.seed`, `cfg.seed + 1`, …) on the same clips, as many
/// at once as the machine has cores, each on one thread; `progress` hears each member's
/// steps and epochs with its index. One member trains as [`train_with`] does, on every
/// core.
pub fn train_members(
    train: &[PreparedClip],
    val: &[PreparedClip],
    val_in_rooms: &[PreparedClip],
    cfg: &TrainConfig,
    count: usize,
    progress: &(dyn Fn(usize, Progress) + Sync),
) -> candle_core::Result<Ensemble> {
    let started = Instant::now();
    if count <= 1 {
        let one = train_with(train, val, val_in_rooms, &[], &member_config(cfg, 0), |p| {
            progress(0, p)
        })?;
        return Ok(Ensemble {
            validation: one.validation.clone(),
            validation_in_rooms: one.validation_in_rooms.clone(),
            outcomes: one.outcomes.clone(),
            outcomes_in_rooms: one.outcomes_in_rooms.clone(),
            members: vec![one],
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut members = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for batch in indices.chunks(cores.max(1)) {
        let trained = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&i| {
                    let cfg = member_config(cfg, i);
                    scope.spawn(move || {
                        // A pool of one thread: candle's products and convolutions run
                        // on this member's own core instead of sharing the global pool.
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(1)
                            .build()
                            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                        pool.install(|| {
                            train_with(train, val, val_in_rooms, &[], &cfg, |p| progress(i, p))
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(candle_core::Error::Msg(
                            "a member's training panicked".into(),
                        ))
                    })
                })
                .collect::<candle_core::Result<Vec<Trained>>>()
        })?;
        members.extend(trained);
    }
    let norm = Normaliser::from_mean_std(
        &members[0].normalisation.mean,
        &members[0].normalisation.std,
    );
    let nets: Vec<_> = members.iter().map(|m| &m.net).collect();
    let (outcomes, outcomes_in_rooms) = if members[0].validation.is_some() {
        (
            ensemble_outcomes(&nets, &norm, val)?,
            ensemble_outcomes(&nets, &norm, val_in_rooms)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Ensemble {
        validation: (!outcomes.is_empty()).then(|| Metrics::from_outcomes(&outcomes)),
        validation_in_rooms: (!outcomes_in_rooms.is_empty())
            .then(|| Metrics::from_outcomes(&outcomes_in_rooms)),
        outcomes,
        outcomes_in_rooms,
        members,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::train::masks::InputMasks;

    #[test]
    fn only_the_first_masked_members_get_the_masks_and_each_its_own_seed() {
        let cfg = TrainConfig {
            seed: 7,
            input_masks: Some(InputMasks::default()),
            masked_members: Some(1),
            ..TrainConfig::default()
        };
        let picked: Vec<(u64, bool)> = (0..3)
            .map(|i| {
                let m = member_config(&cfg, i);
                (m.seed, m.input_masks.is_some())
            })
            .collect();
        assert_eq!(picked, [(7, true), (8, false), (9, false)]);
        let every = TrainConfig {
            masked_members: None,
            ..cfg.clone()
        };
        assert!((0..3).all(|i| member_config(&every, i).input_masks.is_some()));
        let unmasked = TrainConfig {
            input_masks: None,
            ..cfg
        };
        assert!(member_config(&unmasked, 0).input_masks.is_none());
    }
}
