//! The `cogrid` command line.

use std::path::PathBuf;

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, ValueEnum, error::ErrorKind};
use cogrid_bindings::EnergyMarket;
use cogrid_chain::{Deployment, SuiteParams, connect, deploy_suite};
use eyre::{WrapErr, eyre};

use crate::{
    carbon,
    error::AmountError,
    explain::explain,
    keys::KeyArgs,
    time::{Moment, parse_moment},
    units::{self, Unit},
    wallet::{self, Request, Session},
};

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
    /// Settles meters' pending volumes that no settlement may trade any more; anyone may run it.
    ///
    /// Those are residual-only volumes, or volumes of a settled or expired interval: export
    /// becomes energy credits and carbon in the owner's vault, import is covered from credits or
    /// recorded as grid supply.
    Finalize {
        /// The meters (their signing-key addresses).
        #[arg(required = true)]
        meters: Vec<Address>,
    },
    /// Moves stablecoin (or energy or carbon credits) from your wallet into your market vault.
    ///
    /// Approves the market for the amount first when its allowance is short. `cogrid deposit
    /// 25.50` deposits 25.50 USD; `cogrid deposit --asset credits 3.2` deposits 3.2 kWh of energy
    /// credits.
    Deposit(DepositArgs),
    /// Moves stablecoin (or energy or carbon credits) from your market vault back to your wallet.
    ///
    /// `cogrid withdraw 10` withdraws 10.00 USD; `cogrid withdraw --asset carbon --all` all
    /// your carbon credits.
    Withdraw(WithdrawArgs),
    /// Your meters' standing limit orders (prices in USD per kWh).
    Order {
        /// What to do with them.
        #[command(subcommand)]
        action: OrderAction,
    },
    /// Wallet and vault balances: stablecoin, energy and carbon credits, and ETH for gas.
    Balance {
        /// The account to show; the sending key's account by default (no key needed when given).
        #[arg(long)]
        account: Option<Address>,
    },
    /// A meter's bill per UTC day, read from the chain's events.
    ///
    /// Energy exported and imported (`ReadingAccepted`); sold and bought, earned and paid,
    /// credited, covered from credits and supplied by the grid, carbon earned (`MeterSettled`).
    /// An interval counts when it lies wholly inside the period, for the UTC day it starts in.
    Bill(BillArgs),
    /// Carbon credits: retire them with a public certificate, or show certificates.
    Carbon {
        /// What to do with them.
        #[command(subcommand)]
        action: CarbonAction,
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

/// What the vault holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Asset {
    /// The stablecoin; amounts in USD (6 decimals), e.g. 25.50.
    #[value(alias = "stablecoin")]
    Usd,
    /// Energy credits; amounts in kWh (3 decimals: 1 Wh), e.g. 3.2.
    #[value(alias = "energy")]
    Credits,
    /// Carbon credits; amounts in whole grams CO2e, e.g. 250.
    Carbon,
}

impl Asset {
    /// The unit amounts of it are typed and shown in.
    pub fn unit(self) -> Unit {
        match self {
            Self::Usd => Unit::Usd,
            Self::Credits => Unit::Kwh,
            Self::Carbon => Unit::Grams,
        }
    }

    /// `IEnergyMarket.Asset` as the ABI carries it.
    pub fn abi(self) -> u8 {
        match self {
            Self::Usd => 0,
            Self::Credits => 1,
            Self::Carbon => 2,
        }
    }

    /// The asset of an `IEnergyMarket.Asset` value.
    pub fn from_abi(value: u8) -> Option<Self> {
        [Self::Usd, Self::Credits, Self::Carbon]
            .get(usize::from(value))
            .copied()
    }

    /// Its position in `[stablecoin, credits, carbon]`.
    pub fn index(self) -> usize {
        usize::from(self.abi())
    }

    /// How people call it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Usd => "stablecoin",
            Self::Credits => "energy credits",
            Self::Carbon => "carbon credits",
        }
    }

    fn flag_value(self) -> &'static str {
        match self {
            Self::Usd => "usd",
            Self::Credits => "credits",
            Self::Carbon => "carbon",
        }
    }
}

