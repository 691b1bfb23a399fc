//! `cogrid devnet`: a long-running local stack to try the wallet and operator commands against.
//! anvil (`--network optimism`) with the suite deployed, a neighbourhood of simulated homes whose
//! meters sign and post their readings through the meter signer's pipeline and delivery, the
//! oracle's reporters and the keeper, all in-process, in real time or faster. One home belongs to
//! a prosumer whose keystore and password are printed, so that a user can sign as it.
//!
//! The pieces are `cogrid simulate`'s (`crate::simulate`); this module only paces them by the
//! wall clock instead of running a day as fast as they go.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent as _,
};
use cogrid_bindings::{MockStablecoin, VppDispatch};
use cogrid_chain::{Deployment, SuiteParams, create_keystore};
use cogrid_sim::{day::Day, homes::Home};
use eyre::WrapErr;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    simulate::{
        Chain, OnChainHome, PASSWORD_ENV, Signers, draw_homes, oracle::Oracles, settle,
        start_keeper, work_dir,
    },
    units::{self, Unit},
};

/// The port anvil takes unless told otherwise: the one every Ethereum tool tries first.
const DEFAULT_PORT: u16 = 8545;
/// Stablecoin minted to the prosumer's wallet on top of its home's vault deposit, base units
/// (100 USD): something for `cogrid deposit` to move.
const PROSUMER_WALLET: u64 = 100_000_000;
/// Intervals in a row that may fail before the devnet gives up: one failure is retried at the
/// next interval (the outbox keeps the readings, the keeper the unsettled intervals); several
/// mean the chain is gone.
const MAX_FAILED_INTERVALS: u32 = 3;

/// `cogrid devnet` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct DevnetArgs {
    /// Simulated homes; one of them is the printed prosumer's.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=500))]
    pub homes: u64,
    /// How much faster than the wall clock time passes: 60 runs a 15-minute interval every 15
    /// seconds, 1 follows the wall clock.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub speed: u32,
    /// The loopback port of the RPC endpoint; 0 takes a free one. Without it, 8545, or a free
    /// port when 8545 is taken.
    #[arg(long)]
    pub port: Option<u16>,
    /// Seed of the home mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The bundled day of weather, spot prices and carbon intensity the homes live through, each
    /// day of the devnet again.
    #[arg(long, default_value = "sunny-spring")]
    pub day: String,
    /// Where the prosumer's keystore and the stack's keys, outbox and index go; a previous
    /// devnet's are replaced (its chain is gone with it).
    #[arg(long, default_value = "devnet-output")]
    pub out: PathBuf,
}

/// The port to start anvil on: the one asked for, else [`DEFAULT_PORT`] when it is free, else a
/// free one (said on stderr).
fn choose_port(asked: Option<u16>) -> u16 {
    if let Some(port) = asked {
        return port;
    }
    match std::net::TcpListener::bind(("127.0.0.1", DEFAULT_PORT)) {
        Ok(_) => DEFAULT_PORT,
        Err(error) => {
            eprintln!("port {DEFAULT_PORT} is taken ({error}): the devnet listens on a free port");
            0
        }
    }
}

