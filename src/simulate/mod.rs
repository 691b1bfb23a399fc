//! `cogrid simulate`: a neighbourhood lives through a day on a local L2 devnet, and the real
//! daemons' code does the work: the meter signer's pipeline signs every home's reading into its
//! SQLite outbox and its delivery posts the batches, the keeper clears and settles each interval,
//! and the chain's clock is moved instead of waited for.
//!
//! This module is the orchestration; what the homes do is `cogrid_sim::homes`, what the report
//! says is `cogrid_sim::report`.

pub(crate) mod oracle;
pub(crate) mod vpp;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::sol_types::SolCall as _;
use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::{EnergyMarket, IEnergyMarket::OrderParams, MockStablecoin};
use cogrid_chain::{Deployment, KeyConfig, create_keystore};
use cogrid_keeper::{
    config::{
        ChainConfig as KeeperChain, Config as KeeperConfig, Database, DatabaseConfig, HttpConfig,
        SettlementConfig,
    },
    daemon::Keeper,
    http::ClearingReport,
};
use cogrid_meter_signer::{
    config::DeliveryConfig,
    delivery::{ChainExpectations, Delivery, to_contract_reading},
    metrics::Metrics as SignerMetrics,
    outbox::Outbox,
    pipeline::Pipeline,
    sampler::Sample,
};
use eyre::{WrapErr, bail, eyre};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The simulation's throwaway keystores' password lives in this variable for the run.
pub(crate) const PASSWORD_ENV: &str = "COGRID_SIMULATE_PASSWORD";
/// Gas each setup transaction (a registration, a mint, an approval, a deposit, an order; none
/// over 150,000) is sent with.
const SETUP_GAS: u64 = 300_000;
/// Blocks the setup may take to mine its transactions: 5,000 homes' 30,000 fit in a few
/// hundred; a transaction still waiting after this many never will be mined.
const MAX_SETUP_BLOCKS: usize = 1_000;
/// Readings per `submitReadings` transaction.
const READINGS_PER_BATCH: usize = 250;
/// How many keeper rounds an interval may take before the simulation gives up on it.
const MAX_ROUNDS_PER_INTERVAL: usize = 50;

/// A home as the chain knows it.
#[derive(Debug, Clone)]
pub(crate) struct OnChainHome {
    /// The owner's key: it deposits, places the order, enrols in VPP events.
    pub(crate) owner: PrivateKeySigner,
    /// The meter's key: it signs the readings.
    pub(crate) meter: PrivateKeySigner,
    /// The feeder.
    pub(crate) feeder: u32,
    /// `MeterKinds` flags.
    pub(crate) kinds: u8,
    /// Connection capacity, W.
    pub(crate) capacity_w: u32,
    /// Stablecoin deposited into its vault, base units.
    pub(crate) deposit: u64,
    /// Its standing order.
    pub(crate) order: OrderParams,
}

/// The devnet's admin side: the contracts and a provider signing as the co-op admin.
pub(crate) struct Chain {
    pub(crate) admin: DynProvider,
    pub(crate) admin_key: PrivateKeySigner,
    pub(crate) rpc_url: String,
    pub(crate) deployment: Deployment,
    /// Whether this run started the node (and may switch its mining mode).
    pub(crate) owns_node: bool,
}

impl Chain {
    /// A provider signing as `key` that keeps its own nonce: it sends one transaction after
    /// another without waiting for each to be mined.
    pub(crate) fn pipelined(&self, key: &PrivateKeySigner) -> eyre::Result<DynProvider> {
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_cached_nonce_management()
            .fetch_chain_id()
            .wallet(EthereumWallet::from(key.clone()))
            .connect_http(self.rpc_url.parse().wrap_err("the devnet's RPC URL")?)
            .erased();
        cogrid_chain::poll_quickly_when_local(&provider);
        Ok(provider)
    }

    /// Gives `accounts` ETH for gas without a transaction (`anvil_setBalance`).
    async fn fund_gas(&self, accounts: &[Address]) -> eyre::Result<()> {
        for account in accounts {
            self.admin
                .raw_request::<_, serde_json::Value>(
                    "anvil_setBalance".into(),
                    (account, U256::from(10u128.pow(20))),
                )
                .await
                .wrap_err("anvil_setBalance: the simulation needs an anvil devnet")?;
        }
        Ok(())
    }

