//! One module per subcommand: `Args` (clap) and `run(args) -> anyhow::Result<()>`.

pub mod evaluate;
pub mod features;
pub mod report;
pub mod train;
