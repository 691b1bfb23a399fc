//! The reporter daemon: per feed, every `poll_interval`, observe (fetch the sources, aggregate,
//! sign, publish at `/observations/{feed}`), and when Chainlink's rule says the value is worth a
//! round, gather the peers' observations and submit the round.
//!
//! **Who sends.** Every reporter that sees the trigger assembles the same kind of round, so they
//! would all send at once. Each waits `exchange.stagger` times its rank (its place among the
//! round's signers, by address) and then reads the hub's latest round again: when a peer's round
//! has landed meanwhile, it counts "already reported by a peer" and sends nothing. A round that
//! still loses the race is counted the same way, not as an error: the hub refuses it with
//! `OracleHubObservationNotNewer` (decoded from the revert) because the newer round made its
//! observations stale; a transaction mined but reverted carries no revert data, so there the
//! hub's latest round is read again and compared with the one the round was built on.
//!
//! **Starting.** A reporter's first poll of a feed only publishes its observation, so that
//! reporters started together gather each other's at their next poll rather than the first of
//! them submitting a partial round.

use std::{collections::BTreeSet, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, I256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::{Eip712Domain, SolStruct},
    transports::http::reqwest::Client,
};
use cogrid_bindings::OracleHub::{self, OracleHubErrors, OracleHubInstance};
use cogrid_chain::{Deployment, check_chain, connect_lazily, hub_domain};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    aggregate::{LastRound, OutlierRule, Trigger, aggregate, should_report},
    config::{Config, FeedConfig, FeedKind},
    error::{OracleError, contract_call},
    exchange::{Peers, Round, RoundRules, assemble},
    http::{HttpState, router},
    metrics::Metrics,
    observation::SignedObservation,
    sources::Sources,
};

/// How long running tasks get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The chain-free half of a reporter: fetches a feed's sources, takes their median, signs it and
/// publishes it for the peers.
#[derive(Debug, Clone)]
pub struct Observer {
    sources: Sources,
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    metrics: Arc<Metrics>,
    state: Arc<HttpState>,
}

impl Observer {
    /// An observer signing with `signer` for `domain`, publishing into `state`.
    pub fn new(
        sources: Sources,
        signer: PrivateKeySigner,
        domain: Eip712Domain,
        metrics: Arc<Metrics>,
        state: Arc<HttpState>,
    ) -> Self {
        Self {
            sources,
            signer,
            domain,
            metrics,
            state,
        }
    }

