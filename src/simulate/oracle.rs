//! The oracle in the simulation: three co-ops' reporters, each the oracle crate's own
//! [`Reporter`] with its own key, HTTP endpoint and peers, relay the bundled day's spot price,
//! weather and carbon intensity to OracleHub. Their sources are a local server answering in each
//! public API's format from the day's data at the simulated chain time, so the reporters fetch,
//! convert, aggregate, sign, exchange observations and submit rounds exactly as deployed.
//!
//! The driver polls every feed once per simulated hour instead of on the reporters' timers. A
//! deployed reporter's round gathers the observations its peers published at their own latest
//! polls, minutes earlier; polled once an hour, a peer's latest would be as old as the last round
//! and left out. So per feed two reporters first observe and publish (the reporter's own
//! [`Observer`], as its daemon's first poll does), then the third polls with
//! [`Reporter::poll`]: it observes, sees the trigger, gathers both fresh observations and submits
//! the round of all three. The submitting reporter rotates by feed and hour, so that each co-op
//! pays its share of the gas. Each reporter's endpoint serves what its observer published.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent as _,
    transports::http::reqwest::{Client, Url},
};
use axum::{Json, Router, extract::State, routing::get};
use cogrid_bindings::{EnergyMarket, OracleHub};
use cogrid_chain::{KeyConfig, create_keystore};
use cogrid_oracle::{
    config::{
        ChainConfig, Config, ExchangeConfig, FeedConfig, FeedKind, HttpConfig, SourceConfig,
        SourceKind,
    },
    daemon::{Observer, Outcome, Reporter},
    http::HttpState,
    sources::Sources as OracleSources,
};
use cogrid_sim::day::Day;
use eyre::{WrapErr, eyre};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{Chain, PASSWORD_ENV, password};

/// The co-ops running a reporter each; OracleHub's feeds need two of them per round
/// (`cogrid_chain::FEED_RULES`), so one may be down.
const REPORTERS: usize = 3;
/// How often a reporter reports a feed that has not moved. The driver polls once per simulated
/// hour and the hub holds a feed stale once its round is more than its one-hour heartbeat old: a
/// reporter heartbeat of an hour would find, at the next hourly poll, the round a second or two
/// short of it (the round landed that long after its poll) and let the feed go stale for the
/// hour. Reporters refresh well within the consumer's heartbeat, as Chainlink's nodes do.
const HEARTBEAT: Duration = Duration::from_secs(30 * 60);
/// No wait before sending: the driver has one reporter submit each round, so there is no race
/// for the stagger to settle.
const STAGGER: Duration = Duration::ZERO;
/// How long a source or a peer may take to answer: both are on loopback.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The reporters, their endpoints and the day's sources, running against the devnet.
pub(crate) struct Oracles {
    members: [Member; REPORTERS],
    accounts: [Address; REPORTERS],
    feeds: Vec<FeedConfig>,
    hub: OracleHub::OracleHubInstance<DynProvider>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// Whether the market takes its carbon intensity from the hub yet.
    carbon_from_hub: bool,
    /// What the sources answer, to hold the relayed carbon intensity against.
    sources: DaySources,
    figures: Figures,
    /// Rounds started, to rotate the submitting reporter.
    started: AtomicU64,
}

/// One co-op's reporter: the daemon's code connected to the hub, and its observer publishing
/// into the endpoint its peers gather from.
struct Member {
    reporter: Reporter,
    observer: Observer,
}

/// What the oracle did over the run.
#[derive(Debug, Clone, Default)]
struct Figures {
    polls: u64,
    failed: u64,
    rounds: u64,
    observations: u64,
    gas_used: u64,
    transactions: u64,
    wall: Duration,
    /// The carbon intensity rounds, and those whose answer is not the day's intensity then.
    carbon_rounds: u64,
    carbon_mismatches: Vec<String>,
}

/// What one round of polls landed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoundReport {
    /// The rounds OracleHub accepted, in the order they landed.
    pub(crate) landed: Vec<Landed>,
    /// Gas of the reporters' transactions, landed or reverted.
    pub(crate) gas_used: u64,
    /// The reporters' transactions.
    pub(crate) transactions: u64,
    /// The polls that failed, each with its feed, reporter and error.
    pub(crate) failures: Vec<String>,
}

