//! The `cogrid` command line.

use std::path::PathBuf;

use alloy::primitives::Address;
use clap::{Parser, Subcommand, ValueEnum};
use cogrid_bindings::MeterRegistry;
use cogrid_chain::{Deployment, SuiteParams, connect, deploy_suite};
use eyre::{WrapErr, eyre};

use crate::keys::KeyArgs;

/// cogrid: a neighbourhood energy market on an Ethereum L2.
#[derive(Debug, Parser)]
#[command(name = "cogrid", version)]
pub struct Cli {
    /// JSON-RPC URL of the chain.
    #[arg(
        long,
        global = true,
        env = "COGRID_RPC_URL",
        default_value = "http://127.0.0.1:8545"
    )]
    pub rpc_url: String,
    /// Deployment file (written by `deploy`, read by the other commands).
    #[arg(long, global = true)]
    pub deployment: Option<PathBuf>,
    /// The sending key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploys the contract suite and writes deployments/<chainId>.json.
    Deploy {
        /// Trading interval length in seconds.
        #[arg(long, default_value_t = 900)]
        interval_seconds: u32,
        /// Oldest reading accepted, in seconds.
        #[arg(long, default_value_t = 2 * 86_400)]
        acceptance_window: u64,
        /// Grid carbon intensity until the oracle provides it (gCO2e/kWh).
        #[arg(long, default_value_t = 400)]
        carbon_intensity: u16,
    },
    /// Participants (co-op admin).
    Participant {
        /// What to do with them.
        #[command(subcommand)]
        action: ParticipantAction,
    },
    /// Meters (co-op admin).
    Meter {
        /// What to do with them.
        #[command(subcommand)]
        action: MeterAction,
    },
    /// Mints the credits and carbon that meters accrued to their owners.
    Claim {
        /// The meters (their signing-key addresses).
        #[arg(required = true)]
        meters: Vec<Address>,
    },
    /// Runs the metering end to end on a local devnet and prints what was attested and minted.
    Demo {
        /// Where the demo writes its keys, configs and outbox.
        #[arg(long, default_value = "demo-output")]
        out: PathBuf,
    },
    /// Measures gas per reading on a local devnet; prints `gas <operation> <value>` lines.
    BenchGas,
}

/// Participant commands.
#[derive(Debug, Subcommand)]
pub enum ParticipantAction {
    /// Lets an account own meters and trade.
    Register {
        /// The account.
        account: Address,
    },
    /// Stops an account from trading.
    Deactivate {
        /// The account.
        account: Address,
    },
}

/// What a meter is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MeterKind {
    /// Rooftop PV.
    Solar,
    /// Home battery.
    Battery,
    /// Electric vehicle charger.
    Ev,
    /// Medical devices or refrigeration: served first when a feeder is islanded.
    CriticalLoad,
}

impl MeterKind {
    fn flag(self) -> u8 {
        match self {
            Self::Solar => 1,
            Self::Battery => 2,
            Self::Ev => 4,
            Self::CriticalLoad => 8,
        }
    }
}

/// Meter commands.
#[derive(Debug, Subcommand)]
pub enum MeterAction {
    /// Registers a meter by its signing-key address (`meter-signer keygen` prints it).
    Register {
        /// The meter's signing-key address.
        #[arg(long)]
        meter: Address,
        /// The participant who owns it.
        #[arg(long)]
        owner: Address,
        /// The feeder (low-voltage line) it is connected to.
        #[arg(long)]
        feeder: u32,
        /// What is behind the meter (comma separated).
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<MeterKind>,
        /// Connection capacity in W.
        #[arg(long)]
        capacity_w: u32,
    },
    /// Stops accepting a meter's readings.
    Deactivate {
        /// The meter.
        meter: Address,
    },
    /// Prints a meter's registration and state.
    Show {
        /// The meter.
        meter: Address,
    },
}

