//! `emovox predict PATH... [--files-from LIST] [--shard K/N] [--json|--csv [--no-header]]
//! [--timeline] [--threads N] [--weights DIR]`: the emotion of every audio file given,
//! folders searched recursively.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use emovox::audio::decode_file;
use emovox::audio::files::AUDIO_EXTENSIONS;
use emovox::dsp::StreamingExtractor;
use emovox::model::classifier::ModelSource;
use emovox::model::Classifier;
use emovox::predict::{analyse, write_csv, write_csv_header, AnalysisJson, FileAnalysis};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::common::clip_pool;
use super::inputs::{gather, Shard};

#[derive(clap::Args)]
pub struct Args {
    /// Audio files, and folders to search for them (recursively).
    #[arg(required_unless_present = "files_from")]
    paths: Vec<PathBuf>,
    /// A file listing paths to analyse as well, one a line (`-`: read it from standard
    /// input); blank lines are skipped.
    #[arg(long, value_name = "LIST")]
    files_from: Option<PathBuf>,
    /// Analyse only shard K of N (K from 1 to N): the inputs sorted by path and dealt
    /// round, so that N machines given the same inputs, in any order, analyse each once.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// One JSON object per file per line.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Comma-separated values with a header row.
    #[arg(long)]
    csv: bool,
    /// Leave out the CSV header row (for shards after the first, to append to a file).
    #[arg(long)]
    no_header: bool,
    /// Also report every 3 s window (start, end, speech, label, probabilities).
    #[arg(long)]
    timeline: bool,
    /// Files analysed at once [default: one per CPU core].
    #[arg(long)]
    threads: Option<usize>,
    /// Folder holding emovox.safetensors and emovox.json [default: $EMOVOX_WEIGHTS, else
    /// the shipped model, built into emovox].
    #[arg(long)]
    weights: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    // Checked here, not by clap: its `requires` counts a flag's default as given.
    if args.no_header && !args.csv {
        bail!(
            "--no-header leaves out the CSV header row: give it with --csv \
             (JSON Lines and text have none)"
        );
    }
    let mut inputs = gather(&args.paths, args.files_from.as_deref())?;
    if inputs.is_empty() {
        bail!(
            "no audio files found (looked for .{})",
            AUDIO_EXTENSIONS.join(", .")
        );
    }
    let mut share = String::new();
    if let Some(shard) = args.shard {
        let all;
        (inputs, all) = shard.take(inputs);
        share = format!(" (shard {shard} of {all} inputs)");
    }
    let mut failed = 0;
    let mut files = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input.problem {
            Some(problem) => {
                eprintln!("emovox: {problem}");
                failed += 1;
            }
            None => files.push(input.path),
        }
    }
    let model = Classifier::open(&ModelSource::choose(args.weights.clone()))?;
    let pool = clip_pool(args.threads)?;
    let bar = progress_bar(files.len());
    let results: Vec<anyhow::Result<FileAnalysis>> = pool.install(|| {
        files
            .par_iter()
            .map_init(StreamingExtractor::new, |extractor, path| {
                // Decoding errors name the file themselves.
                let result = decode_file(path)
                    .map_err(anyhow::Error::from)
                    .and_then(|d| {
                        analyse(&model, extractor, &d.samples)
                            .with_context(|| path.display().to_string())
                    });
                bar.inc(1);
                result
            })
            .collect()
    });
    bar.finish_and_clear();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let format = Format::of(&args);
    if !args.no_header {
        format.header(&mut out, args.timeline)?;
    }
    let (mut audio_s, mut analysed) = (0.0, 0);
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok(a) => {
                audio_s += a.duration_s;
                analysed += 1;
                format.write(&mut out, path, &a, args.timeline)?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("emovox: {e:#}");
            }
        }
    }
    out.flush()?;
    eprintln!(
        "emovox: analysed {analysed} files ({:.1} min of audio) in {:.1} s{share}",
        audio_s / 60.0,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        bail!("{failed} of the files given could not be analysed (see above)");
    }
    Ok(())
}

/// A bar on stderr while files are analysed; nothing when stderr is not a terminal.
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("analysing [{bar:30}] {pos}/{len} files (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

#[derive(Clone, Copy)]
enum Format {
    Text,
    Json,
    Csv,
}

impl Format {
    fn of(args: &Args) -> Self {
        if args.json {
            Self::Json
        } else if args.csv {
            Self::Csv
        } else {
            Self::Text
        }
    }

    fn header(self, out: &mut impl Write, timeline: bool) -> std::io::Result<()> {
        if let Self::Csv = self {
            write_csv_header(out, timeline)?;
        }
        Ok(())
    }

    fn write(
        self,
        out: &mut impl Write,
        path: &Path,
        a: &FileAnalysis,
        timeline: bool,
    ) -> anyhow::Result<()> {
        match self {
            Self::Json => {
                let json = AnalysisJson {
                    path: Some(&path.to_string_lossy()),
                    analysis: a,
                    timeline,
                    model: None,
                };
                writeln!(out, "{}", serde_json::to_string(&json)?)?;
            }
            Self::Csv => write_csv(out, path, a, timeline)?,
            Self::Text => {
                let reading = match (a.label(), &a.probabilities) {
                    (Some(label), Some(p)) => {
                        format!("{:<9} {:>3.0}%", label.name(), p[label.index()] * 100.0)
                    }
                    _ => format!("{:<14}", "no speech"),
                };
                writeln!(
                    out,
                    "{}  {reading}  {:.2} s, speech {:.2} s",
                    path.display(),
                    a.duration_s,
                    a.speech_s
                )?;
                if timeline {
                    for w in &a.windows {
                        let reading = match w.label() {
                            Some(label) => format!(
                                "{:<9} {:>3.0}%",
                                label.name(),
                                w.probabilities[label.index()] * 100.0
                            ),
                            None => "no speech".to_owned(),
                        };
                        writeln!(out, "  {:>6.2}–{:.2} s  {reading}", w.start_s, w.end_s)?;
                    }
                }
            }
        }
        Ok(())
    }
}