/// Runs the devnet until Ctrl-C or SIGTERM, then stops the keeper, the oracle and anvil, in
/// that order.
pub(crate) async fn run(args: DevnetArgs) -> eyre::Result<()> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        cogrid_chain::shutdown_signal().await;
        on_signal.cancel();
    });

    let day = Day::bundled(&args.day)?;
    let tariffs = cogrid_sim::Tariffs::default();
    let work = work_dir(&args.out);
    if work.exists() {
        std::fs::remove_dir_all(&work).wrap_err_with(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).wrap_err_with(|| format!("creating {}", work.display()))?;
    let prosumer_keystore = args.out.join("prosumer.json");
    if prosumer_keystore.exists() {
        std::fs::remove_file(&prosumer_keystore)
            .wrap_err_with(|| format!("removing {}", prosumer_keystore.display()))?;
    }
    // A throwaway key's password, printed: the devnet's chain dies with it.
    let password = alloy::hex::encode(rand::random::<[u8; 8]>());
    // SAFETY: set before the stack's tasks start; the signal task does not read the environment.
    unsafe { std::env::set_var(PASSWORD_ENV, &password) };

    let devnet = cogrid_chain::Devnet::start_on_port(choose_port(args.port), &[])?;
    let params = SuiteParams::default();
    let len = u64::from(params.interval_seconds);
    let deployment =
        cogrid_chain::deploy_suite(&devnet.admin, devnet.admin_key.address(), params).await?;
    let deployment_file = PathBuf::from(format!("deployments/{}.json", deployment.chain_id));
    deployment
        .save(&deployment_file)
        .wrap_err_with(|| format!("writing {}", deployment_file.display()))?;
    let chain = Chain::on_devnet(&devnet, deployment)?;
    chain.set_network_fee(tariffs.network_fee_per_kwh).await?;

    let (shapes, specs) = draw_homes(args.homes, args.seed, &tariffs)?;
    let mut on_chain: Vec<OnChainHome> = specs.iter().map(OnChainHome::from_spec).collect();
    // The prosumer's home has solar when the mix has any: it has export to sell.
    let prosumer_home = specs.iter().position(|spec| spec.pv_kwp > 0.0).unwrap_or(0);
    let prosumer = create_keystore(&prosumer_keystore, &password)?;
    on_chain[prosumer_home].owner = prosumer.clone();
    chain
        .register(&on_chain)
        .await
        .wrap_err("registering the homes")?;
    let minted = MockStablecoin::new(chain.deployment.stablecoin, chain.admin.clone())
        .mint(prosumer.address(), U256::from(PROSUMER_WALLET))
        .send()
        .await?
        .get_receipt()
        .await?;
    eyre::ensure!(
        minted.status(),
        "minting the prosumer's stablecoin reverted"
    );
    let homes: Vec<Home> = specs
        .into_iter()
        .map(|spec| Home::new(spec, &shapes, day.ausgrid_day()))
        .collect();
    let meters: Vec<PrivateKeySigner> = on_chain.iter().map(|home| home.meter.clone()).collect();

    // anvil's second dev account relays the readings: it has ETH, and no other part sends as it.
    let relayer = devnet.funded_key(1);
    let signers = Signers::start(&chain, &work.join("outbox.db"), &relayer, &meters, len)
        .await
        .wrap_err("starting the meter signer")?;
    let keeper_cancel = CancellationToken::new();
    let (keeper, _) = start_keeper(&chain, &work, &work, keeper_cancel.clone())
        .await
        .wrap_err("starting the keeper")?;
    let now = chain.now().await?;
    // The homes start at the interval boundary just passed: their zero registers are read there.
    let first = now - now % len;
    let clock = Arc::new(AtomicU64::new(first));
    let oracles = Oracles::start(&chain, &work, Arc::new(day.clone()), clock.clone())
        .await
        .wrap_err("starting the oracle reporters")?;
    let meter_addresses: Vec<Address> = meters.iter().map(PrivateKeySigner::address).collect();
    let dispatches = Dispatches::new(&chain, &meter_addresses);
    let mut stack = Stack {
        chain,
        day,
        len,
        homes,
        meters: meter_addresses,
        owners: on_chain.iter().map(|home| home.owner.address()).collect(),
        signers,
        keeper,
        oracles,
        dispatches,
        clock,
    };
    stack.signers.post(first, &stack.registers()).await?;
    stack.oracles.hourly(&stack.chain).await;

    print_banner(
        &args,
        &stack.chain,
        &deployment_file,
        &Prosumer {
            account: prosumer.address(),
            keystore: &prosumer_keystore,
            password: &password,
            meter: on_chain[prosumer_home].meter.address(),
            home: &stack.homes[prosumer_home],
            deposit: on_chain[prosumer_home].deposit,
        },
    );

    let result = stack.run(first, now, args.speed, &cancel).await;

    eprintln!("stopping: the keeper, the oracle reporters, then anvil");
    keeper_cancel.cancel();
    let Stack {
        chain,
        signers,
        keeper,
        oracles,
        ..
    } = stack;
    keeper.stop().await;
    oracles.stop().await;
    drop(signers);
    drop(chain);
    drop(devnet);
    eprintln!("devnet stopped");
    result
}

