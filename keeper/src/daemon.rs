//! The keeper daemon: index, clear, simulate, settle, finalize, serve.
//!
//! Each round indexes the market's events up to the confirmation depth, then walks the closed
//! intervals in order. An interval is cleared once its readings are in: every active meter has
//! reported, or the readings grace has passed. Its settlement is planned (clearing, then a revm
//! simulation of every batch on a fork of the latest block, dropping the meters whose fills would
//! revert and re-clearing without them, and splitting batches whose gas would pass the cap),
//! sent, and followed by a `finalize` of the meters whose volumes are now residual. Then the
//! round settles the virtual power plant events that are due ([`VppSettler`]).
//!
//! Idempotence: the chain's record of the interval is read before anything is planned, every
//! transaction is in the store before it is sent, and a keeper restarted after a crash first
//! settles its earlier attempts with the chain ([`Sender::reconcile`]). The contract refuses a
//! second settlement anyway; a keeper that finds the interval settled, or being settled, by
//! another keeper counts a lost race and moves on.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use cogrid_bindings::{
    EnergyAmm::{self, EnergyAmmInstance},
    EnergyMarket::{self, EnergyMarketErrors, EnergyMarketInstance},
    VppDispatch::{self, VppDispatchInstance},
    amm::IEnergyAmm,
};
use cogrid_chain::{
    Deployment, Fill, VppEventStatus, check_chain, connect_lazily, vpp_proofs, vpp_settle_calls,
};
use futures::{StreamExt as _, TryStreamExt as _};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    batch::{BatchFill, split_balanced},
    book::{IntervalInputs, IslandChange, book, islanded_feeders},
    clearing::{Outcome, Side, at_one_price, clear},
    config::{Config, SettlementConfig},
    error::{KeeperError, rpc},
    http::{
        ClearingReport, CoveredShortfall, DroppedFill, HttpState, PoolCover, ReportedFill,
        SkippedShortfall, router,
    },
    indexer::Indexer,
    metrics::Metrics,
    routing::{PoolQuote, Shortfall, plan_cover, skip_reason},
    settlement::Sender,
    simulate::{OffendingMeter, SettleSimulation, Simulator},
    store::{MeterVolume, Store},
};

/// How long running tasks get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Re-clearings per interval at most, each after dropping a meter whose fill would revert.
const MAX_PLANNING_ROUNDS: usize = 64;
/// Meters per `finalize` transaction: about 15,000 gas each, well under the gas cap.
const FINALIZE_CHUNK: usize = 400;
/// Buyers' vault balances read at once while an interval's inputs are gathered.
const BALANCE_READS_IN_FLIGHT: usize = 16;
/// Headroom on the simulated gas when a transaction's gas limit is set.
const GAS_LIMIT_HEADROOM_PERCENT: u64 = 25;

/// `IEnergyMarket.IntervalStatus`.
const STATUS_IN_PROGRESS: u8 = 1;
const STATUS_SETTLED: u8 = 2;

/// Runs the keeper until `cancel` fires.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), KeeperError> {
    let poll_interval = config.chain.poll_interval;
    let mut keeper = Keeper::start(config, cancel.clone()).await?;
    loop {
        if let Err(error) = keeper.round().await {
            Metrics::add(&keeper.daemon.metrics.errors, 1);
            warn!(%error, "keeper round failed; retrying");
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(poll_interval) => {}
        }
    }
    keeper.stop().await;
    Ok(())
}

/// A keeper that is connected, checked and serving HTTP, worked one round at a time: the daemon
/// loop above, or a simulation that moves the chain's clock itself and wants each interval
/// settled before it goes on.
pub struct Keeper {
    daemon: Daemon,
    tasks: TaskTracker,
    store: Store,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("keeper", &self.daemon.keeper)
            .field("next_interval", &self.daemon.next_interval)
            .finish()
    }
}

