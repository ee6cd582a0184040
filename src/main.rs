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
    /// Show live emotion from a microphone, one line (or JSON object) per hop.
    Listen(cli::listen::Args),
    /// List the input devices a microphone can be chosen from.
    Devices(cli::devices::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Features(args)) => cli::features::run(args),
        Some(Command::Train(args)) => cli::train::run(args),
        Some(Command::Evaluate(args)) => cli::evaluate::run(args),
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