/// The VPP calls on the devnet's meters, from VppDispatch's events: a battery its owner enrols
/// (`cogrid vpp enroll`) discharges at the committed watts through the event's window, as the
/// owner's gateway agent would drive it, and its meter's readings show the delivery the keeper
/// settles.
struct Dispatches {
    contract: VppDispatch::VppDispatchInstance<DynProvider>,
    meters: HashSet<Address>,
    /// The first block not read yet.
    next_block: u64,
    /// Each meter's enrolments.
    enrolled: HashMap<Address, Vec<Enrolment>>,
}

/// One enrolment in a dispatch event.
#[derive(Debug, Clone, Copy)]
struct Enrolment {
    event: U256,
    start: u64,
    end: u64,
    watts: u32,
}

impl Dispatches {
    fn new(chain: &Chain, meters: &[Address]) -> Self {
        Self {
            contract: VppDispatch::new(chain.deployment.vpp_dispatch, chain.admin.clone()),
            meters: meters.iter().copied().collect(),
            next_block: chain.deployment.deployed_at_block,
            enrolled: HashMap::new(),
        }
    }

    /// Reads the enrolments and cancellations since the last look.
    async fn refresh(&mut self) -> eyre::Result<()> {
        let provider = self.contract.provider();
        let head = provider.get_block_number().await?;
        if head < self.next_block {
            return Ok(());
        }
        let filter = Filter::new()
            .address(*self.contract.address())
            .event_signature(vec![
                VppDispatch::Enrolled::SIGNATURE_HASH,
                VppDispatch::EventCancelled::SIGNATURE_HASH,
            ])
            .from_block(self.next_block)
            .to_block(head);
        for log in provider.get_logs(&filter).await? {
            if let Ok(enrolled) = log.log_decode::<VppDispatch::Enrolled>() {
                let VppDispatch::Enrolled {
                    id,
                    meter,
                    committedW,
                } = enrolled.inner.data;
                if !self.meters.contains(&meter) {
                    continue;
                }
                let event = self.contract.eventOf(id).call().await?;
                self.enrolled.entry(meter).or_default().push(Enrolment {
                    event: id,
                    start: event.start.to(),
                    end: event.end.to(),
                    watts: committedW,
                });
            } else if let Ok(cancelled) = log.log_decode::<VppDispatch::EventCancelled>() {
                let id = cancelled.inner.data.id;
                for enrolments in self.enrolled.values_mut() {
                    enrolments.retain(|enrolment| enrolment.event != id);
                }
            }
        }
        self.next_block = head + 1;
        Ok(())
    }

    /// The watts `meter`'s battery is called to discharge in the interval starting at `from`.
    fn dispatch_w(&self, meter: Address, from: u64) -> Option<u32> {
        let watts: u32 = self
            .enrolled
            .get(&meter)?
            .iter()
            .filter(|enrolment| (enrolment.start..enrolment.end).contains(&from))
            .map(|enrolment| enrolment.watts)
            .sum();
        (watts > 0).then_some(watts)
    }
}

/// The running parts, stepped interval by interval.
struct Stack {
    chain: Chain,
    day: Day,
    len: u64,
    homes: Vec<Home>,
    meters: Vec<Address>,
    /// The homes' owners, who get the carbon the market held for them.
    owners: Vec<Address>,
    signers: Signers,
    keeper: cogrid_keeper::daemon::Keeper,
    oracles: Oracles,
    dispatches: Dispatches,
    /// The time the oracle's sources answer at.
    clock: Arc<AtomicU64>,
}

impl Stack {
    /// Each meter's registers.
    fn registers(&self) -> Vec<(Address, (u64, u64))> {
        self.meters
            .iter()
            .zip(self.homes.iter())
            .map(|(meter, home)| (*meter, home.registers()))
            .collect()
    }