/// `deposit` arguments.
#[derive(Debug, Clone, Args)]
pub struct DepositArgs {
    /// How much, in the asset's unit: USD for usd (25.50), kWh for credits (3.2), grams for
    /// carbon (250).
    #[arg(allow_hyphen_values = true)]
    pub amount: String,
    /// What to move.
    #[arg(long, value_enum, default_value_t = Asset::Usd)]
    pub asset: Asset,
}

/// `withdraw` arguments.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("how_much").required(true).args(["amount", "all"])))]
pub struct WithdrawArgs {
    /// How much, in the asset's unit: USD for usd (25.50), kWh for credits (3.2), grams for
    /// carbon (250).
    #[arg(allow_hyphen_values = true)]
    pub amount: Option<String>,
    /// Withdraw everything the vault holds of the asset.
    #[arg(long)]
    pub all: bool,
    /// What to move.
    #[arg(long, value_enum, default_value_t = Asset::Usd)]
    pub asset: Asset,
}

/// Standing order commands. `--meter` may be left out when the sending account owns exactly one
/// meter.
#[derive(Debug, Subcommand)]
pub enum OrderAction {
    /// Places or replaces a meter's standing order (a replaced order loses its time priority).
    Set(OrderSetArgs),
    /// Cancels a meter's standing order.
    Cancel {
        /// The meter (its signing-key address); your only meter by default.
        #[arg(long)]
        meter: Option<Address>,
    },
    /// Prints a meter's standing order.
    Show {
        /// The meter (its signing-key address); your only meter by default (no key needed when
        /// given).
        #[arg(long)]
        meter: Option<Address>,
    },
}

/// `order set` arguments.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("side").required(true).multiple(true).args(["sell_floor", "buy_ceiling"])))]
pub struct OrderSetArgs {
    /// The meter (its signing-key address); your only meter by default.
    #[arg(long)]
    pub meter: Option<Address>,
    /// Sell the meter's export at a clearing price of at least this, USD per kWh (e.g. 0.12).
    #[arg(long, value_name = "USD_PER_KWH", value_parser = price_arg, allow_hyphen_values = true)]
    pub sell_floor: Option<u64>,
    /// Buy the meter's import when the clearing price plus the network fee is at most this, USD
    /// per kWh (e.g. 0.08).
    #[arg(long, value_name = "USD_PER_KWH", value_parser = price_arg, allow_hyphen_values = true)]
    pub buy_ceiling: Option<u64>,
    /// Trade at most this much per interval, kWh (e.g. 2.5); no cap when left out.
    #[arg(long, value_name = "KWH", value_parser = cap_arg, allow_hyphen_values = true)]
    pub cap_kwh: Option<u32>,
    /// Trade only intervals starting at or after this: a date (2025-06-15, its midnight UTC), an
    /// RFC 3339 time or unix seconds; now when left out.
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub valid_from: Option<Moment>,
    /// Trade only intervals ending at or before this: a date (2025-06-30, through its end UTC),
    /// an RFC 3339 time or unix seconds; until cancelled when left out.
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub valid_until: Option<Moment>,
    /// Pay for import the market did not match with energy credits (Wh for Wh) before the grid
    /// supplies it.
    #[arg(long)]
    pub cover_from_credits: bool,
}

/// Carbon credit commands.
#[derive(Debug, Subcommand)]
pub enum CarbonAction {
    /// Retires carbon credits: burns them and records a certificate on chain (id, retiring
    /// account, beneficiary, grams, period, purpose).
    ///
    /// Takes the grams from your wallet, withdrawing what the wallet lacks from your market vault
    /// first. `cogrid carbon retire --grams 2500 --beneficiary "Sunny Lane Primary School"
    /// --purpose "Offset the school's 2026 heating" --from 2026-01-01 --to 2026-03-31`.
    Retire(CarbonRetireArgs),
    /// Prints an account's retired total and certificates, or one certificate, each checked
    /// against the chain's commitment.
    Show {
        /// The account; the sending key's account by default (no key needed when given).
        #[arg(long)]
        account: Option<Address>,
        /// Print only this certificate (no key needed).
        id: Option<u64>,
    },
}