    /// Registers every home and funds and orders for it: the admin's registrations and mints go
    /// out back to back, then each owner's approval, deposit and order; every receipt is checked
    /// at the end. Each is sent with [`SETUP_GAS`] instead of an estimate (a node estimates by
    /// executing the call over and over), and on a node this run started they are mined a block
    /// full at a time rather than a block each: a block's cost (its state root over every
    /// account) is most of a small transaction's on anvil.
    pub(crate) async fn register(&self, homes: &[OnChainHome]) -> eyre::Result<()> {
        let owners: Vec<Address> = homes.iter().map(|home| home.owner.address()).collect();
        self.fund_gas(&owners).await?;
        if self.owns_node {
            self.set_automine(false).await?;
        }
        let sent = self.send_registrations(homes).await;
        if self.owns_node {
            self.set_automine(true).await?;
        }
        for sent in sent? {
            let receipt = sent.get_receipt().await?;
            if !receipt.status() {
                bail!(
                    "setting up the homes: transaction {} reverted",
                    receipt.transaction_hash
                );
            }
        }
        Ok(())
    }

    async fn send_registrations(
        &self,
        homes: &[OnChainHome],
    ) -> eyre::Result<Vec<alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>>>
    {
        let admin = self.pipelined(&self.admin_key)?;
        let market = EnergyMarket::new(self.deployment.market, admin.clone());
        let coin = MockStablecoin::new(self.deployment.stablecoin, admin);
        let mut pending = Vec::new();
        for home in homes {
            let owner = home.owner.address();
            pending.push(
                market
                    .registerParticipant(owner)
                    .gas(SETUP_GAS)
                    .send()
                    .await?,
            );
            pending.push(
                market
                    .registerMeter(
                        home.meter.address(),
                        owner,
                        home.feeder,
                        home.kinds,
                        home.capacity_w,
                    )
                    .gas(SETUP_GAS)
                    .send()
                    .await?,
            );
            pending.push(
                coin.mint(owner, U256::from(home.deposit))
                    .gas(SETUP_GAS)
                    .send()
                    .await?,
            );
        }
        // The owners' transactions need the admin's mined first.
        self.mine_pool().await?;
        for home in homes {
            let provider = self.pipelined(&home.owner)?;
            let coin = MockStablecoin::new(self.deployment.stablecoin, provider.clone());
            let market = EnergyMarket::new(self.deployment.market, provider);
            let amount = U256::from(home.deposit);
            pending.push(
                coin.approve(self.deployment.market, amount)
                    .gas(SETUP_GAS)
                    .send()
                    .await?,
            );
            pending.push(market.deposit(0, amount).gas(SETUP_GAS).send().await?);
            pending.push(
                market
                    .placeOrder(home.meter.address(), home.order.clone())
                    .gas(SETUP_GAS)
                    .send()
                    .await?,
            );
        }
        self.mine_pool().await?;
        Ok(pending)
    }

    /// Turns anvil's mining of a block per transaction on or off.
    async fn set_automine(&self, on: bool) -> eyre::Result<()> {
        self.admin
            .raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (on,))
            .await
            .wrap_err("evm_setAutomine")?;
        Ok(())
    }

    /// Mines blocks until the node's pool is empty (nothing to do while it mines a block per
    /// transaction).
    async fn mine_pool(&self) -> eyre::Result<()> {
        #[derive(Debug, serde::Deserialize)]
        struct PoolStatus {
            pending: alloy::primitives::U64,
        }
        if !self.owns_node {
            return Ok(());
        }
        let mut pending = 0;
        for _ in 0..MAX_SETUP_BLOCKS {
            let status: PoolStatus = self
                .admin
                .raw_request("txpool_status".into(), ())
                .await
                .wrap_err("txpool_status")?;
            if status.pending.is_zero() {
                return Ok(());
            }
            pending = status.pending.to::<u64>();
            self.admin
                .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
                .await
                .wrap_err("evm_mine")?;
        }
        bail!(
            "setting up the homes: {pending} transactions still wait in the node's pool after \
             {MAX_SETUP_BLOCKS} blocks"
        )
    }
}

/// The meter signer's code for every home: one pipeline signing into one outbox, one delivery
/// posting its batches, as a gateway serving several meters runs them.
pub(crate) struct Signers {
    pipeline: Pipeline,
    delivery: Delivery,
    metrics: Arc<SignerMetrics>,
    /// The readings signed, and the calldata of the batches that carried them.
    readings: u64,
    calldata: cogrid_sim::outcome::CalldataSize,
}

/// What posting one boundary's readings took.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Posted {
    pub(crate) signing: Duration,
    pub(crate) posting: Duration,
}