    /// Steps an interval each time the simulated clock, `speed` times the wall clock from
    /// `origin` (chain time, now), passes its end, from the interval starting at `first`,
    /// until `cancel`. An interval in progress when `cancel` fires is finished, unless the chain
    /// is gone (anvil got the terminal's Ctrl-C too).
    async fn run(
        &mut self,
        first: u64,
        origin: u64,
        speed: u32,
        cancel: &CancellationToken,
    ) -> eyre::Result<()> {
        let started = Instant::now();
        let wall = |chain_seconds: u64| {
            Duration::from_secs_f64(chain_seconds.saturating_sub(origin) as f64 / f64::from(speed))
        };
        let mut from = first;
        let mut failed = 0;
        let mut warned_behind = false;
        loop {
            let due = started + wall(from + self.len);
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(due) => {}
            }
            if !warned_behind && Instant::now() > due + wall(origin + self.len) {
                warned_behind = true;
                eprintln!(
                    "the stack cannot keep up with --speed {speed}: intervals run back to back"
                );
            }
            match self.interval(from).await {
                Ok(line) => {
                    failed = 0;
                    eprintln!("{line}");
                }
                Err(_) if cancel.is_cancelled() => return Ok(()),
                Err(error) => {
                    failed += 1;
                    eprintln!(
                        "interval {}: {error:#}",
                        crate::time::rfc3339(from + self.len)
                    );
                    if failed >= MAX_FAILED_INTERVALS {
                        return Err(error.wrap_err(format!(
                            "{MAX_FAILED_INTERVALS} intervals in a row failed"
                        )));
                    }
                }
            }
            from += self.len;
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// The homes live through `[from, from + len)`; at its end the chain's clock moves there,
    /// the oracle reports on the hour, the meters' readings are signed and posted, and the
    /// keeper settles the interval. A line saying what cleared.
    async fn interval(&mut self, from: u64) -> eyre::Result<String> {
        let conditions = self.day.conditions(from, self.len);
        // The enrolments known so far still hold when the node does not answer now.
        if let Err(error) = self.dispatches.refresh().await {
            eprintln!("reading VPP enrolments: {error:#}");
        }
        for (home, meter) in self.homes.iter_mut().zip(&self.meters) {
            home.step(&conditions, self.dispatches.dispatch_w(*meter, from));
        }
        let end = from + self.len;
        self.clock.store(end, Ordering::Relaxed);
        self.chain.advance_to(end).await?;
        if end.is_multiple_of(3_600) {
            self.oracles.hourly(&self.chain).await;
            // What the market held while the feed was stale goes to its homes once it is fresh;
            // what fails to go now is held still, and tried again next hour.
            if let Err(error) = self
                .oracles
                .release_held_carbon(&self.chain, &self.owners)
                .await
            {
                eprintln!("releasing held carbon: {error:#}");
            }
        }
        let registers = self.registers();
        self.signers.post(end, &registers).await?;
        let report = settle(&mut self.keeper, from / self.len).await?;
        let price = if report.traded_wh > 0 {
            units::show(u128::from(report.price), Unit::UsdPerKwh)
        } else {
            "-".to_owned()
        };
        Ok(format!(
            "interval {} settled: price {price}, traded {}, {} fills",
            crate::time::rfc3339(from),
            units::show(u128::from(report.traded_wh), Unit::Kwh),
            report.fills.len(),
        ))
    }
}

/// The account a user signs as.
struct Prosumer<'a> {
    account: Address,
    keystore: &'a Path,
    password: &'a str,
    meter: Address,
    home: &'a Home,
    deposit: u64,
}

