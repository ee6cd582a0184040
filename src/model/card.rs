//! The model card: the JSON that travels with the weights and says everything needed to
//! use them — labels, the feature configuration, normalisation, window, network sizes,
//! what it was trained and validated on, and the scores measured on voices it never heard.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::input::{HOP_FRAMES, INPUT_DIM, WINDOW_FRAMES};
use super::metrics::Metrics;
use super::net::NetConfig;
use super::room::RoomRecipe;
use crate::dsp;
use crate::labels::Emotion;

/// How frames are computed. Loading compares a card's copy with [`FeatureConfig::current`]
/// and refuses a model whose input this code cannot produce.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub n_mels: usize,
    /// The per-frame features, in input order.
    pub features: Vec<String>,
    pub input_dim: usize,
    /// "streaming": decibels without librosa's whole-signal top_db clip.
    pub db_rule: String,
}

impl FeatureConfig {
    /// What this build of emovox computes.
    pub fn current() -> Self {
        Self {
            sample_rate: dsp::SAMPLE_RATE,
            n_fft: dsp::N_FFT,
            win_length: dsp::WIN_LENGTH,
            hop_length: dsp::HOP_LENGTH,
            n_mels: dsp::N_MELS,
            features: ["mfcc:40", "chroma:12", "contrast:7", "tonnetz:6"]
                .map(String::from)
                .to_vec(),
            input_dim: INPUT_DIM,
            db_rule: "streaming".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Every frame is read minus its voice's baseline ([`super::voice`]) before `mean`
    /// and `std` apply (`train --centre-voice`); absent, false, in older cards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_voice: bool,
}

/// How the model was made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// RAVDESS actors trained on; 0 stands for every clip that is not a RAVDESS actor's
    /// (other corpora, sessions).
    pub train_actors: Vec<u8>,
    /// Actors whose scores are in `validation`; empty when retrained on every actor.
    pub val_actors: Vec<u8>,
    /// True when the final weights were retrained on all actors with the epoch count
    /// chosen on the validation actors.
    pub retrained_on_all: bool,
    pub train_files: usize,
    /// Recorded sessions whose labelled regions were trained on too (actor 0).
    #[serde(default)]
    pub sessions: Vec<String>,
    /// The model these weights were fine-tuned from (its name and folder), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned_from: Option<String>,
    /// The epoch whose weights were kept (an ensemble: its first member's; each member's
    /// is in `members`).
    pub epochs: usize,
    /// The seed (an ensemble: its first member's; member `i` took `seed + i`).
    pub seed: u64,
    pub augmentation: Vec<String>,
    /// BatchNorm statistics recomputed over the whole training set (false: the running
    /// averages of the last batches trained on; older cards).
    #[serde(default)]
    pub precise_batch_norm: bool,
    /// Decay of the moving average of the weights that were shipped (0: the live
    /// weights of the kept epoch; older cards).
    #[serde(default)]
    pub weight_average: f64,
    /// Versions of each training clip heard in synthetic rooms and microphones, drawn by
    /// `room_recipe` (0: none; older cards).
    #[serde(default)]
    pub rooms: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_recipe: Option<RoomRecipe>,
    /// Share of the clips an epoch drew that took a room version.
    #[serde(default)]
    pub room_share: f64,
    /// Each epoch drew its clips speaker by speaker (older cards: every clip once).
    #[serde(default)]
    pub balance_speakers: bool,
    /// Clips drawn per epoch, when not every training clip once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_clips: Option<usize>,
    /// The corpora trained on, with their clip and speaker counts (older cards: RAVDESS
    /// alone, see `train_actors`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corpora: Vec<String>,
    /// Every voice trained on, as `corpus:speaker` (older cards: not recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<String>,
    /// The terms of each corpus trained on, which the weights carry (older cards: none
    /// recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<String>,
    /// How fine-tuning went about it (absent when trained from scratch, and in older
    /// cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTune>,
    /// The starting and the tuned model scored on the labelled time that fine-tuning held
    /// back (absent when nothing was held back, and in older cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    /// Inputs the model was trained without, by kind ("chroma", "tonnetz", …): their
    /// normalisation's standard deviation is `DROPPED_STD`, so they read as 0 (absent:
    /// every input read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_inputs: Vec<String>,
    /// A per-voice model: baselines drawn per training clip from one to all of its voice's
    /// clips (`train --voice-draws`); absent, 0: every window read on its voice's whole
    /// baseline.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub voice_draws: usize,
    /// Each member network of an ensemble, in weights order (absent for one network; a
    /// tuned blend's: every network of every part, as they were tuned in turn, while each
    /// part's own record keeps how it was made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberTraining>,
    /// Wall-clock seconds of training (members trained side by side count once; members
    /// tuned one after another add up).
    pub seconds: f64,
    pub date: String,
    pub commit: String,
}

/// How one member of an ensemble was trained: the members share the data, the prepared
/// versions and the recipe, and differ in the seed of their initial weights, batches and
/// dropout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberTraining {
    pub seed: u64,
    /// The epoch whose weights were kept.
    pub epochs: usize,
    pub seconds: f64,
}

