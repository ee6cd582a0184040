//! `emovox train --data DIR... [--epochs N] [--seed S] [--val-actors LIST]
//! [--val-speakers CORPUS:SPEAKER,...] [--val-corpus NAME...] [--out DIR]
//! [--sessions DIR...] [--from DIR]`; with `--from` and `--sessions`, `--data` may be left
//! out (fine-tuning on one's own recordings).

use std::path::PathBuf;

use anyhow::{bail, Context};
use emovox::labels::Emotion;
use emovox::model::card::{CorpusValidation, RoomValidation};
use emovox::model::card::{ModelCard, Normalisation, Training, Validation};
use emovox::model::dataset::{scan_all, Clip, Intensity, Split};
use emovox::model::input::{HOP_FRAMES, WINDOW_FRAMES};
use emovox::model::metrics::Scoreboard;
use emovox::model::room::RoomRecipe;
use emovox::model::train::prepare::babble_pool;
use emovox::model::train::{
    prepare_versions, train, Augmentation, Progress, StartFrom, TrainConfig, Versions,
    AUGMENTATIONS, LIGHT_AUGMENTATIONS,
};
use emovox::model::FeatureConfig;
use emovox::session::Session;
use indicatif::{ProgressBar, ProgressStyle};

use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// Folders of labelled audio, each one corpus: RAVDESS names
    /// (Actor_NN/03-01-EE-II-SS-RR-AA.wav), a metadata.csv (file_name,label[,speaker]),
    /// or a folder per label (angry/*.wav). Any sample rate; WAV, FLAC, MP3 or Ogg.
    #[arg(long, num_args = 1.., required_unless_present = "sessions")]
    data: Vec<PathBuf>,
    /// Most epochs to train (fewer when validation stops improving).
    #[arg(long, default_value_t = 30)]
    epochs: usize,
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
    /// Peak learning rate of the one-cycle schedule.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
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
    /// `light` (pitch ±2, two stretches: under half the preparation time and memory).
    #[arg(long, value_enum, default_value_t = AugmentSet::Full)]
    augment_set: AugmentSet,
    /// Draw each epoch's clips speaker by speaker, so a corpus of few voices and many
    /// clips does not outweigh the rest.
    #[arg(long)]
    balance_speakers: bool,
    /// Clips per epoch [default: every training clip once].
    #[arg(long)]
    epoch_clips: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AugmentSet {
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

/// The labelled regions of sessions as training clips (actor 0).
fn session_clips(dirs: &[PathBuf]) -> anyhow::Result<Vec<Clip>> {
    let mut clips = Vec::new();
    for dir in dirs {
        let session = Session::load(dir)?;
        for r in session.labels.iter().filter(|r| r.end_s - r.start_s >= 0.5) {
            clips.push(Clip {
                path: dir.join(emovox::session::AUDIO_FILE),
                emotion: r.label,
                intensity: Intensity::Normal,
                statement: 0,
                repetition: 0,
                actor: 0,
                span: Some((r.start_s, r.end_s)),
                corpus: "sessions".into(),
                speaker: "sessions".into(),
            });
        }
    }
    Ok(clips)
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
    let from_sessions = session_clips(&args.sessions)?;
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
    let cfg = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        augment: !args.no_augment,
        precise_batch_norm: args.precise_batch_norm,
        weight_average: args.weight_average,
        learning_rate: args.lr,
        patience: args.patience,
        balance_speakers: args.balance_speakers,
        epoch_clips: args.epoch_clips,
        room_share: args.room_share,
        net: start
            .as_ref()
            .map_or_else(TrainConfig::default_net, |(card, ..)| card.net.clone()),
        start: start.as_ref().map(|(_, s, _)| s.clone()),
        ..TrainConfig::default()
    };
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
            augmentations: args.augment_set.augmentations(),
            room: (args.rooms > 0).then_some(&recipe),
            room_versions: args.rooms,
        }
    } else {
        Versions::Original
    };
    let prepare_started = std::time::Instant::now();
    let train_set = prepare_versions(&train_clips, versions, cfg.seed, &babble, &|| bar.inc(1))?;
    let val_set = prepare_versions(&val, Versions::Original, cfg.seed, &[], &|| bar.inc(1))?;
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

    let steps = cfg.steps_per_epoch(train_set.len()) * cfg.epochs;
    let bar = progress_bar(steps, "training");
    let mut status = String::from("epoch 1");
    let trained = train(&train_set, &val_set, &val_rooms, &cfg, |p| match p {
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
    })?;
    bar.finish_and_clear();

    let board = Scoreboard::from_outcomes(&trained.outcomes);
    let board_rooms = (!trained.outcomes_in_rooms.is_empty())
        .then(|| Scoreboard::from_outcomes(&trained.outcomes_in_rooms));
    let per_corpus = corpus_validation(&board, board_rooms.as_ref());
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
                args.augment_set
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
            precise_batch_norm: cfg.precise_batch_norm,
            weight_average: cfg.weight_average,
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
