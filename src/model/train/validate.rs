//! Scoring the network on held-out clips while it trains.

use std::collections::BTreeMap;

use half::f16;

use super::prepare::PreparedClip;
use crate::model::classifier::{
    argmax, batch_probabilities, clip_probabilities, Classifier, ModelError, Probabilities,
};
use crate::model::infer::InferenceNet;
use crate::model::input::{Normaliser, INPUT_DIM, WINDOW_FRAMES};
use crate::model::metrics::{Metrics, Outcome, Scoreboard};
use crate::model::net::EmotionNet;
use crate::model::voice::{voice_name, VoiceBaseline};

/// Scores whole clips (their original version) the way `evaluate` does.
pub fn evaluate(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Metrics> {
    Ok(Metrics::from_outcomes(&outcomes(net, norm, clips)?))
}

/// Each clip's corpus, truth and whole-clip prediction (its original version), for
/// scores per corpus.
pub fn outcomes(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Vec<Outcome>> {
    ensemble_outcomes(&[net], norm, clips)
}

/// [`outcomes`] of networks whose probabilities are averaged (an ensemble's members).
pub fn ensemble_outcomes(
    nets: &[&EmotionNet],
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Vec<Outcome>> {
    let nets: Vec<InferenceNet> = nets
        .iter()
        .map(|n| InferenceNet::new(n))
        .collect::<candle_core::Result<_>>()?;
    clip_outcomes(clips, |frames| clip_probabilities(&nets, norm, frames))
}

/// Each clip's outcome under a loaded model (one network or an ensemble), scored as
/// [`outcomes`] scores a network in training; a per-voice model reads the clips as of a
/// voice whose baseline is `voice` (see [`Classifier::classify_frames_of`]).
pub fn classifier_outcomes(
    model: &Classifier,
    voice: Option<&VoiceBaseline>,
    clips: &[PreparedClip],
) -> Result<Vec<Outcome>, ModelError> {
    clip_outcomes(clips, |frames| model.classify_frames_of(voice, frames))
}

/// Each clip's outcome under a loaded model, a per-voice one (or a blend with a per-voice
/// part) reading every clip on its voice's baseline, the louder half of all that voice's
/// clips: what `evaluate` does with a corpus, and what `train --centre-voice` centres on.
/// In the order of the voices' names.
pub fn per_voice_outcomes(
    model: &Classifier,
    clips: &[PreparedClip],
) -> Result<Vec<Outcome>, ModelError> {
    let mut voices: BTreeMap<String, (VoiceBaseline, Vec<&PreparedClip>)> = BTreeMap::new();
    for clip in clips {
        let (baseline, own) = voices
            .entry(voice_name(&clip.corpus, &clip.speaker))
            .or_default();
        if let Some(frames) = clip.versions.first() {
            baseline.add_stretch(frames);
        }
        own.push(clip);
    }
    let mut out = Vec::with_capacity(clips.len());
    for (baseline, own) in voices.values() {
        out.extend(clip_outcomes(own.iter().copied(), |frames| {
            model.classify_frames_of(Some(baseline), frames)
        })?);
    }
    Ok(out)
}

/// Each clip's outcome from `predict`'s probabilities for its original version.
fn clip_outcomes<'a, E>(
    clips: impl IntoIterator<Item = &'a PreparedClip>,
    mut predict: impl FnMut(&[f16]) -> Result<Probabilities, E>,
) -> Result<Vec<Outcome>, E> {
    let mut out = Vec::new();
    for clip in clips {
        let Some(frames) = clip.versions.first() else {
            continue;
        };
        out.push(Outcome {
            corpus: clip.corpus.clone(),
            truth: clip.emotion.index(),
            predicted: argmax(&predict(frames)?),
        });
    }
    Ok(out)
}

/// Scores clips on one window each, the one at their centre, in batches.
pub fn evaluate_centre(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[PreparedClip],
) -> candle_core::Result<Metrics> {
    let clips: Vec<&PreparedClip> = clips.iter().collect();
    Ok(Metrics::from_outcomes(&centre_outcomes(net, norm, &clips)?))
}

/// The early-stopping score: the mean over the held-out corpora of their macro-F1 (on
/// centre windows), so a large held-out corpus does not choose the epoch alone. With one
/// corpus holding every class, it is that corpus's macro-F1.
pub fn centre_score(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[&PreparedClip],
) -> candle_core::Result<(Metrics, f64)> {
    let outcomes = centre_outcomes(net, norm, clips)?;
    let board = Scoreboard::from_outcomes(&outcomes);
    let score = board.per_corpus.iter().map(|c| c.macro_f1).sum::<f64>()
        / board.per_corpus.len().max(1) as f64;
    Ok((Metrics::from_outcomes(&outcomes), score))
}

fn centre_outcomes(
    net: &EmotionNet,
    norm: &Normaliser,
    clips: &[&PreparedClip],
) -> candle_core::Result<Vec<Outcome>> {
    let windows: Vec<(&[f16], usize)> = clips
        .iter()
        .map(|clip| {
            let frames = clip.versions.first().map_or(&[][..], Vec::as_slice);
            (
                frames,
                (frames.len() / INPUT_DIM).saturating_sub(WINDOW_FRAMES) / 2,
            )
        })
        .collect();
    let predicted = batch_probabilities(&InferenceNet::new(net)?, norm, &windows)?;
    Ok(clips
        .iter()
        .zip(&predicted)
        .map(|(clip, p)| Outcome {
            corpus: clip.corpus.clone(),
            truth: clip.emotion.index(),
            predicted: argmax(p),
        })
        .collect())
}