impl Signers {
    /// Opens the outbox at `outbox` and serves `meters` through a delivery sending as
    /// `relayer`.
    pub(crate) async fn start(
        chain: &Chain,
        outbox: &Path,
        relayer: &PrivateKeySigner,
        meters: &[PrivateKeySigner],
        interval_seconds: u64,
    ) -> eyre::Result<Self> {
        let outbox = Outbox::open(outbox).await?;
        let metrics = Arc::new(SignerMetrics::default());
        let domain =
            cogrid_chain::reading_domain(chain.deployment.chain_id, chain.deployment.market);
        let mut pipeline = Pipeline::new(
            outbox.clone(),
            domain,
            metrics.clone(),
            Arc::new(Notify::new()),
        );
        for meter in meters {
            pipeline.add_meter(meter.clone(), interval_seconds, None);
        }
        let delivery = Delivery::new(
            chain.pipelined(relayer)?,
            chain.deployment.market,
            outbox,
            DeliveryConfig {
                batch_size: READINGS_PER_BATCH,
                ..DeliveryConfig::default()
            },
            0,
            metrics.clone(),
            ChainExpectations {
                rpc_url: chain.rpc_url.clone(),
                chain_id: chain.deployment.chain_id,
                interval_seconds,
                meters: meters.iter().map(PrivateKeySigner::address).collect(),
            },
        );
        delivery.sync().await?;
        Ok(Self {
            pipeline,
            delivery,
            metrics,
            readings: 0,
            calldata: cogrid_sim::outcome::CalldataSize::default(),
        })
    }

    /// Signs each meter's registers at `boundary` into the outbox and posts the outbox until it
    /// is empty.
    pub(crate) async fn post(
        &mut self,
        boundary: u64,
        registers: &[(Address, (u64, u64))],
    ) -> eyre::Result<Posted> {
        let started = Instant::now();
        let mut posted = Posted::default();
        let samples: Vec<(Address, Sample)> = registers
            .iter()
            .map(|&(meter, (import_wh, export_wh))| {
                let sample = Sample {
                    at: boundary,
                    import_wh,
                    export_wh,
                };
                (meter, sample)
            })
            .collect();
        let signed: Vec<_> = self
            .pipeline
            .accept_all(&samples)
            .await?
            .iter()
            .map(to_contract_reading)
            .collect();
        posted.signing = started.elapsed();
        // The delivery sends the outbox in batches of this size, in this order.
        self.readings += signed.len() as u64;
        for batch in signed.chunks(READINGS_PER_BATCH) {
            let call = EnergyMarket::submitReadingsCall {
                readings: batch.to_vec(),
            };
            self.calldata.add(&call.abi_encode());
        }
        let started = Instant::now();
        loop {
            let progress = self.delivery.pass().await?;
            if progress.delivered == 0 && progress.requeued == 0 {
                break;
            }
        }
        posted.posting = started.elapsed();
        Ok(posted)
    }

    /// Gas the delivery's transactions used.
    pub(crate) fn gas_used(&self) -> u64 {
        self.metrics
            .gas_used
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Creates the keeper's key in a keystore under `dir`, grants it `KEEPER_ROLE` and gas, and
/// starts the keeper's code with its SQLite index there.
pub(crate) async fn start_keeper(
    chain: &Chain,
    dir: &Path,
    databases: &Path,
    cancel: CancellationToken,
) -> eyre::Result<(Keeper, Address)> {
    let keystore = dir.join("keeper.json");
    let key = create_keystore(&keystore, &password()?)?;
    chain.fund_gas(&[key.address()]).await?;
    let market = EnergyMarket::new(chain.deployment.market, chain.admin.clone());
    let role = market.KEEPER_ROLE().call().await?;
    let granted = market
        .grantRole(role, key.address())
        .send()
        .await?
        .get_receipt()
        .await?;
    eyre::ensure!(granted.status(), "granting KEEPER_ROLE reverted");
    let deployment = dir.join("deployment.json");
    chain.deployment.save(&deployment)?;
    let keeper = Keeper::start(
        KeeperConfig {
            chain: KeeperChain {
                rpc_url: chain.rpc_url.parse()?,
                chain_id: chain.deployment.chain_id,
                deployment,
                confirmations: 0,
                poll_interval: Duration::from_millis(100),
            },
            keeper: KeyConfig {
                keystore,
                password_env: PASSWORD_ENV.into(),
            },
            database: DatabaseConfig {
                url: Database::Sqlite(databases.join("keeper.sqlite")),
            },
            http: HttpConfig {
                listen: "127.0.0.1:0".parse()?,
            },
            settlement: SettlementConfig {
                // The simulation posts every reading before it asks the keeper: nothing is late.
                readings_grace: Duration::ZERO,
                ..SettlementConfig::default()
            },
        },
        cancel,
    )
    .await?;
    Ok((keeper, key.address()))
}

/// Works the keeper until interval `t` is settled and returns its clearing.
pub(crate) async fn settle(keeper: &mut Keeper, t: u64) -> eyre::Result<ClearingReport> {
    for _ in 0..MAX_ROUNDS_PER_INTERVAL {
        keeper.round().await?;
        if let Some(report) = keeper.clearing(t) {
            return Ok(report);
        }
    }
    Err(eyre!(
        "the keeper did not settle interval {t} in {MAX_ROUNDS_PER_INTERVAL} rounds"
    ))
}

/// Where the simulation writes its keys, index and outbox.
pub(crate) fn work_dir(out: &Path) -> PathBuf {
    out.join("work")
}

/// Removes the run's memory-backed databases when the run ends, however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.starts_with("/dev/shm") {
            // Nothing to report if it is gone already.
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Where the outbox and the keeper's index live: memory-backed storage (`/dev/shm`) when the
/// machine has it. Both are throwaway here, and a disk's fsync per signed reading (the outbox's
/// promise to a real gateway) would otherwise dominate a run of tens of thousands of readings.
fn database_dir(work: &Path) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.join(format!("cogrid-simulate-{}", std::process::id()))
    } else {
        work.to_owned()
    }
}

