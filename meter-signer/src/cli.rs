//! The `meter-signer` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use eyre::WrapErr;

use crate::daemon::{RunOptions, run};

/// Reads a smart meter, signs a reading at every interval boundary (EIP-712) and delivers it to
/// the cogrid MeterRegistry, storing each one locally until it is final on chain.
#[derive(Debug, Parser)]
#[command(name = "meter-signer", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the signer with a TOML config.
    Run {
        /// The config file; relative paths in it resolve against its directory.
        #[arg(long, short)]
        config: PathBuf,
        /// Exit once every source has ended and the outbox is empty.
        #[arg(long)]
        exit_when_idle: bool,
    },
    /// Creates a meter key in an encrypted keystore and prints the address to register.
    Keygen {
        /// The keystore file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Environment variable holding the keystore password.
        #[arg(long, default_value = "COGRID_METER_PASSWORD")]
        password_env: String,
    },
    /// Parses one DSMR P1 telegram from a file and prints it as JSON.
    DsmrParse {
        /// The telegram file.
        file: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    cogrid_chain::init_tracing("info");
    match cli.command {
        Command::Run {
            config,
            exit_when_idle,
        } => {
            let parsed = crate::config::load(&config)?;
            let base = config.parent().map(PathBuf::from).unwrap_or_default();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .wrap_err("starting the async runtime")?;
            runtime.block_on(run(parsed, &base, RunOptions { exit_when_idle }))?;
        }
        Command::Keygen { out, password_env } => {
            let password = cogrid_chain::password_from_env(&password_env)?;
            let signer = cogrid_chain::create_keystore(&out, &password)?;
            println!("{}", signer.address());
            eprintln!(
                "keystore written to {}; register this address with your co-op",
                out.display()
            );
        }
        Command::DsmrParse { file } => {
            let bytes =
                std::fs::read(&file).wrap_err_with(|| format!("reading {}", file.display()))?;
            let telegram = cogrid_dsmr::parse(&bytes)
                .wrap_err_with(|| format!("{} is not a valid telegram", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&telegram)?);
        }
    }
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
