//! `emovox evaluate --data DIR [--weights DIR] [--json]`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use emovox::audio::decode_file;
use emovox::dsp::StreamingExtractor;
use emovox::labels::Emotion;
use emovox::model::classifier::argmax;
use emovox::model::dataset::scan;
use emovox::model::metrics::Metrics;
use emovox::model::Classifier;
use rayon::prelude::*;

use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// A folder in RAVDESS layout (Actor_NN/03-01-EE-II-SS-RR-AA.wav).
    #[arg(long)]
    data: PathBuf,
    /// Folder holding emovox.safetensors and emovox.json [default: the shipped model].
    #[arg(long)]
    weights: Option<PathBuf>,
    /// One JSON line instead of tables.
    #[arg(long)]
    json: bool,
}

/// The shipped model's folder.
pub fn default_weights() -> PathBuf {
    std::env::var_os("EMOVOX_WEIGHTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights"),
        PathBuf::from,
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let weights = args.weights.unwrap_or_else(default_weights);
    let model = Classifier::load(&weights)?;
    let scanned = scan(&args.data).with_context(|| format!("reading {}", args.data.display()))?;
    report::rejected(&scanned.rejected);
    if scanned.clips.is_empty() {
        bail!("{}: no RAVDESS speech clips found", args.data.display());
    }
    let results: Vec<anyhow::Result<(usize, usize)>> = scanned
        .clips
        .par_iter()
        .map_init(StreamingExtractor::new, |extractor, clip| {
            let signal = decode_file(&clip.path)?.samples;
            let probs = model.classify_signal(extractor, &signal)?;
            Ok((clip.emotion.index(), argmax(&probs)))
        })
        .collect();
    let mut truth = Vec::new();
    let mut predicted = Vec::new();
    for r in results {
        match r {
            Ok((t, p)) => {
                truth.push(t);
                predicted.push(p);
            }
            Err(e) => eprintln!("emovox: {e:#}"),
        }
    }
    let m = Metrics::from_predictions(&truth, &predicted, Emotion::COUNT);
    if args.json {
        println!("{}", report::metrics_json(&m));
    } else {
        report::print_metrics(&m);
        eprintln!(
            "model {} ({}), {:.1} s",
            model.card().name,
            weights.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if m.n < scanned.clips.len() {
        bail!(
            "{} of {} files could not be read",
            scanned.clips.len() - m.n,
            scanned.clips.len()
        );
    }
    Ok(())
}
