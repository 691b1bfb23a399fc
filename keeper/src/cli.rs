//! The `keeper` command line.

use std::path::PathBuf;

use clap::Parser;
use eyre::WrapErr;

/// Clears each trading interval of the cogrid market off chain (a uniform-price double auction)
/// and settles it on chain, indexing the market's events into SQL.
#[derive(Debug, Parser)]
#[command(name = "keeper", version)]
pub struct Cli {
    /// The TOML config; relative paths in it resolve against its directory.
    #[arg(long, short)]
    pub config: PathBuf,
}

/// Entry point of the binary.
pub fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    cogrid_chain::init_tracing("info");
    let config = crate::config::load(&cli.config)?;
    cogrid_chain::run_until_shutdown(|cancel| crate::daemon::run(config, cancel))
        .wrap_err("starting the async runtime")??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
