//! One module per subcommand: `Args` (clap) and `run(args) -> anyhow::Result<()>`;
//! `common` and `report` hold what several of them share, `inputs` what `predict` reads
//! (paths, lists of files, shards).

pub mod app;
pub mod blend;
pub mod common;
pub mod devices;
pub mod evaluate;
pub mod exemplars;
pub mod features;
pub mod inputs;
pub mod listen;
pub mod predict;
pub mod report;
pub mod serve;
pub mod train;