/// Entry point of the binary.
pub fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    cogrid_chain::init_tracing("warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Demo { out } => return crate::demo::run(&out).await,
        Command::BenchGas => return crate::gas::run().await,
        _ => {}
    }
    let signer = cli.key.signer()?;
    let sender = signer.address();
    let provider = connect(&cli.rpc_url, signer, None).await?;
    if let Command::Deploy {
        interval_seconds,
        acceptance_window,
        carbon_intensity,
    } = cli.command
    {
        let params = SuiteParams {
            interval_seconds,
            acceptance_window,
            carbon_intensity,
        };
        let deployment = deploy_suite(&provider, sender, params).await?;
        let path = cli
            .deployment
            .unwrap_or_else(|| PathBuf::from(format!("deployments/{}.json", deployment.chain_id)));
        deployment
            .save(&path)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        println!("{}", serde_json::to_string_pretty(&deployment)?);
        eprintln!("deployment written to {}", path.display());
        return Ok(());
    }
    let deployment = load_deployment(cli.deployment, &provider).await?;
    let registry = MeterRegistry::new(deployment.meter_registry, provider.clone());
    let receipt = match cli.command {
        Command::Participant {
            action: ParticipantAction::Register { account },
        } => registry.registerParticipant(account).send().await,
        Command::Participant {
            action: ParticipantAction::Deactivate { account },
        } => registry.deactivateParticipant(account).send().await,
        Command::Meter {
            action:
                MeterAction::Register {
                    meter,
                    owner,
                    feeder,
                    kinds,
                    capacity_w,
                },
        } => {
            let flags = kinds.iter().fold(0u8, |flags, kind| flags | kind.flag());
            registry
                .registerMeter(meter, owner, feeder, flags, capacity_w)
                .send()
                .await
        }
        Command::Meter {
            action: MeterAction::Deactivate { meter },
        } => registry.deactivateMeter(meter).send().await,
        Command::Meter {
            action: MeterAction::Show { meter },
        } => {
            let info = registry.meterInfo(meter).call().await?;
            let state = registry.meterState(meter).call().await?;
            println!(
                "meter {meter}\n  owner {}\n  feeder {}\n  kinds {:#06b}\n  capacity {} W\n  status {}\n  seq {}\n  last interval end {}\n  import register {} Wh\n  export register {} Wh\n  unclaimed credits {} Wh\n  unclaimed carbon {} g",
                info.owner,
                info.feeder,
                info.kinds,
                info.capacityW,
                ["unknown", "active", "deactivated"]
                    .get(usize::from(state.status))
                    .unwrap_or(&"?"),
                state.seq,
                state.lastIntervalEnd,
                state.importWh,
                state.exportWh,
                state.unclaimedCreditsWh,
                state.unclaimedCarbonGrams,
            );
            return Ok(());
        }
        Command::Claim { meters } => registry.claim(meters).send().await,
        Command::Deploy { .. } | Command::Demo { .. } | Command::BenchGas => {
            unreachable!("handled above")
        }
    };
    let receipt = receipt.map_err(explain)?.get_receipt().await?;
    eyre::ensure!(
        receipt.status(),
        "transaction {} reverted",
        receipt.transaction_hash
    );
    println!(
        "transaction {} in block {}",
        receipt.transaction_hash,
        receipt.block_number.unwrap_or_default()
    );
    Ok(())
}

async fn load_deployment(
    path: Option<PathBuf>,
    provider: &alloy::providers::DynProvider,
) -> eyre::Result<Deployment> {
    use alloy::providers::Provider;
    let path = match path {
        Some(path) => path,
        None => PathBuf::from(format!(
            "deployments/{}.json",
            provider.get_chain_id().await?
        )),
    };
    Deployment::load(&path).wrap_err("run `cogrid deploy` first or pass --deployment FILE")
}

/// Turns a revert into the contract's named error.
fn explain(error: alloy::contract::Error) -> eyre::Report {
    match error.as_decoded_interface_error::<MeterRegistry::MeterRegistryErrors>() {
        Some(decoded) => eyre!("MeterRegistry refused: {decoded:?}"),
        None => eyre!(error),
    }
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
