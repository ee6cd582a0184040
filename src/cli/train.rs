//! `emovox train --data DIR... [--epochs N] [--seed S] [--val-actors LIST]
//! [--val-speakers CORPUS:SPEAKER,...] [--val-corpus NAME...] [--out DIR]
//! [--sessions DIR...]` trains from scratch; `emovox train --from MODEL --sessions DIR...
//! --out DIR` tunes a model (`built-in` or a folder) to the voices in recorded sessions,
//! through [`emovox::model::tune`], which the app's "Tune to my voice" calls too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};
use emovox::dsp::N_MFCC;
use emovox::labels::Emotion;
use emovox::model::blend::{self, Model};
use emovox::model::card::CorpusValidation;
use emovox::model::card::{ModelCard, Normalisation, Training, Validation, MAX_MEMBERS};
use emovox::model::classifier::{member_tensors, ModelSource};
use emovox::model::dataset::{licences, scan_all, Split};
use emovox::model::input::{InputGroup, HOP_FRAMES, WINDOW_FRAMES};
use emovox::model::metrics::{Metrics, Outcome, Scoreboard};
use emovox::model::net::NetConfig;
use emovox::model::room::RoomRecipe;
use emovox::model::train::exemplars::ExemplarError;
use emovox::model::train::masks::InputMasks;
use emovox::model::train::mixup::Mixup;
use emovox::model::train::prepare::babble_pool;
use emovox::model::train::voices::{centre_on_voices, DRAWS as VOICE_DRAWS};
use emovox::model::train::{
    member_records, per_voice_outcomes, prepare_versions, train_members, Augmentation, Ensemble,
    Layers, Progress, TrainConfig, Trained, Versions, AUGMENTATIONS, LIGHT_AUGMENTATIONS,
};
use emovox::model::tune::{
    self, session_clips, speakers, who, TuneDefaults, TuneError, TuneProgress, TuneRecipe,
    TuneRequest, MIN_REGION_S,
};
use emovox::model::{Classifier, FeatureConfig};
use indicatif::{ProgressBar, ProgressStyle};

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
    /// Where the weights and model card are written [default: weights]. Tuning with
    /// --from needs it named: a new folder, or one whose model is replaced whole.
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// 13–16: no gain (README). [default: 0]
    #[arg(long)]
    weight_average: Option<f64>,
    /// Peak learning rate of the one-cycle schedule [default: 2e-3; fine-tuning: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Epochs without a better validation macro-F1 before stopping [default: 8].
    #[arg(long)]
    patience: Option<usize>,
    /// Recorded sessions: with --from, what is tuned on; with --data, learnt from as
    /// well (every labelled region of 0.5 s or more is a training clip, never a
    /// validation one).
    #[arg(long, num_args = 1..)]
    sessions: Vec<PathBuf>,
    /// Tune this model to the voices in --sessions instead of training from scratch:
    /// `built-in` (the model built into emovox) or a folder with emovox.json and
    /// emovox.safetensors (a folder really named so: ./built-in). Its network shape and
    /// normalisation are kept, and its exemplars (built in, or beside its weights) are
    /// rehearsed and copied beside the tuned model.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Versions of each training clip heard in synthetic rooms and microphones
    /// (reverberation, noise or babble, band limits, colouring, level), each over one of
    /// the clip's other versions; 0: none [default: 0].
    #[arg(long)]
    rooms: Option<usize>,
    /// Share of an epoch's draws that take a room version, when clips have them
    /// [default: 0.5].
    #[arg(long)]
    room_share: Option<f64>,
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
    /// The network's width: convolution channels and LSTM units per direction, 8 to 512.
    /// A window costs about 14 M multiply-adds at 64 against 44 M at 128 [default: 128].
    #[arg(long)]
    width: Option<usize>,
    /// Networks trained (seeds --seed, --seed + 1, …, side by side, one core each) and
    /// averaged as one model, 1 to 8 [default: 1].
    #[arg(long)]
    members: Option<usize>,
    /// Take each 3 s window's own mean away from its MFCCs before the network reads them
    /// (cepstral mean normalisation per window: a fixed microphone or room colouring
    /// cancels out).
    #[arg(long)]
    centre_mfcc: bool,
    /// Centre every input per window as --centre-mfcc does the MFCCs: the chroma, spectral
    /// contrast and tonnetz too (a speaker's usual pitch classes cancel out as well).
    #[arg(long, conflicts_with = "centre_mfcc")]
    centre_all: bool,
    /// A per-voice model: every frame read minus its voice's baseline, the mean of the
    /// louder half of all that voice's (corpus and speaker's) frames. `evaluate` then takes
    /// each speaker's baseline from all their clips, `predict` each file's from itself.
    #[arg(long)]
    centre_voice: bool,
    /// With --centre-voice: each training window also reads baselines of fewer of its
    /// voice's clips (one up to all), so a lone file, its own baseline, reads well too.
    #[arg(long, requires = "centre_voice", conflicts_with = "no_augment")]
    voice_draws: bool,
    /// Also train N networks that read each voice on its baseline (as --centre-voice
    /// --voice-draws trains them), on the same prepared clips once the --members ones are
    /// done, and save both groups as one blended model (as `emovox blend` joins two runs'
    /// models): the shipped recipe in one run, preparing the clips once.
    #[arg(
        long,
        value_name = "N",
        conflicts_with_all = ["centre_voice", "no_augment"]
    )]
    blend_voice: Option<usize>,
    /// Mask each training window's inputs as SpecAugment does, some stretches of frames
    /// and some bands of the 65 inputs set to the training mean (before any centring per
    /// window): `strong` (the default) two stretches of up to 0.3 s and two bands of up
    /// to 8 inputs; `light` one stretch of up to 0.15 s and one band of up to 4; `time`
    /// the strong stretches alone, `inputs` the strong bands alone.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        default_missing_value = "strong",
        conflicts_with = "no_augment"
    )]
    input_masks: Option<MasksArg>,
    /// With --input-masks and --members: only the first N members train with the masks,
    /// the others without, and the model averages both kinds [default: every member].
    #[arg(long, value_name = "N", requires = "input_masks", requires = "members")]
    masked_members: Option<usize>,
    /// With --input-masks: the share of training windows masked, above 0 and at most 1;
    /// the rest are left whole [default: 1].
    #[arg(long, value_name = "SHARE", requires = "input_masks")]
    mask_share: Option<f64>,
    /// With --input-masks: the first epoch trained with the masks, from 1 to --epochs;
    /// the epochs before it read whole windows [default: 1].
    #[arg(long, value_name = "EPOCH", requires = "input_masks")]
    masks_from_epoch: Option<usize>,
    /// Train without these kinds of input (comma-separated: chroma, contrast, tonnetz,
    /// mfcc): they read as 0, in training and at inference (the card's normalisation
    /// carries it) [default: none].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND,...")]
    drop_inputs: Vec<InputArg>,
    /// Blend half of each batch's windows with another window of the batch, inputs and
    /// targets alike (mixup, λ from Beta(0.4, 0.4) folded to ≥ 0.5).
    #[arg(long, conflicts_with = "no_augment")]
    mixup: bool,
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
    /// held back to score the starting and the tuned model on; 0: train on all of it
    /// [default: 0.2].
    #[arg(long)]
    holdout: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum InputArg {
    Mfcc,
    Chroma,
    Contrast,
    Tonnetz,
}