impl Keeper {
    /// Connects, checks the chain, the market and the key's role, opens the store and serves
    /// HTTP until `cancel` fires.
    pub async fn start(config: Config, cancel: CancellationToken) -> Result<Self, KeeperError> {
        // `config::load` resolved the keystore path against the config file already.
        let signer = config.keeper.load_signer(std::path::Path::new(""))?;
        let keeper = signer.address();
        let rpc_url = config.chain.rpc_url.to_string();
        let provider = connect_lazily(&rpc_url, signer.clone())?;
        check_chain(&provider, &rpc_url, Some(config.chain.chain_id)).await?;
        let deployment = Deployment::load(&config.chain.deployment)?;
        let market = EnergyMarket::new(deployment.market, provider.clone());
        let code = provider
            .get_code_at(deployment.market)
            .await
            .map_err(rpc("eth_getCode"))?;
        if code.is_empty() {
            return Err(KeeperError::NoMarket {
                market: deployment.market,
            });
        }
        let keeper_role = call(market.KEEPER_ROLE().call().await, "KEEPER_ROLE")?;
        if !call(market.hasRole(keeper_role, keeper).call().await, "hasRole")? {
            return Err(KeeperError::NotKeeper {
                keeper,
                market: deployment.market,
            });
        }
        let interval_seconds = u64::from(call(
            market.INTERVAL_SECONDS().call().await,
            "INTERVAL_SECONDS",
        )?);
        let pool = match call(market.amm().call().await, "amm")? {
            Address::ZERO => {
                info!(
                    "the market has no pool: short intervals' unbought import goes to grid supply"
                );
                None
            }
            address => {
                let contract = EnergyAmm::new(address, provider.clone());
                let fee_bps = call(contract.FEE_BPS().call().await, "FEE_BPS")?;
                Some(Pool {
                    contract,
                    fee_bps: fee_bps.saturating_to(),
                })
            }
        };
        let store = Store::open(&config.database.url).await?;
        let metrics = Arc::new(Metrics::default());
        let http = Arc::new(HttpState::new(store.clone(), metrics.clone()));
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .map_err(|source| KeeperError::Listen {
                listen: config.http.listen,
                source,
            })?;
        let listen: SocketAddr = listener.local_addr().unwrap_or(config.http.listen);
        let tasks = TaskTracker::new();
        let http_cancel = cancel.clone();
        let app = router(http.clone());
        tasks.spawn(async move {
            let shutdown = async move { http_cancel.cancelled().await };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                warn!(%error, "HTTP endpoint stopped");
            }
        });
        info!(%keeper, market = %deployment.market, %listen, "keeper started");

        let sender = Sender::new(
            provider.clone(),
            EthereumWallet::from(signer),
            keeper,
            config.chain.chain_id,
            store.clone(),
            metrics.clone(),
            config.settlement.fee_bump_percent,
            config.settlement.stuck_timeout,
        );
        let indexer = Indexer::new(
            provider.clone(),
            store.clone(),
            deployment.market,
            deployment.deployed_at_block,
            config.chain.confirmations,
        );
        let first_interval =
            first_interval(&provider, &store, &deployment, interval_seconds).await?;
        let vpp = VppSettler::new(&provider, rpc_url, &deployment).await?;
        let daemon = Daemon {
            provider,
            deployed_at_block: deployment.deployed_at_block,
            market,
            pool,
            keeper,
            store: store.clone(),
            sender,
            indexer,
            metrics,
            http,
            settlement: config.settlement.clone(),
            interval_seconds,
            next_interval: first_interval,
            vpp,
        };
        Ok(Self {
            daemon,
            tasks,
            store,
        })
    }

    /// One round: indexes the chain, settles every closed interval whose readings are in, then
    /// the VPP events that are due.
    pub async fn round(&mut self) -> Result<(), KeeperError> {
        self.daemon.round().await
    }

    /// What this keeper cleared and settled in interval `t`, while it is remembered.
    pub fn clearing(&self, t: u64) -> Option<ClearingReport> {
        self.daemon.http.clearing(t)
    }

    /// The keeper's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.daemon.metrics.clone()
    }

    /// Stops serving HTTP (the token given to [`Keeper::start`] must have fired) and closes the
    /// store.
    pub async fn stop(self) {
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            warn!("the HTTP endpoint did not stop within {SHUTDOWN_GRACE:?}");
        }
        self.store.close().await;
        info!("keeper stopped");
    }
}

/// The first interval to look at: after the last one the index saw settled, else the interval
/// the deployment block falls in.
async fn first_interval(
    provider: &DynProvider,
    store: &Store,
    deployment: &Deployment,
    interval_seconds: u64,
) -> Result<u64, KeeperError> {
    if let Some(last) = store.last_settled_interval().await? {
        return Ok(last + 1);
    }
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(deployment.deployed_at_block))
        .await
        .map_err(rpc("eth_getBlockByNumber"))?;
    Ok(block.map_or(0, |block| block.header.timestamp / interval_seconds))
}

