//! `emovox [FILE] [--replay FILE] [--listen]`: the desktop app, the default command.

use std::path::PathBuf;
use std::sync::Arc;

use emovox::app::{self, AppOptions};
use emovox::model::classifier::ModelSource;
use emovox::model::Classifier;

#[derive(clap::Args)]
pub struct Args {
    /// An audio file to open and analyse at once.
    file: Option<PathBuf>,
    /// Use this audio file as the microphone (played in real time), e.g. for a demo or a
    /// machine without one.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Start listening at once.
    #[arg(long)]
    listen: bool,
    /// Where recording sessions are kept [default: $EMOVOX_SESSIONS, else
    /// ~/.local/share/emovox/sessions].
    #[arg(long)]
    sessions: Option<PathBuf>,
    /// Folder holding emovox.safetensors and emovox.json [default: $EMOVOX_WEIGHTS, else
    /// the shipped model, built into emovox].
    #[arg(long)]
    weights: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let source = ModelSource::choose(args.weights);
    let classifier = Arc::new(Classifier::open(&source)?);
    app::run(
        classifier,
        AppOptions {
            open: args.file,
            replay: args.replay,
            replay_speed: 1.0,
            listen: args.listen,
            sessions: args.sessions,
            model: Some(source),
            settings: Some(app::settings::default_path()),
            ..AppOptions::default()
        },
    )
}
