//! `emovox train --data DIR... [--epochs N] [--seed S] [--val-actors LIST]
//! [--val-speakers CORPUS:SPEAKER,...] [--val-corpus NAME...] [--out DIR]
//! [--sessions DIR...] [--from DIR]`; with `--from` and `--sessions`, `--data` may be left
//! out (fine-tuning on one's own recordings).

use std::path::PathBuf;

use anyhow::{bail, Context};
use emovox::labels::Emotion;
use emovox::model::card::{CorpusValidation, RoomValidation};
use emovox::model::card::{FineTune, Holdout, HoldoutScores};
use emovox::model::card::{ModelCard, Normalisation, Training, Validation};
use emovox::model::dataset::{licences, scan_all, Clip, Intensity, Split};
use emovox::model::input::{Normaliser, HOP_FRAMES, WINDOW_FRAMES};
use emovox::model::metrics::Scoreboard;
use emovox::model::room::RoomRecipe;
use emovox::model::train::exemplars;
use emovox::model::train::holdout::{split_by_time, Span};
use emovox::model::train::prepare::babble_pool;
use emovox::model::train::{
    outcomes, prepare_versions, start_outcomes, train_with, Augmentation, Layers, Progress,
    StartFrom, TrainConfig, Versions, AUGMENTATIONS, LIGHT_AUGMENTATIONS,
};
use emovox::model::FeatureConfig;
use emovox::session::Session;
use indicatif::{ProgressBar, ProgressStyle};

use super::common::MIN_REGION_S;
use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// Folders of labelled audio, each one corpus: RAVDESS names
    /// (Actor_NN/03-01-EE-II-SS-RR-AA.wav), a metadata.csv (file_name,label[,speaker]),
    /// or a folder per label (angry/*.wav). Any sample rate; WAV, FLAC, MP3 or Ogg.
    #[arg(long, num_args = 1.., required_unless_present = "sessions")]
    data: Vec<PathBuf>,
    /// Most epochs to train (fewer when validation stops improving) [default: 30;
    /// fine-tuning: 12].
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// RAVDESS actors held out for validation and early stopping, e.g. 17-20 or 1,5,9;
    /// `none` (with no other validation choice) trains on everything for exactly
    /// --epochs epochs [default: 17-20, unless --val-speakers or --val-corpus is given].
    #[arg(long)]
    val_actors: Option<String>,
    /// Speakers of any corpus held out for validation, as CORPUS:SPEAKER, e.g.
    /// tess:OAF,emovo:f1,ravdess:17 (the corpus is the folder's name).
    #[arg(long)]
    val_speakers: Option<String>,
    /// Corpora held out whole for validation (leave one corpus out), by folder name.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    val_corpus: Vec<String>,
    /// Where the weights and model card are written.
    #[arg(long, default_value = "weights")]
    out: PathBuf,
    /// Train on the original audio only.
    #[arg(long)]
    no_augment: bool,
    /// Recompute BatchNorm's statistics over the whole training set before validating
    /// and shipping, instead of keeping the running averages of the last batches.
    /// Measured on actors 13–16: no gain (README).
    #[arg(long)]
    precise_batch_norm: bool,
    /// Validate and ship a moving average of the weights with this decay per step
    /// (0.99 ≈ three epochs of RAVDESS); 0 keeps the live weights. Measured on actors
    /// 13–16: no gain (README).
    #[arg(long, default_value_t = 0.0)]
    weight_average: f64,
    /// Peak learning rate of the one-cycle schedule [default: 2e-3; fine-tuning: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Epochs without a better validation macro-F1 before stopping.
    #[arg(long, default_value_t = 8)]
    patience: usize,
    /// Recorded sessions to learn from as well: every labelled region of 0.5 s or more
    /// is a training clip (never a validation one).
    #[arg(long, num_args = 1..)]
    sessions: Vec<PathBuf>,
    /// Fine-tune this model (a folder with emovox.json and emovox.safetensors) instead of
    /// starting from random weights; its network shape and normalisation are kept.
    /// Typically with --sessions, a few --epochs and a lower --lr.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Versions of each training clip heard in synthetic rooms and microphones
    /// (reverberation, noise or babble, band limits, colouring, level), each over one of
    /// the clip's other versions; 0: none.
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// Share of an epoch's draws that take a room version, when clips have them.
    #[arg(long, default_value_t = 0.5)]
    room_share: f64,
    /// Validate on the validation clips in synthetic rooms too (one room per clip, the
    /// same on every run), and keep the epoch with the best mean of the clean and the
    /// room macro-F1.
    #[arg(long)]
    val_in_rooms: bool,
    /// The augmentation set: `full` (pitch ±1/±2/±3 semitones, noise, two stretches) or
    /// `light` (pitch ±2, two stretches: under half the preparation time and memory)
    /// [default: full; fine-tuning: light].
    #[arg(long, value_enum)]
    augment_set: Option<AugmentSet>,
    /// Draw each epoch's clips speaker by speaker, so a corpus of few voices and many
    /// clips does not outweigh the rest.
    #[arg(long)]
    balance_speakers: bool,
    /// Clips per epoch [default: every training clip once].
    #[arg(long)]
    epoch_clips: Option<usize>,
    /// Fine-tuning: the layers that learn, `all`, `upper` (LSTM, attention and head; the
    /// convolutional front end kept) or `head` (attention and head) [default: all].
    #[arg(long, value_enum)]
    layers: Option<LayersArg>,
    /// Fine-tuning: keep BatchNorm's statistics from the starting model (`true`) or let
    /// them follow the sessions (`false`) [default: true].
    #[arg(long)]
    freeze_batch_norm: Option<bool>,
    /// Fine-tuning: pull toward the starting weights (L2-SP) of this strength; 0: none
    /// [default: 0].
    #[arg(long)]
    l2_sp: Option<f64>,
    /// Fine-tuning: share of every batch that rehearses the starting model's exemplars
    /// (emovox.exemplars.safetensors beside its weights, made by `emovox exemplars`);
    /// 0: none [default: 0.5].
    #[arg(long)]
    rehearse: Option<f64>,
    /// Fine-tuning: share of each label's labelled time (the latest part of each session)
    /// held back to score the starting and the tuned model on; 0: train on all of it.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
}