/// The keeper's state between rounds.
struct Daemon {
    provider: DynProvider,
    /// Where the market's events start.
    deployed_at_block: u64,
    market: EnergyMarketInstance<DynProvider>,
    /// The market's pool, which covers short intervals' buyers; `None` when the market has none.
    pool: Option<Pool>,
    keeper: Address,
    store: Store,
    sender: Sender,
    indexer: Indexer,
    metrics: Arc<Metrics>,
    http: Arc<HttpState>,
    settlement: SettlementConfig,
    interval_seconds: u64,
    next_interval: u64,
    vpp: VppSettler,
}

/// Settles the market's VPP events: an event's proofs once its settlement opens and again each
/// interval while readings may still arrive, and its close once the proof window is over, so
/// that participants are paid and the operator refunded without anyone asking.
struct VppSettler {
    contract: VppDispatchInstance<DynProvider>,
    deployment: Deployment,
    rpc_url: String,
    /// `GRACE_SECONDS`: settlement opens this long after an event's end.
    grace: u64,
    /// `PROOF_WINDOW`: closing is allowed this long after settlement opens.
    proof_window: u64,
    /// The lowest event id that may still be open; those below are cancelled or closed.
    first_open: u64,
    /// The interval of the last settlement attempt of each open event.
    attempted: HashMap<u64, u64>,
}

/// The market's EnergyAmm.
struct Pool {
    contract: EnergyAmmInstance<DynProvider>,
    fee_bps: u128,
}

/// A settlement ready to send.
struct Plan {
    price: u64,
    batches: Vec<Vec<BatchFill>>,
    /// Buyers the market leaves short whom the pool covers, sent before the batches.
    shortfalls: Vec<Shortfall>,
    dropped: Vec<DroppedFill>,
    gas: Vec<u64>,
    /// Time spent in the clearing itself (every re-clearing included).
    clearing: Duration,
}

/// What became of an interval.
enum Settled {
    /// This keeper settled it.
    ByUs(ClearingReport),
    /// Another keeper settled it, or is settling it.
    ByOther,
    /// A transaction of an earlier run is still waiting in the node's pool.
    Waiting,
}

impl Daemon {
    async fn round(&mut self) -> Result<(), KeeperError> {
        let outcome = self.indexer.catch_up().await?;
        Metrics::set(&self.metrics.chain_head, outcome.head);
        Metrics::set(&self.metrics.indexed_block, outcome.indexed_to.unwrap_or(0));
        let now = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .map_or(0, |block| block.header.timestamp);
        self.settle_intervals(now).await?;
        let interval = now / self.interval_seconds;
        self.vpp
            .settle_due(now, interval, self.keeper, &self.metrics, &self.settlement)
            .await
    }

    /// Clears and settles every closed interval whose readings are in, in order.
    async fn settle_intervals(&mut self, now: u64) -> Result<(), KeeperError> {
        let grace = self.settlement.readings_grace.as_secs();
        let active_meters = self
            .store
            .meters()
            .await?
            .iter()
            .filter(|meter| meter.active)
            .count();
        loop {
            let t = self.next_interval;
            let end = (t + 1) * self.interval_seconds;
            if end > now {
                return Ok(());
            }
            let reported = self.store.meters_reported(end).await?;
            if reported < active_meters as u64 && now < end + grace {
                // Readings may still arrive.
                return Ok(());
            }
            let volumes = self
                .store
                .marketable_volumes(t, self.interval_seconds)
                .await?;
            let mut filled = BTreeSet::new();
            if !volumes.is_empty() {
                match self.settle_interval(t, &volumes, now).await? {
                    Settled::Waiting => return Ok(()),
                    Settled::ByOther => {
                        Metrics::add(&self.metrics.intervals_lost_race, 1);
                        info!(interval = t, "already settled by another keeper; moving on");
                    }
                    Settled::ByUs(report) => {
                        filled = report.fills.iter().map(|fill| fill.meter).collect();
                        Metrics::add(&self.metrics.intervals_settled, 1);
                        info!(
                            interval = t,
                            price = report.price,
                            traded_wh = report.traded_wh,
                            fills = report.fills.len(),
                            "settled"
                        );
                        self.http.keep_clearing(report);
                    }
                }
                Metrics::set(&self.metrics.last_settled_interval, t);
            }
            self.finalize_residuals(t, &filled).await?;
            self.next_interval = t + 1;
        }
    }