/// The throwaway keystores' password, from [`PASSWORD_ENV`].
fn password() -> eyre::Result<String> {
    std::env::var(PASSWORD_ENV).wrap_err_with(|| format!("{PASSWORD_ENV} is not set"))
}

/// `cogrid simulate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Homes in the neighbourhood.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=5_000))]
    pub homes: u64,
    /// Hours simulated from the day's midnight (UTC).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=24))]
    pub hours: u64,
    /// Trading interval, seconds; an hour must hold whole intervals.
    #[arg(long, default_value_t = 900, value_parser = interval_arg)]
    pub interval: u64,
    /// Seed of the home mix and its draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The bundled day of weather, spot prices and carbon intensity replayed.
    #[arg(long, default_value = "sunny-spring")]
    pub day: String,
    /// Where the report, the chart and the run's keys, outbox and index go.
    #[arg(long, default_value = "simulate-output")]
    pub out: PathBuf,
}

/// An interval length that divides an hour.
fn interval_arg(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(seconds) if seconds >= 60 && 3_600 % seconds == 0 => Ok(seconds),
        _ => Err(format!(
            "`{text}` is not an interval that divides an hour: give seconds such as 300, 900 \
             or 3600"
        )),
    }
}

/// Meters per feeder: a low-voltage feeder serves a street of some dozens of homes.
const HOMES_PER_FEEDER: u64 = 50;
/// What each home deposits in its vault before the day, base units (50 USD).
const DEPOSIT: u64 = 50_000_000;
/// Every meter's registered connection capacity, W.
const CAPACITY_W: u32 = 11_000;
/// `MeterKinds` flags.
const SOLAR: u8 = 1;
const BATTERY: u8 = 2;
const EV: u8 = 4;
const CRITICAL_LOAD: u8 = 8;

