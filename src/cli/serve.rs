//! `emovox serve [--addr 127.0.0.1:8000] [--weights DIR] [limits…]`: the model over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use emovox::model::classifier::ModelSource;
use emovox::model::Classifier;
use emovox::serve::{router, serve, ServeConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// Folder holding emovox.safetensors and emovox.json [default: $EMOVOX_WEIGHTS, else
    /// the shipped model, built into emovox].
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Largest request body, in megabytes (413 beyond).
    #[arg(long, default_value_t = 25.0)]
    max_body_mb: f64,
    /// Longest audio analysed, in seconds (413 beyond).
    #[arg(long, default_value_t = 600.0)]
    max_audio_s: f64,
    /// Seconds a request may take, upload included (408 or 503 beyond).
    #[arg(long, default_value_t = 30.0)]
    timeout_s: f64,
    /// Requests handled at once, queued ones included (503 beyond).
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Threads that decode and run the model [default: one per CPU core].
    #[arg(long)]
    workers: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    for (name, value) in [
        ("--max-body-mb", args.max_body_mb),
        ("--max-audio-s", args.max_audio_s),
        ("--timeout-s", args.timeout_s),
    ] {
        if !(value.is_finite() && value > 0.0) {
            bail!("{name} must be a positive number, not {value}");
        }
    }
    let weights = ModelSource::choose(args.weights.clone());
    let model = Arc::new(Classifier::open(&weights)?);
    let defaults = ServeConfig::default();
    let config = ServeConfig {
        max_body_bytes: (args.max_body_mb * 1e6) as usize,
        max_audio_s: args.max_audio_s,
        timeout: Duration::from_secs_f64(args.timeout_s.min(1e9)),
        max_in_flight: args.max_in_flight.max(1),
        workers: args.workers.unwrap_or(defaults.workers).max(1),
    };
    let name = model.card().name.clone();
    let app = router(model, config.clone()).context("starting the worker threads")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "emovox: serving model {name} on http://{addr} (POST /predict, GET /health, GET /model; \
             {} workers, {} requests at once, bodies up to {} bytes); Ctrl-C stops",
            config.workers, config.max_in_flight, config.max_body_bytes
        );
        serve(listener, app, async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("emovox: stopping: finishing the requests in progress");
        })
        .await
        .context("serving")
    })
}