/// Prints the RPC URL, the contracts, the prosumer and how to use them on stdout.
fn print_banner(args: &DevnetArgs, chain: &Chain, deployment_file: &Path, prosumer: &Prosumer<'_>) {
    let Deployment {
        chain_id,
        market,
        energy_credit,
        carbon_credit,
        stablecoin,
        oracle_hub,
        oracle_feeds,
        energy_amm,
        vpp_dispatch,
        ..
    } = chain.deployment;
    let len = SuiteParams::default().interval_seconds;
    let url = &chain.rpc_url;
    let keystore = prosumer.keystore.display();
    let spec = prosumer.home.spec();
    println!(
        "cogrid devnet: {} homes living through `{}`, {len}-second intervals at {}x the wall \
         clock (one every {:.1} s)",
        args.homes,
        args.day,
        args.speed,
        f64::from(len) / f64::from(args.speed),
    );
    println!("RPC URL     {url}");
    println!("chain id    {chain_id}");
    println!("deployment  {}", deployment_file.display());
    println!("contracts");
    for (name, address) in [
        ("EnergyMarket (and meter registry)", market),
        ("EnergyCredit", energy_credit),
        ("CarbonCredit", carbon_credit),
        ("MockStablecoin", stablecoin),
        ("OracleHub", oracle_hub),
        ("OracleFeed SPOT_PRICE", oracle_feeds[0]),
        ("OracleFeed SOLAR_IRRADIANCE", oracle_feeds[1]),
        ("OracleFeed TEMPERATURE", oracle_feeds[2]),
        ("OracleFeed CARBON_INTENSITY", oracle_feeds[3]),
        ("EnergyAmm", energy_amm),
        ("VppDispatch", vpp_dispatch),
    ] {
        println!("  {name:<34} {address}");
    }
    println!("prosumer (a throwaway devnet key)");
    println!("  account   {}", prosumer.account);
    println!("  keystore  {keystore}");
    println!("  password  {}", prosumer.password);
    println!(
        "  meter     {} ({} home, feeder {}, its readings posted every interval)",
        prosumer.meter,
        spec.kind.name(),
        spec.feeder,
    );
    println!(
        "  funds     {} in the wallet, {} in the market vault, ETH for gas",
        units::show(u128::from(PROSUMER_WALLET), Unit::Usd),
        units::show(u128::from(prosumer.deposit), Unit::Usd),
    );
    println!(
        "co-op admin and grid operator: {} (anvil's first dev account)",
        chain.admin_key.address()
    );
    println!("try");
    println!(
        "  COGRID_PASSWORD={} cogrid --rpc-url {url} --keystore {keystore} balance",
        prosumer.password
    );
    println!("Ctrl-C stops the devnet.");
}

#[cfg(test)]
mod tests {
    use cogrid_sim::Tariffs;

    use super::*;
    use crate::simulate::vpp::Call;

    /// A battery enrolled in an event is dispatched at its committed watts through the event's
    /// window, as the simulation dispatches it, and no longer once the event is cancelled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_enrolled_battery_is_dispatched_through_the_window_until_cancelled() {
        let devnet = cogrid_chain::Devnet::start()
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let deployment = cogrid_chain::deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let chain = Chain::on_devnet(&devnet, deployment).unwrap();
        let tariffs = Tariffs::default();
        chain
            .set_network_fee(tariffs.network_fee_per_kwh)
            .await
            .unwrap();
        let (shapes, specs) = draw_homes(50, 1, &tariffs).unwrap();
        let on_chain: Vec<OnChainHome> = specs.iter().map(OnChainHome::from_spec).collect();
        chain.register(&on_chain).await.unwrap();
        let day = Day::bundled("sunny-spring").unwrap();
        let homes: Vec<Home> = specs
            .into_iter()
            .map(|spec| Home::new(spec, &shapes, day.ausgrid_day()))
            .collect();
        let meters: Vec<Address> = on_chain.iter().map(|home| home.meter.address()).collect();
        let mut dispatches = Dispatches::new(&chain, &meters);

        let now = chain.now().await.unwrap();
        let start = (now / 3_600 + 2) * 3_600;
        let call = Call::open(&chain, &homes, &on_chain, (start, start + 3_600), now)
            .await
            .unwrap();
        dispatches.refresh().await.unwrap();
        let mut dispatched = 0;
        for (index, meter) in meters.iter().enumerate() {
            for from in [start - 900, start, start + 2_700, start + 3_600] {
                assert_eq!(
                    dispatches.dispatch_w(*meter, from),
                    call.dispatch_w(index, from),
                    "home {index} at {from}"
                );
            }
            dispatched += usize::from(dispatches.dispatch_w(*meter, start).is_some());
        }
        assert!(dispatched > 0, "no battery enrolled");

        // The devnet's first event; its operator cancels it before it starts.
        VppDispatch::new(chain.deployment.vpp_dispatch, chain.admin.clone())
            .cancel(U256::from(1))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        dispatches.refresh().await.unwrap();
        assert!(
            meters
                .iter()
                .all(|meter| dispatches.dispatch_w(*meter, start).is_none())
        );
    }
}