/// Runs the simulation and writes its report under `args.out`; fails when a conservation check
/// does.
pub(crate) async fn run(args: SimulateArgs, external: Option<External>) -> eyre::Result<()> {
    let wall = Instant::now();
    let day = cogrid_sim::day::Day::bundled(&args.day)?;
    let tariffs = cogrid_sim::Tariffs::default();
    let len = args.interval;
    let intervals = args.hours * 3_600 / len;
    let work = work_dir(&args.out);
    if work.exists() {
        std::fs::remove_dir_all(&work).wrap_err_with(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).wrap_err_with(|| format!("creating {}", work.display()))?;
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var(PASSWORD_ENV, "simulate") };

    eprintln!(
        "cogrid simulate: {} homes, {} h of `{}` in {len}-second intervals, seed {}",
        args.homes, args.hours, args.day, args.seed
    );
    // Its own anvil starts an hour before the day, so that the setup happens before its first
    // interval and the baseline readings are taken at its midnight; on a node given by
    // `--rpc-url` the day is laid on the next midnight (the bundled day repeats by time of day).
    let (_devnet, chain, start) = match external {
        None => {
            let start = day.start();
            let genesis = (start - 3_600).to_string();
            let devnet = cogrid_chain::Devnet::start_with_args(&["--timestamp", &genesis])?;
            let params = cogrid_chain::SuiteParams {
                interval_seconds: u32::try_from(len)?,
                ..cogrid_chain::SuiteParams::default()
            };
            let deployment =
                cogrid_chain::deploy_suite(&devnet.admin, devnet.admin_key.address(), params)
                    .await?;
            let chain = Chain::on_devnet(&devnet, deployment)?;
            (Some(devnet), chain, start)
        }
        Some(external) => {
            let chain = Chain::connect(external, len).await?;
            let now = chain.now().await?;
            (None, chain, (now + 3_600).div_ceil(86_400) * 86_400)
        }
    };
    chain.set_network_fee(tariffs.network_fee_per_kwh).await?;

    let (shapes, specs) = draw_homes(args.homes, args.seed, &tariffs)?;
    let on_chain: Vec<OnChainHome> = specs.iter().map(OnChainHome::from_spec).collect();
    chain
        .register(&on_chain)
        .await
        .wrap_err("registering the homes")?;
    let mut homes: Vec<cogrid_sim::homes::Home> = specs
        .into_iter()
        .map(|spec| cogrid_sim::homes::Home::new(spec, &shapes, day.ausgrid_day()))
        .collect();
    let meters: Vec<PrivateKeySigner> = on_chain.iter().map(|home| home.meter.clone()).collect();
    let relayer = PrivateKeySigner::random();
    chain.fund_gas(&[relayer.address()]).await?;
    let databases = database_dir(&work);
    std::fs::create_dir_all(&databases)
        .wrap_err_with(|| format!("creating {}", databases.display()))?;
    let _scratch = Scratch(databases.clone());
    let mut signers = Signers::start(&chain, &databases.join("outbox.db"), &relayer, &meters, len)
        .await
        .wrap_err("starting the meter signer")?;
    let cancel = CancellationToken::new();
    let (mut keeper, keeper_account) = start_keeper(&chain, &work, &databases, cancel.clone())
        .await
        .wrap_err("starting the keeper")?;
    // The oracle's sources answer at the simulated time, the end of the interval being settled.
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(start));
    let mut oracles = oracle::Oracles::start(&chain, &work, Arc::new(day.clone()), clock.clone())
        .await
        .wrap_err("starting the oracle reporters")?;

    // The baseline readings at the day's midnight: every register at zero.
    chain.advance_to(start).await?;
    let registers = |homes: &[cogrid_sim::homes::Home]| -> Vec<(Address, (u64, u64))> {
        meters
            .iter()
            .zip(homes)
            .map(|(meter, home)| (meter.address(), home.registers()))
            .collect()
    };
    signers.post(start, &registers(&homes)).await?;
    let mut timings = cogrid_sim::Timings {
        setup: wall.elapsed(),
        ..cogrid_sim::Timings::default()
    };
    timings.other += oracles.hourly(&chain).await;
    let called = Instant::now();
    let vpp_call = match vpp::evening_peak(&day, start, args.hours) {
        Some(window) => Some(vpp::Call::open(&chain, &homes, &on_chain, window, start).await?),
        None => None,
    };
    timings.other += called.elapsed();

    let mut outcomes = Vec::new();
    let mut settlement_txs: Vec<String> = Vec::new();
    for index in 0..intervals {
        let from = start + index * len;
        let conditions = day.conditions(from, len);
        let (mut imported_wh, mut exported_wh) = (0, 0);
        for (home_index, home) in homes.iter_mut().enumerate() {
            let dispatch_w = vpp_call
                .as_ref()
                .and_then(|call| call.dispatch_w(home_index, from));
            let flow = home.step(&conditions, dispatch_w);
            imported_wh += flow.import_wh;
            exported_wh += flow.export_wh;
        }
        let end = from + len;
        clock.store(end, std::sync::atomic::Ordering::Relaxed);
        chain.advance_to(end).await?;
        if (index + 1) % (3_600 / len) == 0 {
            timings.other += oracles.hourly(&chain).await;
        }
        let posted = signers.post(end, &registers(&homes)).await?;
        timings.signing += posted.signing;
        timings.posting += posted.posting;
        let settled = Instant::now();
        let report = settle(&mut keeper, from / len).await?;
        // The keeper's round is the settlement; the clearing inside it is told apart.
        let clearing = Duration::from_micros(report.clearing_micros);
        timings.clearing += clearing;
        timings.settlement += settled.elapsed().saturating_sub(clearing);
        settlement_txs.extend(report.transactions.iter().cloned());
        let price = (report.traded_wh > 0).then_some(report.price);
        eprint!(
            "\rinterval {:>3}/{intervals} {} price {:>9} traded {:>9} kWh",
            index + 1,
            crate::time::rfc3339(from),
            price.map_or("-".to_owned(), |price| {
                crate::units::show(u128::from(price), crate::units::Unit::UsdPerKwh)
            }),
            crate::units::format(u128::from(report.traded_wh), crate::units::Unit::Kwh),
        );
        outcomes.push(cogrid_sim::IntervalOutcome {
            t: from / len,
            clearing_price: price,
            traded_wh: report.traded_wh,
            grid_import_wh: imported_wh.saturating_sub(report.traded_wh),
            exported_wh,
            imported_wh,
            spot_price_per_mwh: conditions.spot_price_per_mwh,
            carbon_intensity: conditions.carbon_intensity,
            fills: u32::try_from(report.fills.len())?,
        });
    }
    eprintln!();
    let released = Instant::now();
    let owners: Vec<Address> = on_chain.iter().map(|home| home.owner.address()).collect();
    let carbon_released_grams = oracles.release_held_carbon(&chain, &owners).await?;
    let oracle = oracles.stop().await;
    timings.other += released.elapsed();
    // The keeper settles the VPP event once its settlement opens and closes it after the proof
    // window: the clock moves there.
    let vpp_result = match &vpp_call {
        Some(call) => {
            let finished = Instant::now();
            let (settle_at, close_at) = call.due(&chain).await?;
            for at in [settle_at, close_at] {
                chain.advance_to(at).await?;
                keeper.round().await?;
            }
            let result = call.outcome(&chain, &on_chain).await?;
            timings.other += finished.elapsed();
            Some(result)
        }
        None => None,
    };
    let keeper_metrics = keeper.metrics();
    cancel.cancel();
    keeper.stop().await;

    let mut gas = cogrid_sim::GasFigures {
        readings_gas: signers.gas_used(),
        readings: signers.readings,
        readings_calldata: signers.calldata,
        settlements: settlement_txs.len() as u64,
        fills: keeper_metrics
            .fills_settled
            .load(std::sync::atomic::Ordering::Relaxed),
        ..cogrid_sim::GasFigures::default()
    };
    for hash in &settlement_txs {
        let hash: alloy::primitives::B256 = hash.parse()?;
        if let Some(receipt) = chain.admin.get_transaction_receipt(hash).await? {
            gas.settlement_gas += receipt.gas_used;
        }
        if let Some(transaction) = chain.admin.get_transaction_by_hash(hash).await? {
            use alloy::consensus::Transaction as _;
            gas.settlement_calldata.add(transaction.input());
        }
    }
    let records = settlement_records(&chain).await?;
    let vpp_owed: std::collections::HashMap<Address, u64> = vpp_result
        .as_ref()
        .map(|(_, owed)| owed.iter().copied().collect())
        .unwrap_or_default();
    let home_outcomes: Vec<cogrid_sim::HomeOutcome> = homes
        .iter()
        .zip(&on_chain)
        .map(|(home, on_chain)| {
            let vpp_paid = vpp_owed
                .get(&on_chain.meter.address())
                .copied()
                .unwrap_or(0);
            home_outcome(home, on_chain, &records, &tariffs, vpp_paid)
        })
        .collect();
    let mut participants: Vec<Address> = on_chain.iter().map(|home| home.owner.address()).collect();
    participants.extend([chain.admin_key.address(), keeper_account]);
    let meter_addresses: Vec<Address> = meters.iter().map(PrivateKeySigner::address).collect();
    let checks = cogrid_sim::checks::conservation(
        &chain.admin,
        &chain.rpc_url,
        &chain.deployment,
        &meter_addresses,
        &participants,
    )
    .await?;
    timings.wall = wall.elapsed();
    let assumptions = cogrid_sim::homes::assumptions(&tariffs);
    let outcome = cogrid_sim::Outcome {
        homes_count: homes.len(),
        hours: args.hours,
        interval_seconds: len,
        seed: args.seed,
        day: args.day.clone(),
        day_sources: day.assumptions(),
        tariffs,
        assumptions,
        intervals: outcomes,
        homes: home_outcomes,
        vpp: vpp_result.map(|(outcome, _)| outcome),
        oracle,
        carbon_released_grams,
        gas,
        timings,
        deployment: chain.deployment,
    };
    write_report(&args.out, &outcome, &checks)?;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|check| !check.passed)
        .map(|check| check.name.as_str())
        .collect();
    eyre::ensure!(
        failed.is_empty(),
        "conservation checks failed: {} (see {})",
        failed.join(", "),
        args.out.join("report.md").display()
    );
    Ok(())
}

