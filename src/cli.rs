//! The `cogrid` command line.

use std::path::PathBuf;

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, ValueEnum, error::ErrorKind};
use cogrid_bindings::EnergyMarket;
use cogrid_chain::{Deployment, SuiteParams, connect, deploy_suite};
use eyre::{WrapErr, eyre};

use crate::{
    admin, carbon,
    error::AmountError,
    explain::explain,
    keys::KeyArgs,
    pool::{Exact, Guard, SharesToBurn, Swap},
    time::{Moment, parse_moment},
    units::{self, Unit},
    vpp,
    wallet::{self, Request, Session},
};
pub use crate::{
    admin::{AdminAction, FeeAction, FeeSetArgs, RegisterMeterArgs, Role, Switch},
    vpp::{VppAction, VppCallArgs},
};

/// cogrid: a neighbourhood energy market on an Ethereum L2.
#[derive(Debug, Parser)]
#[command(name = "cogrid", version)]
pub struct Cli {
    /// JSON-RPC URL of the chain [default: http://127.0.0.1:8545; `simulate` starts its own
    /// anvil unless it is given].
    #[arg(long, global = true, env = "COGRID_RPC_URL")]
    pub rpc_url: Option<String>,
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
        /// The pool's swap fee in basis points of the amount in (at most 1000), fixed for its
        /// life.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(..=1_000))]
        amm_fee_bps: u16,
    },
    /// Co-op administration: participants, meters and roles.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Shows a meter's registration and state.
    Meter {
        /// What to do with it.
        #[command(subcommand)]
        action: MeterAction,
    },
    /// Virtual power plant events: grid operators call and settle them, battery and EV owners
    /// enrol and claim their pay.
    Vpp {
        /// What to do.
        #[command(subcommand)]
        action: VppAction,
    },
    /// Islands a feeder (no grid supply) or brings it back on the grid (grid operator).
    Island {
        /// `on` islands the feeder, `off` ends the island.
        switch: Switch,
        /// The feeder.
        #[arg(long)]
        feeder: u32,
    },
    /// The network fee (grid operator) and the keeper fee (co-op admin).
    Fee {
        /// What to do.
        #[command(subcommand)]
        action: FeeAction,
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
    /// The pool (EnergyAmm) of energy credits against the stablecoin: reserves, spot price, fee,
    /// LP shares, the time-weighted mean price and an account's part.
    Pool {
        /// The account whose shares to show; the sending key's account by default (no key needed
        /// when given).
        #[arg(long)]
        account: Option<Address>,
        /// The window of the time-weighted mean price (TWAP), seconds back from the latest block;
        /// the node must serve the pool's state at its start.
        #[arg(long, value_name = "SECONDS", default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
        twap_seconds: u64,
    },
    /// Swaps energy credits and stablecoin with the pool, vault to vault.
    ///
    /// Deposit first (`cogrid deposit`); what you receive lands in your vault. Give one of
    /// --buy-kwh, --sell-kwh, --spend or --receive, and optionally its limit; without a limit the
    /// pool's quote, widened by --slippage-bps, is the limit. `cogrid swap --buy-kwh 1.5
    /// --max-pay 0.40` buys exactly 1.5 kWh of credits for at most 0.40 USD.
    Swap(SwapArgs),
    /// Adds liquidity to the pool or removes it, from and to your vault.
    Liquidity {
        /// What to do.
        #[command(subcommand)]
        action: LiquidityAction,
    },
    /// Runs a neighbourhood for a day on a local L2 devnet with the daemons' own code (meter
    /// signer, oracle, keeper) and reports bills, carbon, gas and the conservation checks.
    Simulate(crate::simulate::SimulateArgs),
    /// Runs a local stack until Ctrl-C: anvil with the contracts deployed, simulated homes whose
    /// meters post signed readings, the oracle reporters and the keeper, in real time or faster;
    /// prints the RPC URL, the contracts and a funded prosumer's keystore to try commands with.
    Devnet(crate::devnet::DevnetArgs),
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

/// Slippage and deadline of a pool transaction.
#[derive(Debug, Clone, Copy, Args)]
pub struct GuardArgs {
    /// How far the pool's price may move against you before the transaction is mined, in basis
    /// points of the quote (50 = 0.5 %); sets the limits not given explicitly.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(..=10_000))]
    pub slippage_bps: u16,
    /// Seconds after the chain's latest block the transaction may still be mined.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub deadline: u64,
}

impl GuardArgs {
    fn guard(self) -> Guard {
        Guard {
            slippage_bps: self.slippage_bps,
            deadline_seconds: self.deadline,
        }
    }
}

/// `swap` arguments: one trade, exact in or exact out, either way.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("trade").required(true).args(["buy_kwh", "sell_kwh", "spend", "receive"])))]
pub struct SwapArgs {
    /// Buy exactly this many kWh of energy credits with stablecoin (e.g. 1.5).
    #[arg(long, value_name = "KWH", value_parser = credits_arg, allow_hyphen_values = true)]
    pub buy_kwh: Option<u128>,
    /// With --buy-kwh: pay at most this, USD.
    #[arg(long, value_name = "USD", value_parser = stable_arg, requires = "buy_kwh", conflicts_with_all = ["sell_kwh", "spend", "receive"], allow_hyphen_values = true)]
    pub max_pay: Option<u128>,
    /// Sell exactly this many kWh of energy credits for stablecoin (e.g. 0.5).
    #[arg(long, value_name = "KWH", value_parser = credits_arg, allow_hyphen_values = true)]
    pub sell_kwh: Option<u128>,
    /// With --sell-kwh: receive at least this, USD.
    #[arg(long, value_name = "USD", value_parser = stable_limit_arg, requires = "sell_kwh", conflicts_with_all = ["buy_kwh", "spend", "receive"], allow_hyphen_values = true)]
    pub min_receive: Option<u128>,
    /// Spend exactly this much stablecoin, USD, on energy credits (e.g. 0.25).
    #[arg(long, value_name = "USD", value_parser = stable_arg, allow_hyphen_values = true)]
    pub spend: Option<u128>,
    /// With --spend: receive at least this many kWh.
    #[arg(long, value_name = "KWH", value_parser = credits_limit_arg, requires = "spend", conflicts_with_all = ["buy_kwh", "sell_kwh", "receive"], allow_hyphen_values = true)]
    pub min_kwh: Option<u128>,
    /// Receive exactly this much stablecoin, USD, for energy credits (e.g. 0.10).
    #[arg(long, value_name = "USD", value_parser = stable_arg, allow_hyphen_values = true)]
    pub receive: Option<u128>,
    /// With --receive: sell at most this many kWh.
    #[arg(long, value_name = "KWH", value_parser = credits_arg, requires = "receive", conflicts_with_all = ["buy_kwh", "sell_kwh", "spend"], allow_hyphen_values = true)]
    pub max_sell_kwh: Option<u128>,
    /// Slippage and deadline.
    #[command(flatten)]
    pub guard: GuardArgs,
}

impl SwapArgs {
    /// The one trade the arguments describe (clap made sure there is exactly one).
    fn swap(&self) -> Swap {
        let (sold, exact, amount, limit) = match *self {
            Self {
                buy_kwh: Some(wh),
                max_pay,
                ..
            } => (Asset::Usd, Exact::Out, wh, max_pay),
            Self {
                sell_kwh: Some(wh),
                min_receive,
                ..
            } => (Asset::Credits, Exact::In, wh, min_receive),
            Self {
                spend: Some(amount),
                min_kwh,
                ..
            } => (Asset::Usd, Exact::In, amount, min_kwh),
            Self {
                receive: Some(amount),
                max_sell_kwh,
                ..
            } => (Asset::Credits, Exact::Out, amount, max_sell_kwh),
            _ => unreachable!("clap requires one of the trade arguments"),
        };
        Swap {
            sold,
            exact,
            amount,
            limit,
            guard: self.guard.guard(),
        }
    }
}

/// Liquidity commands.
#[derive(Debug, Subcommand)]
pub enum LiquidityAction {
    /// Moves energy credits and stablecoin from your vault into the pool for LP shares.
    ///
    /// The pool takes them at its price: at most the amounts given, the rest stays in your
    /// vault; the first deposit sets the price. `cogrid liquidity add --kwh 10 --amount 2`.
    Add(LiquidityAddArgs),
    /// Burns your LP shares for their part of both reserves, paid into your vault.
    Remove(LiquidityRemoveArgs),
}

/// `liquidity add` arguments.
#[derive(Debug, Clone, Args)]
pub struct LiquidityAddArgs {
    /// Energy credits offered, kWh (e.g. 10).
    #[arg(long, value_name = "KWH", value_parser = credits_arg, allow_hyphen_values = true)]
    pub kwh: u128,
    /// Stablecoin offered, USD (e.g. 2.00).
    #[arg(long, value_name = "USD", value_parser = stable_arg, allow_hyphen_values = true)]
    pub amount: u128,
    /// Slippage and deadline.
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// `liquidity remove` arguments.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("how_much").required(true).args(["shares", "percent"])))]
pub struct LiquidityRemoveArgs {
    /// How many LP shares to burn (`cogrid pool` shows yours).
    #[arg(long, value_parser = shares_arg, allow_hyphen_values = true)]
    pub shares: Option<u128>,
    /// What part of your LP shares to burn, in percent (e.g. 50, or 100 for all).
    #[arg(long, value_parser = percent_arg, allow_hyphen_values = true)]
    pub percent: Option<u16>,
    /// Slippage and deadline.
    #[command(flatten)]
    pub guard: GuardArgs,
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
pub(crate) fn price_arg(text: &str) -> Result<u64, AmountError> {
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

/// Energy credits in kWh, as Wh: more than zero and what a vault stores (56 bits).
fn credits_arg(text: &str) -> Result<u128, AmountError> {
    units::parse_bounded(text, Unit::Kwh, false, (1 << 56) - 1)
}

/// A least amount of energy credits in kWh, as Wh; zero accepts any amount.
fn credits_limit_arg(text: &str) -> Result<u128, AmountError> {
    units::parse_bounded(text, Unit::Kwh, true, (1 << 56) - 1)
}

/// Stablecoin in USD, as base units: more than zero and what a vault stores (96 bits).
pub(crate) fn stable_arg(text: &str) -> Result<u128, AmountError> {
    units::parse_bounded(text, Unit::Usd, false, (1 << 96) - 1)
}

/// A power in kW, as W: more than zero and what the contracts store (32 bits).
pub(crate) fn kw_arg(text: &str) -> Result<u32, AmountError> {
    let watts = units::parse_bounded(text, Unit::Kw, false, u32::MAX.into())?;
    Ok(u32::try_from(watts).expect("bounded to 32 bits"))
}

/// A least amount of stablecoin in USD, as base units; zero accepts any amount.
fn stable_limit_arg(text: &str) -> Result<u128, AmountError> {
    units::parse_bounded(text, Unit::Usd, true, (1 << 96) - 1)
}

/// A count of LP shares, whole base units of the share token.
fn shares_arg(text: &str) -> Result<u128, AmountError> {
    units::parse_bounded(text, Unit::Shares, false, u128::MAX)
}

/// A percentage of one's LP shares, as basis points: above 0 and at most 100.
fn percent_arg(text: &str) -> Result<u16, AmountError> {
    let bps = units::parse_bounded(text, Unit::Percent, false, 10_000)?;
    Ok(u16::try_from(bps).expect("bounded to 10000"))
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
            Self::Pool {
                account,
                twap_seconds,
            } => Request::PoolShow {
                account: *account,
                twap_seconds: *twap_seconds,
            },
            Self::Swap(args) => Request::Swap(args.swap()),
            Self::Liquidity {
                action: LiquidityAction::Add(args),
            } => Request::LiquidityAdd {
                wh: args.kwh,
                amount: args.amount,
                guard: args.guard.guard(),
            },
            Self::Liquidity {
                action: LiquidityAction::Remove(args),
            } => Request::LiquidityRemove {
                shares: match (args.shares, args.percent) {
                    (Some(shares), _) => SharesToBurn::Count(shares),
                    (None, Some(bps)) => SharesToBurn::Percent(bps),
                    (None, None) => unreachable!("clap requires --shares or --percent"),
                },
                guard: args.guard.guard(),
            },
            _ => return Ok(None),
        }))
    }
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
    /// The kind's bit in the registry's meter kinds.
    pub(crate) fn flag(self) -> u8 {
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
        Command::Simulate(args) => {
            let external = match &cli.rpc_url {
                Some(url) => Some(crate::simulate::External {
                    rpc_url: url.clone(),
                    admin: cli.key.signer()?,
                    deployment: cli.deployment.clone(),
                }),
                None => None,
            };
            return crate::simulate::run(args, external).await;
        }
        Command::Devnet(args) => return crate::devnet::run(args).await,
        Command::BenchGas => return crate::gas::run().await,
        _ => {}
    }
    // A read-only look at a named account, meter, event or the fees needs no key: nothing is
    // signed.
    let reads_only = match &request {
        Some(request) => request.reads_without_key(),
        None => matches!(
            cli.command,
            Command::Meter { .. }
                | Command::Vpp {
                    action: VppAction::Status { .. } | VppAction::OpenadrExport { .. }
                }
                | Command::Fee {
                    action: FeeAction::Show
                }
        ),
    };
    let signer = if reads_only && !cli.key.is_given() {
        PrivateKeySigner::random()
    } else {
        cli.key.signer()?
    };
    let sender = signer.address();
    let rpc_url = cli
        .rpc_url
        .clone()
        .unwrap_or_else(|| DEFAULT_RPC_URL.to_owned());
    let provider = connect(&rpc_url, signer, None).await?;
    if let Command::Deploy {
        interval_seconds,
        acceptance_window,
        carbon_intensity,
        amm_fee_bps,
    } = cli.command
    {
        let params = SuiteParams {
            interval_seconds,
            acceptance_window,
            carbon_intensity,
            amm_fee_bps,
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
    let session = Session {
        provider: provider.clone(),
        rpc_url: rpc_url.clone(),
        deployment,
        sender,
    };
    if let Some(request) = request {
        return wallet::run(request, &session).await;
    }
    match cli.command {
        Command::Admin { action } => return admin::run(action, &session).await,
        Command::Vpp { action } => return vpp::run(action, &session).await,
        Command::Island { switch, feeder } => return session.island(feeder, switch).await,
        Command::Fee {
            action: FeeAction::Set(args),
        } => return session.set_fees(&args).await,
        Command::Fee {
            action: FeeAction::Show,
        } => return session.show_fees().await,
        _ => {}
    }
    let explained = |error: alloy::contract::Error| explain(error, &rpc_url, None);
    let registry = EnergyMarket::new(deployment.market, provider.clone());
    let receipt = match cli.command {
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
        | Command::Admin { .. }
        | Command::Vpp { .. }
        | Command::Island { .. }
        | Command::Fee { .. }
        | Command::Demo { .. }
        | Command::Simulate(_)
        | Command::Devnet(_)
        | Command::BenchGas
        | Command::Deposit(_)
        | Command::Withdraw(_)
        | Command::Order { .. }
        | Command::Balance { .. }
        | Command::Bill(_)
        | Command::Carbon { .. }
        | Command::Pool { .. }
        | Command::Swap(_)
        | Command::Liquidity { .. } => {
            unreachable!("handled above")
        }
    };
    let receipt = receipt
        .map_err(explained)?
        .get_receipt()
        .await
        .wrap_err_with(|| format!("waiting for the transaction's receipt from {rpc_url}"))?;
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

/// The node the commands talk to when `--rpc-url` (or `$COGRID_RPC_URL`) is not given.
const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

pub(crate) async fn load_deployment(
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

    /// The request `cogrid ARGS` makes, or clap's message refusing it.
    fn parse(args: &[&str]) -> Result<Option<Request>, String> {
        let cli = Cli::try_parse_from(std::iter::once("cogrid").chain(args.iter().copied()))
            .map_err(|error| error.to_string())?;
        cli.command
            .wallet_request()
            .map_err(|error| error.to_string())
    }

    fn swap(args: &[&str]) -> Swap {
        match parse(args) {
            Ok(Some(Request::Swap(swap))) => swap,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn swaps_cover_exact_in_and_exact_out_both_ways() {
        let guard = Guard {
            slippage_bps: 50,
            deadline_seconds: 300,
        };
        assert_eq!(
            swap(&["swap", "--buy-kwh", "1.5", "--max-pay", "0.40"]),
            Swap {
                sold: Asset::Usd,
                exact: Exact::Out,
                amount: 1_500,
                limit: Some(400_000),
                guard,
            }
        );
        assert_eq!(
            swap(&["swap", "--sell-kwh", "0.5"]),
            Swap {
                sold: Asset::Credits,
                exact: Exact::In,
                amount: 500,
                limit: None,
                guard,
            }
        );
        assert_eq!(
            swap(&["swap", "--spend", "0.25", "--min-kwh", "0"]),
            Swap {
                sold: Asset::Usd,
                exact: Exact::In,
                amount: 250_000,
                limit: Some(0),
                guard,
            }
        );
        let receive = swap(&[
            "swap",
            "--receive",
            "0.10",
            "--max-sell-kwh",
            "1",
            "--slippage-bps",
            "0",
            "--deadline",
            "60",
        ]);
        assert_eq!(
            receive,
            Swap {
                sold: Asset::Credits,
                exact: Exact::Out,
                amount: 100_000,
                limit: Some(1_000),
                guard: Guard {
                    slippage_bps: 0,
                    deadline_seconds: 60,
                },
            }
        );
    }

    #[test]
    fn bad_pool_arguments_are_refused_with_the_reason() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["swap", "--buy-kwh", "0"],
                "invalid value '0' for '--buy-kwh <KWH>': the amount must be more than zero",
            ),
            (
                &["swap", "--sell-kwh", "-1"],
                "invalid value '-1' for '--sell-kwh <KWH>': negative amounts are not allowed",
            ),
            (
                &["swap", "--sell-kwh", "0.0001"],
                "kWh takes at most 3 decimals (got 4)",
            ),
            (
                &["swap", "--spend", "0.0000001"],
                "USD takes at most 6 decimals (got 7)",
            ),
            (
                &["swap", "--buy-kwh", "72057594037927.936"],
                "above the most allowed here, 72057594037927.935 kWh",
            ),
            (
                &["swap"],
                "--buy-kwh <KWH>|--sell-kwh <KWH>|--spend <USD>|--receive <USD>",
            ),
            (
                &["swap", "--buy-kwh", "1", "--sell-kwh", "1"],
                "cannot be used with",
            ),
            (
                &["swap", "--sell-kwh", "1", "--max-pay", "1"],
                "'--sell-kwh <KWH>' cannot be used with '--max-pay <USD>'",
            ),
            (
                &["swap", "--buy-kwh", "1", "--slippage-bps", "10001"],
                "10001 is not in 0..=10000",
            ),
            (
                &["swap", "--buy-kwh", "1", "--deadline", "0"],
                "0 is not in 1..=86400",
            ),
            (
                &["liquidity", "add", "--kwh", "10", "--amount", "0"],
                "the amount must be more than zero",
            ),
            (
                &["liquidity", "add", "--kwh", "1,5", "--amount", "2"],
                "use a dot as the decimal separator",
            ),
            (
                &["liquidity", "remove"],
                "--shares <SHARES>|--percent <PERCENT>",
            ),
            (
                &["liquidity", "remove", "--percent", "150"],
                "above the most allowed here, 100 percent",
            ),
            (
                &["liquidity", "remove", "--percent", "0"],
                "the amount must be more than zero, e.g. 50",
            ),
            (
                &["liquidity", "remove", "--percent", "12.345"],
                "percent takes at most 2 decimals (got 3)",
            ),
            (
                &["liquidity", "remove", "--shares", "1.5"],
                "shares take whole numbers only (got 1 decimal)",
            ),
            (
                &["deploy", "--amm-fee-bps", "1001"],
                "1001 is not in 0..=1000",
            ),
        ];
        for (args, expected) in cases {
            let error = parse(args).unwrap_err();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }

    #[test]
    fn liquidity_is_removed_by_count_or_by_percent() {
        match parse(&["liquidity", "remove", "--percent", "12.5"]) {
            Ok(Some(Request::LiquidityRemove { shares, .. })) => {
                assert_eq!(shares, SharesToBurn::Percent(1_250));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["liquidity", "remove", "--shares", "70210"]) {
            Ok(Some(Request::LiquidityRemove { shares, .. })) => {
                assert_eq!(shares, SharesToBurn::Count(70_210));
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "pool",
            "--account",
            "0x0000000000000000000000000000000000000001",
        ]) {
            Ok(Some(request @ Request::PoolShow { .. })) => assert!(request.reads_without_key()),
            other => panic!("{other:?}"),
        }
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
