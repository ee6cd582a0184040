//! Tuning a model to one person's voice: fine-tuning it on the labelled regions of their
//! recorded sessions with the recipe chosen on the own-voice benchmark ([`TuneDefaults`]),
//! rehearsing the starting model's exemplars so it keeps what it knew about other voices,
//! and scoring the starting and the tuned model on the latest part of each label's time,
//! held back from training. `emovox train --from` and the app's "Tune to my voice" both
//! call [`tune`].
//!
//! Nothing is written to the output folder until the tuned model is whole: it is built in
//! a working folder beside it and moved in at the end (an existing output folder is moved
//! aside first and removed after), so a cancelled or failed tuning leaves the output
//! folder as it was, and a finished one leaves nothing of the model it replaced. Working
//! folders left by a tuning that never finished (its process killed) are removed when
//! the next one starts beside them, or the models folder is listed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::card::{FineTune, Holdout, HoldoutScores, ModelCard, Normalisation, Training};
use super::classifier::{
    member_weights, read_tensors, save_members, Classifier, ModelError, ModelSource,
};
use super::dataset::{licences, Clip};
use super::metrics::Scoreboard;
use super::net::EmotionNet;
use super::train::exemplars::{self, ExemplarCard, ExemplarError, Exemplars, ModelId};
use super::train::holdout::{split_by_time, Span};
use super::train::{
    classifier_outcomes, member_records, prepare_versions_cancellable, train_cancellable,
    Augmentation, Layers, Progress, StartFrom, TrainConfig, Versions, LIGHT_AUGMENTATIONS,
};
use super::voice::{subtract, VoiceBaseline};
use crate::audio::DecodeError;
use crate::labels::Emotion;
use crate::session::{Session, SessionError};

/// Shortest labelled region of a session that is trained on or scored: shorter ones hold
/// too little speech to judge.
pub const MIN_REGION_S: f64 = 0.5;

/// Least labelled time to tune on: one model window (3 s). Far more is needed to tune
/// well (the benchmark's sessions were 3–4 minutes), but below this there is nothing to
/// crop a window from.
pub const MIN_TRAINING_S: f64 = 3.0;

/// The fine-tuning recipe used when nothing says otherwise, chosen with the own-voice
/// benchmark (`benches/own_voice.rs`, README).
pub struct TuneDefaults;

impl TuneDefaults {
    pub const EPOCHS: usize = 12;
    pub const LEARNING_RATE: f64 = 1e-3;
    /// The light augmentation set (pitch ±2 semitones, stretches 0.9 and 1.1).
    pub const AUGMENTATIONS: &'static [Augmentation] = &LIGHT_AUGMENTATIONS;
    pub const LAYERS: Layers = Layers::All;
    pub const FREEZE_BATCH_NORM: bool = true;
    pub const L2_SP: f64 = 0.0;
    pub const REHEARSE: f64 = 0.5;
    pub const HOLDOUT: f64 = 0.2;
    pub const SEED: u64 = 1;
}

/// How to tune: [`TuneDefaults`] unless changed.
#[derive(Clone, Debug)]
pub struct TuneRecipe {
    pub epochs: usize,
    pub learning_rate: f64,
    /// The augmented versions of each region drawn from; empty: the original audio only.
    pub augmentations: &'static [Augmentation],
    pub layers: Layers,
    pub freeze_batch_norm: bool,
    pub l2_sp: f64,
    /// Share of every batch rehearsing the starting model's exemplars; 0: none.
    pub rehearse: f64,
    pub seed: u64,
}

impl Default for TuneRecipe {
    fn default() -> Self {
        Self {
            epochs: TuneDefaults::EPOCHS,
            learning_rate: TuneDefaults::LEARNING_RATE,
            augmentations: TuneDefaults::AUGMENTATIONS,
            layers: TuneDefaults::LAYERS,
            freeze_batch_norm: TuneDefaults::FREEZE_BATCH_NORM,
            l2_sp: TuneDefaults::L2_SP,
            rehearse: TuneDefaults::REHEARSE,
            seed: TuneDefaults::SEED,
        }
    }
}

/// What to tune, on what, and where the tuned model goes.
#[derive(Clone, Debug)]
pub struct TuneRequest {
    /// The model to start from: the built-in one or a folder.
    pub start: ModelSource,
    /// Session folders whose labelled regions are trained on.
    pub sessions: Vec<PathBuf>,
    /// The folder the tuned model is written to (created; an existing one is replaced
    /// whole).
    pub out: PathBuf,
    /// Share of each label's labelled time, the latest part of each session, held back to
    /// score the starting and the tuned model on; 0 trains on all of it.
    pub holdout: f64,
    pub recipe: TuneRecipe,
}