/// The fine-tuning recipe a tuned model was made with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FineTune {
    /// Which layers learnt: "all", "upper" (LSTM, attention, head) or "head".
    pub layers: String,
    /// BatchNorm kept the starting model's statistics.
    pub freeze_batch_norm: bool,
    /// Strength of the pull toward the starting weights (L2-SP); 0: none.
    pub l2_sp: f64,
    /// Share of every batch rehearsing the starting model's exemplars, and how many
    /// there were (0: no rehearsal).
    pub rehearsal_share: f64,
    pub exemplars: usize,
    pub learning_rate: f64,
    /// Share of each label's labelled time held back to score on.
    pub holdout_share: f64,
}

/// Scores on held-back labelled time, before and after fine-tuning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Holdout {
    /// Held-back stretches (whole regions, or the last part of one) and their seconds.
    pub regions: usize,
    pub seconds: f64,
    pub before: HoldoutScores,
    pub after: HoldoutScores,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HoldoutScores {
    pub accuracy: f64,
    /// Mean recall over the labels held back.
    pub uar: f64,
    /// Macro-F1 over those labels.
    pub macro_f1: f64,
}

/// Scores on one held-out corpus, comparable across corpora.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorpusValidation {
    pub corpus: String,
    pub files: usize,
    pub accuracy: f64,
    /// Mean recall over the classes the corpus has.
    pub uar: f64,
    /// Macro-F1 over those classes.
    pub macro_f1: f64,
    /// The same clips in synthetic rooms, when validated there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uar_in_rooms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1_in_rooms: Option<f64>,
}

/// Scores on the validation clips degraded by the room recipe, one room per clip drawn
/// from the training seed (the same rooms on every run; a blend's, scored by `emovox
/// blend`, as `evaluate --in-rooms SEED` draws them, with babble of the validation clips
/// rather than training's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomValidation {
    pub files: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub uar: f64,
}

/// Scores on the held-out clips (voices, or whole corpora, the model never trained on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// RAVDESS actors held out.
    pub actors: Vec<u8>,
    /// Speakers of any corpus held out, as `corpus:speaker` (`train --val-speakers`;
    /// absent in older cards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<String>,
    /// Corpora held out whole (`train --val-corpus`; absent in older cards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corpora: Vec<String>,
    pub files: usize,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// Mean recall over the classes the held-out clips have (absent in older cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uar: Option<f64>,
    pub per_class_f1: Vec<f64>,
    /// The same clips in synthetic rooms (absent when not validated there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_rooms: Option<RoomValidation>,
    /// Scores per held-out corpus (absent in older cards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_corpus: Vec<CorpusValidation>,
}

