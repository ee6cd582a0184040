//! Helpers more than one subcommand uses, so that no subcommand reaches into another.

use anyhow::Context;

/// Threads that analyse one clip each: `threads`, or one per core. (`RAYON_NUM_THREADS`
/// is 1 for these commands, see `main`, so rayon's default pool would be one thread.)
pub fn clip_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .build()
        .context("starting the worker threads")
}

/// Shortest labelled region of a session that is trained on or scored: the one tuning
/// uses, so that `evaluate --sessions` scores what tuning trains on.
pub use emovox::model::tune::MIN_REGION_S;