/// A round OracleHub accepted (its `RoundSubmitted` event).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Landed {
    pub(crate) feed: FeedKind,
    /// The round's median, in the feed's on-chain unit.
    pub(crate) answer: i64,
    pub(crate) observations: u64,
}

impl Oracles {
    /// Serves the day's sources at the time `clock` holds, creates the reporters' keys (keystores
    /// in `dir`), gives them gas, authorizes them on OracleHub as the co-op admin, and connects and
    /// serves each reporter with the other two as its peers.
    pub(crate) async fn start(
        chain: &Chain,
        dir: &Path,
        day: Arc<Day>,
        clock: Arc<AtomicU64>,
    ) -> eyre::Result<Self> {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let day_sources = DaySources { day, clock };
        let sources = serve(
            source_router(day_sources.clone()),
            &tasks,
            &cancel,
            "the day's oracle sources",
        )
        .await?;

        let password = password()?;
        let mut keys = Vec::with_capacity(REPORTERS);
        for index in 0..REPORTERS {
            let keystore = dir.join(format!("oracle-reporter-{index}.json"));
            let key = create_keystore(&keystore, &password)
                .wrap_err_with(|| format!("creating oracle reporter {index}'s key"))?;
            keys.push((key, keystore));
        }
        let accounts: [Address; REPORTERS] = std::array::from_fn(|index| keys[index].0.address());
        chain
            .fund_gas(&accounts)
            .await
            .wrap_err("giving the oracle reporters gas")?;
        cogrid_chain::grant_reporters(&chain.admin, chain.deployment.oracle_hub, &accounts)
            .await
            .wrap_err("authorizing the oracle reporters on OracleHub")?;

        let mut listeners = Vec::with_capacity(REPORTERS);
        for index in 0..REPORTERS {
            listeners.push(
                TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .wrap_err_with(|| format!("binding oracle reporter {index}'s HTTP endpoint"))?,
            );
        }
        let mut urls = Vec::with_capacity(REPORTERS);
        for listener in &listeners {
            urls.push(base_url(listener.local_addr()?)?);
        }
        let feeds = feeds(&sources)?;
        let domain =
            cogrid_chain::hub_domain(chain.deployment.chain_id, chain.deployment.oracle_hub);
        let client = Client::new();
        let mut members = Vec::with_capacity(REPORTERS);
        for (index, ((key, keystore), listener)) in keys.into_iter().zip(listeners).enumerate() {
            let address = key.address();
            let config = Config {
                chain: ChainConfig {
                    rpc_url: chain.rpc_url.parse().wrap_err("the devnet's RPC URL")?,
                    chain_id: chain.deployment.chain_id,
                    deployment: None,
                    hub: Some(chain.deployment.oracle_hub),
                },
                reporter: KeyConfig {
                    keystore,
                    password_env: PASSWORD_ENV.into(),
                },
                http: HttpConfig {
                    listen: listener.local_addr()?,
                },
                exchange: ExchangeConfig {
                    peers: urls
                        .iter()
                        .enumerate()
                        .filter(|(peer, _)| *peer != index)
                        .map(|(_, url)| url.clone())
                        .collect(),
                    timeout: TIMEOUT,
                    stagger: STAGGER,
                },
                feeds: feeds.clone(),
            };
            let reporter = Reporter::connect(config, key.clone())
                .await
                .wrap_err_with(|| format!("connecting oracle reporter {index} ({address})"))?;
            let metrics = reporter.metrics();
            let state = Arc::new(HttpState::new(address, metrics.clone()));
            let observer = Observer::new(
                OracleSources::new(client.clone()),
                key,
                domain.clone(),
                metrics,
                state.clone(),
            );
            serve_on(
                listener,
                cogrid_oracle::http::router(state),
                &tasks,
                &cancel,
                "an oracle reporter's HTTP endpoint",
            );
            members.push(Member { reporter, observer });
        }
        let members: [Member; REPORTERS] = members
            .try_into()
            .map_err(|_| eyre!("{REPORTERS} reporters were started"))?;
        Ok(Self {
            members,
            accounts,
            feeds,
            hub: OracleHub::new(chain.deployment.oracle_hub, chain.admin.clone()),
            cancel,
            tasks,
            carbon_from_hub: false,
            sources: day_sources,
            figures: Figures::default(),
            started: AtomicU64::new(0),
        })
    }