/// Writes `report.md`, `report.json` and `chart.svg` into `out` and prints the summary.
fn write_report(
    out: &Path,
    outcome: &cogrid_sim::Outcome,
    checks: &[cogrid_sim::checks::Check],
) -> eyre::Result<()> {
    let markdown = cogrid_sim::report::markdown(outcome, checks);
    let files = [
        ("report.md", markdown.clone()),
        (
            "report.json",
            serde_json::to_string_pretty(&cogrid_sim::report::json(outcome, checks))? + "\n",
        ),
        ("chart.svg", cogrid_sim::chart::svg(outcome)),
    ];
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    // The report's head: the run, the checks' verdict and the energy table.
    for line in markdown
        .lines()
        .take_while(|line| !line.starts_with("## Clearing prices"))
    {
        println!("{line}");
    }
    println!(
        "report: {} (and report.json, chart.svg)",
        out.join("report.md").display()
    );
    Ok(())
}

/// Every `MetersSettled` record of the run, by meter.
async fn settlement_records(
    chain: &Chain,
) -> eyre::Result<std::collections::HashMap<Address, Vec<cogrid_chain::SettlementRecord>>> {
    use alloy::sol_types::SolEvent as _;
    let filter = alloy::rpc::types::Filter::new()
        .address(chain.deployment.market)
        .event_signature(EnergyMarket::MetersSettled::SIGNATURE_HASH);
    let logs = cogrid_chain::logs_since(
        &chain.admin,
        &chain.rpc_url,
        &filter,
        chain.deployment.deployed_at_block,
    )
    .await?;
    let mut records: std::collections::HashMap<Address, Vec<cogrid_chain::SettlementRecord>> =
        std::collections::HashMap::new();
    for log in logs {
        let event = EnergyMarket::MetersSettled::decode_log_data(log.data())?;
        for record in cogrid_chain::SettlementRecord::decode_all(&event.records) {
            records.entry(record.meter).or_default().push(record);
        }
    }
    Ok(records)
}

