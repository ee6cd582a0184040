//! The `emovox` command: parse, dispatch, print the error chain once.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Recognise emotion in speech, live from a microphone or from audio files.
#[derive(Parser)]
#[command(
    name = "emovox",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EMOVOX_COMMIT"), ")"),
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
    /// Train the emotion model on corpora, or tune it to the voices in recorded sessions.
    // Boxed: train's many flags would make every command as large as it.
    Train(Box<cli::train::Args>),
    /// Score a model on labelled audio (corpora in any of the three layouts, or sessions).
    Evaluate(cli::evaluate::Args),
    /// Store a few clips' features per class beside a model, for fine-tuning to rehearse.
    Exemplars(cli::exemplars::Args),
    /// Blend trained models into one that averages all their networks (each reading
    /// frames its own way, per voice or not).
    Blend(cli::blend::Args),
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
    match cli.command {
        // Members trained side by side each take a core: candle's element-wise ops stay on
        // their member's thread instead of queueing for its one shared pool.
        Some(Command::Train(ref args)) if args.trains_members_side_by_side() => {
            single_threaded_candle_ops();
            keep_freed_memory();
        }
        // Training batches many windows: candle's own threads earn their keep there.
        Some(Command::Train(_)) => keep_freed_memory(),
        Some(
            Command::Predict(_) | Command::Evaluate(_) | Command::Serve(_) | Command::Blend(_),
        ) => {
            one_clip_per_thread();
            keep_freed_memory();
        }
        _ => single_threaded_candle_ops(),
    }
    let result = match cli.command {
        Some(Command::Features(args)) => cli::features::run(args),
        Some(Command::Train(args)) => cli::train::run(*args),
        Some(Command::Evaluate(args)) => cli::evaluate::run(args),
        Some(Command::Exemplars(args)) => cli::exemplars::run(args),
        Some(Command::Blend(args)) => cli::blend::run(args),
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
/// 12.3 s (`emovox evaluate`). Runs first thing in `main`, while the process has one
/// thread, as setting the environment requires; a value the user set wins.
fn single_threaded_candle_ops() {
    set_default_env("CANDLE_NUM_THREADS", "1");
}

/// For the commands that analyse many clips: each clip runs wholly on one thread, matrix
/// products included (candle sizes them by `RAYON_NUM_THREADS`), and the commands run one
/// clip per core side by side in pools of their own. Splitting one window's small
/// products across cores cost more than it gained: `emovox serve` answered 104 clips/s
/// that way and 137 clips/s this way (`cargo bench --bench serve_load`).
fn one_clip_per_thread() {
    single_threaded_candle_ops();
    set_default_env("RAYON_NUM_THREADS", "1");
}

fn set_default_env(name: &str, value: &str) {
    if std::env::var_os(name).is_none() {
        std::env::set_var(name, value);
    }
}

/// Keeps memory that was freed for reuse instead of handing it back to the kernel, for
/// the commands that run the model back to back. Each forward pass allocates and frees a
/// few hundred kilobytes of tensors; by default glibc maps blocks that large fresh each
/// time and unmaps them after, so every pass paid for page faults: `emovox predict` over
/// 1,200 files took 9.6–10.2 s with them, 7.9–8.3 s without; a training step on a batch
/// of 32 windows (megabytes of tensors and gradients), 183 ms with them, 133 ms without.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
