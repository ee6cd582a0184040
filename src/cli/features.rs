//! `emovox features FILE... [--feature NAME] [--out PATH] [--threads N] [--stats]`

use std::cell::RefCell;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use emovox::audio::decode_file;
use emovox::dsp::{DbRule, FeatureKind, Features, StreamingExtractor};
use emovox::npy;
use rayon::prelude::*;

#[derive(clap::Args)]
pub struct Args {
    /// Audio files: WAV (8/16/24/32-bit integer or float), FLAC, MP3, Ogg Vorbis.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One feature: mel, mel_db, mfcc, chroma, contrast or tonnetz. Without it, all six
    /// are stacked in that order (64 + 64 + 40 + 12 + 7 + 6 = 193 rows).
    #[arg(long, value_name = "NAME")]
    feature: Option<FeatureKind>,
    /// Write the feature of the one FILE as a float32 .npy (rows = coefficients,
    /// columns = frames), as librosa shapes it.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Files decoded in parallel [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// End with one line: files, audio seconds, wall seconds, times real time.
    #[arg(long)]
    stats: bool,
    /// Use the streaming decibel rule (no top_db clip; what the model sees) instead of
    /// librosa's whole-signal clip.
    #[arg(long)]
    streaming: bool,
}

thread_local! {
    /// One extractor per worker thread: building its filter banks and FFT plan costs
    /// about as much as a file's features (rayon's `map_init` rebuilt it per work split).
    static EXTRACTOR: RefCell<StreamingExtractor> = RefCell::new(StreamingExtractor::new());
}

/// What one file yielded.
struct Summary {
    seconds: f64,
    frames: usize,
    rows: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.is_some() && args.files.len() != 1 {
        bail!(
            "--out writes one file's feature: give exactly one FILE (got {})",
            args.files.len()
        );
    }
    let threads = args.threads.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting worker threads")?;
    let rule = if args.streaming {
        DbRule::Streaming
    } else {
        DbRule::Librosa
    };
    let rows = args.feature.map_or_else(
        || FeatureKind::ALL.iter().map(|k| k.rows()).sum(),
        FeatureKind::rows,
    );

    let start = Instant::now();
    let results: Vec<anyhow::Result<Summary>> = pool.install(|| {
        args.files
            .par_iter()
            .map(|path| {
                let decoded = decode_file(path)?;
                let features = EXTRACTOR
                    .with_borrow_mut(|ex| Features::compute_with(ex, &decoded.samples, rule));
                if let Some(out) = &args.out {
                    write_npy(&features, args.feature, out)?;
                }
                Ok(Summary {
                    seconds: decoded.seconds(),
                    frames: features.frames(),
                    rows,
                })
            })
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();

    // One file: its error is the command's error, reported once by main.
    if let [Err(_)] = results.as_slice() {
        return results.into_iter().try_for_each(|r| r.map(drop));
    }
    let (mut audio_s, mut failed) = (0.0, 0);
    for (path, result) in args.files.iter().zip(&results) {
        match result {
            Ok(s) => {
                audio_s += s.seconds;
                println!(
                    "{}\t{:.3} s\t{} frames\t{}x{}",
                    path.display(),
                    s.seconds,
                    s.frames,
                    s.rows,
                    s.frames
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("emovox: {e:#}");
            }
        }
    }
    if args.stats {
        let ok = results.len() - failed;
        println!(
            "files {ok} audio_s {audio_s:.3} wall_s {wall:.4} x_realtime {:.0}",
            audio_s / wall.max(1e-9)
        );
    }
    match failed {
        0 => Ok(()),
        n => bail!("{n} of {} files could not be read", results.len()),
    }
}

fn write_npy(features: &Features, kind: Option<FeatureKind>, out: &PathBuf) -> anyhow::Result<()> {
    let matrix = match kind {
        Some(k) => features.matrix(k),
        None => features.stacked(),
    };
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = BufWriter::new(file);
    npy::write_f32(&mut writer, matrix.rows, matrix.cols, &matrix.data)
        .and_then(|()| std::io::Write::flush(&mut writer))
        .with_context(|| format!("writing {}", out.display()))
}