/// One home's energy, bills and carbon, its cogrid bill from its settlement records: what it
/// paid for energy bought in the market (price and network fee), the grid supply at the retail
/// tariff, less what it earned selling, its banked surplus (energy credits) at the feed-in
/// tariff and its VPP pay.
fn home_outcome(
    home: &cogrid_sim::homes::Home,
    on_chain: &OnChainHome,
    records: &std::collections::HashMap<Address, Vec<cogrid_chain::SettlementRecord>>,
    tariffs: &cogrid_sim::Tariffs,
    vpp_paid: u64,
) -> cogrid_sim::HomeOutcome {
    let (imported_wh, exported_wh) = home.registers();
    let at = |wh: u64, price: u64| i128::from(wh) * i128::from(price) / 1_000;
    let (mut paid, mut earned, mut grid_wh, mut credited_wh, mut carbon) = (0i128, 0i128, 0, 0, 0);
    for record in records.get(&on_chain.meter.address()).into_iter().flatten() {
        if record.bought {
            paid += record.amount as i128;
        } else {
            earned += record.amount as i128;
        }
        grid_wh += u64::from(record.grid_supplied_wh);
        credited_wh += u64::from(record.credited_wh);
        carbon += record.carbon_grams;
    }
    let cogrid_bill = paid + at(grid_wh, tariffs.retail_per_kwh)
        - earned
        - at(credited_wh, tariffs.feed_in_per_kwh)
        - i128::from(vpp_paid);
    let utility_bill =
        at(imported_wh, tariffs.retail_per_kwh) - at(exported_wh, tariffs.feed_in_per_kwh);
    cogrid_sim::HomeOutcome {
        index: home.spec().index,
        kind: home.spec().kind.name().to_owned(),
        meter: on_chain.meter.address(),
        owner: on_chain.owner.address(),
        imported_wh,
        exported_wh,
        cogrid_bill: i64::try_from(cogrid_bill).unwrap_or(i64::MAX),
        utility_bill: i64::try_from(utility_bill).unwrap_or(i64::MAX),
        carbon_grams: carbon,
        vpp_paid,
    }
}

/// The bundled household load and PV year.
const AUSGRID_CSV: &str = "data/ausgrid-customer12/data_2011-2012.csv";

/// The household load shapes and `homes` homes drawn from `seed`, dealt onto feeders of
/// [`HOMES_PER_FEEDER`].
pub(crate) fn draw_homes(
    homes: u64,
    seed: u64,
    tariffs: &cogrid_sim::Tariffs,
) -> eyre::Result<(
    cogrid_sim::homes::LoadShapes,
    Vec<cogrid_sim::homes::HomeSpec>,
)> {
    let shapes =
        cogrid_sim::homes::LoadShapes::from_csv(&cogrid_chain::workspace_root().join(AUSGRID_CSV))?;
    let feeders = u32::try_from(homes.div_ceil(HOMES_PER_FEEDER))?;
    let specs = cogrid_sim::homes::neighbourhood(usize::try_from(homes)?, seed, feeders, tariffs);
    Ok((shapes, specs))
}

