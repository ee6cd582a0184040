//! Exemplars: one window of features from a few clips per class of the voices a model
//! was trained on, stored beside its weights (`emovox.exemplars.safetensors` and
//! `emovox.exemplars.json`), so that fine-tuning on one person's sessions can rehearse
//! them and keep what the model knew about everyone else. They are made by
//! `emovox exemplars` from the corpora, never by hand, and refused when the feature set
//! they were computed with is not this emovox's, or when they were made for other weights
//! than the model beside them (make them again then). The shipped model's are built into
//! the binary, as its weights are; a tuned model gets a copy of its starting model's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use half::f16;
use serde::{Deserialize, Serialize};

use super::prepare::PreparedClip;
use crate::labels::Emotion;
use crate::model::card::FeatureConfig;
use crate::model::input::{INPUT_DIM, WINDOW_FRAMES};

pub const EXEMPLARS_FILE: &str = "emovox.exemplars.safetensors";
pub const EXEMPLARS_CARD: &str = "emovox.exemplars.json";

/// What the exemplars are: the features they hold, where they came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExemplarCard {
    /// The model whose training voices they were drawn from.
    pub model: String,
    pub features: FeatureConfig,
    /// Frames per exemplar (one model window).
    pub frames: usize,
    pub per_class: usize,
    /// Each exemplar's source, as `corpus:speaker path`, in stored order.
    pub clips: Vec<String>,
    /// How to make them again.
    pub command: String,
    pub date: String,
    pub commit: String,
    /// [`weights_id`] of the model's `emovox.safetensors` they were made for (older
    /// exemplars: not recorded, and the model's name is compared instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Each exemplar centred on its voice's baseline (all of that voice's clips), as a
    /// per-voice model reads frames (older per-voice exemplars); absent, false: the frames
    /// as computed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_voice: bool,
    /// Each exemplar's voice baseline is stored beside its frames (as computed), so that a
    /// model reading per voice, or a blend whose parts read both ways, reads them its own
    /// way; absent, false: none stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baselines: bool,
}

/// Exemplars as loaded.
#[derive(Clone, Debug)]
pub struct Exemplars {
    pub card: ExemplarCard,
    /// As stored: as computed, or centred on their voices (`card.per_voice`).
    pub clips: Vec<PreparedClip>,
    /// Each clip's voice baseline, `INPUT_DIM` values (`card.baselines`); empty: none.
    pub baselines: Vec<Vec<f32>>,
}

