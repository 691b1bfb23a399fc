//! The `oracle` command line.

use std::path::PathBuf;

use clap::Parser;
use eyre::WrapErr;

use crate::daemon::Reporter;

/// Relays the spot price, weather and grid carbon intensity to the cogrid OracleHub, in rounds
/// signed by several co-ops' reporters.
#[derive(Debug, Parser)]
#[command(name = "oracle", version)]
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
    cogrid_chain::run_until_shutdown(|cancel| async move {
        Reporter::from_config(config).await?.run(cancel).await
    })
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
