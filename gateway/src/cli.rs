//! The `vpp-gateway` command line.

use std::path::PathBuf;

use clap::Parser;
use eyre::WrapErr;

/// Takes part in the grid operator's virtual power plant for a home battery: enrols its meter in
/// the VPP events on its feeder that the owner's policy accepts, and discharges the battery during
/// their windows.
#[derive(Debug, Parser)]
#[command(name = "vpp-gateway", version)]
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