    /// Reports every feed: per feed the other reporters observe and publish at the chain's
    /// time, then the feed's submitter polls and submits the round when the rule says so. The
    /// three submitters work at once, each through its feeds one after the other (a reporter's
    /// transactions take their nonces from the node one at a time). Reads what landed from the
    /// blocks the polls produced.
    pub(crate) async fn round(&self) -> eyre::Result<RoundReport> {
        let provider = self.hub.provider();
        let first_block = provider.get_block_number().await? + 1;
        let now = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| eyre!("the devnet has no latest block"))?
            .header
            .timestamp;
        let started = self.started.fetch_add(1, Ordering::Relaxed) as usize;
        let submits = |submitter: usize| async move {
            let mut failures = Vec::new();
            for (feed_index, feed) in self.feeds.iter().enumerate() {
                if (started + feed_index) % REPORTERS == submitter {
                    failures.extend(self.report_feed(feed, submitter, now).await);
                }
            }
            failures
        };
        let (a, b, c) = tokio::join!(submits(0), submits(1), submits(2));
        let mut report = RoundReport {
            failures: [a, b, c].concat(),
            ..RoundReport::default()
        };
        let last_block = provider.get_block_number().await?;
        for block in first_block..=last_block {
            let receipts = provider
                .get_block_receipts(block.into())
                .await?
                .ok_or_else(|| eyre!("the devnet has no receipts for block {block}"))?;
            for receipt in receipts
                .iter()
                .filter(|receipt| self.accounts.contains(&receipt.from))
            {
                report.gas_used += receipt.gas_used;
                report.transactions += 1;
                for log in receipt.inner.logs() {
                    if log.address() != *self.hub.address()
                        || log.topic0() != Some(&OracleHub::RoundSubmitted::SIGNATURE_HASH)
                    {
                        continue;
                    }
                    let event = OracleHub::RoundSubmitted::decode_log_data(log.data())?;
                    report.landed.push(Landed {
                        feed: FeedKind::from_id(event.feed)
                            .ok_or_else(|| eyre!("OracleHub reported feed {}", event.feed))?,
                        answer: i64::try_from(event.answer)?,
                        observations: u64::try_from(event.observations)?,
                    });
                }
            }
        }
        Ok(report)
    }

    /// One feed's round at `now`: the reporters but `submitter` publish, `submitter` polls; what
    /// failed.
    async fn report_feed(&self, feed: &FeedConfig, submitter: usize, now: u64) -> Vec<String> {
        let mut failures = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            if index == submitter {
                continue;
            }
            match member.observer.observe(feed, now).await {
                Ok(Some(_)) => {}
                Ok(None) => failures.push(format!(
                    "{}: reporter {index}'s sources gave no value",
                    feed.kind
                )),
                Err(error) => failures.push(format!("{}: reporter {index}: {error}", feed.kind)),
            }
        }
        match self.members[submitter]
            .reporter
            .poll(feed, &self.cancel)
            .await
        {
            Ok(Outcome::Submitted { .. } | Outcome::Unchanged) => {}
            Ok(outcome) => failures.push(format!(
                "{}: reporter {submitter}'s poll came to {outcome:?}",
                feed.kind
            )),
            Err(error) => failures.push(format!("{}: reporter {submitter}: {error}", feed.kind)),
        }
        failures
    }

    /// One round as the driver runs it: a failure is reported on stderr and the run goes on (the
    /// keeper does not need the oracle), and once the hub has a carbon intensity answer the
    /// market settles carbon at it. Returns the wall time it took.
    pub(crate) async fn hourly(&mut self, chain: &Chain) -> Duration {
        let started = Instant::now();
        self.figures.polls += 1;
        match self.round().await {
            Ok(report) => {
                self.figures.rounds += report.landed.len() as u64;
                self.figures.observations += report
                    .landed
                    .iter()
                    .map(|landed| landed.observations)
                    .sum::<u64>();
                self.figures.gas_used += report.gas_used;
                self.figures.transactions += report.transactions;
                let now = self.sources.now();
                let expected = i64::from(self.sources.day.carbon_intensity_at(now));
                for landed in &report.landed {
                    if landed.feed == FeedKind::CarbonIntensity {
                        self.figures.carbon_rounds += 1;
                        if landed.answer != expected {
                            self.figures.carbon_mismatches.push(format!(
                                "{} g/kWh at {now} where the day has {expected}",
                                landed.answer
                            ));
                        }
                    }
                }
                if !report.failures.is_empty() {
                    self.figures.failed += 1;
                    eprintln!(
                        "\noracle round: {} poll(s) failed: {}",
                        report.failures.len(),
                        report.failures.join("; ")
                    );
                }
            }
            Err(error) => {
                self.figures.failed += 1;
                eprintln!("\noracle round failed: {error:#}");
            }
        }
        if !self.carbon_from_hub {
            match self.take_carbon_from_hub(chain).await {
                Ok(switched) => self.carbon_from_hub = switched,
                Err(error) => {
                    eprintln!("\nthe market keeps the admin's carbon intensity for now: {error:#}")
                }
            }
        }
        let took = started.elapsed();
        self.figures.wall += took;
        took
    }

    /// Points the market's carbon intensity at the hub's `CARBON_INTENSITY` feed, as the co-op
    /// admin, once the feed has a fresh answer; whether it does now.
    async fn take_carbon_from_hub(&self, chain: &Chain) -> eyre::Result<bool> {
        let feed = FeedKind::CarbonIntensity.id();
        if self.hub.isStale(feed).call().await? {
            return Ok(false);
        }
        let market = EnergyMarket::new(chain.deployment.market, chain.admin.clone());
        let receipt = market
            .setCarbonIntensityHub(chain.deployment.oracle_hub)
            .send()
            .await?
            .get_receipt()
            .await?;
        eyre::ensure!(
            receipt.status(),
            "setCarbonIntensityHub reverted ({})",
            receipt.transaction_hash
        );
        Ok(true)
    }

    /// Releases the carbon the market held while the intensity feed was stale, for those of
    /// `accounts` it holds any for, as the co-op admin; the grams released, none when nothing
    /// was held. Held carbon stays held, said on stderr, when the feed is stale now.
    pub(crate) async fn release_held_carbon(
        &self,
        chain: &Chain,
        accounts: &[Address],
    ) -> eyre::Result<u64> {
        let filter = Filter::new()
            .address(chain.deployment.market)
            .event_signature(EnergyMarket::CarbonHeld::SIGNATURE_HASH);
        let held = cogrid_chain::logs_since(
            &chain.admin,
            &chain.rpc_url,
            &filter,
            chain.deployment.deployed_at_block,
        )
        .await?;
        if held.is_empty() {
            return Ok(0);
        }
        if self
            .hub
            .isStale(FeedKind::CarbonIntensity.id())
            .call()
            .await?
        {
            eprintln!(
                "carbon the market held while the intensity feed was stale stays held for now: \
                 the feed is stale"
            );
            return Ok(0);
        }
        let market = EnergyMarket::new(chain.deployment.market, chain.admin.clone());
        let mut holders = Vec::new();
        for account in accounts {
            if !market.heldCarbonExportWh(*account).call().await?.is_zero() {
                holders.push(*account);
            }
        }
        if holders.is_empty() {
            return Ok(0);
        }
        let receipt = market
            .releaseHeldCarbon(holders)
            .send()
            .await?
            .get_receipt()
            .await?;
        eyre::ensure!(
            receipt.status(),
            "releaseHeldCarbon reverted ({})",
            receipt.transaction_hash
        );
        Ok(receipt
            .logs()
            .iter()
            .filter_map(|log| log.log_decode::<EnergyMarket::CarbonReleased>().ok())
            .map(|released| released.inner.data.grams.saturating_to::<u64>())
            .sum())
    }

    /// Stops the reporters' endpoints and the sources; what the oracle did.
    pub(crate) async fn stop(self) -> cogrid_sim::OracleOutcome {
        self.cancel.cancel();
        self.tasks.close();
        if tokio::time::timeout(TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            eprintln!("the oracle's HTTP endpoints did not stop within {TIMEOUT:?}");
        }
        let figures = self.figures;
        cogrid_sim::OracleOutcome {
            reporters: REPORTERS as u32,
            feeds: self.feeds.len() as u32,
            polls: figures.polls,
            failed_polls: figures.failed,
            rounds: figures.rounds,
            observations: figures.observations,
            transactions: figures.transactions,
            gas_used: figures.gas_used,
            carbon_rounds: figures.carbon_rounds,
            carbon_mismatches: figures.carbon_mismatches,
        }
    }
}