impl From<InputArg> for InputGroup {
    fn from(i: InputArg) -> Self {
        match i {
            InputArg::Mfcc => Self::Mfcc,
            InputArg::Chroma => Self::Chroma,
            InputArg::Contrast => Self::Contrast,
            InputArg::Tonnetz => Self::Tonnetz,
        }
    }
}

/// The kinds named, each once, in a frame's order.
fn dropped_inputs(named: &[InputArg]) -> Vec<InputGroup> {
    InputGroup::ALL
        .into_iter()
        .filter(|g| named.iter().any(|&i| InputGroup::from(i) == *g))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MasksArg {
    Strong,
    Light,
    /// The strong masks' stretches of frames alone.
    Time,
    /// The strong masks' bands of inputs alone.
    Inputs,
}

/// Epochs when training from scratch without `--epochs`.
const SCRATCH_EPOCHS: usize = 30;

impl From<MasksArg> for InputMasks {
    fn from(m: MasksArg) -> Self {
        match m {
            MasksArg::Strong => InputMasks::default(),
            MasksArg::Light => InputMasks::light(),
            MasksArg::Time => InputMasks {
                input_masks: 0,
                ..InputMasks::default()
            },
            MasksArg::Inputs => InputMasks {
                time_masks: 0,
                ..InputMasks::default()
            },
        }
    }
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

impl Args {
    /// Whether this run trains several networks side by side (each on a core of its own);
    /// with `--blend-voice`, when either group does (a lone network of the other group then
    /// trains with candle's element-wise ops on one thread too).
    pub fn trains_members_side_by_side(&self) -> bool {
        self.from.is_none()
            && (self.members.is_some_and(|n| n > 1) || self.blend_voice.is_some_and(|n| n > 1))
    }
}

/// Set by Ctrl-C while tuning: tuning stops before its next step and writes nothing.
static CANCEL: AtomicBool = AtomicBool::new(false);

pub fn run(args: Args) -> anyhow::Result<()> {
    // Numbers are checked before anything is read.
    if let Some(share) = args.room_share {
        anyhow::ensure!(
            (0.0..=1.0).contains(&share),
            "--room-share must be between 0 and 1 (got {share})"
        );
    }
    if let Some(decay) = args.weight_average {
        anyhow::ensure!(
            (0.0..1.0).contains(&decay),
            "--weight-average must be at least 0 and below 1 (got {decay})"
        );
    }
    if let Some(width) = args.width {
        anyhow::ensure!(
            (8..=512).contains(&width),
            "--width must be from 8 to 512 (got {width})"
        );
    }
    if let Some(members) = args.members {
        anyhow::ensure!(
            (1..=MAX_MEMBERS).contains(&members),
            "--members must be from 1 to {MAX_MEMBERS} (got {members})"
        );
    }
    if let (Some(voices), None) = (args.blend_voice, &args.from) {
        let members = args.members.unwrap_or(1);
        anyhow::ensure!(
            members < MAX_MEMBERS,
            "--members {members} leaves no room for --blend-voice: a model has at most \
             {MAX_MEMBERS} networks"
        );
        anyhow::ensure!(
            voices >= 1 && members + voices <= MAX_MEMBERS,
            "--blend-voice must be from 1 to {} with --members {members}, so that the blend \
             has at most {MAX_MEMBERS} networks (got {voices})",
            MAX_MEMBERS - members
        );
    }
    if let (Some(masked), Some(members)) = (args.masked_members, args.members) {
        anyhow::ensure!(
            (1..=members).contains(&masked),
            "--masked-members must be from 1 to --members ({members}) (got {masked})"
        );
    }
    anyhow::ensure!(
        dropped_inputs(&args.drop_inputs).len() < InputGroup::ALL.len(),
        "--drop-inputs cannot drop every kind of input: the model would read nothing"
    );
    if let Some(share) = args.mask_share {
        anyhow::ensure!(
            share > 0.0 && share <= 1.0,
            "--mask-share must be above 0 and at most 1 (got {share})"
        );
    }
    if let Some(first) = args.masks_from_epoch {
        let epochs = args.epochs.unwrap_or(SCRATCH_EPOCHS);
        anyhow::ensure!(
            (1..=epochs).contains(&first),
            "--masks-from-epoch must be from 1 to --epochs ({epochs}) (got {first})"
        );
    }
    if let Some(l2) = args.l2_sp {
        anyhow::ensure!(
            l2.is_finite() && l2 >= 0.0,
            "--l2-sp must be a number of at least 0 (got {l2})"
        );
    }
    match (&args.from, args.data.is_empty()) {
        (Some(_), true) => tune_sessions(args),
        (Some(_), false) => bail!(
            "--from tunes a model on --sessions alone and cannot take --data: leave out \
             --data to tune, or --from to train from scratch on the corpora"
        ),
        // clap asks for --data unless --sessions are given.
        (None, true) => bail!(
            "--sessions without --data or --from: to tune the built-in model to your \
             sessions add --from built-in (or --from DIR for a model in a folder); to train \
             from scratch give --data"
        ),
        (None, false) => from_scratch(args),
    }
}

/// `train --from MODEL --sessions DIR... --out DIR`: the tuning recipe, with the flags
/// given in place of its defaults.
fn tune_sessions(args: Args) -> anyhow::Result<()> {
    refuse_flags(
        &[
            ("--val-actors", args.val_actors.is_some()),
            ("--val-speakers", args.val_speakers.is_some()),
            ("--val-corpus", !args.val_corpus.is_empty()),
            ("--rooms", args.rooms.is_some()),
            ("--room-share", args.room_share.is_some()),
            ("--val-in-rooms", args.val_in_rooms),
            ("--balance-speakers", args.balance_speakers),
            ("--epoch-clips", args.epoch_clips.is_some()),
            ("--width", args.width.is_some()),
            ("--members", args.members.is_some()),
            ("--centre-mfcc", args.centre_mfcc),
            ("--centre-all", args.centre_all),
            ("--centre-voice", args.centre_voice),
            ("--voice-draws", args.voice_draws),
            ("--blend-voice", args.blend_voice.is_some()),
            ("--input-masks", args.input_masks.is_some()),
            ("--masked-members", args.masked_members.is_some()),
            ("--mask-share", args.mask_share.is_some()),
            ("--masks-from-epoch", args.masks_from_epoch.is_some()),
            ("--drop-inputs", !args.drop_inputs.is_empty()),
            ("--mixup", args.mixup),
            ("--precise-batch-norm", args.precise_batch_norm),
            ("--weight-average", args.weight_average.is_some()),
            ("--patience", args.patience.is_some()),
        ],
        "for training from scratch (--data without --from); tuning with --from has no \
         validation voices or rooms",
    )?;
    // No default here: the default, ./weights, is where the model to tune usually is.
    let Some(out) = args.out.clone() else {
        bail!(
            "--from needs --out DIR, the folder the tuned model is written to (a new one; \
             an existing model there is replaced whole)"
        );
    };
    let holdout = args.holdout.unwrap_or(TuneDefaults::HOLDOUT);
    anyhow::ensure!(
        (0.0..=0.9).contains(&holdout),
        "--holdout must be between 0 and 0.9 (got {holdout})"
    );
    let rehearse = args.rehearse.unwrap_or(TuneDefaults::REHEARSE);
    anyhow::ensure!(
        (0.0..1.0).contains(&rehearse),
        "--rehearse must be at least 0 and below 1 (got {rehearse})"
    );
    let Some(from) = &args.from else {
        bail!("--from names the model to tune");
    };
    let defaults = TuneRecipe::default();
    let request = TuneRequest {
        start: ModelSource::parse(from),
        sessions: args.sessions.clone(),
        out: out.clone(),
        holdout,
        recipe: TuneRecipe {
            epochs: args.epochs.unwrap_or(defaults.epochs),
            learning_rate: args.lr.unwrap_or(defaults.learning_rate),
            augmentations: match (args.no_augment, args.augment_set) {
                (true, _) => &[],
                (false, Some(set)) => set.augmentations(),
                (false, None) => defaults.augmentations,
            },
            layers: args.layers.map_or(defaults.layers, Layers::from),
            freeze_batch_norm: args.freeze_batch_norm.unwrap_or(defaults.freeze_batch_norm),
            l2_sp: args.l2_sp.unwrap_or(defaults.l2_sp),
            rehearse,
            seed: args.seed,
        },
    };
    // Ctrl-C cancels cleanly: the output folder is left as it was. Cancelling waits for
    // the clip or step in hand, so a second Ctrl-C does not wait: it exits at once (the
    // working folder left behind is removed by the next tuning beside it).
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("emovox train: cancelling (Ctrl-C again to quit at once)");
    });
    let mut bar: Option<ProgressBar> = None;
    let progress = |p: TuneProgress| match p {
        TuneProgress::Preparing { regions, held_back } => eprintln!(
            "emovox train: tuning {} ({}) on {regions} labelled regions of {} session(s), \
             {held_back} held back; decoding and computing features",
            from.display(),
            request.start,
            request.sessions.len()
        ),
        TuneProgress::Step {
            steps,
            epoch,
            epochs,
            loss,
            ..
        } => {
            let bar = bar.get_or_insert_with(|| progress_bar(steps, "tuning"));
            bar.set_message(format!("epoch {epoch}/{epochs} | loss {loss:.3}"));
            bar.inc(1);
        }
        TuneProgress::Epoch {
            epoch, mean_loss, ..
        } => {
            let line = format!("epoch {epoch:>2}: loss {mean_loss:.3}");
            match &bar {
                Some(b) if !b.is_hidden() => b.println(line),
                // A hidden bar (stderr not a terminal) prints nothing, so say it plainly.
                _ => eprintln!("{line}"),
            }
        }
        TuneProgress::Finishing => {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
        }
    };
    let outcome = tune::tune(&request, progress, &CANCEL)
        .map_err(|e| match e {
            TuneError::Exemplars(ExemplarError::Stale(_)) => {
                anyhow::anyhow!("{e}, or tune without rehearsal (--rehearse 0)")
            }
            e => e.into(),
        })
        .with_context(|| format!("tuning {} into {}", from.display(), out.display()))?;
    for warning in &outcome.warnings {
        eprintln!("emovox train: {warning}");
    }
    eprintln!(
        "emovox train: tuned in {:.0} s ({} epochs on {} regions, {:.0} s; {} exemplars \
         rehearsed); wrote {} (weights, card{})",
        outcome.seconds,
        outcome.card.training.epochs,
        outcome.regions,
        outcome.seconds_trained,
        outcome.rehearsed,
        outcome.out.display(),
        if outcome.exemplars_copied > 0 {
            format!(", {} exemplars", outcome.exemplars_copied)
        } else {
            String::new()
        }
    );
    match &outcome.holdout {
        Some(h) => {
            eprintln!(
                "held back from tuning: {} stretches, {:.0} s (the latest {:.0} % of each \
                 label's time)",
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
        }
        None if holdout > 0.0 => {
            eprintln!("held back from tuning: nothing (too little labelled time per label)");
        }
        None => {}
    }
    Ok(())
}

/// `train --data DIR...`: a model from random weights, validated on held-out speakers.
fn from_scratch(args: Args) -> anyhow::Result<()> {
    refuse_flags(
        &[
            ("--holdout", args.holdout.is_some()),
            ("--layers", args.layers.is_some()),
            ("--freeze-batch-norm", args.freeze_batch_norm.is_some()),
            ("--l2-sp", args.l2_sp.is_some()),
            ("--rehearse", args.rehearse.is_some()),
        ],
        "for tuning a model (--from MODEL --sessions DIR...), not for training from scratch",
    )?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("weights"));
    let rooms = args.rooms.unwrap_or(0);
    let room_share = args.room_share.unwrap_or(0.5);
    // The shipped recipe validates on actors 17-20; naming speakers or corpora replaces
    // that default rather than adding to it. Sessions are only ever trained on.
    let default_actors =
        (args.val_speakers.is_none() && args.val_corpus.is_empty()).then_some("17-20");
    let split = Split::parse(
        args.val_actors.as_deref().or(default_actors),
        args.val_speakers.as_deref(),
        &args.val_corpus,
    )
    .map_err(anyhow::Error::msg)?;
    let (val, mut train_clips) = {
        let scanned = scan_all(&args.data)?;
        report::rejected(&scanned.rejected);
        split.check(&scanned).map_err(anyhow::Error::msg)?;
        split.apply(scanned.clips)
    };
    let val_actors = split.actors.clone();
    let data_name = args
        .data
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if !args.sessions.is_empty() {
        let from_sessions = session_clips(&args.sessions, 0.0)?;
        for dir in &from_sessions.unlabelled {
            eprintln!(
                "emovox train: {}: no labelled regions of {MIN_REGION_S} s or more",
                dir.display()
            );
        }
        train_clips.extend(from_sessions.train);
    }
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
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let augment_set = args.augment_set.unwrap_or(AugmentSet::Full);
    let cfg = TrainConfig {
        epochs: args.epochs.unwrap_or(SCRATCH_EPOCHS),
        seed: args.seed,
        augment: !args.no_augment,
        precise_batch_norm: args.precise_batch_norm,
        weight_average: args.weight_average.unwrap_or(0.0),
        learning_rate: args.lr.unwrap_or(2e-3),
        patience: args.patience.unwrap_or(8),
        balance_speakers: args.balance_speakers,
        epoch_clips: args.epoch_clips,
        room_share,
        input_masks: args.input_masks.map(|m| InputMasks {
            share: args.mask_share.unwrap_or(1.0),
            from_epoch: args.masks_from_epoch.unwrap_or(1),
            ..InputMasks::from(m)
        }),
        masked_members: args.masked_members,
        dropped_inputs: dropped_inputs(&args.drop_inputs),
        mixup: args.mixup.then(Mixup::default),
        net: {
            let net = TrainConfig::default_net();
            NetConfig {
                conv_channels: args.width.unwrap_or(net.conv_channels),
                lstm_hidden: args.width.unwrap_or(net.lstm_hidden),
                centred_inputs: if args.centre_all {
                    net.input_dim
                } else if args.centre_mfcc {
                    N_MFCC
                } else {
                    0
                },
                ..net
            }
        },
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
    let babble = if rooms > 0 || args.val_in_rooms {
        babble_pool(&train_clips)?
    } else {
        Vec::new()
    };
    let versions = if cfg.augment {
        Versions::Augmented {
            augmentations: augment_set.augmentations(),
            room: (rooms > 0).then_some(&recipe),
            room_versions: rooms,
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
    let (mut train_set, mut val_set, mut val_rooms) = (train_set, val_set, val_rooms);
    if args.centre_voice {
        centre_on_voices(&mut train_set, args.voice_draws.then_some(cfg.seed));
        centre_on_voices(&mut val_set, None);
        centre_on_voices(&mut val_rooms, None);
    }
    bar.finish_and_clear();
    eprintln!(
        "emovox train: prepared {} training versions in {:.0} s",
        train_set.iter().map(|c| c.versions.len()).sum::<usize>(),
        prepare_started.elapsed().as_secs_f64()
    );

    let members = args.members.unwrap_or(1);
    let voice_members = args.blend_voice.unwrap_or(0);
    let networks = members + voice_members;
    let per_epoch = cfg
        .steps_per_epoch_with(train_set.len(), cfg.batch_size)
        .max(1);
    let bar = progress_bar(per_epoch * cfg.epochs * networks, "training");
    let epochs = cfg.epochs;
    let progress = |member: usize, p: Progress| match p {
        Progress::Step { step, loss, .. } => {
            let epoch = (step - 1) / per_epoch + 1;
            bar.set_message(if networks > 1 {
                format!(
                    "member {}, epoch {epoch}/{epochs} | loss {loss:.3}",
                    member + 1
                )
            } else {
                format!("epoch {epoch}/{epochs} | loss {loss:.3}")
            });
            bar.inc(1);
        }
        Progress::Epoch {
            epoch,
            mean_loss,
            validation,
            score,
            improved,
        } => {
            let who = if networks > 1 {
                format!("member {}, ", member + 1)
            } else {
                String::new()
            };
            let line = match (validation, score) {
                (Some(m), Some(score)) => format!(
                    "{who}epoch {epoch:>2}/{epochs}: loss {mean_loss:.3}  val (centre windows) accuracy {:.3} macro-F1 {:.3}  score {score:.3}{}",
                    m.accuracy,
                    m.macro_f1,
                    if improved { "  (best so far)" } else { "" }
                ),
                _ => format!("{who}epoch {epoch:>2}/{epochs}: loss {mean_loss:.3}"),
            };
            // A hidden bar (stderr not a terminal) prints nothing, so say it plainly there.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    };
    let trained = train_members(&train_set, &val_set, &val_rooms, &cfg, members, &progress)?;

    let first = &trained.members[0];
    let scores = Scores::of(&trained.outcomes, &trained.outcomes_in_rooms);
    let card = ModelCard {
        name: "emovox-ravdess-cbl".to_owned(),
        labels: Emotion::names(),
        features: FeatureConfig::current(),
        normalisation: Normalisation {
            mean: first.normalisation.mean.clone(),
            std: first.normalisation.std.clone(),
            per_voice: args.centre_voice,
        },
        window_frames: WINDOW_FRAMES,
        hop_frames: HOP_FRAMES,
        net: cfg.net.clone(),
        members,
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
            fine_tuned_from: None,
            epochs: first.best_epoch,
            seed: cfg.seed,
            augmentation: augmentation(&cfg, augment_set, members),
            rooms: if cfg.augment { rooms } else { 0 },
            room_recipe: (cfg.augment && rooms > 0 || !val_rooms.is_empty())
                .then(|| recipe.clone()),
            room_share: if cfg.augment && rooms > 0 {
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
            speakers: speakers(&train_clips),
            licences: licences(train_clips.iter().map(|c| c.corpus.as_str())),
            precise_batch_norm: cfg.precise_batch_norm,
            weight_average: cfg.weight_average,
            fine_tune: None,
            holdout: None,
            dropped_inputs: cfg
                .dropped_inputs
                .iter()
                .map(|g| g.name().to_owned())
                .collect(),
            voice_draws: if args.voice_draws { VOICE_DRAWS } else { 0 },
            members: member_records(cfg.seed, &trained.members),
            seconds: trained.seconds,
            date: report::today(),
            commit: report::commit(),
        },
        validation: scores.validation().map(|scored| Validation {
            actors: val_actors.clone(),
            speakers: split.speaker_names(),
            corpora: split.corpora.clone(),
            ..scored
        }),
        blend: Vec::new(),
    };
    let weights = ModelCard::weights_path(&out);
    let varmaps: Vec<_> = trained.members.iter().map(|m| &m.varmap).collect();
    let mut kept: Vec<String> = trained.members.iter().map(kept_epoch).collect();
    let mut seconds = trained.seconds;
    let (card, tensors, scores) = if voice_members == 0 {
        (card, member_tensors(&varmaps), scores)
    } else {
        // The blend is scored on the clips as they are, each voice on its baseline; the
        // per-voice networks train on them centred on their voices.
        let (raw_val, raw_rooms) = (val_set.clone(), val_rooms.clone());
        centre_on_voices(&mut train_set, Some(cfg.seed));
        centre_on_voices(&mut val_set, None);
        centre_on_voices(&mut val_rooms, None);
        let voice_cfg = TrainConfig {
            net: NetConfig {
                centred_inputs: 0,
                ..cfg.net.clone()
            },
            ..cfg.clone()
        };
        let voiced = train_members(
            &train_set,
            &val_set,
            &val_rooms,
            &voice_cfg,
            voice_members,
            &|i, p| progress(members + i, p),
        )?;
        kept.extend(voiced.members.iter().map(kept_epoch));
        seconds += voiced.seconds;
        let mut part = per_voice_card(&card, &voiced, &voice_cfg);
        part.training.augmentation = augmentation(&voice_cfg, augment_set, voice_members);
        let voiced_maps: Vec<_> = voiced.members.iter().map(|m| &m.varmap).collect();
        let (mut card, tensors) = blend::blend(vec![
            Model {
                card,
                tensors: member_tensors(&varmaps),
                source: "the first networks".into(),
            },
            Model {
                card: part,
                tensors: member_tensors(&voiced_maps),
                source: "--blend-voice".into(),
            },
        ])?;
        let model = Classifier::from_tensors(card.clone(), &tensors, &weights)?;
        let scores = Scores::of(
            &per_voice_outcomes(&model, &raw_val)?,
            &per_voice_outcomes(&model, &raw_rooms)?,
        );
        card.validation = card
            .validation
            .take()
            .zip(scores.validation())
            .map(|(v, scored)| Validation {
                actors: v.actors,
                speakers: v.speakers,
                corpora: v.corpora,
                ..scored
            });
        (card, tensors, scores)
    };
    bar.finish_and_clear();
    candle_core::safetensors::save(&tensors, &weights)
        .with_context(|| format!("writing {}", weights.display()))?;
    card.save(&out)
        .with_context(|| format!("writing {}", ModelCard::json_path(&out).display()))?;
    eprintln!(
        "emovox train: {seconds:.0} s, kept {}; wrote {} and {}",
        kept.join(", "),
        weights.display(),
        ModelCard::json_path(&out).display()
    );
    if let Some((board, m)) = &scores.clean {
        eprintln!("validation on {}:", held_out(&split));
        report::print_scoreboard(board);
        report::print_metrics(m);
    }
    if let Some((board, m)) = &scores.rooms {
        eprintln!("validation in synthetic rooms:");
        report::print_scoreboard(board);
        report::print_metrics(m);
    }
    Ok(())
}

/// The card's list of a group's augmentations: the prepared versions' kinds, then the
/// masks (naming the members that had them when not all of `members` did) and mixup.
fn augmentation(cfg: &TrainConfig, set: AugmentSet, members: usize) -> Vec<String> {
    if !cfg.augment {
        return Vec::new();
    }
    set.augmentations()
        .iter()
        .map(ToString::to_string)
        .chain(cfg.input_masks.map(|m| match cfg.masked_members {
            Some(n) if n < members => {
                format!("{} (members 1 to {n} of {members})", m.describe())
            }
            _ => m.describe(),
        }))
        .chain(cfg.mixup.map(|m| m.describe()))
        .collect()
}

/// "epoch K of N": the epoch a network kept, of those it ran.
fn kept_epoch(m: &Trained) -> String {
    format!("epoch {} of {}", m.best_epoch, m.losses.len())
}

/// The card of the networks `--blend-voice` trained after `first`'s: `first`'s records
/// with their own reading (per voice, with baseline draws), members, kept epochs and time.
fn per_voice_card(first: &ModelCard, voiced: &Ensemble, cfg: &TrainConfig) -> ModelCard {
    let own = &voiced.members[0];
    let mut card = first.clone();
    card.name = format!("{}-voice", first.name);
    card.normalisation = Normalisation {
        mean: own.normalisation.mean.clone(),
        std: own.normalisation.std.clone(),
        per_voice: true,
    };
    card.net = cfg.net.clone();
    card.members = voiced.members.len();
    let t = &mut card.training;
    t.epochs = own.best_epoch;
    t.voice_draws = VOICE_DRAWS;
    t.members = member_records(cfg.seed, &voiced.members);
    t.seconds = voiced.seconds;
    card.validation = None;
    card
}

/// Validation outcomes as the card and the closing tables want them: per corpus and
/// overall, clean and (when validated there) in rooms.
struct Scores {
    clean: Option<(Scoreboard, Metrics)>,
    rooms: Option<(Scoreboard, Metrics)>,
}

impl Scores {
    fn of(clean: &[Outcome], rooms: &[Outcome]) -> Self {
        let scored = |o: &[Outcome]| {
            (!o.is_empty()).then(|| (Scoreboard::from_outcomes(o), Metrics::from_outcomes(o)))
        };
        Self {
            clean: scored(clean),
            rooms: scored(rooms),
        }
    }

    fn per_corpus(&self) -> Vec<CorpusValidation> {
        self.clean.as_ref().map_or_else(Vec::new, |(board, _)| {
            corpus_validation(board, self.rooms.as_ref().map(|(b, _)| b))
        })
    }

    /// The scores of a card's validation (its voices are the caller's to fill in); none
    /// without validation clips.
    fn validation(&self) -> Option<Validation> {
        let (_, m) = self.clean.as_ref()?;
        Some(Validation::scored(
            m,
            self.rooms.as_ref().map(|(_, m)| m),
            self.per_corpus(),
        ))
    }
}

/// Refuses the flags given among `flags` (each with whether it was given), which are
/// `why` (belong to the other kind of training), naming them all.
fn refuse_flags(flags: &[(&str, bool)], why: &str) -> anyhow::Result<()> {
    let given: Vec<&str> = flags
        .iter()
        .filter(|(_, on)| *on)
        .map(|(flag, _)| *flag)
        .collect();
    if !given.is_empty() {
        bail!(
            "{} {} {why}",
            given.join(", "),
            if given.len() == 1 { "is" } else { "are" }
        );
    }
    Ok(())
}

/// Scores per held-out corpus for the card, clean and (when validated there) in rooms.
pub fn corpus_validation(clean: &Scoreboard, rooms: Option<&Scoreboard>) -> Vec<CorpusValidation> {
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