impl OnChainHome {
    /// The keys, registration and order of a home the seed drew.
    pub(crate) fn from_spec(spec: &cogrid_sim::homes::HomeSpec) -> Self {
        let kinds = [
            (spec.pv_kwp > 0.0, SOLAR),
            (spec.battery.is_some(), BATTERY),
            (spec.ev.is_some(), EV),
            (spec.critical, CRITICAL_LOAD),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .fold(0, |flags, (_, flag)| flags | flag);
        Self {
            owner: PrivateKeySigner::random(),
            meter: PrivateKeySigner::random(),
            feeder: spec.feeder,
            kinds,
            capacity_w: CAPACITY_W,
            deposit: DEPOSIT,
            order: OrderParams {
                sells: spec.sell_floor.is_some(),
                sellFloor: spec.sell_floor.unwrap_or(0),
                buys: true,
                buyCeiling: spec.buy_ceiling,
                capWh: 0,
                validFrom: Default::default(),
                validUntil: Default::default(),
                coverFromCredits: false,
            },
        }
    }
}

/// A node given by `--rpc-url`: an anvil with the contracts deployed, and the co-op admin's key.
#[derive(Debug)]
pub(crate) struct External {
    /// The node.
    pub(crate) rpc_url: String,
    /// The co-op admin (`--keystore` / `--private-key-env`): it registers the homes.
    pub(crate) admin: PrivateKeySigner,
    /// `--deployment`, else `deployments/<chainId>.json`.
    pub(crate) deployment: Option<PathBuf>,
}

impl Chain {
    /// The admin side of a devnet this process started, with `deployment` on it.
    pub(crate) fn on_devnet(
        devnet: &cogrid_chain::Devnet,
        deployment: cogrid_chain::Deployment,
    ) -> eyre::Result<Self> {
        Ok(Self {
            // Asks the node for every nonce: the pipelined providers send as the admin too.
            admin: cogrid_chain::connect_lazily(&devnet.rpc_url(), devnet.admin_key.clone())?,
            admin_key: devnet.admin_key.clone(),
            rpc_url: devnet.rpc_url(),
            deployment,
            owns_node: true,
        })
    }

    /// Connects to a node given by `--rpc-url` and checks that it can run the simulation: it
    /// answers, the deployment's contracts are there with this interval, and it is an anvil
    /// (the simulation moves its clock and funds its accounts).
    async fn connect(external: External, interval_seconds: u64) -> eyre::Result<Self> {
        let url = external.rpc_url;
        let admin = cogrid_chain::connect_lazily(&url, external.admin.clone())?;
        cogrid_chain::check_chain(&admin, &url, None).await?;
        let deployment = crate::cli::load_deployment(external.deployment, &admin).await?;
        if admin.get_code_at(deployment.market).await?.is_empty() {
            bail!(
                "no contracts on {url}: nothing is deployed at {} (the deployment file's market); \
                 deploy them with `cogrid deploy --rpc-url {url}`, or start a devnet with `cogrid \
                 devnet`",
                deployment.market
            );
        }
        let market = EnergyMarket::new(deployment.market, admin.clone());
        let deployed = u64::from(market.INTERVAL_SECONDS().call().await?);
        if deployed != interval_seconds {
            bail!(
                "the market on {url} trades {deployed}-second intervals: run with --interval {deployed}"
            );
        }
        let chain = Self {
            admin,
            admin_key: external.admin,
            rpc_url: url.clone(),
            deployment,
            owns_node: false,
        };
        chain
            .fund_gas(&[chain.admin_key.address()])
            .await
            .wrap_err_with(|| {
                format!(
                    "the simulation moves the chain's clock and funds its accounts with anvil's \
                 methods, so {url} must be an anvil node (`anvil --network optimism`, or `cogrid \
                 devnet`)"
                )
            })?;
        Ok(chain)
    }

    /// The latest block's time.
    pub(crate) async fn now(&self) -> eyre::Result<u64> {
        Ok(self
            .admin
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| eyre!("{} has no latest block", self.rpc_url))?
            .header
            .timestamp)
    }

    /// Moves the chain's clock to just after `time`, unless it is already there.
    pub(crate) async fn advance_to(&self, time: u64) -> eyre::Result<()> {
        let now = self.now().await?;
        if now <= time {
            self.admin
                .raw_request::<_, serde_json::Value>(
                    "evm_setNextBlockTimestamp".into(),
                    (time + 1,),
                )
                .await?;
            self.admin
                .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
                .await?;
        }
        Ok(())
    }

    /// Makes the admin the grid operator too and sets the network fee.
    pub(crate) async fn set_network_fee(&self, fee_per_kwh: u64) -> eyre::Result<()> {
        let market = EnergyMarket::new(self.deployment.market, self.admin.clone());
        let role = market.GRID_OPERATOR_ROLE().call().await?;
        let admin = self.admin_key.address();
        market
            .grantRole(role, admin)
            .send()
            .await?
            .get_receipt()
            .await?;
        let set = market
            .setNetworkFee(fee_per_kwh)
            .send()
            .await?
            .get_receipt()
            .await?;
        eyre::ensure!(set.status(), "setting the network fee reverted");
        Ok(())
    }
}
