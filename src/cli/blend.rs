//! `emovox blend MODEL MODEL... --out DIR [--data DIR...]`: one model whose networks are
//! all of the models' (each reading frames its own way: per voice or not), their
//! probabilities averaged with every network counting once. With `--data`, the blend is
//! scored on the voices the first model was validated on, clean and in synthetic rooms,
//! and the scores go into its card.

use std::path::PathBuf;

use anyhow::{bail, Context};
use emovox::model::blend::{self, Model};
use emovox::model::card::{ModelCard, Validation};
use emovox::model::classifier::{read_tensors, ModelSource};
use emovox::model::dataset::{scan_all, Split};
use emovox::model::metrics::{Metrics, Outcome, Scoreboard};
use emovox::model::Classifier;

use super::evaluate::{folder_list, read_clips, Models, Rooms};
use super::report;
use super::train::corpus_validation;

#[derive(clap::Args)]
pub struct Args {
    /// The models to blend (folders, or `built-in`): the first names the blend and gives
    /// its training and validation records; the others must not have trained on the
    /// voices it was validated on.
    #[arg(num_args = 2.., required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// A new folder for the blend (emovox.json and emovox.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// The corpora the first model was validated on: the blend is scored on those voices
    /// (clean, and in rooms when the first model was) for its card. Without them the card
    /// records no scores.
    #[arg(long, num_args = 1..)]
    data: Vec<PathBuf>,
    /// The blend's name [default: the first model's, with "-blend"].
    #[arg(long)]
    name: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: choose a new folder for the blend (nothing was written)",
            args.out.display()
        );
    }
    let mut models = Vec::with_capacity(args.models.len());
    for name in &args.models {
        let source = ModelSource::parse(name);
        let (card, bytes) = source.read()?;
        let tensors = read_tensors(&bytes, &source.weights_path())?;
        models.push(Model {
            card,
            tensors,
            source: source.to_string(),
        });
    }
    let (mut card, tensors) = blend::blend(models)?;
    card.name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-blend", card.name));
    let weights_path = ModelCard::weights_path(&args.out);
    // Every network's weights are checked by loading the blend as any model is loaded.
    let model = Classifier::from_tensors(card.clone(), &tensors, &weights_path)?;
    card.validation = if args.data.is_empty() {
        eprintln!("emovox blend: no --data, so the blend's card records no scores");
        None
    } else {
        score(model, &args.data)?
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    candle_core::safetensors::save(&tensors, &weights_path)
        .with_context(|| format!("writing {}", weights_path.display()))?;
    card.save(&args.out)
        .with_context(|| format!("writing {}", ModelCard::json_path(&args.out).display()))?;
    eprintln!(
        "emovox blend: {} networks from {} models in {}",
        card.networks(),
        args.models.len(),
        args.out.display()
    );
    if let Some(v) = &card.validation {
        eprintln!(
            "emovox blend: on {} validation clips macro-F1 {:.3}, UAR {:.3}{}",
            v.files,
            v.macro_f1,
            v.uar.unwrap_or(0.0),
            v.in_rooms.as_ref().map_or_else(String::new, |r| format!(
                "; in rooms macro-F1 {:.3}",
                r.macro_f1
            ))
        );
    }
    Ok(())
}

/// The blend's scores on the voices its first model was validated on (None when that
/// model records none): clean, and in rooms (one per clip, drawn from the first model's
/// training seed) when it was validated there.
fn score(model: Classifier, data: &[PathBuf]) -> anyhow::Result<Option<Validation>> {
    let seed = model.card().training.seed;
    let Some(v) = model.card().validation.clone() else {
        eprintln!("emovox blend: the first model records no validation voices, so the blend is not scored");
        return Ok(None);
    };
    let split = Split::of_validation(&v).map_err(anyhow::Error::msg)?;
    let scanned = scan_all(data)?;
    report::rejected(&scanned.rejected);
    split.check(&scanned).map_err(anyhow::Error::msg)?;
    let clips = split.apply(scanned.clips).0;
    if clips.len() != v.files {
        eprintln!(
            "emovox blend: {} validation clips in {}, where the first model had {}",
            clips.len(),
            folder_list(data),
            v.files
        );
    }
    let models = Models::one(ModelSource::Folder(PathBuf::from("blend")), model);
    eprintln!("emovox blend: scoring {} validation clips", clips.len());
    let clean = outcomes(read_clips(&models, &clips, None, false)?)?;
    let rooms = match v.in_rooms {
        Some(_) => {
            eprintln!("emovox blend: scoring them in synthetic rooms");
            let rooms = Rooms {
                seed,
                per_speaker: false,
            };
            Some(outcomes(read_clips(&models, &clips, Some(rooms), false)?)?)
        }
        None => None,
    };
    let m = Metrics::from_outcomes(&clean);
    let m_rooms = rooms.as_deref().map(Metrics::from_outcomes);
    let board = Scoreboard::from_outcomes(&clean);
    let board_rooms = rooms.as_deref().map(Scoreboard::from_outcomes);
    let per_corpus = corpus_validation(&board, board_rooms.as_ref());
    Ok(Some(Validation {
        actors: v.actors,
        speakers: v.speakers,
        corpora: v.corpora,
        ..Validation::scored(&m, m_rooms.as_ref(), per_corpus)
    }))
}

/// Every clip's outcome, or the first clip that could not be read.
fn outcomes(results: Vec<anyhow::Result<Outcome>>) -> anyhow::Result<Vec<Outcome>> {
    results.into_iter().collect()
}
