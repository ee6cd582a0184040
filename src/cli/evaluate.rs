//! `emovox evaluate --data DIR | --sessions DIR... [--weights DIR] [--json]`

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
use emovox::session::{self, Session};
use rayon::prelude::*;

use super::predict::clip_pool;
use super::report;

#[derive(clap::Args)]
pub struct Args {
    /// A folder in RAVDESS layout (Actor_NN/03-01-EE-II-SS-RR-AA.wav).
    #[arg(long, required_unless_present = "sessions")]
    data: Option<PathBuf>,
    /// Recorded sessions to score on instead: each labelled region is one clip.
    #[arg(long, num_args = 1..)]
    sessions: Vec<PathBuf>,
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
    let weights = args.weights.clone().unwrap_or_else(default_weights);
    let model = Classifier::load(&weights)?;
    let Some(data) = &args.data else {
        return run_sessions(&args, &model, started);
    };
    let scanned = scan(data).with_context(|| format!("reading {}", data.display()))?;
    report::rejected(&scanned.rejected);
    if scanned.clips.is_empty() {
        bail!("{}: no RAVDESS speech clips found", data.display());
    }
    let results: Vec<anyhow::Result<(usize, usize)>> = clip_pool(None)?.install(|| {
        scanned
            .clips
            .par_iter()
            .map_init(StreamingExtractor::new, |extractor, clip| {
                let signal = decode_file(&clip.path)?.samples;
                let probs = model.classify_signal(extractor, &signal)?;
                Ok((clip.emotion.index(), argmax(&probs)))
            })
            .collect()
    });
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
    print(
        &args,
        &m,
        &format!("model {} ({})", model.card().name, weights.display()),
        started,
    );
    if m.n < scanned.clips.len() {
        bail!(
            "{} of {} files could not be read",
            scanned.clips.len() - m.n,
            scanned.clips.len()
        );
    }
    Ok(())
}

/// Shortest labelled region scored: shorter ones hold too little speech to judge.
const MIN_REGION_S: f64 = 0.5;

/// Scores the model on the labelled regions of recorded sessions.
fn run_sessions(args: &Args, model: &Classifier, started: Instant) -> anyhow::Result<()> {
    let mut truth = Vec::new();
    let mut predicted = Vec::new();
    let mut extractor = StreamingExtractor::new();
    for dir in &args.sessions {
        let session = Session::load(dir)?;
        let audio = decode_file(&dir.join(session::AUDIO_FILE))?.samples;
        for region in session
            .labels
            .iter()
            .filter(|r| r.end_s - r.start_s >= MIN_REGION_S)
        {
            let rate = f64::from(emovox::dsp::SAMPLE_RATE);
            let a = ((region.start_s * rate) as usize).min(audio.len());
            let b = ((region.end_s * rate) as usize).min(audio.len());
            if b <= a {
                continue;
            }
            let probs = model.classify_signal(&mut extractor, &audio[a..b])?;
            truth.push(region.label.index());
            predicted.push(argmax(&probs));
        }
    }
    if truth.is_empty() {
        bail!("the sessions hold no labelled regions of {MIN_REGION_S} s or more");
    }
    let m = Metrics::from_predictions(&truth, &predicted, Emotion::COUNT);
    let what = format!(
        "model {} on {} labelled regions of {} sessions",
        model.card().name,
        m.n,
        args.sessions.len()
    );
    print(args, &m, &what, started);
    Ok(())
}

/// The scores as tables (with `what` was scored and how long it took on stderr), or as
/// one JSON line.
fn print(args: &Args, m: &Metrics, what: &str, started: Instant) {
    if args.json {
        println!("{}", report::metrics_json(m));
    } else {
        report::print_metrics(m);
        eprintln!("{what}, {:.1} s", started.elapsed().as_secs_f64());
    }
}