    /// Clears, simulates and settles interval `t`; `now` is the chain's time at the round's start.
    async fn settle_interval(
        &self,
        t: u64,
        volumes: &[MeterVolume],
        now: u64,
    ) -> Result<Settled, KeeperError> {
        if self.sender.reconcile(t).await? {
            return Ok(Settled::Waiting);
        }
        let record = call(self.market.interval(t).call().await, "interval")?;
        if record.status == STATUS_SETTLED
            || (record.status == STATUS_IN_PROGRESS && record.keeper != self.keeper)
        {
            return Ok(Settled::ByOther);
        }
        let (plan, closing_only) = if record.status == STATUS_IN_PROGRESS {
            // An earlier run of this keeper crashed between batches: its meters' volumes are
            // settled, the rest settle as residuals once the interval is closed at its price.
            let price = record.price.to::<u64>();
            let plan = Plan {
                price,
                batches: Vec::new(),
                shortfalls: Vec::new(),
                dropped: Vec::new(),
                gas: Vec::new(),
                clearing: Duration::ZERO,
            };
            (plan, true)
        } else {
            match self.plan(t, volumes).await? {
                Some(plan) => (plan, false),
                None => return Ok(Settled::ByOther),
            }
        };
        let mut report = ClearingReport {
            interval: t,
            price: plan.price,
            traded_wh: 0,
            fills: Vec::new(),
            dropped: plan.dropped,
            transactions: Vec::new(),
            pool_cover: None,
            outcome: "settled".into(),
            clearing_micros: u64::try_from(plan.clearing.as_micros()).unwrap_or(u64::MAX),
        };
        if !plan.shortfalls.is_empty() {
            report.pool_cover = self.cover_shortfalls(t, &plan.shortfalls, now).await;
        }
        let batches: Vec<&[BatchFill]> = if plan.batches.is_empty() {
            vec![&[]]
        } else {
            plan.batches.iter().map(Vec::as_slice).collect()
        };
        let last = batches.len() - 1;
        for (index, batch) in batches.into_iter().enumerate() {
            let fills = batch.iter().map(to_contract_fill).collect();
            let settle = EnergyMarket::settleCall {
                t,
                clearingPrice: plan.price,
                fills,
                closing: index == last,
            };
            let gas = plan.gas.get(index).copied().unwrap_or(200_000);
            let limit = (gas + gas * GAS_LIMIT_HEADROOM_PERCENT / 100).min(self.settlement.gas_cap);
            let mined = self
                .sender
                .send(
                    t,
                    *self.market.address(),
                    Bytes::from(settle.abi_encode()),
                    limit,
                )
                .await?;
            report.transactions.push(mined.tx_hash.to_string());
            if !mined.success {
                let record = call(self.market.interval(t).call().await, "interval")?;
                if record.keeper != self.keeper && record.status != 0 {
                    return Ok(Settled::ByOther);
                }
                return Err(KeeperError::Reverted {
                    what: "settle",
                    tx_hash: mined.tx_hash,
                });
            }
            Metrics::add(&self.metrics.fills_settled, batch.len() as u64);
            for fill in batch {
                if fill.side == Side::Sell {
                    report.traded_wh += fill.wh;
                }
                report.fills.push(ReportedFill {
                    meter: fill.meter,
                    side: if fill.side == Side::Sell {
                        "sell"
                    } else {
                        "buy"
                    },
                    wh: fill.wh,
                });
            }
        }
        if closing_only {
            report.outcome = "closed after a restart between batches".into();
        }
        Ok(Settled::ByUs(report))
    }