impl Validation {
    /// The card's record of scores on held-out clips: `clean`, and `rooms` when validated
    /// there too, with `per_corpus`; what was held out (actors, speakers, corpora) is left
    /// empty for the caller to name.
    pub fn scored(
        clean: &Metrics,
        rooms: Option<&Metrics>,
        per_corpus: Vec<CorpusValidation>,
    ) -> Self {
        Self {
            actors: Vec::new(),
            speakers: Vec::new(),
            corpora: Vec::new(),
            files: clean.n,
            accuracy: clean.accuracy,
            macro_precision: clean.macro_precision,
            macro_recall: clean.macro_recall,
            macro_f1: clean.macro_f1,
            uar: Some(clean.uar()),
            per_class_f1: clean.per_class.iter().map(|c| c.f1).collect(),
            in_rooms: rooms.map(|r| RoomValidation {
                files: r.n,
                accuracy: r.accuracy,
                macro_f1: r.macro_f1,
                uar: r.uar(),
            }),
            per_corpus,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub name: String,
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    pub normalisation: Normalisation,
    pub window_frames: usize,
    pub hop_frames: usize,
    pub net: NetConfig,
    /// Networks of this shape whose probabilities are averaged (an ensemble trained with
    /// `train --members`); member `i`'s weights carry [`member_prefix`]`(i)` in the one
    /// weights file. 1 in older cards. A blend's parts add theirs: see
    /// [`ModelCard::networks`].
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub members: usize,
    pub training: Training,
    /// Scores of the whole model (a blend: of all its parts together).
    pub validation: Option<Validation>,
    /// Further parts of a blended model (`emovox blend`): networks that read the frames
    /// their own way (their own normalisation, per voice or not) and whose probabilities
    /// are averaged with this card's members, every network counting once. Their weights
    /// follow this card's members in the one weights file: part networks take the next
    /// member numbers. Absent for one model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blend: Vec<BlendPart>,
}

/// One further part of a blended model: a trained model's networks and how they read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlendPart {
    /// The model it was (its card's name).
    pub name: String,
    pub normalisation: Normalisation,
    pub net: NetConfig,
    pub members: usize,
    pub training: Training,
}

/// How one group of a model's networks reads frames: the card's own members, or a
/// blended part's.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    pub name: &'a str,
    pub normalisation: &'a Normalisation,
    pub net: &'a NetConfig,
    pub members: usize,
    pub training: &'a Training,
}

/// Most networks a model may average: each costs a window's inference again.
pub const MAX_MEMBERS: usize = 8;

/// The prefix of member `i`'s tensor names in the weights file: none for the first, so a
/// single network's file is what it always was, `member{i}.` for the others.
pub fn member_prefix(i: usize) -> String {
    if i == 0 {
        String::new()
    } else {
        format!("member{i}.")
    }
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Reading<'_> {
    /// What this code cannot feed in this group of networks, if anything.
    fn problem(&self) -> Option<String> {
        let n = self.normalisation;
        if n.mean.len() != INPUT_DIM || n.std.len() != INPUT_DIM {
            return Some(format!(
                "normalisation has {} means and {} deviations, expected {INPUT_DIM}",
                n.mean.len(),
                n.std.len()
            ));
        }
        if !(1..=MAX_MEMBERS).contains(&self.members) {
            return Some(format!(
                "{} member networks, but a group has 1 to {MAX_MEMBERS}",
                self.members
            ));
        }
        if self.net.centred_inputs > self.net.input_dim {
            return Some(format!(
                "{} centred inputs of {}",
                self.net.centred_inputs, self.net.input_dim
            ));
        }
        if self.net.input_dim != INPUT_DIM || self.net.classes != Emotion::COUNT {
            return Some(format!(
                "network input {} and classes {} do not fit",
                self.net.input_dim, self.net.classes
            ));
        }
        None
    }
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{}: cannot read the model card: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: not a valid model card: {reason}", path.display())]
    Json {
        path: PathBuf,
        reason: serde_json::Error,
    },
    #[error("{}: the model expects features {card:?} but this emovox computes {code:?}", path.display())]
    Features {
        path: PathBuf,
        card: Box<FeatureConfig>,
        code: Box<FeatureConfig>,
    },
    #[error("{}: the model's labels {card:?} are not emovox's {code:?}", path.display())]
    Labels {
        path: PathBuf,
        card: Vec<String>,
        code: Vec<String>,
    },
    #[error("{}: {what}", path.display())]
    Shape { path: PathBuf, what: String },
}

