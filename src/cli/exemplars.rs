//! `emovox exemplars --from DIR --data DIR... [--per-class N]`: stores one window of
//! features from a few clips per class of the voices the model in DIR was trained on
//! (never its validation voices) beside its weights, for fine-tuning to rehearse. Run it
//! again whenever the feature set or the model changes.

use std::path::PathBuf;

use anyhow::Context;
use emovox::labels::Emotion;
use emovox::model::card::ModelCard;
use emovox::model::dataset::{scan_all, Clip};
use emovox::model::input::{INPUT_DIM, WINDOW_FRAMES};
use emovox::model::rng::Rng;
use emovox::model::train::exemplars::{self, ExemplarCard, Exemplars};
use emovox::model::train::{prepare_versions, Versions};
use emovox::model::voice::{VoiceBaseline, VoiceBaselines};
use emovox::model::FeatureConfig;

use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// The model (a folder with emovox.json); the exemplars are written beside it.
    #[arg(long, default_value = "weights")]
    from: PathBuf,
    /// The corpora the model was trained on (only its training voices are drawn).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Clips per class, spread over the speakers.
    #[arg(long, default_value_t = 8)]
    per_class: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let card = ModelCard::load(&args.from)?;
    let scanned = scan_all(&args.data)?;
    report::rejected(&scanned.rejected);
    // The weights the exemplars are made for: fine-tuning refuses them beside others.
    let weights_path = ModelCard::weights_path(&args.from);
    let weights = std::fs::read(&weights_path)
        .with_context(|| format!("reading {}", weights_path.display()))?;
    // Voices are `corpus:speaker`, the corpus being the folder's name, which another
    // copy of the corpus need not share; RAVDESS clips (the only ones with an actor
    // number) are known by their actor instead, named `Actor_NN` in any corpus.
    let voice = |c: &Clip| format!("{}:{}", c.corpus, c.speaker);
    let is_actor = |line: &String, c: &Clip| {
        line.rsplit_once(':')
            .is_some_and(|(_, speaker)| speaker == c.speaker)
    };
    let held = |c: &Clip| {
        card.validation.as_ref().is_some_and(|v| {
            v.corpora.contains(&c.corpus)
                || v.speakers.contains(&voice(c))
                || (c.actor != 0
                    && (v.actors.contains(&c.actor) || v.speakers.iter().any(|s| is_actor(s, c))))
        })
    };
    let trained_on = |c: &Clip| -> bool {
        let trained = if c.actor != 0 {
            // Older cards list actors only; newer ones (a tuned model's include its
            // starting model's) list voices.
            card.training.train_actors.contains(&c.actor)
                || card.training.speakers.iter().any(|s| is_actor(s, c))
        } else if !card.training.speakers.is_empty() {
            card.training.speakers.contains(&voice(c))
        } else {
            // Older cards: the corpora they list as trained on.
            card.training
                .corpora
                .iter()
                .any(|s| s.split_whitespace().next() == Some(c.corpus.as_str()))
        };
        trained && !held(c)
    };
    let pool: Vec<&Clip> = scanned.clips.iter().filter(|c| trained_on(c)).collect();
    anyhow::ensure!(
        !pool.is_empty(),
        "none of the clips in the data are of voices {} was trained on",
        card.name
    );
    // Per class: the speakers in a seeded order, one clip of each (drawn from the same
    // seed) before any second one, so a few exemplars span as many voices as they can and
    // the choice is the same on every run.
    let mut rng = Rng::new(0x0E8E_3A55);
    let mut chosen: Vec<Clip> = Vec::new();
    for emotion in Emotion::ALL {
        let mut by_speaker: Vec<(String, Vec<&Clip>)> = Vec::new();
        for c in pool.iter().filter(|c| c.emotion == emotion) {
            let key = format!("{}:{}", c.corpus, c.speaker);
            match by_speaker.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(c),
                None => by_speaker.push((key, vec![c])),
            }
        }
        by_speaker.sort_by(|a, b| a.0.cmp(&b.0));
        rng.shuffle(&mut by_speaker);
        for (_, v) in &mut by_speaker {
            v.sort_by(|a, b| a.path.cmp(&b.path));
            rng.shuffle(v);
        }
        let rounds = by_speaker.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let interleaved = (0..rounds).flat_map(|round| {
            by_speaker
                .iter()
                .filter_map(move |(_, v)| v.get(round).copied())
        });
        chosen.extend(interleaved.take(args.per_class).cloned());
    }
    eprintln!(
        "emovox exemplars: {} clips of {} voices {} was trained on",
        chosen.len(),
        {
            let mut s: Vec<String> = chosen
                .iter()
                .map(|c| format!("{}:{}", c.corpus, c.speaker))
                .collect();
            s.sort();
            s.dedup();
            s.len()
        },
        card.name
    );
    let mut prepared = prepare_versions(&chosen, Versions::Original, 1, &[], &|| {})?;
    // A model that reads per voice (or a blend with a part that does) reads frames minus
    // their voice's baseline: each exemplar's, of all its voice's clips (as the model was
    // trained), is stored beside it.
    let mut baselines: Vec<Vec<f32>> = Vec::new();
    if card.reads_per_voice() {
        let voices: Vec<String> = chosen.iter().map(voice).collect();
        let of_voices: Vec<Clip> = pool
            .iter()
            .filter(|c| voices.contains(&voice(c)))
            .map(|c| (*c).clone())
            .collect();
        eprintln!(
            "emovox exemplars: the baselines of those voices, from their {} clips",
            of_voices.len()
        );
        let mut by_voice = VoiceBaselines::default();
        for (c, p) in of_voices.iter().zip(prepare_versions(
            &of_voices,
            Versions::Original,
            1,
            &[],
            &|| {},
        )?) {
            if let Some(frames) = p.versions.first() {
                by_voice.add_stretch(&voice(c), frames);
            }
        }
        baselines = chosen
            .iter()
            .map(|c| {
                by_voice
                    .get(&voice(c))
                    .and_then(VoiceBaseline::mean)
                    .unwrap_or_else(|| vec![0.0; INPUT_DIM])
            })
            .collect();
    }
    // One window of each, at its centre; a clip shorter than a window is skipped.
    let mut sources = Vec::new();
    let mut kept = Vec::new();
    let mut kept_baselines = Vec::new();
    for (i, (clip, mut p)) in chosen.iter().zip(prepared.drain(..)).enumerate() {
        let frames = p.versions.swap_remove(0);
        let n = frames.len() / INPUT_DIM;
        if n < WINDOW_FRAMES {
            eprintln!(
                "emovox exemplars: {} is shorter than one window, skipped",
                clip.path.display()
            );
            continue;
        }
        let start = (n - WINDOW_FRAMES) / 2;
        p.versions = vec![frames[start * INPUT_DIM..(start + WINDOW_FRAMES) * INPUT_DIM].to_vec()];
        sources.push(format!(
            "{}:{} {}",
            clip.corpus,
            clip.speaker,
            clip.path.display()
        ));
        kept.push(p);
        kept_baselines.extend(baselines.get(i).cloned());
    }
    let command = format!(
        "emovox exemplars --from {} --data {} --per-class {}",
        args.from.display(),
        args.data
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        args.per_class
    );
    let ex_card = ExemplarCard {
        model: card.name.clone(),
        features: FeatureConfig::current(),
        frames: WINDOW_FRAMES,
        per_class: args.per_class,
        clips: sources,
        command,
        date: report::today(),
        commit: report::commit(),
        weights: Some(exemplars::weights_id(&weights)),
        per_voice: false,
        baselines: !kept_baselines.is_empty(),
    };
    let ex = Exemplars {
        card: ex_card,
        clips: kept,
        baselines: kept_baselines,
    };
    exemplars::save(&args.from, &ex)
        .with_context(|| format!("writing exemplars into {}", args.from.display()))?;
    eprintln!(
        "emovox exemplars: wrote {} exemplars into {}",
        ex.clips.len(),
        args.from.join(exemplars::EXEMPLARS_FILE).display()
    );
    Ok(())
}