    /// Clears `t`, simulating each batch; drops the meters whose fills would revert and clears
    /// again without them. `None` when the simulation shows another keeper got there first.
    async fn plan(&self, t: u64, volumes: &[MeterVolume]) -> Result<Option<Plan>, KeeperError> {
        let start = t * self.interval_seconds;
        let end = start + self.interval_seconds;
        let inputs = self.inputs(volumes, start, end).await?;
        let mut simulator = Simulator::fork_latest(self.provider.clone()).await?;
        let mut excluded = BTreeSet::new();
        let mut dropped = Vec::new();
        let mut max_fills = self.settlement.batch_size;
        let mut clearing = Duration::ZERO;
        'replan: for _ in 0..MAX_PLANNING_ROUNDS {
            let cleared = Instant::now();
            let book = book(&inputs, start, end, &excluded);
            let (price, fills) = match at_one_price(&book, &clear(&book)) {
                Outcome::Traded(trade) => (trade.price, trade.fills),
                Outcome::NoTrade => (0, Vec::new()),
            };
            let fills: Vec<BatchFill> = fills
                .iter()
                .map(|fill| BatchFill {
                    meter: fill.meter,
                    side: fill.side,
                    wh: fill.wh,
                })
                .collect();
            let batches = split_balanced(&fills, max_fills);
            clearing += cleared.elapsed();
            let mut gas = Vec::new();
            let count = batches.len().max(1);
            for index in 0..count {
                let batch = batches.get(index).map_or(&[][..], Vec::as_slice);
                let call = EnergyMarket::settleCall {
                    t,
                    clearingPrice: price,
                    fills: batch.iter().map(to_contract_fill).collect(),
                    closing: index + 1 == count,
                };
                match simulator
                    .simulate_settle(self.keeper, *self.market.address(), &call)
                    .await?
                {
                    SettleSimulation::Ok { gas_used } => {
                        if gas_used > self.settlement.gas_cap && batch.len() > 2 {
                            // Scale the batch size down to what fits, with a tenth to spare.
                            let fits =
                                (batch.len() as u128 * u128::from(self.settlement.gas_cap) * 9
                                    / 10
                                    / u128::from(gas_used))
                                    as usize;
                            max_fills = fits.clamp(2, batch.len() - 1);
                            continue 'replan;
                        }
                        gas.push(gas_used);
                    }
                    SettleSimulation::Halted { reason } => {
                        // Out of gas at the block's gas limit: far too big, halve it.
                        warn!(interval = t, %reason, "settlement batch halted; splitting it");
                        max_fills = (batch.len() / 2).max(2);
                        continue 'replan;
                    }
                    SettleSimulation::Reverted { error, raw } => {
                        if let Some(
                            EnergyMarketErrors::MarketIntervalAlreadySettled(_)
                            | EnergyMarketErrors::MarketIntervalClaimed(_),
                        ) = error.as_ref()
                        {
                            return Ok(None);
                        }
                        let reason = error.as_ref().map_or_else(
                            || format!("revert data {raw}"),
                            |error| format!("{error:?}"),
                        );
                        let Some(meter) = error.as_ref().and_then(|error| error.offending_meter())
                        else {
                            return Err(KeeperError::SettlementRefused {
                                interval: t,
                                reason,
                            });
                        };
                        warn!(interval = t, %meter, %reason, "dropping a fill that would revert");
                        Metrics::add(&self.metrics.fills_dropped, 1);
                        excluded.insert(meter);
                        dropped.push(DroppedFill {
                            meter: meter.to_string(),
                            reason,
                        });
                        continue 'replan;
                    }
                }
            }
            let shortfalls = match &self.pool {
                Some(pool) => {
                    let reserves = call(pool.contract.getReserves().call().await, "getReserves")?;
                    let quote = PoolQuote {
                        reserve_credits: reserves.reserveCredits.saturating_to(),
                        reserve_stable: reserves.reserveStable.saturating_to(),
                        fee_bps: pool.fee_bps,
                    };
                    let planned = Instant::now();
                    let shortfalls =
                        plan_cover(&inputs, (start, end), &excluded, (price, &fills), quote);
                    clearing += planned.elapsed();
                    shortfalls
                }
                None => Vec::new(),
            };
            return Ok(Some(Plan {
                price,
                batches,
                shortfalls,
                dropped,
                gas,
                clearing,
            }));
        }
        Err(KeeperError::SettlementRefused {
            interval: t,
            reason: format!("still reverting after dropping {} meters", excluded.len()),
        })
    }

    /// The clearing's inputs for the interval `[start, end)`: the index's orders, meters and
    /// participants, the interval's volumes, and the chain's balances (of buyers), network fee
    /// and islanded feeders.
    async fn inputs(
        &self,
        volumes: &[MeterVolume],
        start: u64,
        end: u64,
    ) -> Result<IntervalInputs, KeeperError> {
        let orders = self.store.live_orders().await?;
        let importing: BTreeSet<Address> = volumes
            .iter()
            .filter(|volume| volume.import_wh > 0)
            .map(|volume| volume.meter)
            .collect();
        let buyers: BTreeSet<Address> = orders
            .iter()
            .filter(|order| order.buy_ceiling.is_some() && importing.contains(&order.meter))
            .map(|order| order.owner)
            .collect();
        // A few reads in flight at a time: hundreds of buyers read one after another took a tenth
        // of a second per interval at 500 homes on a local node, and longer over a network.
        let vaults: Vec<_> = futures::stream::iter(buyers)
            .map(|buyer| async move {
                call(self.market.balancesOf(buyer).call().await, "balancesOf")
                    .map(|vault| (buyer, vault))
            })
            .buffer_unordered(BALANCE_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut balances = std::collections::BTreeMap::new();
        let mut credits_wh = std::collections::BTreeMap::new();
        for (buyer, vault) in vaults {
            balances.insert(buyer, vault.stablecoin.saturating_to::<u128>());
            credits_wh.insert(buyer, vault.creditsWh.saturating_to::<u128>());
        }
        let fee = call(self.market.networkFee().call().await, "networkFee")?;
        Ok(IntervalInputs {
            orders,
            volumes: volumes.to_vec(),
            meters: self.store.meters().await?,
            participants: self.store.active_participants().await?,
            balances,
            credits_wh,
            network_fee: fee.feePerKwh,
            islanded: islanded_feeders(&self.island_changes().await?, start, end),
        })
    }

    /// Every `FeederIslanded` of the market, in chain order. Islands are rare: the whole history
    /// is one `eth_getLogs` per interval.
    async fn island_changes(&self) -> Result<Vec<IslandChange>, KeeperError> {
        let filter = Filter::new()
            .address(*self.market.address())
            .event_signature(EnergyMarket::FeederIslanded::SIGNATURE_HASH)
            .from_block(self.deployed_at_block);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(rpc("eth_getLogs"))?;
        Ok(logs
            .iter()
            .filter_map(|log| EnergyMarket::FeederIslanded::decode_log_data(log.data()).ok())
            .map(|event| IslandChange {
                feeder: event.feeder,
                islanded: event.islanded,
                at: event.at.saturating_to(),
            })
            .collect())
    }

    /// Buys pool credits for `shortfalls` of interval `t`, before its settlement. A failure is
    /// logged and counted, never fatal: the interval still settles, and the shortfalls go to grid
    /// supply as they would without a pool. The purchase's deadline is one interval after `now`.
    async fn cover_shortfalls(
        &self,
        t: u64,
        shortfalls: &[Shortfall],
        now: u64,
    ) -> Option<PoolCover> {
        let pool = self.pool.as_ref()?;
        match self.send_cover(pool, t, shortfalls, now).await {
            Ok(cover) => {
                let bought: u64 = cover.covered.iter().map(|covered| covered.wh).sum();
                Metrics::add(&self.metrics.shortfalls_covered, cover.covered.len() as u64);
                Metrics::add(&self.metrics.pool_credits_bought_wh, bought);
                info!(
                    interval = t,
                    covered = cover.covered.len(),
                    skipped = cover.skipped.len(),
                    bought_wh = bought,
                    "bought pool credits for the interval's short buyers"
                );
                Some(cover)
            }
            Err(error) => {
                Metrics::add(&self.metrics.shortfall_cover_failures, 1);
                warn!(interval = t, %error, "could not buy pool credits for short buyers; settling without");
                None
            }
        }
    }

    async fn send_cover(
        &self,
        pool: &Pool,
        t: u64,
        shortfalls: &[Shortfall],
        now: u64,
    ) -> Result<PoolCover, KeeperError> {
        let cover = EnergyAmm::coverShortfallsCall {
            t,
            shortfalls: shortfalls
                .iter()
                .map(|shortfall| IEnergyAmm::Shortfall {
                    meter: shortfall.meter,
                    wh: U256::from(shortfall.unbought_wh),
                    // The quote exactly: a price moved since costs a skip, never the buyer.
                    maxCost: U256::from(shortfall.expected_cost),
                })
                .collect(),
            // Within the interval that follows: the settlement it precedes is due by then.
            deadline: U256::from(now + self.interval_seconds),
        };
        let input = Bytes::from(cover.abi_encode());
        let limit = gas_limit(
            &self.provider,
            self.keeper,
            *pool.contract.address(),
            &input,
            self.settlement.gas_cap,
        )
        .await?;
        let mined = self
            .sender
            .send(t, *pool.contract.address(), input, limit)
            .await?;
        if !mined.success {
            return Err(KeeperError::Reverted {
                what: "coverShortfalls",
                tx_hash: mined.tx_hash,
            });
        }
        let mut report = PoolCover {
            transaction: mined.tx_hash.to_string(),
            covered: Vec::new(),
            skipped: Vec::new(),
        };
        let receipt = self.sender.receipt(mined.tx_hash).await?;
        for log in receipt.iter().flat_map(|receipt| receipt.inner.logs()) {
            if let Ok(covered) = EnergyAmm::ShortfallCovered::decode_log_data(log.data()) {
                report.covered.push(CoveredShortfall {
                    meter: covered.meter,
                    wh: covered.creditsWh.saturating_to(),
                    paid: covered.stablecoin.saturating_to(),
                });
            } else if let Ok(skipped) = EnergyAmm::ShortfallSkipped::decode_log_data(log.data()) {
                report.skipped.push(SkippedShortfall {
                    meter: skipped.meter,
                    reason: skip_reason(skipped.reason),
                });
            }
        }
        Ok(report)
    }

    /// Finalizes every meter whose volumes up to interval `t` can only settle as residuals,
    /// leaving out the meters whose fills just settled theirs (the index may not show it yet).
    async fn finalize_residuals(
        &self,
        t: u64,
        filled: &BTreeSet<Address>,
    ) -> Result<(), KeeperError> {
        let meters: Vec<Address> = self
            .store
            .unsettled_meters((t + 1) * self.interval_seconds)
            .await?
            .into_iter()
            .filter(|meter| !filled.contains(meter))
            .collect();
        let mut chunks: Vec<&[Address]> = meters.chunks(FINALIZE_CHUNK).rev().collect();
        while let Some(chunk) = chunks.pop() {
            let finalize = Bytes::from(
                EnergyMarket::finalizeCall {
                    meters: chunk.to_vec(),
                }
                .abi_encode(),
            );
            // Estimated, not a per-meter guess: a meter's first credits or carbon cost storage
            // that later ones do not, and a guess short of it reverted the same finalize forever.
            // A chunk over the gas cap is split in two.
            let limit = match gas_limit(
                &self.provider,
                self.keeper,
                *self.market.address(),
                &finalize,
                self.settlement.gas_cap,
            )
            .await
            {
                Err(KeeperError::GasAboveCap { .. }) if chunk.len() > 1 => {
                    let (first, second) = chunk.split_at(chunk.len() / 2);
                    chunks.push(second);
                    chunks.push(first);
                    continue;
                }
                limit => limit?,
            };
            let mined = self
                .sender
                .send(t, *self.market.address(), finalize, limit)
                .await?;
            if !mined.success {
                return Err(KeeperError::Reverted {
                    what: "finalize",
                    tx_hash: mined.tx_hash,
                });
            }
            Metrics::add(&self.metrics.meters_finalized, chunk.len() as u64);
        }
        Ok(())
    }
}