/// `carbon retire` arguments.
#[derive(Debug, Clone, Args)]
pub struct CarbonRetireArgs {
    /// How much, in whole grams CO2e (e.g. 2500).
    #[arg(long, allow_hyphen_values = true)]
    pub grams: String,
    /// Who the retirement is made for (at most 128 bytes); you when left empty.
    #[arg(long, default_value = "")]
    pub beneficiary: String,
    /// Why (at most 256 bytes), e.g. "2026 scope 2 offset".
    #[arg(long)]
    pub purpose: String,
    /// Start of the period the avoided emissions belong to: a date (2026-01-01, its midnight
    /// UTC), an RFC 3339 time or unix seconds; a year before --to when left out.
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub from: Option<Moment>,
    /// End of the period: a date (through its end UTC), an RFC 3339 time or unix seconds; the
    /// chain's time when left out.
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub to: Option<Moment>,
}

/// `bill` arguments.
#[derive(Debug, Clone, Args)]
pub struct BillArgs {
    /// First day (2025-06-01, UTC) or instant (RFC 3339) of the period.
    #[arg(long, value_name = "DATE", value_parser = parse_moment)]
    pub from: Moment,
    /// Last day (2025-06-30, through its end UTC) or end instant (RFC 3339) of the period.
    #[arg(long, value_name = "DATE", value_parser = parse_moment)]
    pub to: Moment,
    /// The meter (its signing-key address); your only meter by default (no key needed when
    /// given).
    #[arg(long)]
    pub meter: Option<Address>,
    /// Prints JSON with exact integers (Wh, stablecoin base units, grams) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A price or fee in USD per kWh, as stablecoin base units per kWh (48 bits on chain).
fn price_arg(text: &str) -> Result<u64, AmountError> {
    let value = units::parse_bounded(text, Unit::UsdPerKwh, true, (1 << 48) - 1)?;
    Ok(u64::try_from(value).expect("bounded to 48 bits"))
}

/// A cap in kWh, as Wh per interval (32 bits on chain; 0 would mean no cap).
fn cap_arg(text: &str) -> Result<u32, String> {
    match units::parse_bounded(text, Unit::Kwh, false, u32::MAX.into()) {
        Ok(wh) => Ok(u32::try_from(wh).expect("bounded to 32 bits")),
        Err(error @ AmountError::Zero { .. }) => {
            Err(format!("{error}; leave --cap-kwh out for no cap"))
        }
        Err(error) => Err(error.to_string()),
    }
}

/// A deposit or withdrawal amount in `asset`'s unit, as base units.
fn amount_arg(text: &str, asset: Asset) -> eyre::Result<u128> {
    units::parse_bounded(text, asset.unit(), false, u128::MAX).map_err(|error| {
        eyre!(
            "invalid value '{text}' for '<AMOUNT>' (--asset {}, in {}): {error}",
            asset.flag_value(),
            asset.unit().name()
        )
    })
}

impl Command {
    /// The subcommand names of a wallet command that checks its arguments itself.
    fn path(&self) -> &'static [&'static str] {
        match self {
            Self::Deposit(_) => &["deposit"],
            Self::Withdraw(_) => &["withdraw"],
            Self::Order {
                action: OrderAction::Set(_),
            } => &["order", "set"],
            Self::Carbon {
                action: CarbonAction::Retire(_),
            } => &["carbon", "retire"],
            _ => &[],
        }
    }