impl ModelCard {
    /// Each group of networks with its reading, in weights order: the card's members,
    /// then each blended part's.
    pub fn readings(&self) -> Vec<Reading<'_>> {
        std::iter::once(Reading {
            name: &self.name,
            normalisation: &self.normalisation,
            net: &self.net,
            members: self.members,
            training: &self.training,
        })
        .chain(self.blend.iter().map(|p| Reading {
            name: &p.name,
            normalisation: &p.normalisation,
            net: &p.net,
            members: p.members,
            training: &p.training,
        }))
        .collect()
    }

    /// Every network of the model: its members and its blended parts' (saturating: a card
    /// that claims more than memory holds is refused by [`ModelCard::check`]).
    pub fn networks(&self) -> usize {
        self.blend
            .iter()
            .fold(self.members, |n, p| n.saturating_add(p.members))
    }

    /// Whether any of the model's networks reads frames minus their voice's baseline.
    pub fn reads_per_voice(&self) -> bool {
        self.readings().iter().any(|r| r.normalisation.per_voice)
    }

    /// The card's file next to the weights.
    pub fn json_path(dir: &Path) -> PathBuf {
        dir.join("emovox.json")
    }

    pub fn weights_path(dir: &Path) -> PathBuf {
        dir.join("emovox.safetensors")
    }

    /// Reads a card and checks that this code can feed the model it describes.
    pub fn load(dir: &Path) -> Result<ModelCard, CardError> {
        let path = Self::json_path(dir);
        let text = std::fs::read_to_string(&path).map_err(|reason| CardError::Io {
            path: path.clone(),
            reason,
        })?;
        Self::parse(&text, &path)
    }

    /// Reads a card from its text (`path` names it in errors) and checks it as
    /// [`ModelCard::load`] does.
    pub fn parse(text: &str, path: &Path) -> Result<ModelCard, CardError> {
        let card: ModelCard = serde_json::from_str(text).map_err(|reason| CardError::Json {
            path: path.to_owned(),
            reason,
        })?;
        card.check(path)?;
        Ok(card)
    }

    /// Refuses a card whose features, labels or sizes this code cannot serve.
    pub fn check(&self, path: &Path) -> Result<(), CardError> {
        let code = FeatureConfig::current();
        if self.features != code {
            return Err(CardError::Features {
                path: path.to_owned(),
                card: Box::new(self.features.clone()),
                code: Box::new(code),
            });
        }
        if self.labels != Emotion::names() {
            return Err(CardError::Labels {
                path: path.to_owned(),
                card: self.labels.clone(),
                code: Emotion::names(),
            });
        }
        let shape = |what: String| {
            Err(CardError::Shape {
                path: path.to_owned(),
                what,
            })
        };
        if self.window_frames != WINDOW_FRAMES || self.hop_frames != HOP_FRAMES {
            return shape(format!(
                "window {} / hop {} frames, but this emovox analyses {WINDOW_FRAMES} / {HOP_FRAMES}",
                self.window_frames, self.hop_frames
            ));
        }
        if !(1..=MAX_MEMBERS).contains(&self.networks()) {
            return shape(format!(
                "{} networks, but a model has 1 to {MAX_MEMBERS}",
                self.networks()
            ));
        }
        for (i, r) in self.readings().iter().enumerate() {
            let part = if i == 0 {
                String::new()
            } else {
                format!("blended part {}: ", r.name)
            };
            if let Some(what) = r.problem() {
                return shape(format!("{part}{what}"));
            }
        }
        Ok(())
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&Self::json_path(dir), format!("{json}\n").as_bytes())
    }
}
