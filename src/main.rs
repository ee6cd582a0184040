//! The `emovox` command: parse, dispatch, print the error chain once.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Recognise emotion in speech, live from a microphone or from audio files.
#[derive(Parser)]
#[command(
    name = "emovox",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    app: cli::app::Args,
}

#[derive(Subcommand)]
enum Command {
    /// Compute librosa-exact features of audio files (and save them as .npy).
    Features(cli::features::Args),
    /// Train the emotion model on a RAVDESS-layout folder.
    Train(cli::train::Args),
    /// Score a model on a RAVDESS-layout folder.
    Evaluate(cli::evaluate::Args),
    /// The emotion of audio files (folders are searched recursively).
    Predict(cli::predict::Args),
    /// Serve the model over HTTP (POST /predict, GET /health, GET /model).
    Serve(cli::serve::Args),
    /// Show live emotion from a microphone, one line (or JSON object) per hop.
    Listen(cli::listen::Args),
    /// List the input devices a microphone can be chosen from.
    Devices(cli::devices::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Some(Command::Train(_))) {
        single_threaded_candle_ops();
    }
    let result = match cli.command {
        Some(Command::Features(args)) => cli::features::run(args),
        Some(Command::Train(args)) => cli::train::run(args),
        Some(Command::Evaluate(args)) => cli::evaluate::run(args),
        Some(Command::Predict(args)) => cli::predict::run(args),
        Some(Command::Serve(args)) => cli::serve::run(args),
        Some(Command::Listen(args)) => cli::listen::run(args),
        Some(Command::Devices(args)) => cli::devices::run(args),
        None => cli::app::run(cli.app),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emovox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps candle's element-wise ops on the calling thread. Outside training the model runs
/// one 3 s window at a time, and candle's own worker threads spend more time spinning at
/// their barrier than working: with them, scoring 1,200 files took 18.4 s; without,
/// 12.3 s (`emovox evaluate`). Parallelism comes from running clips side by side instead.
/// Runs first thing in `main`, while the process has one thread, as setting the
/// environment requires; `CANDLE_NUM_THREADS` set by the user wins.
fn single_threaded_candle_ops() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
