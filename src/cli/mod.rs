//! One module per subcommand: `Args` (clap) and `run(args) -> anyhow::Result<()>`;
//! `common` and `report` hold what several of them share.

pub mod app;
pub mod common;
pub mod devices;
pub mod evaluate;
pub mod exemplars;
pub mod features;
pub mod listen;
pub mod predict;
pub mod report;
pub mod serve;
pub mod train;