    /// The reporter's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Fetches every source of `feed` at once, aggregates the values and, when they give one,
    /// signs it as observed at `now` and publishes it. `Ok(None)` when the sources give no value
    /// (logged and counted).
    pub async fn observe(
        &self,
        feed: &FeedConfig,
        now: u64,
    ) -> Result<Option<SignedObservation>, OracleError> {
        let fetches: Vec<_> = feed
            .sources
            .iter()
            .map(|source| {
                let (sources, source, kind) = (self.sources.clone(), source.clone(), feed.kind);
                tokio::spawn(async move { sources.fetch(&source, kind, now).await })
            })
            .collect();
        let mut values = Vec::with_capacity(fetches.len());
        for (index, fetch) in fetches.into_iter().enumerate() {
            let figures = self.metrics.source(feed.kind, index);
            let source = &feed.sources[index];
            match fetch.await {
                Ok(Ok(value)) => {
                    values.push(value);
                    figures
                        .last_value
                        .store(value, std::sync::atomic::Ordering::Relaxed);
                    figures
                        .last_success
                        .store(now, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(Err(error)) => {
                    Metrics::count(&figures.failures);
                    warn!(feed = %feed.kind, source = %source.kind, url = %source.url, %error, "source failed");
                }
                Err(error) => {
                    Metrics::count(&figures.failures);
                    warn!(feed = %feed.kind, source = %source.kind, %error, "source fetch task failed");
                }
            }
        }
        let rule = OutlierRule {
            bps: feed.outlier_bps,
            min: feed.outlier_min,
        };
        let aggregate = match aggregate(&values, rule, feed.min_sources) {
            Ok(aggregate) => aggregate,
            Err(no_value) => {
                Metrics::count(&self.metrics.feed(feed.kind).no_value);
                warn!(feed = %feed.kind, %no_value, "no value this poll");
                return Ok(None);
            }
        };
        if !aggregate.outliers.is_empty() {
            warn!(feed = %feed.kind, outliers = ?aggregate.outliers, value = aggregate.value, "sources dropped as outliers");
        }
        let observation =
            SignedObservation::sign(&self.signer, &self.domain, feed.kind, aggregate.value, now)
                .map_err(|error| OracleError::Sign {
                    message: error.to_string(),
                })?;
        let figures = self.metrics.feed(feed.kind);
        figures
            .observed
            .store(aggregate.value, std::sync::atomic::Ordering::Relaxed);
        figures
            .observed_at
            .store(now, std::sync::atomic::Ordering::Relaxed);
        self.state.publish(observation.clone());
        Ok(Some(observation))
    }
}

/// A reporter connected to its chain and hub, ready to [`Reporter::run`].
#[derive(Debug)]
pub struct Reporter {
    config: Config,
    observer: Observer,
    peers: Peers,
    hub: OracleHubInstance<DynProvider>,
    metrics: Arc<Metrics>,
    state: Arc<HttpState>,
}

impl Reporter {
    /// Decrypts the reporter's keystore, connects and checks the hub (see
    /// [`Reporter::connect`]).
    pub async fn from_config(config: Config) -> Result<Self, OracleError> {
        // `config::load` resolved the keystore path against the config file already.
        let signer = config.reporter.load_signer(Path::new(""))?;
        Self::connect(config, signer).await
    }

    /// Connects to the chain with `signer` as the reporter key and checks that the node serves
    /// the configured chain, that OracleHub is deployed at the configured address, hashes
    /// observations as the reporter signs them (same EIP-712 domain separator, same digest of a
    /// probe observation through `observationDigest`), and lists `signer` as a reporter.
    pub async fn connect(config: Config, signer: PrivateKeySigner) -> Result<Self, OracleError> {
        let reporter = signer.address();
        let rpc_url = config.chain.rpc_url.to_string();
        let provider = connect_lazily(&rpc_url, signer.clone())?;
        check_chain(&provider, &rpc_url, Some(config.chain.chain_id)).await?;
        let hub_address = hub_address(&config)?;
        let code = provider
            .get_code_at(hub_address)
            .await
            .map_err(|error| OracleError::Rpc {
                call: "eth_getCode",
                message: error.to_string(),
            })?;
        if code.is_empty() {
            return Err(OracleError::NoHub { hub: hub_address });
        }
        let hub = OracleHub::new(hub_address, provider);
        let domain = hub_domain(config.chain.chain_id, hub_address);
        let actual = hub
            .domainSeparator()
            .call()
            .await
            .map_err(contract_call("domainSeparator"))?;
        let expected: B256 = domain.separator();
        if actual != expected {
            return Err(OracleError::DomainMismatch {
                hub: hub_address,
                chain_id: config.chain.chain_id,
                expected,
                actual,
            });
        }
        // The domain matching leaves the type: a round signed over another type string would be
        // refused signer by signer, so compare one digest before any is signed.
        let probe = SignedObservation {
            feed: FeedKind::SpotPrice,
            answer: -1,
            observed_at: 1,
            signer: reporter,
            r: B256::ZERO,
            vs: B256::ZERO,
        }
        .message();
        let hub_digest = hub
            .observationDigest(probe.feed, probe.answer, probe.observedAt)
            .call()
            .await
            .map_err(contract_call("observationDigest"))?;
        let digest = probe.eip712_signing_hash(&domain);
        if hub_digest != digest {
            return Err(OracleError::DigestMismatch {
                hub: hub_address,
                expected: digest,
                actual: hub_digest,
            });
        }
        if !hub
            .isReporter(reporter)
            .call()
            .await
            .map_err(contract_call("isReporter"))?
        {
            return Err(OracleError::NotReporter {
                reporter,
                hub: hub_address,
            });
        }
        let metrics = Arc::new(Metrics::new(&config));
        let state = Arc::new(HttpState::new(reporter, metrics.clone()));
        let client = Client::new();
        let observer = Observer::new(
            Sources::new(client.clone()),
            signer,
            domain,
            metrics.clone(),
            state.clone(),
        );
        let peers = Peers::new(
            client,
            config.exchange.peers.clone(),
            config.exchange.timeout,
        );
        Ok(Self {
            config,
            observer,
            peers,
            hub,
            metrics,
            state,
        })
    }

    /// The reporter's address.
    pub fn address(&self) -> Address {
        self.observer.address()
    }

    /// The reporter's figures, as `/metrics` serves them.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The reporter's HTTP endpoint (`/health`, `/metrics`, `/observations/{feed}`), for a caller
    /// that serves it itself and drives [`Reporter::poll`] step by step.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }

    /// Serves HTTP on `config.http.listen` and reports until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), OracleError> {
        let listen = self.config.http.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| OracleError::Listen { listen, source })?;
        self.run_on(listener, cancel).await
    }

