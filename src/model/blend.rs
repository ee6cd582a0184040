//! Blending trained models into one: their networks side by side in one weights file,
//! each reading the frames its own way (its own normalisation, per voice or not), their
//! probabilities averaged with every network counting once. A model that reads each voice
//! on its baseline carries voices it never heard better; one that reads frames as they
//! are keeps rooms and the studio; a blend of the two keeps most of both.

use std::collections::HashMap;

use candle_core::Tensor;

use super::card::{member_prefix, BlendPart, ModelCard, Training, MAX_MEMBERS};
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
/// records; its voices and licences joined by every part's, as a card lists everything
/// its weights learnt from; no tuning holdout, which was not the blend's), with every later
/// model's networks as blended parts after its own, and the tensors renumbered to match.
/// Refuses a later model any of whose parts trained on voices the first was validated on.
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
    card.training.holdout = None;
    let mut tensors = HashMap::new();
    let mut next = 0;
    renumber(&first, &mut next, &mut tensors);
    for model in models {
        let mut voices: Vec<String> = model
            .card
            .readings()
            .iter()
            .flat_map(|r| validation_voices_trained_on(&first.card, r.training))
            .collect();
        voices.sort();
        voices.dedup();
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
            let t = &mut card.training;
            t.speakers = super::tune::inherited(&t.speakers, r.training.speakers.clone());
            t.licences = super::tune::inherited(&t.licences, r.training.licences.clone());
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

/// The voices `first` was validated on that a model trained as `trained` says learnt from
/// (RAVDESS actors by number or name, speakers as `corpus:speaker`, whole corpora by name;
/// a record without a list of voices, from an older card, by its corpora).
fn validation_voices_trained_on(first: &ModelCard, trained: &Training) -> Vec<String> {
    let Some(v) = &first.validation else {
        return Vec::new();
    };
    let trained_corpus = |c: &str| {
        trained
            .corpora
            .iter()
            .any(|t| t.split_whitespace().next() == Some(c))
    };
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
                let actor = s
                    .strip_prefix("ravdess:Actor_")
                    .and_then(|n| n.parse::<u8>().ok());
                trained.speakers.contains(s)
                    || match actor {
                        Some(a) => trained.train_actors.contains(&a),
                        None => {
                            trained.speakers.is_empty()
                                && s.split_once(':').is_some_and(|(c, _)| trained_corpus(c))
                        }
                    }
            })
            .cloned(),
    );
    found.extend(
        v.corpora
            .iter()
            .filter(|c| trained_corpus(c))
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
        assert!(validation_voices_trained_on(&first, &other.training).is_empty());
        let t = &mut other.training;
        t.train_actors.push(18);
        t.speakers
            .extend(["ravdess:Actor_17".into(), "tess:YAF".into()]);
        t.corpora.push("emovo 588 clips, 6 speakers".into());
        assert_eq!(
            validation_voices_trained_on(&first, &other.training),
            [
                "corpus emovo",
                "ravdess:Actor_17",
                "ravdess:Actor_18",
                "tess:YAF"
            ]
        );
        // An older record without its voices: a held-out speaker of a corpus it trained on.
        let older = Training {
            corpora: vec!["tess 1400 clips, 1 speakers".into()],
            ..Training::default()
        };
        assert_eq!(validation_voices_trained_on(&first, &older), ["tess:YAF"]);
        first.validation = None;
        assert!(validation_voices_trained_on(&first, &other.training).is_empty());
    }
}