impl VppSettler {
    async fn new(
        provider: &DynProvider,
        rpc_url: String,
        deployment: &Deployment,
    ) -> Result<Self, KeeperError> {
        let contract = VppDispatch::new(deployment.vpp_dispatch, provider.clone());
        let grace = call(
            contract.GRACE_SECONDS().call().await,
            "VppDispatch.GRACE_SECONDS",
        )?;
        let proof_window = call(
            contract.PROOF_WINDOW().call().await,
            "VppDispatch.PROOF_WINDOW",
        )?;
        Ok(Self {
            contract,
            deployment: *deployment,
            rpc_url,
            grace: grace.saturating_to(),
            proof_window: proof_window.saturating_to(),
            first_open: 1,
            attempted: HashMap::new(),
        })
    }

    /// Settles what is due of every open event at chain time `now` (in `interval`). An event that
    /// fails (its proofs do not go through, the node refuses a call) is logged and tried again
    /// next interval; it never holds up the others.
    async fn settle_due(
        &mut self,
        now: u64,
        interval: u64,
        keeper: Address,
        metrics: &Metrics,
        settlement: &SettlementConfig,
    ) -> Result<(), KeeperError> {
        let count: u64 = call(
            self.contract.eventCount().call().await,
            "VppDispatch.eventCount",
        )?
        .saturating_to();
        for id in self.first_open..=count {
            let event = call(
                self.contract.eventOf(U256::from(id)).call().await,
                "VppDispatch.eventOf",
            )?;
            if VppEventStatus::from_abi(event.status) != Some(VppEventStatus::Open) {
                if id == self.first_open {
                    self.first_open += 1;
                }
                self.attempted.remove(&id);
                continue;
            }
            let opens = event.end.to::<u64>() + self.grace;
            let closing = now >= opens + self.proof_window;
            if now < opens || self.attempted.get(&id) == Some(&interval) {
                continue;
            }
            self.attempted.insert(id, interval);
            if let Err(error) = self
                .settle_event(id, closing, keeper, metrics, settlement)
                .await
            {
                warn!(event = id, %error, "VPP event not settled; trying again next interval");
            }
        }
        Ok(())
    }