/// The fine-tuning recipe `train --from DIR --sessions DIR...` uses when no flag says
/// otherwise, chosen with the own-voice benchmark (`benches/own_voice.rs`, README).
pub struct TuneDefaults;

impl TuneDefaults {
    pub const EPOCHS: usize = 12;
    pub const LEARNING_RATE: f64 = 1e-3;
    pub const AUGMENT_SET: AugmentSet = AugmentSet::Light;
    pub const LAYERS: Layers = Layers::All;
    pub const FREEZE_BATCH_NORM: bool = true;
    pub const L2_SP: f64 = 0.0;
    pub const REHEARSE: f64 = 0.5;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LayersArg {
    All,
    Upper,
    Head,
}

impl From<LayersArg> for Layers {
    fn from(l: LayersArg) -> Self {
        match l {
            LayersArg::All => Self::All,
            LayersArg::Upper => Self::Upper,
            LayersArg::Head => Self::Head,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AugmentSet {
    Full,
    Light,
}

impl AugmentSet {
    fn augmentations(self) -> &'static [Augmentation] {
        match self {
            Self::Full => &AUGMENTATIONS,
            Self::Light => &LIGHT_AUGMENTATIONS,
        }
    }
}

/// The labelled regions of sessions as clips (actor 0): (training, held out), where
/// `holdout` of each label's labelled time in each session, its latest part, is held
/// out ([`split_by_time`]).
fn session_clips(dirs: &[PathBuf], holdout: f64) -> anyhow::Result<(Vec<Clip>, Vec<Clip>)> {
    let (mut train, mut held) = (Vec::new(), Vec::new());
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
        let (t, h) = split_by_time(&spans, holdout, MIN_REGION_S);
        let clip = |s: &Span| Clip {
            path: dir.join(emovox::session::AUDIO_FILE),
            emotion: s.emotion,
            intensity: Intensity::Normal,
            statement: 0,
            repetition: 0,
            actor: 0,
            span: Some((s.start_s, s.end_s)),
            corpus: "sessions".into(),
            speaker: "sessions".into(),
        };
        train.extend(t.iter().map(clip));
        held.extend(h.iter().map(clip));
    }
    Ok((train, held))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.room_share),
        "--room-share must be between 0 and 1 (got {})",
        args.room_share
    );
    anyhow::ensure!(
        (0.0..1.0).contains(&args.weight_average),
        "--weight-average must be at least 0 and below 1 (got {})",
        args.weight_average
    );
    if let Some(l2) = args.l2_sp {
        anyhow::ensure!(
            l2.is_finite() && l2 >= 0.0,
            "--l2-sp must be a number of at least 0 (got {l2})"
        );
    }
    // The shipped recipe validates on actors 17-20; naming speakers or corpora replaces
    // that default rather than adding to it. Sessions are only ever trained on, so
    // without --data there is nothing to hold out.
    let default_actors =
        (args.val_speakers.is_none() && args.val_corpus.is_empty()).then_some("17-20");
    let split = if args.data.is_empty() {
        Split::default()
    } else {
        Split::parse(
            args.val_actors.as_deref().or(default_actors),
            args.val_speakers.as_deref(),
            &args.val_corpus,
        )
        .map_err(anyhow::Error::msg)?
    };
    let (val, mut train_clips) = if args.data.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let scanned = scan_all(&args.data)?;
        report::rejected(&scanned.rejected);
        split.check(&scanned).map_err(anyhow::Error::msg)?;
        split.apply(scanned.clips)
    };
    let val_actors = split.actors.clone();
    let data_name = if args.data.is_empty() {
        "the sessions".to_owned()
    } else {
        args.data
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Fine-tuning holds back part of the sessions to score on; training from scratch
    // (validated on held-out speakers) uses them whole, as it always has.
    let tuning = args.from.is_some();
    let holdout = if tuning { args.holdout } else { 0.0 };
    anyhow::ensure!(
        (0.0..=0.9).contains(&holdout),
        "--holdout must be between 0 and 0.9 (got {holdout})"
    );
    let (from_sessions, held_clips) = session_clips(&args.sessions, holdout)?;
    if !args.sessions.is_empty() && from_sessions.is_empty() {
        bail!("the sessions hold no labelled regions of 0.5 s or more");
    }
    train_clips.extend(from_sessions);
    if train_clips.is_empty() {
        bail!(
            "{data_name}: no training clips left after holding out {}",
            held_out(&split)
        );
    }
    if !split.is_empty() && val.is_empty() {
        bail!(
            "{data_name}: none of the validation clips ({}) are in the data",
            held_out(&split)
        );
    }
    let mut train_actors: Vec<u8> = train_clips.iter().map(|c| c.actor).collect();
    train_actors.sort_unstable();
    train_actors.dedup();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let start = match &args.from {
        Some(dir) => {
            let card = ModelCard::load(dir)?;
            Some((
                card.clone(),
                StartFrom {
                    weights: ModelCard::weights_path(dir),
                    mean: card.normalisation.mean.clone(),
                    std: card.normalisation.std.clone(),
                },
                dir,
            ))
        }
        None => None,
    };
    let augment_set = args.augment_set.unwrap_or(if tuning {
        TuneDefaults::AUGMENT_SET
    } else {
        AugmentSet::Full
    });
    let rehearse = if tuning {
        args.rehearse.unwrap_or(TuneDefaults::REHEARSE)
    } else {
        0.0
    };
    anyhow::ensure!(
        (0.0..1.0).contains(&rehearse),
        "--rehearse must be at least 0 and below 1 (got {rehearse})"
    );
    // The starting model's exemplars, when rehearsing (a model without any is tuned
    // without rehearsal, and says so).
    let exemplars = match (&args.from, rehearse > 0.0) {
        (Some(dir), true) => match exemplars::load(dir)? {
            Some((_, clips)) => clips,
            None => {
                eprintln!(
                    "emovox train: {} has no exemplars ({}), so fine-tuning cannot rehearse them; \
                     make them with `emovox exemplars --from {} --data DIR...`",
                    dir.display(),
                    exemplars::EXEMPLARS_FILE,
                    dir.display()
                );
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let cfg = TrainConfig {
        epochs: args
            .epochs
            .unwrap_or(if tuning { TuneDefaults::EPOCHS } else { 30 }),
        seed: args.seed,
        augment: !args.no_augment,
        precise_batch_norm: args.precise_batch_norm,
        weight_average: args.weight_average,
        learning_rate: args.lr.unwrap_or(if tuning {
            TuneDefaults::LEARNING_RATE
        } else {
            2e-3
        }),
        patience: args.patience,
        balance_speakers: args.balance_speakers,
        epoch_clips: args.epoch_clips,
        room_share: args.room_share,
        net: start
            .as_ref()
            .map_or_else(TrainConfig::default_net, |(card, ..)| card.net.clone()),
        start: start.as_ref().map(|(_, s, _)| s.clone()),
        layers: match (tuning, args.layers) {
            (false, _) => Layers::All,
            (true, Some(l)) => l.into(),
            (true, None) => TuneDefaults::LAYERS,
        },
        freeze_batch_norm: tuning
            && args
                .freeze_batch_norm
                .unwrap_or(TuneDefaults::FREEZE_BATCH_NORM),
        l2_sp: if tuning {
            args.l2_sp.unwrap_or(TuneDefaults::L2_SP)
        } else {
            0.0
        },
        rehearsal_share: if exemplars.is_empty() { 0.0 } else { rehearse },
        ..TrainConfig::default()
    };
    if !tuning
        && (args.layers.is_some()
            || args.freeze_batch_norm.is_some()
            || args.l2_sp.is_some()
            || args.rehearse.is_some())
    {
        bail!("--layers, --freeze-batch-norm, --l2-sp and --rehearse are for fine-tuning (--from)");
    }
    eprintln!(
        "emovox train: {} clips ({}), validating on {} clips ({})",
        train_clips.len(),
        who(&train_clips),
        val.len(),
        held_out(&split)
    );
    let bar = progress_bar(
        train_clips.len() + val.len(),
        "decoding and computing features",
    );
    let recipe = RoomRecipe::default();
    let babble = if args.rooms > 0 || args.val_in_rooms {
        babble_pool(&train_clips)?
    } else {
        Vec::new()
    };
    let versions = if cfg.augment {
        Versions::Augmented {
            augmentations: augment_set.augmentations(),
            room: (args.rooms > 0).then_some(&recipe),
            room_versions: args.rooms,
        }
    } else {
        Versions::Original
    };
    let prepare_started = std::time::Instant::now();
    let train_set = prepare_versions(&train_clips, versions, cfg.seed, &babble, &|| bar.inc(1))?;
    let val_set = prepare_versions(&val, Versions::Original, cfg.seed, &[], &|| bar.inc(1))?;
    let held_set = prepare_versions(&held_clips, Versions::Original, cfg.seed, &[], &|| {})?;
    let val_rooms = if args.val_in_rooms && !val.is_empty() {
        prepare_versions(&val, Versions::InRoom(&recipe), cfg.seed, &babble, &|| {})?
    } else {
        Vec::new()
    };
    bar.finish_and_clear();
    eprintln!(
        "emovox train: prepared {} training versions in {:.0} s",
        train_set.iter().map(|c| c.versions.len()).sum::<usize>(),
        prepare_started.elapsed().as_secs_f64()
    );

    let own = cfg.batch_size - cfg.rehearsed_per_batch(exemplars.len());
    let steps = cfg.steps_per_epoch_with(train_set.len(), own) * cfg.epochs;
    let bar = progress_bar(steps, "training");
    let mut status = String::from("epoch 1");
    let trained = train_with(
        &train_set,
        &val_set,
        &val_rooms,
        &exemplars,
        &cfg,
        |p| match p {
            Progress::Step { loss, .. } => {
                bar.set_message(format!("{status} | loss {loss:.3}"));
                bar.inc(1);
            }
            Progress::Epoch {
                epoch,
                mean_loss,
                validation,
                score,
                improved,
            } => {
                status = format!("epoch {}/{}", epoch + 1, cfg.epochs);
                let line = match (validation, score) {
                (Some(m), Some(score)) => format!(
                    "epoch {epoch:>2}: loss {mean_loss:.3}  val (centre windows) accuracy {:.3} macro-F1 {:.3}  score {score:.3}{}",
                    m.accuracy,
                    m.macro_f1,
                    if improved { "  (best so far)" } else { "" }
                ),
                _ => format!("epoch {epoch:>2}: loss {mean_loss:.3}"),
            };
                // A hidden bar (stderr not a terminal) prints nothing, so say it plainly there.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        },
    )?;
    bar.finish_and_clear();

    // The honest before/after: the starting and the tuned model on the held-back time.
    let holdout_scores = match (&cfg.start, held_set.is_empty()) {
        (Some(start), false) => {
            let before = Scoreboard::from_outcomes(&start_outcomes(&cfg.net, start, &held_set)?);
            let norm =
                Normaliser::from_mean_std(&trained.normalisation.mean, &trained.normalisation.std);
            let after = Scoreboard::from_outcomes(&outcomes(&trained.net, &norm, &held_set)?);
            let scores = |b: &Scoreboard| HoldoutScores {
                accuracy: b.overall.accuracy,
                uar: b.uar,
                macro_f1: b.per_corpus.first().map_or(0.0, |c| c.macro_f1),
            };
            Some(Holdout {
                regions: held_clips.len(),
                seconds: held_clips
                    .iter()
                    .filter_map(|c| c.span)
                    .map(|(a, b)| b - a)
                    .sum(),
                before: scores(&before),
                after: scores(&after),
            })
        }
        _ => None,
    };
    let board = Scoreboard::from_outcomes(&trained.outcomes);
    let board_rooms = (!trained.outcomes_in_rooms.is_empty())
        .then(|| Scoreboard::from_outcomes(&trained.outcomes_in_rooms));
    let per_corpus = corpus_validation(&board, board_rooms.as_ref());
    let start_training = start.as_ref().map(|(from, ..)| &from.training);
    let card = ModelCard {
        name: start.as_ref().map_or_else(
            || "emovox-ravdess-cbl".to_owned(),
            |(from, ..)| format!("{}-tuned", from.name),
        ),
        labels: Emotion::names(),
        features: FeatureConfig::current(),
        normalisation: Normalisation {
            mean: trained.normalisation.mean.clone(),
            std: trained.normalisation.std.clone(),
        },
        window_frames: WINDOW_FRAMES,
        hop_frames: HOP_FRAMES,
        net: cfg.net.clone(),
        training: Training {
            train_actors: train_actors.clone(),
            val_actors: val_actors.clone(),
            retrained_on_all: split.is_empty(),
            train_files: train_set.len(),
            sessions: args
                .sessions
                .iter()
                .map(|d| d.display().to_string())
                .collect(),
            fine_tuned_from: start
                .as_ref()
                .map(|(from, _, dir)| format!("{} ({})", from.name, dir.display())),
            epochs: trained.best_epoch,
            seed: cfg.seed,
            augmentation: if cfg.augment {
                augment_set
                    .augmentations()
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            } else {
                Vec::new()
            },
            rooms: if cfg.augment { args.rooms } else { 0 },
            room_recipe: (cfg.augment && args.rooms > 0 || !val_rooms.is_empty())
                .then(|| recipe.clone()),
            room_share: if cfg.augment && args.rooms > 0 {
                cfg.room_share
            } else {
                0.0
            },
            balance_speakers: cfg.balance_speakers,
            epoch_clips: cfg.epoch_clips,
            corpora: who(&train_clips)
                .split("; ")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            speakers: inherited(start_training.map(|t| &t.speakers), speakers(&train_clips)),
            licences: inherited(
                start_training.map(|t| &t.licences),
                licences(train_clips.iter().map(|c| c.corpus.as_str())),
            ),
            precise_batch_norm: cfg.precise_batch_norm,
            weight_average: cfg.weight_average,
            fine_tune: tuning.then(|| FineTune {
                layers: cfg.layers.to_string(),
                freeze_batch_norm: cfg.freeze_batch_norm,
                l2_sp: cfg.l2_sp,
                rehearsal_share: cfg.rehearsal_share,
                exemplars: if cfg.rehearsal_share > 0.0 {
                    exemplars.len()
                } else {
                    0
                },
                learning_rate: cfg.learning_rate,
                holdout_share: holdout,
            }),
            holdout: holdout_scores.clone(),
            seconds: trained.seconds,
            date: report::today(),
            commit: report::commit(),
        },
        validation: trained.validation.as_ref().map(|m| Validation {
            actors: val_actors.clone(),
            speakers: split.speaker_names(),
            corpora: split.corpora.clone(),
            files: m.n,
            accuracy: m.accuracy,
            macro_precision: m.macro_precision,
            macro_recall: m.macro_recall,
            macro_f1: m.macro_f1,
            uar: Some(m.uar()),
            per_class_f1: m.per_class.iter().map(|c| c.f1).collect(),
            in_rooms: trained
                .validation_in_rooms
                .as_ref()
                .map(|r| RoomValidation {
                    files: r.n,
                    accuracy: r.accuracy,
                    macro_f1: r.macro_f1,
                    uar: r.uar(),
                }),
            per_corpus: per_corpus.clone(),
        }),
    };
    let weights = ModelCard::weights_path(&args.out);
    trained
        .varmap
        .save(&weights)
        .with_context(|| format!("writing {}", weights.display()))?;
    card.save(&args.out)
        .with_context(|| format!("writing {}", ModelCard::json_path(&args.out).display()))?;
    eprintln!(
        "emovox train: {:.0} s, kept epoch {} of {}; wrote {} and {}",
        trained.seconds,
        trained.best_epoch,
        trained.losses.len(),
        weights.display(),
        ModelCard::json_path(&args.out).display()
    );
    if let Some(h) = &holdout_scores {
        eprintln!(
            "held back from tuning: {} stretches, {:.0} s (the latest {:.0} % of each label's time)",
            h.regions,
            h.seconds,
            100.0 * holdout
        );
        eprintln!(
            "  before (the starting model): accuracy {:.3}  UAR {:.3}  macro-F1 {:.3}",
            h.before.accuracy, h.before.uar, h.before.macro_f1
        );
        eprintln!(
            "  after  (the tuned model):    accuracy {:.3}  UAR {:.3}  macro-F1 {:.3}",
            h.after.accuracy, h.after.uar, h.after.macro_f1
        );
    } else if tuning && holdout > 0.0 {
        eprintln!("held back from tuning: nothing (too little labelled time per label)");
    }
    if let Some(m) = &trained.validation {
        eprintln!("validation on {}:", held_out(&split));
        report::print_scoreboard(&board);
        report::print_metrics(m);
    }
    if let (Some(m), Some(board)) = (&trained.validation_in_rooms, &board_rooms) {
        eprintln!("validation in synthetic rooms:");
        report::print_scoreboard(board);
        report::print_metrics(m);
    }
    Ok(())
}

/// Scores per held-out corpus for the card, clean and (when validated there) in rooms.
fn corpus_validation(clean: &Scoreboard, rooms: Option<&Scoreboard>) -> Vec<CorpusValidation> {
    clean
        .per_corpus
        .iter()
        .map(|c| {
            let room = rooms.and_then(|b| b.per_corpus.iter().find(|r| r.corpus == c.corpus));
            CorpusValidation {
                corpus: c.corpus.clone(),
                files: c.n,
                accuracy: c.accuracy,
                uar: c.uar,
                macro_f1: c.macro_f1,
                uar_in_rooms: room.map(|r| r.uar),
                macro_f1_in_rooms: room.map(|r| r.macro_f1),
            }
        })
        .collect()
}

/// What a split holds out, in words: "actors [17, 18, 19, 20]", "corpus emovo",
/// "speakers tess:OAF", joined by "and"; "nothing" for none.
fn held_out(split: &Split) -> String {
    let mut parts = Vec::new();
    if !split.actors.is_empty() {
        parts.push(format!("actors {:?}", split.actors));
    }
    if !split.speakers.is_empty() {
        parts.push(format!("speakers {}", split.speaker_names().join(", ")));
    }
    if !split.corpora.is_empty() {
        parts.push(format!("corpora {}", split.corpora.join(", ")));
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(" and ")
    }
}

/// The clips' corpora with their clip and speaker counts, for the log:
/// "ravdess 960 clips, 16 speakers; tess 2800 clips, 2 speakers".
fn who(clips: &[Clip]) -> String {
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
fn inherited(start: Option<&Vec<String>>, this_run: Vec<String>) -> Vec<String> {
    let mut all: Vec<String> = start.cloned().unwrap_or_default();
    for line in this_run {
        if !all.contains(&line) {
            all.push(line);
        }
    }
    all
}

/// Every voice trained on, as `corpus:speaker`, in the order first met.
fn speakers(clips: &[Clip]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in clips {
        let name = format!("{}:{}", c.corpus, c.speaker);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn progress_bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}