/// The day's answers, at the simulated time, in each source's API format.
#[derive(Clone)]
struct DaySources {
    day: Arc<Day>,
    clock: Arc<AtomicU64>,
}

impl DaySources {
    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }
}

/// The paths `feeds` points the reporters at.
fn source_router(sources: DaySources) -> Router {
    async fn open_meteo(State(sources): State<DaySources>) -> Json<Value> {
        Json(sources.day.open_meteo_current(sources.now()))
    }
    async fn awattar(State(sources): State<DaySources>) -> Json<Value> {
        Json(sources.day.awattar_marketdata(sources.now()))
    }
    async fn energy_charts(State(sources): State<DaySources>) -> Json<Value> {
        Json(sources.day.energy_charts_price(sources.now()))
    }
    async fn carbon_intensity(State(sources): State<DaySources>) -> Json<Value> {
        Json(sources.day.carbon_intensity_current(sources.now()))
    }
    Router::new()
        .route("/open-meteo", get(open_meteo))
        .route("/awattar", get(awattar))
        .route("/energy-charts", get(energy_charts))
        .route("/carbon-intensity", get(carbon_intensity))
        .with_state(sources)
}

/// The four feeds with `oracle.example.toml`'s rules (but [`HEARTBEAT`]), their sources at
/// `base`. The day has one weather series, so each weather feed has one Open-Meteo source (the
/// example's minimum of one source); the spot price has both markets' APIs and needs both. The
/// day's EUR prices are the stablecoin's dollars 1:1, as the homes take them.
fn feeds(base: &Url) -> eyre::Result<Vec<FeedConfig>> {
    let source = |kind: SourceKind, path: &str, unit: &str, multiply: u64| -> eyre::Result<_> {
        Ok(SourceConfig {
            kind,
            url: base.join(path)?,
            timeout: TIMEOUT,
            unit: unit.into(),
            multiply,
            divide: 1,
        })
    };
    let eur = cogrid_sim::day::BASE_UNITS_PER_EUR as u64;
    Ok(vec![
        FeedConfig {
            kind: FeedKind::SpotPrice,
            deviation_bps: 100,
            heartbeat: HEARTBEAT,
            min_sources: 2,
            poll_interval: Duration::from_secs(60),
            outlier_bps: 1_000,
            outlier_min: 0,
            sources: vec![
                source(SourceKind::Awattar, "awattar", "EUR/MWh", eur)?,
                source(SourceKind::EnergyCharts, "energy-charts", "EUR/MWh", eur)?,
            ],
        },
        FeedConfig {
            kind: FeedKind::SolarIrradiance,
            deviation_bps: 500,
            heartbeat: HEARTBEAT,
            min_sources: 1,
            poll_interval: Duration::from_secs(300),
            outlier_bps: 5_000,
            outlier_min: 50,
            sources: vec![source(SourceKind::OpenMeteo, "open-meteo", "W/m2", 1)?],
        },
        FeedConfig {
            kind: FeedKind::Temperature,
            deviation_bps: 100,
            heartbeat: HEARTBEAT,
            min_sources: 1,
            poll_interval: Duration::from_secs(300),
            outlier_bps: 2_000,
            outlier_min: 300,
            sources: vec![source(SourceKind::OpenMeteo, "open-meteo", "degC", 100)?],
        },
        FeedConfig {
            kind: FeedKind::CarbonIntensity,
            deviation_bps: 500,
            heartbeat: HEARTBEAT,
            min_sources: 1,
            poll_interval: Duration::from_secs(300),
            outlier_bps: 1_000,
            outlier_min: 0,
            sources: vec![source(
                SourceKind::CarbonIntensity,
                "carbon-intensity",
                "gCO2/kWh",
                1,
            )?],
        },
    ])
}

/// Binds a loopback port and serves `app` on it until `cancel`; the base URL.
async fn serve(
    app: Router,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    what: &'static str,
) -> eyre::Result<Url> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .wrap_err_with(|| format!("binding {what}"))?;
    let url = base_url(listener.local_addr()?)?;
    serve_on(listener, app, tasks, cancel, what);
    Ok(url)
}

/// Serves `app` on `listener` until `cancel`.
fn serve_on(
    listener: TcpListener,
    app: Router,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    what: &'static str,
) {
    let cancel = cancel.clone();
    tasks.spawn(async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
        {
            eprintln!("{what} stopped: {error}");
        }
    });
}

/// `http://{address}/`.
fn base_url(address: SocketAddr) -> eyre::Result<Url> {
    Ok(Url::parse(&format!("http://{address}/"))?)
}