    /// The wallet request of a wallet command, with its amounts checked; `None` for the others.
    fn wallet_request(&self) -> eyre::Result<Option<Request>> {
        Ok(Some(match self {
            Self::Deposit(args) => Request::Deposit {
                asset: args.asset,
                amount: amount_arg(&args.amount, args.asset)?,
            },
            Self::Withdraw(args) => Request::Withdraw {
                asset: args.asset,
                amount: match &args.amount {
                    Some(text) => Some(amount_arg(text, args.asset)?),
                    None => None,
                },
            },
            Self::Order {
                action: OrderAction::Set(args),
            } => Request::OrderSet {
                meter: args.meter,
                params: wallet::order_params(
                    args.sell_floor,
                    args.buy_ceiling,
                    args.cap_kwh,
                    args.valid_from.map(Moment::start),
                    args.valid_until.map(Moment::end),
                    args.cover_from_credits,
                )?,
            },
            Self::Order {
                action: OrderAction::Cancel { meter },
            } => Request::OrderCancel { meter: *meter },
            Self::Order {
                action: OrderAction::Show { meter },
            } => Request::OrderShow { meter: *meter },
            Self::Balance { account } => Request::Balance { account: *account },
            Self::Bill(args) => Request::Bill {
                meter: args.meter,
                from: args.from.start(),
                to: args.to.end(),
                json: args.json,
            },
            Self::Carbon {
                action: CarbonAction::Retire(args),
            } => Request::CarbonRetire {
                grams: units::parse_bounded(&args.grams, Unit::Grams, false, u128::MAX).map_err(
                    |error| eyre!("invalid value '{}' for '--grams': {error}", args.grams),
                )?,
                beneficiary: carbon::text_arg(
                    &args.beneficiary,
                    "beneficiary",
                    carbon::MAX_BENEFICIARY_BYTES,
                )?,
                purpose: carbon::text_arg(&args.purpose, "purpose", carbon::MAX_PURPOSE_BYTES)?,
                from: args.from.map(Moment::start),
                to: args.to.map(Moment::end),
            },
            Self::Carbon {
                action: CarbonAction::Show { account, id },
            } => Request::CarbonShow {
                account: *account,
                id: *id,
            },
            _ => return Ok(None),
        }))
    }
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
    // Amounts, prices and times are checked before anything is sent, or even connected; what is
    // wrong with them is reported like clap's own argument errors.
    let request = cli.command.wallet_request().unwrap_or_else(|error| {
        let mut command = Cli::command();
        command.build();
        let mut target = &mut command;
        for name in cli.command.path() {
            target = target
                .find_subcommand_mut(name)
                .expect("the path names subcommands");
        }
        target.error(ErrorKind::ValueValidation, error).exit()
    });
    cogrid_chain::init_tracing("warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Err(error) = runtime.block_on(run(cli, request)) {
        eprintln!("error: {}", one_line_chain(&error));
        std::process::exit(1);
    }
    Ok(())
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message before
/// already quotes (many errors print their source themselves).
fn one_line_chain(error: &eyre::Report) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    message
}

async fn run(cli: Cli, request: Option<Request>) -> eyre::Result<()> {
    match cli.command {
        Command::Demo { out } => return crate::demo::run(&out).await,
        Command::BenchGas => return crate::gas::run().await,
        _ => {}
    }
    let signer = match &request {
        // A read-only look at a named account or meter needs no key: nothing is signed.
        Some(request) if request.reads_without_key() && !cli.key.is_given() => {
            PrivateKeySigner::random()
        }
        _ => cli.key.signer()?,
    };
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
    if let Some(request) = request {
        let session = Session {
            provider,
            rpc_url: cli.rpc_url,
            deployment,
            sender,
        };
        return wallet::run(request, &session).await;
    }
    let explained = |error: alloy::contract::Error| explain(error, &cli.rpc_url, None);
    let registry = EnergyMarket::new(deployment.market, provider.clone());
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
            let info = registry.meterInfo(meter).call().await.map_err(explained)?;
            let state = registry.meterState(meter).call().await.map_err(explained)?;
            println!(
                "meter {meter}\n  owner {}\n  feeder {}\n  kinds {:#06b}\n  capacity {} W\n  status {}\n  seq {}\n  last interval end {}\n  import register {} Wh\n  export register {} Wh\n  pending import {} Wh\n  pending export {} Wh\n  pending for {}",
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
                state.pendingImportWh,
                state.pendingExportWh,
                ["nothing", "the market", "residual settlement only"]
                    .get(usize::from(state.pending))
                    .unwrap_or(&"?"),
            );
            return Ok(());
        }
        Command::Finalize { meters } => registry.finalize(meters).send().await,
        Command::Deploy { .. }
        | Command::Demo { .. }
        | Command::BenchGas
        | Command::Deposit(_)
        | Command::Withdraw(_)
        | Command::Order { .. }
        | Command::Balance { .. }
        | Command::Bill(_)
        | Command::Carbon { .. } => {
            unreachable!("handled above")
        }
    };
    let receipt = receipt
        .map_err(explained)?
        .get_receipt()
        .await
        .wrap_err_with(|| format!("waiting for the transaction's receipt from {}", cli.rpc_url))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = eyre::Report::new(io)
            .wrap_err("cannot read deployments/1.json: no such file")
            .wrap_err("run `cogrid deploy` first");
        assert_eq!(
            one_line_chain(&error),
            "run `cogrid deploy` first: cannot read deployments/1.json: no such file"
        );
    }
}
