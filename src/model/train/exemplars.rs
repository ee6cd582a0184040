//! Exemplars: one window of features from a few clips per class of the voices a model
//! was trained on, stored beside its weights (`emovox.exemplars.safetensors` and
//! `emovox.exemplars.json`), so that fine-tuning on one person's sessions can rehearse
//! them and keep what the model knew about everyone else. They are made by
//! `emovox exemplars` from the corpora, never by hand, and refused when the feature set
//! they were computed with is not this emovox's (make them again then).

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
}

/// Writes exemplars (each clip's first version, exactly one window of frames) and their
/// card into `dir`.
pub fn save(dir: &Path, clips: &[PreparedClip], card: &ExemplarCard) -> Result<(), ExemplarError> {
    let path = dir.join(EXEMPLARS_FILE);
    let invalid = |reason: String| ExemplarError::Invalid {
        path: path.clone(),
        reason,
    };
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
/// `None` when there are none.
pub fn load(dir: &Path) -> Result<Option<(ExemplarCard, Vec<PreparedClip>)>, ExemplarError> {
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
    let card: ExemplarCard = serde_json::from_str(&text).map_err(|e| ExemplarError::Invalid {
        path: json_path.clone(),
        reason: e.to_string(),
    })?;
    let code = FeatureConfig::current();
    if card.features != code || card.frames != WINDOW_FRAMES {
        return Err(ExemplarError::Features {
            path: json_path,
            card: card.features.features.clone(),
            code: code.features,
            command: card.command.clone(),
        });
    }
    let invalid = |reason: String| ExemplarError::Invalid {
        path: path.clone(),
        reason,
    };
    let tensors =
        candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| invalid(e.to_string()))?;
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
            })
        })
        .collect::<Result<Vec<_>, ExemplarError>>()?;
    Ok(Some((card, clips)))
}
