//! Blending trained models into one: their networks side by side in one weights file,
//! each reading the frames its own way (its own normalisation, per voice or not), their
//! probabilities averaged with every network counting once. A model that reads each voice
//! on its baseline carries voices it never heard better; one that reads frames as they
//! are keeps rooms and the studio; a blend of the two keeps most of both.

use std::collections::HashMap;

use candle_core::Tensor;

use super::card::{member_prefix, BlendPart, ModelCard, MAX_MEMBERS};
use super::classifier::member_weights;

/// A trained model to blend: its card, its weights file's tensors, and where it came from
/// (the card's part records it).
pub struct Model {
    pub card: ModelCard,
    pub tensors: HashMap<String, Tensor>,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BlendError {
    #[error("a blend needs at least two models")]
    TooFew,
    #[error("the blend would have {0} networks, but a model has at most {MAX_MEMBERS}")]
    TooMany(usize),
    #[error(
        "{model} was trained on {voices}, which {first} was validated on: the blend's \
         scores on them would not be scores on voices it never heard"
    )]
    TrainedOnValidation {
        model: String,
        first: String,
        voices: String,
    },
}

/// One model of `models`: the first model's card (its name, training and validation
/// records), with every later model's networks as blended parts after its own, and the
/// tensors renumbered to match. Refuses a later model trained on voices the first was
/// validated on.
pub fn blend(models: Vec<Model>) -> Result<(ModelCard, HashMap<String, Tensor>), BlendError> {
    if models.len() < 2 {
        return Err(BlendError::TooFew);
    }
    let networks: usize = models.iter().map(|m| m.card.networks()).sum();
    if networks > MAX_MEMBERS {
        return Err(BlendError::TooMany(networks));
    }
    let mut models = models.into_iter();
    let Some(first) = models.next() else {
        return Err(BlendError::TooFew);
    };
    let mut card = first.card.clone();
    let mut tensors = HashMap::new();
    let mut next = 0;
    renumber(&first, &mut next, &mut tensors);
    for model in models {
        let voices = validation_voices_trained_on(&first.card, &model.card);
        if !voices.is_empty() {
            return Err(BlendError::TrainedOnValidation {
                model: model.source,
                first: first.source,
                voices: voices.join(", "),
            });
        }
        for (i, r) in model.card.readings().iter().enumerate() {
            card.blend.push(BlendPart {
                name: if i == 0 {
                    format!("{} ({})", r.name, model.source)
                } else {
                    r.name.to_owned()
                },
                normalisation: r.normalisation.clone(),
                net: r.net.clone(),
                members: r.members,
                training: r.training.clone(),
            });
        }
        renumber(&model, &mut next, &mut tensors);
    }
    Ok((card, tensors))
}

/// Moves every network of `model` to the next free member numbers.
fn renumber(model: &Model, next: &mut usize, out: &mut HashMap<String, Tensor>) {
    for i in 0..model.card.networks() {
        let prefix = member_prefix(*next);
        for (name, t) in member_weights(&model.tensors, i) {
            out.insert(format!("{prefix}{name}"), t);
        }
        *next += 1;
    }
}

/// The voices `first` was validated on that `other` was trained on (RAVDESS actors by
/// number or name, speakers as `corpus:speaker`, whole corpora by name).
fn validation_voices_trained_on(first: &ModelCard, other: &ModelCard) -> Vec<String> {
    let Some(v) = &first.validation else {
        return Vec::new();
    };
    let trained = &other.training;
    let actor_name = |a: u8| format!("ravdess:Actor_{a:02}");
    let mut found: Vec<String> = v
        .actors
        .iter()
        .filter(|a| trained.train_actors.contains(a) || trained.speakers.contains(&actor_name(**a)))
        .map(|&a| actor_name(a))
        .collect();
    found.extend(
        v.speakers
            .iter()
            .filter(|s| {
                trained.speakers.contains(s)
                    || s.strip_prefix("ravdess:Actor_")
                        .and_then(|n| n.parse::<u8>().ok())
                        .is_some_and(|a| trained.train_actors.contains(&a))
            })
            .cloned(),
    );
    found.extend(
        v.corpora
            .iter()
            .filter(|c| {
                trained
                    .corpora
                    .iter()
                    .any(|t| t.split_whitespace().next() == Some(c.as_str()))
            })
            .map(|c| format!("corpus {c}")),
    );
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::classifier::shipped_card;

    #[test]
    fn validation_voices_are_found_by_actor_number_name_speaker_or_corpus() {
        let mut first = shipped_card().unwrap();
        let v = first.validation.as_mut().unwrap();
        (v.actors, v.speakers, v.corpora) = (
            vec![17],
            vec!["ravdess:Actor_18".into(), "tess:YAF".into()],
            vec!["emovo".into()],
        );
        let mut other = shipped_card().unwrap();
        let t = &mut other.training;
        (t.train_actors, t.speakers, t.corpora) = (vec![1, 2], vec!["tess:OAF".into()], vec![]);
        assert!(validation_voices_trained_on(&first, &other).is_empty());
        let t = &mut other.training;
        t.train_actors.push(18);
        t.speakers
            .extend(["ravdess:Actor_17".into(), "tess:YAF".into()]);
        t.corpora.push("emovo 588 clips, 6 speakers".into());
        assert_eq!(
            validation_voices_trained_on(&first, &other),
            [
                "corpus emovo",
                "ravdess:Actor_17",
                "ravdess:Actor_18",
                "tess:YAF"
            ]
        );
        first.validation = None;
        assert!(validation_voices_trained_on(&first, &other).is_empty());
    }
}