    /// Submits the proofs of event `id` that are on chain, and closes it with `closing`.
    ///
    /// Sent straight from the keeper's wallet, not through the settlement [`Sender`]: its
    /// attempts belong to market intervals, and a VPP settlement that is lost is simply tried
    /// again (the contract refuses a proof twice).
    async fn settle_event(
        &self,
        id: u64,
        closing: bool,
        keeper: Address,
        metrics: &Metrics,
        settlement: &SettlementConfig,
    ) -> Result<(), KeeperError> {
        let provider = self.contract.provider();
        let found = vpp_proofs(provider, &self.rpc_url, &self.deployment, U256::from(id)).await?;
        for (meter, boundaries) in &found.missing {
            info!(event = id, %meter, ?boundaries, "VPP enrolment waits for readings");
        }
        for settle in vpp_settle_calls(U256::from(id), &found.proofs, closing) {
            let settled = settle.proofs.len() as u64;
            let closes = settle.closing;
            let input = Bytes::from(settle.abi_encode());
            let limit = gas_limit(
                provider,
                keeper,
                self.deployment.vpp_dispatch,
                &input,
                settlement.gas_cap,
            )
            .await?;
            let request = TransactionRequest::default()
                .with_to(self.deployment.vpp_dispatch)
                .with_input(input)
                .with_gas_limit(limit);
            let receipt = provider
                .send_transaction(request)
                .await
                .map_err(rpc("eth_sendRawTransaction"))?
                .with_timeout(Some(settlement.stuck_timeout))
                .get_receipt()
                .await
                .map_err(|error| KeeperError::Rpc {
                    call: "VppDispatch.settle receipt",
                    message: error.to_string(),
                })?;
            Metrics::add(&metrics.gas_used, receipt.gas_used);
            if !receipt.status() {
                return Err(KeeperError::Reverted {
                    what: "VppDispatch.settle",
                    tx_hash: receipt.transaction_hash,
                });
            }
            Metrics::add(&metrics.vpp_enrolments_settled, settled);
            if closes {
                Metrics::add(&metrics.vpp_events_closed, 1);
            }
            info!(event = id, settled, closing = closes, "settled VPP event");
        }
        Ok(())
    }
}