    /// Serves HTTP on `listener` and reports until `cancel` fires: for a caller that binds the
    /// reporters' ports first so that each can list the others as peers.
    pub async fn run_on(
        self,
        listener: TcpListener,
        cancel: CancellationToken,
    ) -> Result<(), OracleError> {
        let listen: SocketAddr = listener.local_addr().unwrap_or(self.config.http.listen);
        let tasks = TaskTracker::new();
        let app = self.router();
        let http_cancel = cancel.clone();
        tasks.spawn(async move {
            let shutdown = async move { http_cancel.cancelled().await };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                warn!(%error, "HTTP endpoint stopped");
            }
        });
        info!(reporter = %self.address(), hub = %self.hub.address(), %listen, peers = self.peers.urls().len(), "oracle reporter started");
        let reporter = Arc::new(self);
        for feed in reporter.config.feeds.clone() {
            let (reporter, cancel) = (reporter.clone(), cancel.clone());
            tasks.spawn(async move { reporter.report_feed(&feed, &cancel).await });
        }
        cancel.cancelled().await;
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
            .await
            .is_err()
        {
            warn!("the reporter's tasks did not stop within {SHUTDOWN_GRACE:?}");
        }
        info!("oracle reporter stopped");
        Ok(())
    }

    async fn report_feed(&self, feed: &FeedConfig, cancel: &CancellationToken) {
        // Polls start every poll_interval however long one takes (a stagger, a transaction), so
        // that the observation the peers gather is never much more than a poll old.
        let mut ticks = tokio::time::interval(feed.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // The first poll only publishes: reporters started together (the co-ops after an
            // upgrade, the simulator) then find each other's observations when they next
            // gather, instead of the first to poll submitting the round of the few that had
            // published, whose median (of an even count, the mean of the middle two) a single
            // wild reporter would move.
            let polled = if std::mem::take(&mut first) {
                self.publish(feed).await
            } else {
                self.poll(feed, cancel).await.map(drop)
            };
            if let Err(error) = polled {
                Metrics::count(&self.metrics.errors);
                warn!(feed = %feed.kind, %error, "round failed; retrying at the next poll");
            }
        }
    }

    /// Observes `feed` and publishes the observation for the peers, without reporting.
    async fn publish(&self, feed: &FeedConfig) -> Result<(), OracleError> {
        let now = self.chain_now().await?;
        self.observer.observe(feed, now).await.map(drop)
    }

    /// One poll of `feed`: observe, and report when the rule says so.
    ///
    /// "Now" is the latest block's timestamp, for the observation and for picking a source's
    /// current entry: the hub refuses an observation from after its block's timestamp, which a
    /// system clock a second ahead of the sequencer's would produce, and a devnet whose clock is
    /// moved ahead (the simulator) is observed at its own time.
    pub async fn poll(
        &self,
        feed: &FeedConfig,
        cancel: &CancellationToken,
    ) -> Result<Outcome, OracleError> {
        let now = self.chain_now().await?;
        let Some(own) = self.observer.observe(feed, now).await? else {
            return Ok(Outcome::NoValue);
        };
        let last = self.latest_round(feed.kind).await?;
        let Some(trigger) = should_report(
            own.answer,
            &last,
            now,
            feed.deviation_bps,
            feed.heartbeat.as_secs(),
        ) else {
            return Ok(Outcome::Unchanged);
        };
        let feed_config = self
            .hub
            .feedConfig(feed.kind.id())
            .call()
            .await
            .map_err(contract_call("feedConfig"))?;
        let quorum = usize::from(feed_config.quorum);
        let hub_heartbeat = u64::from(feed_config.heartbeat);
        let mut candidates = vec![own];
        for (index, result) in self
            .peers
            .gather(feed.kind, &self.observer.domain)
            .await
            .into_iter()
            .enumerate()
        {
            let figures = self.metrics.peer(index);
            match result {
                Ok(observation) => {
                    figures
                        .last_success
                        .store(now, std::sync::atomic::Ordering::Relaxed);
                    candidates.push(observation);
                }
                Err(_) => Metrics::count(&figures.failures),
            }
        }
        let reporters = self.reporters(&candidates).await?;
        // A peer publishes an observation every poll, signed before its sources are fetched: its
        // latest is less than two polls old unless it stopped. Never older than the hub's
        // heartbeat allows.
        let mut max_age = (2 * feed.poll_interval).as_secs();
        if hub_heartbeat > 0 {
            max_age = max_age.min(hub_heartbeat);
        }
        // Read again: a peer that polled since this poll began observed at a later block, which
        // the round's block will not precede either.
        let now = self.chain_now().await?;
        let round = assemble(
            candidates,
            |signer| reporters.contains(&signer),
            RoundRules {
                updated_at: last.updated_at,
                now,
                max_age,
            },
        );
        for (observation, why) in &round.left_out {
            warn!(feed = %feed.kind, signer = %observation.signer, ?why, "observation left out of the round");
        }
        if round.observations.len() < quorum {
            Metrics::count(&self.metrics.feed(feed.kind).no_quorum);
            warn!(feed = %feed.kind, ?trigger, observations = round.observations.len(), quorum, "no quorum of fresh observations; nothing reported");
            return Ok(Outcome::NoQuorum {
                observations: round.observations.len(),
                quorum,
            });
        }
        // The hub bounds the round's median, not each observation: this reporter's own value
        // may lie outside while the round's does not.
        let median = round
            .median()
            .expect("a quorum is at least one observation");
        let median_answer = I256::try_from(median).expect("every i64 fits in int256");
        if median_answer < feed_config.minAnswer || median_answer > feed_config.maxAnswer {
            Metrics::count(&self.metrics.feed(feed.kind).out_of_bounds);
            warn!(feed = %feed.kind, median, min = %feed_config.minAnswer, max = %feed_config.maxAnswer, "the round's median lies outside the hub's bounds for the feed; nothing reported (check the sources and their conversion)");
            return Ok(Outcome::OutOfBounds);
        }
        let rank = round.rank(self.address()).unwrap_or(0);
        if rank > 0 {
            tokio::select! {
                () = cancel.cancelled() => return Ok(Outcome::Unchanged),
                () = tokio::time::sleep(self.config.exchange.stagger * rank as u32) => {}
            }
            if self.peer_reported(feed.kind, &last).await? {
                return Ok(Outcome::ByPeer);
            }
        }
        self.submit(feed.kind, &round, &last, trigger).await
    }

    /// Sends `round` and waits for it; a round refused because a newer one landed is a peer's,
    /// any other refusal is [`OracleError::Refused`] with the hub's error.
    async fn submit(
        &self,
        feed: FeedKind,
        round: &Round,
        last: &LastRound,
        trigger: Trigger,
    ) -> Result<Outcome, OracleError> {
        let call = round.call(feed);
        let sent = self
            .hub
            .submitRound(call.feed, call.observations)
            .send()
            .await;
        let pending = match sent {
            Ok(pending) => pending,
            Err(error) => {
                return match error.as_decoded_interface_error::<OracleHubErrors>() {
                    // The round was assembled from observations newer than `last`: refused as
                    // not newer, a round after `last` landed between the assembly and the send.
                    Some(OracleHubErrors::OracleHubObservationNotNewer(_)) => {
                        self.peer_reported(feed, last).await?;
                        Ok(Outcome::ByPeer)
                    }
                    Some(reason) => Err(OracleError::Refused { feed, reason }),
                    None => Err(OracleError::Submit {
                        feed,
                        message: match error.as_revert_data() {
                            Some(data) => format!("reverted with unknown data {data}"),
                            None => error.to_string(),
                        },
                    }),
                };
            }
        };
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|error| OracleError::Submit {
                feed,
                message: error.to_string(),
            })?;
        if !receipt.status() {
            if self.peer_reported(feed, last).await? {
                return Ok(Outcome::ByPeer);
            }
            return Err(OracleError::Reverted {
                feed,
                tx_hash: receipt.transaction_hash,
            });
        }
        Metrics::count(&self.metrics.feed(feed).rounds_submitted);
        let median = round.median().unwrap_or_default();
        info!(%feed, ?trigger, median, observations = round.observations.len(), tx = %receipt.transaction_hash, "round submitted");
        self.latest_round(feed).await?;
        Ok(Outcome::Submitted {
            tx_hash: receipt.transaction_hash,
            observations: round.observations.len(),
        })
    }

    /// The latest block's timestamp.
    async fn chain_now(&self) -> Result<u64, OracleError> {
        let block = self
            .hub
            .provider()
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|error| OracleError::Rpc {
                call: "eth_getBlockByNumber",
                message: error.to_string(),
            })?;
        Ok(block.map_or(0, |block| block.header.timestamp))
    }

    /// Whether a round newer than `last` has landed (and counts it as a peer's).
    async fn peer_reported(&self, feed: FeedKind, last: &LastRound) -> Result<bool, OracleError> {
        let now = self.latest_round(feed).await?;
        if now.round_id > last.round_id {
            Metrics::count(&self.metrics.feed(feed).rounds_by_peer);
            info!(%feed, round = now.round_id, "already reported by a peer");
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The feed's latest round on chain (also kept in the metrics).
    async fn latest_round(&self, feed: FeedKind) -> Result<LastRound, OracleError> {
        let latest = self
            .hub
            .latestRound(feed.id())
            .call()
            .await
            .map_err(contract_call("latestRound"))?;
        let answer = i128::try_from(latest.answer).unwrap_or(if latest.answer.is_negative() {
            i128::MIN
        } else {
            i128::MAX
        });
        let last = LastRound {
            round_id: latest.roundId.to::<u128>(),
            answer,
            updated_at: latest.updatedAt.saturating_to::<u64>(),
        };
        let figures = self.metrics.feed(feed);
        figures.round.store(
            u64::try_from(last.round_id).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        figures.answer.store(
            i64::try_from(last.answer).unwrap_or(i64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(last)
    }

    /// The signers of `observations` that the hub lists as reporters.
    async fn reporters(
        &self,
        observations: &[SignedObservation],
    ) -> Result<BTreeSet<Address>, OracleError> {
        let signers: BTreeSet<Address> = observations.iter().map(|o| o.signer).collect();
        let mut reporters = BTreeSet::new();
        for signer in signers {
            if self
                .hub
                .isReporter(signer)
                .call()
                .await
                .map_err(contract_call("isReporter"))?
            {
                reporters.insert(signer);
            }
        }
        Ok(reporters)
    }
}

/// What one poll of a feed came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Too few sources answered or agreed.
    NoValue,
    /// The value did not move enough and the heartbeat has not run out.
    Unchanged,
    /// The round's median lies outside the hub's `[min, max]` for the feed.
    OutOfBounds,
    /// Too few fresh observations from authorized reporters.
    NoQuorum {
        /// Observations the round would have had.
        observations: usize,
        /// The hub's quorum for the feed.
        quorum: usize,
    },
    /// A peer's round landed first.
    ByPeer,
    /// This reporter's round landed.
    Submitted {
        /// The transaction.
        tx_hash: B256,
        /// Observations in the round.
        observations: usize,
    },
}

/// OracleHub's address: `chain.hub`, else the deployment file's `oracleHub`.
fn hub_address(config: &Config) -> Result<Address, OracleError> {
    if let Some(hub) = config.chain.hub {
        return Ok(hub);
    }
    let path = config
        .chain
        .deployment
        .as_ref()
        .expect("config::load requires `deployment` or `hub`");
    Deployment::load(path)
        .map(|deployment| deployment.oracle_hub)
        .map_err(|error| OracleError::BadDeployment {
            path: path.clone(),
            message: match error {
                cogrid_chain::ChainError::ConfigRead { source, .. } => source.to_string(),
                cogrid_chain::ChainError::ConfigValue { message, .. } => message,
                other => other.to_string(),
            },
        })
}