impl Exemplars {
    /// The exemplars as networks reading frames per voice (or as computed) read them:
    /// None when they were not stored so that they can be.
    pub fn read_as(&self, per_voice: bool) -> Option<Vec<PreparedClip>> {
        match (self.card.per_voice, per_voice) {
            (stored, wanted) if stored == wanted => Some(self.clips.clone()),
            (false, true) if self.baselines.len() == self.clips.len() => Some(
                self.clips
                    .iter()
                    .zip(&self.baselines)
                    .map(|(c, b)| {
                        let mut c = c.clone();
                        for v in &mut c.versions {
                            crate::model::voice::subtract(v, b);
                        }
                        c
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// How they are stored, in words, for errors.
    pub fn stored_as(&self) -> &'static str {
        match (self.card.per_voice, self.baselines.is_empty()) {
            (true, _) => "centred per voice",
            (false, true) => "as computed, without their voices' baselines",
            (false, false) => "as computed, with their voices' baselines",
        }
    }
}

/// The shipped model's exemplars, compiled into the binary beside its weights (2 MB), so
/// an installed emovox can tune the built-in model.
const SHIPPED_CARD: &str = include_str!("../../../weights/emovox.exemplars.json");
const SHIPPED_FRAMES: &[u8] = include_bytes!("../../../weights/emovox.exemplars.safetensors");

/// A fingerprint of a model's weights file (64-bit FNV-1a of its bytes, as
/// `fnv1a64:` and 16 hex digits): exemplars record the one they were made for, so a model
/// replaced beside them is noticed. Not a security measure, only a check for mix-ups.
pub fn weights_id(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// The model exemplars must belong to: its name and [`weights_id`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelId {
    pub name: String,
    pub weights: String,
}

impl ExemplarCard {
    /// Whether these exemplars were made for `model`: the same weights when the card
    /// records them, else (older cards) the same model name.
    pub fn belongs_to(&self, model: &ModelId) -> bool {
        match &self.weights {
            Some(w) => *w == model.weights,
            None => self.model == model.name,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExemplarError {
    #[error("{}: {reason}", path.display())]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "{}: the exemplars were computed with features {card:?}, but this emovox computes \
         {code:?}; make them again with `{command}`",
        path.display()
    )]
    Features {
        path: PathBuf,
        card: Vec<String>,
        code: Vec<String>,
        command: String,
    },
    #[error(
        "{}: these exemplars were made for other weights ({}, {}) than the model beside \
         them ({}, {}), so rehearsing them would teach the model another model's view; make \
         them again with `{}`",
        .0.path.display(),
        .0.made_for,
        .0.made_for_weights,
        .0.model,
        .0.weights,
        .0.command
    )]
    Stale(Box<Stale>),
}

/// Exemplars beside a model whose weights are not the ones they were made for.
#[derive(Debug)]
pub struct Stale {
    pub path: PathBuf,
    pub made_for: String,
    pub made_for_weights: String,
    pub model: String,
    pub weights: String,
    pub command: String,
}

/// Writes exemplars (each clip's first version, exactly one window of frames, and each
/// one's voice baseline when the card says they are stored) and their card into `dir`.
pub fn save(dir: &Path, ex: &Exemplars) -> Result<(), ExemplarError> {
    let (clips, card) = (&ex.clips, &ex.card);
    let path = dir.join(EXEMPLARS_FILE);
    let invalid = |reason: String| ExemplarError::Invalid {
        path: path.clone(),
        reason,
    };
    let stored = if card.baselines { clips.len() } else { 0 };
    if ex.baselines.len() != stored || ex.baselines.iter().any(|b| b.len() != INPUT_DIM) {
        return Err(invalid(format!(
            "{} baselines for {stored} exemplars of {INPUT_DIM} inputs",
            ex.baselines.len()
        )));
    }
    let size = WINDOW_FRAMES * INPUT_DIM;
    let mut frames: Vec<f16> = Vec::with_capacity(clips.len() * size);
    let mut labels: Vec<u32> = Vec::with_capacity(clips.len());
    for c in clips {
        let v = c.versions.first().map_or(&[][..], Vec::as_slice);
        if v.len() != size {
            return Err(invalid(format!(
                "an exemplar holds {} values, not one window ({size})",
                v.len()
            )));
        }
        frames.extend_from_slice(v);
        labels.push(c.emotion.index() as u32);
    }
    let n = clips.len();
    let tensors: HashMap<String, Tensor> = [
        (
            "frames".to_owned(),
            Tensor::from_vec(frames, (n, WINDOW_FRAMES, INPUT_DIM), &Device::Cpu),
        ),
        (
            "labels".to_owned(),
            Tensor::from_vec(labels, n, &Device::Cpu),
        ),
    ]
    .into_iter()
    .chain(card.baselines.then(|| {
        (
            "baselines".to_owned(),
            Tensor::from_vec(ex.baselines.concat(), (n, INPUT_DIM), &Device::Cpu),
        )
    }))
    .map(|(k, t)| t.map(|t| (k, t)))
    .collect::<candle_core::Result<_>>()
    .map_err(|e| invalid(e.to_string()))?;
    candle_core::safetensors::save(&tensors, &path).map_err(|e| invalid(e.to_string()))?;
    let json_path = dir.join(EXEMPLARS_CARD);
    let json = serde_json::to_string_pretty(card).map_err(|e| invalid(e.to_string()))?;
    crate::fsutil::write_atomic(&json_path, format!("{json}\n").as_bytes()).map_err(|reason| {
        ExemplarError::Io {
            path: json_path,
            reason,
        }
    })
}

/// The exemplars stored in `dir` as training clips (corpus "exemplars"), with their card;
/// `None` when there are none. They must belong to `model` (the model in `dir`), else
/// [`ExemplarError::Stale`].
pub fn load(dir: &Path, model: &ModelId) -> Result<Option<Exemplars>, ExemplarError> {
    let json_path = dir.join(EXEMPLARS_CARD);
    let path = dir.join(EXEMPLARS_FILE);
    let text = match std::fs::read_to_string(&json_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !path.exists() => return Ok(None),
        Err(reason) => {
            return Err(ExemplarError::Io {
                path: json_path,
                reason,
            })
        }
    };
    let bytes = std::fs::read(&path).map_err(|reason| ExemplarError::Io {
        path: path.clone(),
        reason,
    })?;
    parse(&text, &json_path, &bytes, &path, Some(model)).map(Some)
}

/// The shipped model's exemplars, from the copy built into the binary, checked against
/// the built-in weights as a folder's are against the weights beside them: both are built
/// in from `weights/`, and exemplars left stale there by a retrained model are refused.
pub fn load_shipped() -> Result<Exemplars, ExemplarError> {
    load_built_in(&crate::model::classifier::shipped_id())
}

/// The built-in exemplars, which must belong to `model`.
fn load_built_in(model: &ModelId) -> Result<Exemplars, ExemplarError> {
    let dir = Path::new("<built-in model>");
    parse(
        SHIPPED_CARD,
        &dir.join(EXEMPLARS_CARD),
        SHIPPED_FRAMES,
        &dir.join(EXEMPLARS_FILE),
        Some(model),
    )
}

/// Exemplars from their card's text and their safetensors bytes (the paths name them in
/// errors), checked against this emovox's features and, when given, the model.
fn parse(
    text: &str,
    json_path: &Path,
    bytes: &[u8],
    path: &Path,
    model: Option<&ModelId>,
) -> Result<Exemplars, ExemplarError> {
    let card: ExemplarCard = serde_json::from_str(text).map_err(|e| ExemplarError::Invalid {
        path: json_path.to_owned(),
        reason: e.to_string(),
    })?;
    let code = FeatureConfig::current();
    if card.features != code || card.frames != WINDOW_FRAMES {
        return Err(ExemplarError::Features {
            path: json_path.to_owned(),
            card: card.features.features.clone(),
            code: code.features,
            command: card.command.clone(),
        });
    }
    if let Some(model) = model.filter(|m| !card.belongs_to(m)) {
        return Err(ExemplarError::Stale(Box::new(Stale {
            path: json_path.to_owned(),
            made_for: card.model.clone(),
            made_for_weights: card
                .weights
                .clone()
                .unwrap_or_else(|| "weights not recorded".into()),
            model: model.name.clone(),
            weights: model.weights.clone(),
            command: card.command.clone(),
        })));
    }
    let invalid = |reason: String| ExemplarError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| invalid(e.to_string()))?;
    let (Some(frames), Some(labels)) = (tensors.get("frames"), tensors.get("labels")) else {
        return Err(invalid("no frames or labels tensor".into()));
    };
    let (n, t, d) = frames.dims3().map_err(|e| invalid(e.to_string()))?;
    if t != WINDOW_FRAMES || d != INPUT_DIM {
        return Err(invalid(format!(
            "exemplars of {t} frames × {d} values, but this emovox reads {WINDOW_FRAMES} × {INPUT_DIM}"
        )));
    }
    let frames: Vec<f16> = frames
        .to_dtype(DType::F16)
        .and_then(|f| f.flatten_all())
        .and_then(|f| f.to_vec1())
        .map_err(|e| invalid(e.to_string()))?;
    let labels: Vec<u32> = labels
        .to_dtype(DType::U32)
        .and_then(|l| l.to_vec1())
        .map_err(|e| invalid(e.to_string()))?;
    if labels.len() != n {
        return Err(invalid(format!(
            "{n} exemplars but {} labels",
            labels.len()
        )));
    }
    let clips = frames
        .chunks_exact(t * d)
        .zip(labels)
        .map(|(f, l)| {
            let emotion = Emotion::from_index(l as usize)
                .ok_or_else(|| invalid(format!("label {l} is not an emotion")))?;
            Ok(PreparedClip {
                emotion,
                actor: 0,
                corpus: "exemplars".into(),
                speaker: "exemplars".into(),
                versions: vec![f.to_vec()],
                room_versions: 0,
                voice_shifts: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, ExemplarError>>()?;
    let baselines = match (card.baselines, tensors.get("baselines")) {
        (false, _) => Vec::new(),
        (true, None) => {
            return Err(invalid(
                "the card says baselines are stored, but none are".into(),
            ))
        }
        (true, Some(b)) => {
            let rows: Vec<Vec<f32>> = b
                .to_dtype(DType::F32)
                .and_then(|b| b.to_vec2())
                .map_err(|e| invalid(e.to_string()))?;
            if rows.len() != clips.len() || rows.iter().any(|r| r.len() != INPUT_DIM) {
                return Err(invalid(format!(
                    "{} baselines for {} exemplars of {INPUT_DIM} inputs",
                    rows.len(),
                    clips.len()
                )));
            }
            rows
        }
    };
    Ok(Exemplars {
        card,
        clips,
        baselines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_exemplars_belong_to_the_built_in_weights() {
        let Exemplars { card, clips, .. } = load_shipped().unwrap();
        assert!(!clips.is_empty());
        let shipped = crate::model::classifier::shipped_id();
        assert!(
            card.weights.is_some(),
            "the shipped exemplars name their weights"
        );
        assert!(
            card.belongs_to(&shipped),
            "{:?} vs {shipped:?}",
            card.weights
        );
        // Other weights, even under the same name, are noticed.
        let other = ModelId {
            weights: weights_id(b"other weights"),
            ..shipped
        };
        assert!(!card.belongs_to(&other));
    }

    #[test]
    fn built_in_exemplars_for_other_weights_are_refused() {
        let other = ModelId {
            weights: weights_id(b"retrained weights"),
            ..crate::model::classifier::shipped_id()
        };
        match load_built_in(&other) {
            Err(ExemplarError::Stale(stale)) => assert_eq!(stale.weights, other.weights),
            other => panic!(
                "stale built-in exemplars loaded: {:?}",
                other.map(|e| e.card)
            ),
        }
    }

    #[test]
    fn the_weights_id_is_fnv1a_of_the_bytes() {
        // FNV-1a's published test vectors (offset basis for "", and "a").
        assert_eq!(weights_id(b""), "fnv1a64:cbf29ce484222325");
        assert_eq!(weights_id(b"a"), "fnv1a64:af63dc4c8601ec8c");
    }
}