/// The gas limit of a call `from` to `to` with `input`: the node's estimate with headroom, at most
/// `cap`. A call the node says reverts fails here, before anything is sent; one that needs more
/// than `cap` fails with [`KeeperError::GasAboveCap`], for the caller to split it.
async fn gas_limit(
    provider: &DynProvider,
    from: Address,
    to: Address,
    input: &Bytes,
    cap: u64,
) -> Result<u64, KeeperError> {
    let request = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(input.clone());
    let gas = provider
        .estimate_gas(request)
        .await
        .map_err(rpc("eth_estimateGas"))?;
    if gas > cap {
        return Err(KeeperError::GasAboveCap { gas, cap });
    }
    Ok((gas + gas * GAS_LIMIT_HEADROOM_PERCENT / 100).min(cap))
}

/// A fill packed into the word `settle` takes.
fn to_contract_fill(fill: &BatchFill) -> U256 {
    Fill {
        meter: fill.meter,
        buy: fill.side == Side::Buy,
        // Pending volumes are uint32 on chain: no meter attests more in one interval.
        wh: u32::try_from(fill.wh).unwrap_or(u32::MAX),
    }
    .pack()
}

/// A contract call's result, its failure named after `what`.
fn call<T>(
    result: Result<T, alloy::contract::Error>,
    what: &'static str,
) -> Result<T, KeeperError> {
    result.map_err(|error| KeeperError::Rpc {
        call: what,
        message: error.to_string(),
    })
}