impl TuneRequest {
    /// Tuning `start` on `sessions` into `out` with the defaults.
    pub fn new(start: ModelSource, sessions: Vec<PathBuf>, out: PathBuf) -> Self {
        Self {
            start,
            sessions,
            out,
            holdout: TuneDefaults::HOLDOUT,
            recipe: TuneRecipe::default(),
        }
    }
}

/// How far tuning has got.
#[derive(Clone, Debug, PartialEq)]
pub enum TuneProgress {
    /// Decoding the labelled regions and computing their features (and their augmented
    /// versions).
    Preparing { regions: usize, held_back: usize },
    /// One optimiser step done: `step` of `steps`, in epoch `epoch` of `epochs` (1-based).
    Step {
        step: usize,
        steps: usize,
        epoch: usize,
        epochs: usize,
        loss: f64,
    },
    /// An epoch done, with its mean training loss.
    Epoch {
        epoch: usize,
        epochs: usize,
        mean_loss: f64,
    },
    /// Scoring the starting and the tuned model on the held-back regions, and saving.
    Finishing,
}

/// A tuned model, saved.
#[derive(Clone, Debug)]
pub struct TuneOutcome {
    /// Where it was saved.
    pub out: PathBuf,
    pub card: ModelCard,
    /// The starting and the tuned model on the held-back time (`None` when nothing was
    /// held back).
    pub holdout: Option<Holdout>,
    /// Regions trained on and their seconds.
    pub regions: usize,
    pub seconds_trained: f64,
    /// Exemplars rehearsed (0: none) and copied beside the tuned model.
    pub rehearsed: usize,
    pub exemplars_copied: usize,
    /// Things the user should know that did not stop tuning, in words.
    pub warnings: Vec<String>,
    /// Wall time of the whole tuning.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error("tuning was cancelled; nothing was saved")]
    Cancelled,
    #[error("{0}")]
    Request(String),
    #[error("no sessions chosen to tune on")]
    NoSessions,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(
        "{}: no labelled regions of {MIN_REGION_S} s or more; label what was said (keys 1–8 \
         while recording, or a drag on the timeline) and tune again",
        list(.0)
    )]
    NoLabels(Vec<PathBuf>),
    #[error(
        "holding back {:.0} % of each label's time leaves nothing to train on: every region \
         of {} is held back; hold back less (0 trains on everything), or label more",
        100.0 * .share,
        .labels.join(", ")
    )]
    NothingLeftToTrain { share: f64, labels: Vec<String> },
    #[error(
        "too little labelled audio to tune on: {seconds:.1} s in training regions, at least \
         {MIN_TRAINING_S} s needed (a few minutes, every emotion you want recognised, tune \
         best)"
    )]
    TooLittleAudio { seconds: f64 },
    #[error("the starting model: {0}")]
    Model(#[from] ModelError),
    #[error("the starting model's exemplars: {0}")]
    Exemplars(#[from] ExemplarError),
    #[error("reading the sessions' audio: {0}")]
    Decode(#[from] DecodeError),
    #[error("the network: {0}")]
    Training(#[from] candle_core::Error),
    #[error("{}: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TuneError + '_ {
    move |reason| TuneError::Io {
        path: path.to_owned(),
        reason,
    }
}

/// Checks a request's numbers before anything is read.
pub fn check(request: &TuneRequest) -> Result<(), TuneError> {
    let r = &request.recipe;
    let bad = |m: String| Err(TuneError::Request(m));
    if !(0.0..=0.9).contains(&request.holdout) {
        return bad(format!(
            "the share held back must be between 0 and 0.9 (got {})",
            request.holdout
        ));
    }
    if !(0.0..1.0).contains(&r.rehearse) {
        return bad(format!(
            "the rehearsal share must be at least 0 and below 1 (got {})",
            r.rehearse
        ));
    }
    if !(r.l2_sp.is_finite() && r.l2_sp >= 0.0) {
        return bad(format!(
            "the L2-SP strength must be a number of at least 0 (got {})",
            r.l2_sp
        ));
    }
    if !(r.learning_rate.is_finite() && r.learning_rate > 0.0) {
        return bad(format!(
            "the learning rate must be above 0 (got {})",
            r.learning_rate
        ));
    }
    if r.epochs == 0 {
        return bad("tuning needs at least one epoch".into());
    }
    replaceable(&request.out)?;
    if request.sessions.is_empty() {
        return Err(TuneError::NoSessions);
    }
    Ok(())
}

/// Tunes `request.start` on the sessions and saves the tuned model (weights, card, and a
/// copy of the starting model's exemplars made the tuned model's) in `request.out`.
/// `progress` hears every stage and step; `cancel` is checked before every step, and a
/// cancelled tuning returns [`TuneError::Cancelled`] having written nothing there.
pub fn tune(
    request: &TuneRequest,
    mut progress: impl FnMut(TuneProgress),
    cancel: &AtomicBool,
) -> Result<TuneOutcome, TuneError> {
    let started = Instant::now();
    check(request)?;
    let recipe = &request.recipe;
    let cancelled = || cancel.load(Ordering::Relaxed);

    let (start_card, start_bytes) = request.start.read()?;
    // Every member's weights are checked now, before any work: the starting model as it
    // was read, which also scores the "before" at the end.
    let start_weights = request.start.weights_path();
    let tensors = read_tensors(&start_bytes, &start_weights)?;
    let starting = Classifier::from_tensors(start_card.clone(), &tensors, &start_weights)?;
    let start_id = ModelId {
        name: start_card.name.clone(),
        weights: exemplars::weights_id(&start_bytes),
    };
    let SessionClips {
        train: train_clips,
        held: held_clips,
        unlabelled,
    } = session_clips(&request.sessions, request.holdout)?;
    let seconds_trained: f64 = train_clips.iter().map(clip_seconds).sum();
    if train_clips.is_empty() {
        let mut labels: Vec<String> = held_clips
            .iter()
            .map(|c| c.emotion.name().to_owned())
            .collect();
        labels.dedup();
        labels.sort();
        labels.dedup();
        return Err(TuneError::NothingLeftToTrain {
            share: request.holdout,
            labels,
        });
    }
    if seconds_trained < MIN_TRAINING_S {
        return Err(TuneError::TooLittleAudio {
            seconds: seconds_trained,
        });
    }
    let mut warnings = Vec::new();
    if !unlabelled.is_empty() {
        warnings.push(format!(
            "{}: no labelled regions of {MIN_REGION_S} s or more, so not tuned on",
            list(&unlabelled)
        ));
    }
    let untrained: Vec<&str> = Emotion::ALL
        .iter()
        .filter(|e| {
            held_clips.iter().any(|c| c.emotion == **e)
                && !train_clips.iter().any(|c| c.emotion == **e)
        })
        .map(|e| e.name())
        .collect();
    if !untrained.is_empty() {
        warnings.push(format!(
            "holding back {:.0} % of each label's time leaves nothing of {} to train on: \
             the tuned model learns nothing new about it (hold back less, or label more)",
            100.0 * request.holdout,
            untrained.join(", ")
        ));
    }

    // The starting model's exemplars: rehearsed when the recipe says so (stale ones are
    // then an error: tuning without them forgets other voices), and copied beside the
    // tuned model either way, so it can be tuned again.
    let loaded = match &request.start {
        ModelSource::Shipped => exemplars::load_shipped().map(Some),
        ModelSource::Folder(dir) => exemplars::load(dir, &start_id),
    };
    // Each network reads frames its own way (a blend's parts may differ): exemplars that
    // cannot be read so would teach it frames it never meets.
    let nets_reading: Vec<_> = start_card
        .readings()
        .into_iter()
        .flat_map(|r| std::iter::repeat_n(r, r.members))
        .collect();
    let readings: Vec<bool> = nets_reading
        .iter()
        .map(|r| r.normalisation.per_voice)
        .collect();
    let loaded = loaded.and_then(|found| match found {
        Some(ex) if readings.iter().any(|&v| ex.read_as(v).is_none()) => {
            Err(ExemplarError::Invalid {
                path: match &request.start {
                    ModelSource::Folder(dir) => dir.join(exemplars::EXEMPLARS_CARD),
                    ModelSource::Shipped => PathBuf::from("<built-in model>"),
                },
                reason: format!(
                    "the exemplars are stored {} but {} reads {}; make them again with `{}`",
                    ex.stored_as(),
                    request.start,
                    match (readings.contains(&true), readings.contains(&false)) {
                        (true, true) => "frames both as computed and on each voice's baseline",
                        (true, false) => "every voice on its baseline",
                        _ => "frames as computed",
                    },
                    ex.card.command
                ),
            })
        }
        other => Ok(other),
    });
    let exemplars = match loaded {
        Ok(found) => found,
        Err(e) if recipe.rehearse == 0.0 => {
            warnings.push(format!("{e}; they are not copied beside the tuned model"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    if exemplars.is_none() && recipe.rehearse > 0.0 {
        warnings.push(format!(
            "{} has no exemplars ({}), so tuning cannot rehearse them and the tuned model \
             may forget other voices; make them with `emovox exemplars --from {} --data DIR...`",
            request.start,
            exemplars::EXEMPLARS_FILE,
            request.start
        ));
    }
    // What each reading rehearses: the exemplars read its way (checked above).
    let rehearsal_of = |per_voice: bool| match (&exemplars, recipe.rehearse > 0.0) {
        (Some(ex), true) => ex.read_as(per_voice).unwrap_or_default(),
        _ => Vec::new(),
    };
    let rehearsals = [rehearsal_of(false), rehearsal_of(true)];
    let rehearsal = |per_voice: bool| rehearsals[usize::from(per_voice)].as_slice();
    let rehearsed = rehearsal(readings.first() == Some(&true)).len();

    let work = WorkDir::beside(&request.out)?;
    // The trainer loads starting weights from a file under their own names: each network's
    // are written into the working folder for it (and removed before the folder is moved
    // in place).
    let networks = nets_reading.len();
    let mut start_copies = Vec::with_capacity(networks);
    for i in 0..networks {
        let path = work.path.join(format!("start{i}.safetensors"));
        candle_core::safetensors::save(&member_weights(&tensors, i), &path)
            .map_err(|e| io(&path)(std::io::Error::other(e)))?;
        start_copies.push(path);
    }
    let start_of = |i: usize| StartFrom {
        weights: start_copies[i].clone(),
        mean: nets_reading[i].normalisation.mean.clone(),
        std: nets_reading[i].normalisation.std.clone(),
    };
    let cfg = TrainConfig {
        epochs: recipe.epochs,
        seed: recipe.seed,
        augment: !recipe.augmentations.is_empty(),
        learning_rate: recipe.learning_rate,
        net: start_card.net.clone(),
        start: Some(start_of(0)),
        layers: recipe.layers,
        freeze_batch_norm: recipe.freeze_batch_norm,
        l2_sp: recipe.l2_sp,
        rehearsal_share: if rehearsed == 0 { 0.0 } else { recipe.rehearse },
        ..TrainConfig::default()
    };

    progress(TuneProgress::Preparing {
        regions: train_clips.len(),
        held_back: held_clips.len(),
    });
    let versions = if cfg.augment {
        Versions::Augmented {
            augmentations: recipe.augmentations,
            room: None,
            room_versions: 0,
        }
    } else {
        Versions::Original
    };
    // Cancel is heard per clip while preparing, which takes a while on long sessions.
    let prepare = |clips: &[Clip], versions: Versions<'_>| -> Result<_, TuneError> {
        prepare_versions_cancellable(clips, versions, cfg.seed, &[], &|| {}, cancel)?
            .ok_or(TuneError::Cancelled)
    };
    let train_set = prepare(&train_clips, versions)?;
    let held_set = prepare(&held_clips, Versions::Original)?;
    // A per-voice model hears the sessions (one voice, the user's) on their baseline:
    // every labelled region's original, trained on or held back, all that is known of it.
    let voice = start_card.reads_per_voice().then(|| {
        let mut voice = VoiceBaseline::default();
        for frames in train_set
            .iter()
            .chain(&held_set)
            .filter_map(|c| c.versions.first())
        {
            voice.add_stretch(frames);
        }
        voice
    });
    // The starting model's "before", on the regions as they are.
    let before = if held_set.is_empty() {
        None
    } else {
        Some(Scoreboard::from_outcomes(&classifier_outcomes(
            &starting,
            voice.as_ref(),
            &held_set,
        )?))
    };
    // Networks that read per voice train on the regions centred on the voice.
    let centred = match voice.as_ref().and_then(VoiceBaseline::mean) {
        Some(mean) if readings.contains(&true) => {
            let mut centred = train_set.clone();
            for version in centred.iter_mut().flat_map(|c| c.versions.iter_mut()) {
                subtract(version, &mean);
            }
            centred
        }
        _ => Vec::new(),
    };
    let train_set_of = |per_voice: bool| {
        if per_voice && !centred.is_empty() {
            &centred
        } else {
            &train_set
        }
    };

    // An ensemble's members (a blend's networks) are tuned one after another on the same
    // clips, each from its own weights and read its own way; progress counts them as one
    // run.
    let own = cfg.batch_size - cfg.rehearsed_per_batch(rehearsed);
    let per_epoch = cfg.steps_per_epoch_with(train_set.len(), own).max(1);
    let steps = per_epoch * cfg.epochs * networks;
    let epochs = cfg.epochs * networks;
    let mut tuned = Vec::with_capacity(networks);
    for i in 0..networks {
        let cfg = TrainConfig {
            seed: cfg.seed.wrapping_add(i as u64),
            start: Some(start_of(i)),
            net: nets_reading[i].net.clone(),
            ..cfg.clone()
        };
        let (step0, epoch0) = (i * per_epoch * cfg.epochs, i * cfg.epochs);
        let per_voice = readings[i];
        let (data, rehearse) = (train_set_of(per_voice), rehearsal(per_voice));
        let trained = train_cancellable(data, &[], &[], rehearse, &cfg, cancel, |p| match p {
            Progress::Step { step, loss, .. } => progress(TuneProgress::Step {
                step: step0 + step,
                steps,
                epoch: epoch0 + ((step - 1) / per_epoch + 1).min(cfg.epochs),
                epochs,
                loss,
            }),
            Progress::Epoch {
                epoch, mean_loss, ..
            } => progress(TuneProgress::Epoch {
                epoch: epoch0 + epoch,
                epochs,
                mean_loss,
            }),
        });
        tuned.push(match trained {
            Ok(t) => t,
            Err(_) if cancelled() => return Err(TuneError::Cancelled),
            Err(e) => return Err(e.into()),
        });
    }
    progress(TuneProgress::Finishing);
    let trained = &tuned[0];
    let tuned_seconds: f64 = tuned.iter().map(|t| t.seconds).sum();

    let augmentation = if cfg.augment {
        recipe
            .augmentations
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let mut train_actors: Vec<u8> = train_clips.iter().map(|c| c.actor).collect();
    train_actors.sort_unstable();
    train_actors.dedup();
    let mut card = ModelCard {
        name: format!("{}-tuned", start_card.name),
        // The starting model's, per voice or not (training keeps its mean and std).
        normalisation: Normalisation {
            per_voice: start_card.normalisation.per_voice,
            ..trained.normalisation.clone()
        },
        net: cfg.net.clone(),
        training: Training {
            train_actors,
            val_actors: Vec::new(),
            retrained_on_all: true,
            train_files: train_set.len(),
            sessions: request
                .sessions
                .iter()
                .map(|d| d.display().to_string())
                .collect(),
            fine_tuned_from: Some(format!("{} ({})", start_card.name, request.start)),
            epochs: trained.best_epoch,
            seed: cfg.seed,
            augmentation,
            corpora: vec![who(&train_clips)],
            speakers: inherited(&start_card.training.speakers, speakers(&train_clips)),
            licences: inherited(
                &start_card.training.licences,
                licences(train_clips.iter().map(|c| c.corpus.as_str())),
            ),
            fine_tune: Some(FineTune {
                layers: cfg.layers.to_string(),
                freeze_batch_norm: cfg.freeze_batch_norm,
                l2_sp: cfg.l2_sp,
                rehearsal_share: cfg.rehearsal_share,
                exemplars: rehearsed,
                learning_rate: cfg.learning_rate,
                holdout_share: request.holdout,
            }),
            holdout: None,
            // The starting model's normalisation is kept, and with it what it dropped.
            dropped_inputs: start_card.training.dropped_inputs.clone(),
            members: member_records(cfg.seed, &tuned),
            seconds: tuned_seconds,
            date: crate::clock::today(),
            commit: crate::BUILD_COMMIT.to_owned(),
            ..Training::default()
        },
        validation: None,
        // A blend's parts keep their readings and records (tuning keeps each network's
        // mean and std).
        ..start_card.clone()
    };

    // The honest before/after: the starting and the tuned model on the held-back time,
    // each read as it is used (a per-voice reading on the sessions' voice).
    let holdout = if let Some(before) = before {
        let nets: Vec<&EmotionNet> = tuned.iter().map(|t| &t.net).collect();
        let tuned_model = Classifier::from_nets(&nets, card.clone())?;
        let after = Scoreboard::from_outcomes(&classifier_outcomes(
            &tuned_model,
            voice.as_ref(),
            &held_set,
        )?);
        let scores = |b: &Scoreboard| HoldoutScores {
            accuracy: b.overall.accuracy,
            uar: b.uar,
            macro_f1: b.per_corpus.first().map_or(0.0, |c| c.macro_f1),
        };
        Some(Holdout {
            regions: held_clips.len(),
            seconds: held_clips.iter().map(clip_seconds).sum(),
            before: scores(&before),
            after: scores(&after),
        })
    } else {
        None
    };
    card.training.holdout = holdout.clone();

    // Everything into the working folder, then into place.
    let weights = ModelCard::weights_path(&work.path);
    let varmaps: Vec<_> = tuned.iter().map(|t| &t.varmap).collect();
    save_members(&varmaps, &weights)?;
    card.save(&work.path)
        .map_err(io(&ModelCard::json_path(&work.path)))?;
    let mut exemplars_copied = 0;
    if let Some(ex) = &exemplars {
        let bytes = std::fs::read(&weights).map_err(io(&weights))?;
        let copy = Exemplars {
            card: ExemplarCard {
                model: card.name.clone(),
                weights: Some(exemplars::weights_id(&bytes)),
                command: remade_with(&ex.card.command, &request.out),
                ..ex.card.clone()
            },
            ..ex.clone()
        };
        exemplars::save(&work.path, &copy)?;
        exemplars_copied = ex.clips.len();
    }
    for path in &start_copies {
        std::fs::remove_file(path).map_err(io(path))?;
    }
    if cancelled() {
        return Err(TuneError::Cancelled);
    }
    work.finish(&request.out)?;
    Ok(TuneOutcome {
        out: request.out.clone(),
        card,
        holdout,
        regions: train_clips.len(),
        seconds_trained,
        rehearsed,
        exemplars_copied,
        warnings,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn clip_seconds(c: &Clip) -> f64 {
    c.span.map_or(0.0, |(a, b)| b - a)
}

/// The command that remakes exemplars, aimed at the tuned model's folder: the original
/// `--data` (the corpora the starting model was trained on) with `--from OUT`.
fn remade_with(command: &str, out: &Path) -> String {
    match command.find(" --data ") {
        Some(at) => format!(
            "emovox exemplars --from {}{}",
            out.display(),
            &command[at..]
        ),
        None => format!("emovox exemplars --from {} --data DIR...", out.display()),
    }
}

/// The labelled regions of sessions as clips.
pub struct SessionClips {
    pub train: Vec<Clip>,
    pub held: Vec<Clip>,
    /// Sessions without a labelled region of [`MIN_REGION_S`] or more.
    pub unlabelled: Vec<PathBuf>,
}

/// The labelled regions of sessions as clips (actor 0, corpus and speaker "sessions"),
/// where `holdout` of each label's labelled time in each session, its latest part, is
/// held out ([`split_by_time`]). No labelled region in any of them is an error naming
/// them.
pub fn session_clips(dirs: &[PathBuf], holdout: f64) -> Result<SessionClips, TuneError> {
    let (mut train, mut held) = (Vec::new(), Vec::new());
    let mut unlabelled = Vec::new();
    for dir in dirs {
        let session = Session::load(dir)?;
        let spans: Vec<Span> = session
            .labels
            .iter()
            .filter(|r| r.end_s - r.start_s >= MIN_REGION_S)
            .map(|r| Span {
                start_s: r.start_s,
                end_s: r.end_s,
                emotion: r.label,
            })
            .collect();
        if spans.is_empty() {
            unlabelled.push(dir.clone());
        }
        let (t, h) = split_by_time(&spans, holdout, MIN_REGION_S);
        let clip = |s: &Span| Clip {
            span: Some((s.start_s, s.end_s)),
            ..Clip::labelled(
                dir.join(crate::session::AUDIO_FILE),
                s.emotion,
                "sessions",
                "sessions",
            )
        };
        train.extend(t.iter().map(clip));
        held.extend(h.iter().map(clip));
    }
    // One unlabelled session among labelled ones is only left out; all of them is an
    // error, since there is nothing to tune on.
    if train.is_empty() && held.is_empty() {
        return Err(TuneError::NoLabels(unlabelled));
    }
    Ok(SessionClips {
        train,
        held,
        unlabelled,
    })
}

/// The clips' corpora with their clip and speaker counts, for logs and cards:
/// "ravdess 960 clips, 16 speakers; tess 2800 clips, 2 speakers".
pub fn who(clips: &[Clip]) -> String {
    let mut corpora: Vec<(&str, usize, Vec<&str>)> = Vec::new();
    for c in clips {
        let i = match corpora.iter().position(|(name, ..)| *name == c.corpus) {
            Some(i) => i,
            None => {
                corpora.push((&c.corpus, 0, Vec::new()));
                corpora.len() - 1
            }
        };
        if let Some((_, n, speakers)) = corpora.get_mut(i) {
            *n += 1;
            if !speakers.contains(&c.speaker.as_str()) {
                speakers.push(&c.speaker);
            }
        }
    }
    corpora
        .iter()
        .map(|(name, n, speakers)| format!("{name} {n} clips, {} speakers", speakers.len()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A tuned model's voices and terms: the starting model's (its weights, and the exemplars
/// it rehearses, come from them), then this run's, each once.
pub fn inherited(start: &[String], this_run: Vec<String>) -> Vec<String> {
    let mut all: Vec<String> = start.to_vec();
    for line in this_run {
        if !all.contains(&line) {
            all.push(line);
        }
    }
    all
}

/// Every voice trained on, as `corpus:speaker`, in the order first met.
pub fn speakers(clips: &[Clip]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in clips {
        let name = format!("{}:{}", c.corpus, c.speaker);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A folder beside the output folder that the tuned model is built in, removed unless
/// [`WorkDir::finish`] moved it into place.
struct WorkDir {
    path: PathBuf,
    done: bool,
}

impl WorkDir {
    fn beside(out: &Path) -> Result<Self, TuneError> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let Some(name) = out.file_name() else {
            return Err(TuneError::Request(format!(
                "{}: not a folder name to save the tuned model as",
                out.display()
            )));
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        remove_stale_work(&parent);
        for n in 0..1000 {
            let path = parent.join(format!(
                ".{}.tuning-{}-{n}",
                name.to_string_lossy(),
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path, done: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Err(io(&parent)(std::io::Error::other(
            "too many tunings in progress beside this folder",
        )))
    }

    /// Moves the finished model into `out`, whole: renamed there when `out` does not
    /// exist (or is an empty folder); else the model there is renamed aside, this one
    /// renamed in, and the old one removed, so `out` never holds a mix of the two (and
    /// gets the old one back if this one cannot be moved in).
    fn finish(mut self, out: &Path) -> Result<(), TuneError> {
        if std::fs::rename(&self.path, out).is_ok() {
            self.done = true;
            return Ok(());
        }
        // Checked again: something may have been put there while the model trained.
        replaceable(out)?;
        // Named as this tuning's work, so that a crash between the renames leaves a
        // folder that a later tuning recognises and moves back ([`remove_stale_work`]).
        let mut aside = self.path.clone().into_os_string();
        aside.push(".old");
        let aside = PathBuf::from(aside);
        std::fs::rename(out, &aside).map_err(io(out))?;
        if let Err(e) = std::fs::rename(&self.path, out) {
            // Best effort: if even this fails, the old model is still whole in `aside`.
            let _ = std::fs::rename(&aside, out);
            return Err(io(out)(e));
        }
        self.done = true;
        // The new model is in place; a folder that cannot be removed is left named as
        // stale work rather than failing a tuning that has succeeded.
        let _ = std::fs::remove_dir_all(&aside);
        Ok(())
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: a folder that cannot be removed is left behind, named as work
            // in progress, rather than failing what has already failed or finished.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// What a model folder holds; tuning replaces a folder holding only these.
const MODEL_FILES: [&str; 4] = [
    "emovox.json",
    "emovox.safetensors",
    exemplars::EXEMPLARS_CARD,
    exemplars::EXEMPLARS_FILE,
];

/// The tuned model may go to `out`: it does not exist, or it is a folder holding nothing
/// but a model's files. Tuning replaces the folder whole, so a folder with anything else
/// in it (the user's other files, the source tree's `weights/README.md`) is refused
/// rather than emptied.
fn replaceable(out: &Path) -> Result<(), TuneError> {
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) if out.exists() && !out.is_dir() => {
            return Err(io(out)(std::io::Error::other(
                "exists and is not a folder, so the tuned model cannot be saved there",
            )))
        }
        Err(e) => return Err(io(out)(e)),
    };
    let mut others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !MODEL_FILES.contains(&name.as_str()))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    let more = match others.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Err(io(out)(std::io::Error::other(format!(
        "holds {}{more}, which is not part of a model; the tuned model replaces the folder \
         whole, so choose a new or empty folder (or one holding only a model)",
        others[0]
    ))))
}

/// Working folders (`.NAME.tuning-PID-N`, and `….old` for a model being replaced) are
/// stale when the process that made them is gone, or after a day.
const STALE_WORK_S: u64 = 24 * 60 * 60;

/// Removes the stale working folders in `dir`: tunings whose process ended without
/// cleaning up (killed, or the app closed mid-tuning), seen by their process id (on
/// Linux, no `/proc/PID`) or by being more than a day old. A model moved aside to be
/// replaced goes back to its name if nothing took its place (the process ended between
/// the two renames), and is removed otherwise. Best effort: a folder that cannot be
/// removed is left for the next time.
pub fn remove_stale_work(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((model, pid, replaced)) = parse_work(&name) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > STALE_WORK_S);
        let gone = pid_alive(pid) == Some(false);
        // This process's own work is never stale: it may be a tuning in progress.
        if pid == std::process::id() || !(gone || old) {
            continue;
        }
        let model = dir.join(model);
        if replaced && !model.exists() && std::fs::rename(entry.path(), &model).is_ok() {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// A working folder's name, `.NAME.tuning-PID-N` or `….old`: NAME, PID and whether it is
/// a model moved aside to be replaced (`.old`).
fn parse_work(name: &str) -> Option<(&str, u32, bool)> {
    let (model, rest) = name.strip_prefix('.')?.rsplit_once(".tuning-")?;
    let (pid, n) = rest.split_once('-')?;
    let (n, replaced) = match n.strip_suffix(".old") {
        Some(n) => (n, true),
        None => (n, false),
    };
    n.parse::<u32>().ok()?;
    Some((model, pid.parse().ok()?, replaced))
}

/// Whether process `pid` is running, where the system says (Linux's `/proc`).
fn pid_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    (cfg!(target_os = "linux") && proc.join("self").exists())
        .then(|| proc.join(pid.to_string()).exists())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn finishing_into_an_existing_model_replaces_it_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("model");
        std::fs::create_dir(&out).unwrap();
        for old in ["emovox.json", exemplars::EXEMPLARS_FILE] {
            std::fs::write(out.join(old), "old").unwrap();
        }
        let work = WorkDir::beside(&out).unwrap();
        std::fs::write(work.path.join("emovox.json"), "new").unwrap();
        std::fs::write(work.path.join("emovox.safetensors"), "new").unwrap();
        work.finish(&out).unwrap();
        assert_eq!(names(&out), ["emovox.json", "emovox.safetensors"]);
        assert_eq!(
            std::fs::read_to_string(out.join("emovox.json")).unwrap(),
            "new"
        );
        // Neither the working folder nor the old model is left beside it.
        assert_eq!(names(tmp.path()), ["model"]);
        // A file where the folder should be is refused, and kept.
        let file = tmp.path().join("file");
        std::fs::write(&file, "mine").unwrap();
        let work = WorkDir::beside(&file).unwrap();
        assert!(work.finish(&file).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
        assert_eq!(names(tmp.path()), ["file", "model"]);
    }

    #[test]
    fn a_folder_holding_other_files_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("mine");
        std::fs::create_dir(&out).unwrap();
        for file in ["emovox.json", "notes.txt"] {
            std::fs::write(out.join(file), "mine").unwrap();
        }
        std::fs::create_dir(out.join("photos")).unwrap();
        let err = replaceable(&out).unwrap_err().to_string();
        assert!(err.contains("notes.txt and 1 more"), "{err}");
        let work = WorkDir::beside(&out).unwrap();
        std::fs::write(work.path.join("emovox.json"), "new").unwrap();
        assert!(work.finish(&out).is_err());
        // Untouched, and no working folder left beside it.
        assert_eq!(names(&out), ["emovox.json", "notes.txt", "photos"]);
        assert_eq!(
            std::fs::read_to_string(out.join("emovox.json")).unwrap(),
            "mine"
        );
        assert_eq!(names(tmp.path()), ["mine"]);
        // A new folder, an empty one and one holding only a model are fine.
        assert!(replaceable(&tmp.path().join("new")).is_ok());
        std::fs::remove_dir_all(&out).unwrap();
        std::fs::create_dir(&out).unwrap();
        assert!(replaceable(&out).is_ok());
        std::fs::write(out.join("emovox.safetensors"), "x").unwrap();
        assert!(replaceable(&out).is_ok());
    }

    #[test]
    fn work_names_give_their_model_and_process() {
        assert_eq!(
            parse_work(".my voice.tuning-1234-0"),
            Some(("my voice", 1234, false))
        );
        assert_eq!(
            parse_work(".a.tuning-b.tuning-77-12.old"),
            Some(("a.tuning-b", 77, true))
        );
        for other in [
            "model",
            ".hidden",
            ".x.tuning-",
            ".x.tuning-12",
            ".x.tuning-a-0",
        ] {
            assert_eq!(parse_work(other), None, "{other}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn work_of_ended_processes_is_removed_and_running_work_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // A process that has ended (reaped, so its id is free), and this one.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ended = child.id();
        child.wait().unwrap();
        let dead = format!(".x.tuning-{ended}-0");
        // A model moved aside to be replaced by a process that ended: with the new one
        // in place ("x") it is removed; with none ("z") it goes back.
        let dead_aside = format!(".x.tuning-{ended}-1.old");
        let lost = format!(".z.tuning-{ended}-0.old");
        let live = format!(".x.tuning-{}-0", std::process::id());
        // pid 1 runs for as long as the system does.
        let running = ".y.tuning-1-0".to_owned();
        let model = "x".to_owned();
        for name in [&dead, &dead_aside, &lost, &live, &running, &model] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
            std::fs::write(tmp.path().join(name).join("f"), "").unwrap();
        }
        // Creating a working folder there clears the stale ones, and so does listing.
        let work = WorkDir::beside(&tmp.path().join("new")).unwrap();
        let left = names(tmp.path());
        for gone in [&dead, &dead_aside, &lost] {
            assert!(!left.contains(gone), "{gone} kept: {left:?}");
        }
        assert!(tmp.path().join("z/f").exists(), "{left:?}");
        for kept in [&live, &running, &model] {
            assert!(left.contains(kept), "{kept} removed: {left:?}");
        }
        drop(work);
        std::fs::create_dir(tmp.path().join(&dead)).unwrap();
        crate::model::personal::list(tmp.path());
        assert!(!tmp.path().join(&dead).exists());
        assert!(tmp.path().join(&running).exists());
    }
}
