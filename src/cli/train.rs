//! `emovox train --data DIR [--epochs N] [--seed S] [--val-actors LIST] [--out DIR]
//! [--sessions DIR...] [--from DIR]`; with `--from` and `--sessions`, `--data` may be left
//! out (fine-tuning on one's own recordings).

use std::path::PathBuf;

use anyhow::{bail, Context};
use emovox::labels::Emotion;
use emovox::model::card::{ModelCard, Normalisation, Training, Validation};
use emovox::model::dataset::{parse_actor_list, scan, Clip, Intensity};
use emovox::model::input::{HOP_FRAMES, WINDOW_FRAMES};
use emovox::model::train::{prepare, train, Progress, StartFrom, TrainConfig, AUGMENTATIONS};
use emovox::model::FeatureConfig;
use emovox::session::Session;
use indicatif::{ProgressBar, ProgressStyle};

use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// A folder in RAVDESS layout (Actor_NN/03-01-EE-II-SS-RR-AA.wav, any sample rate).
    #[arg(long, required_unless_present = "sessions")]
    data: Option<PathBuf>,
    /// Most epochs to train (fewer when validation stops improving).
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Actors held out for validation and early stopping, e.g. 17-20 or 1,5,9; `none`
    /// trains on every actor for exactly --epochs epochs.
    #[arg(long, default_value = "17-20")]
    val_actors: String,
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
            });
        }
    }
    Ok(clips)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..1.0).contains(&args.weight_average),
        "--weight-average must be at least 0 and below 1 (got {})",
        args.weight_average
    );
    let (val_actors, (val, mut train_clips)) = match &args.data {
        Some(data) => {
            let scanned = scan(data).with_context(|| format!("reading {}", data.display()))?;
            report::rejected(&scanned.rejected);
            let val_actors = if args.val_actors.trim() == "none" {
                Vec::new()
            } else {
                parse_actor_list(&args.val_actors).map_err(anyhow::Error::msg)?
            };
            let split: (Vec<_>, Vec<_>) = scanned
                .clips
                .into_iter()
                .partition(|c| val_actors.contains(&c.actor));
            (val_actors, split)
        }
        None => (Vec::new(), (Vec::new(), Vec::new())),
    };
    let data_name = args
        .data
        .as_ref()
        .map_or_else(|| "the sessions".to_owned(), |d| d.display().to_string());
    let from_sessions = session_clips(&args.sessions)?;
    if !args.sessions.is_empty() && from_sessions.is_empty() {
        bail!("the sessions hold no labelled regions of 0.5 s or more");
    }
    train_clips.extend(from_sessions);
    if train_clips.is_empty() {
        bail!("{data_name}: no training clips left after holding out actors {val_actors:?}");
    }
    if !val_actors.is_empty() && val.is_empty() {
        bail!("{data_name}: none of the validation actors {val_actors:?} are in the data");
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
        net: start
            .as_ref()
            .map_or_else(TrainConfig::default_net, |(card, ..)| card.net.clone()),
        start: start.as_ref().map(|(_, s, _)| s.clone()),
        ..TrainConfig::default()
    };
    eprintln!(
        "emovox train: {} clips from actors {:?}, validating on {} clips from {:?}",
        train_clips.len(),
        train_actors,
        val.len(),
        val_actors
    );
    let bar = progress_bar(
        train_clips.len() + val.len(),
        "decoding and computing features",
    );
    let train_set = prepare(&train_clips, cfg.augment, cfg.seed, &|| bar.inc(1))?;
    let val_set = prepare(&val, false, cfg.seed, &|| bar.inc(1))?;
    bar.finish_and_clear();

    let steps = train_set.len().div_ceil(cfg.batch_size) * cfg.epochs;
    let bar = progress_bar(steps, "training");
    let mut status = String::from("epoch 1");
    let trained = train(&train_set, &val_set, &cfg, |p| match p {
        Progress::Step { loss, .. } => {
            bar.set_message(format!("{status} | loss {loss:.3}"));
            bar.inc(1);
        }
        Progress::Epoch {
            epoch,
            mean_loss,
            validation,
            improved,
        } => {
            status = format!("epoch {}/{}", epoch + 1, cfg.epochs);
            let line = match validation {
                Some(m) => format!(
                    "epoch {epoch:>2}: loss {mean_loss:.3}  val (centre windows) accuracy {:.3} macro-F1 {:.3}{}",
                    m.accuracy,
                    m.macro_f1,
                    if improved { "  (best so far)" } else { "" }
                ),
                None => format!("epoch {epoch:>2}: loss {mean_loss:.3}"),
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
            retrained_on_all: val_actors.is_empty(),
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
                AUGMENTATIONS.iter().map(ToString::to_string).collect()
            } else {
                Vec::new()
            },
            precise_batch_norm: cfg.precise_batch_norm,
            weight_average: cfg.weight_average,
            seconds: trained.seconds,
            date: report::today(),
            commit: report::commit(),
        },
        validation: trained.validation.as_ref().map(|m| Validation {
            actors: val_actors.clone(),
            files: m.n,
            accuracy: m.accuracy,
            macro_precision: m.macro_precision,
            macro_recall: m.macro_recall,
            macro_f1: m.macro_f1,
            per_class_f1: m.per_class.iter().map(|c| c.f1).collect(),
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
        eprintln!("validation on actors {val_actors:?}:");
        report::print_metrics(m);
    }
    Ok(())
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
