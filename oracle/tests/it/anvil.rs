//! End to end on anvil: three reporters in-process, each with its own key, sources replayed from
//! loopback servers and HTTP endpoint, listing each other as peers, report to the OracleHub that
//! `deploy_suite` deployed; consumers read the answer from the hub and from the feed's OracleFeed
//! (Chainlink's `AggregatorV3Interface`). anvil starts at the fixtures' time, so they are current.

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{B256, I256, U256},
    providers::Provider,
    transports::http::reqwest::Url,
};
use cogrid_bindings::{
    OracleFeed,
    OracleHub::{self, OracleHubErrors},
};
use cogrid_chain::{Deployment, Devnet, FEED_RULES, SuiteParams, deploy_suite, grant_reporters};
use cogrid_oracle::{
    config::FeedKind,
    daemon::{Outcome, Reporter},
    error::OracleError,
    metrics::Metrics,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::replay::{Answer, NOW, base_url, config, every_fixture, fixture, serve, spot_feed};

/// The spot price the honest fixtures give: the mean of aWATTar's 87.41 and Energy-Charts' 84.9
/// EUR/MWh, at 1.08 USD per EUR in 6-decimal base units.
const HONEST: i64 = 93_047_400;

/// A devnet on loopback, started with `extra` anvil arguments; fails the test, saying what to
/// install, when there is no anvil.
pub(crate) fn devnet(extra: &[&str]) -> Devnet {
    Devnet::start_with_args(extra).expect(
        "these tests need anvil: run `make install` (npm ci in contracts/) or set COGRID_ANVIL",
    )
}

/// A reporter running on its own task.
struct Running {
    cancel: CancellationToken,
    task: JoinHandle<Result<(), OracleError>>,
    metrics: Arc<Metrics>,
}

impl Running {
    /// Stops the reporter and waits until it has.
    async fn stop(self) {
        self.cancel.cancel();
        self.task
            .await
            .expect("the reporter task does not panic")
            .expect("the reporter stops cleanly");
    }

    fn feed(&self) -> &cogrid_oracle::metrics::FeedMetrics {
        self.metrics.feed(FeedKind::SpotPrice)
    }
}

/// A devnet at the fixtures' time with the suite deployed and three authorized reporters.
struct Network {
    devnet: Devnet,
    deployment: Deployment,
}

impl Network {
    async fn start() -> Self {
        let devnet = devnet(&["--timestamp", &NOW.to_string()]);
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let reporters: Vec<_> = (1..=3).map(|i| devnet.funded_key(i).address()).collect();
        grant_reporters(&devnet.admin, deployment.oracle_hub, &reporters)
            .await
            .unwrap();
        Self { devnet, deployment }
    }

    fn hub(&self) -> OracleHub::OracleHubInstance<alloy::providers::DynProvider> {
        OracleHub::new(self.deployment.oracle_hub, self.devnet.admin.clone())
    }

    fn spot_feed(&self) -> OracleFeed::OracleFeedInstance<alloy::providers::DynProvider> {
        OracleFeed::new(
            self.deployment.oracle_feeds[usize::from(FeedKind::SpotPrice.id())],
            self.devnet.admin.clone(),
        )
    }

    /// Starts reporter `i` (0..3) of those whose sources are at `sources[i]`, for each `i` with
    /// `up[i]`; every reporter lists the other two as peers, whether they run or not.
    async fn reporters(&self, sources: [&Url; 3], up: [bool; 3]) -> Vec<Option<Running>> {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let urls: Vec<Url> = listeners.iter().map(base_url).collect();
        let mut running = Vec::new();
        // A reporter that is down leaves its port closed: its peers' requests are refused.
        for (i, listener) in listeners.into_iter().enumerate() {
            if !up[i] {
                running.push(None);
                continue;
            }
            let peers = (0..3)
                .filter(|&j| j != i)
                .map(|j| urls[j].clone())
                .collect();
            let mut feed = spot_feed(sources[i]);
            feed.poll_interval = Duration::from_secs(1);
            let mut config = config(vec![feed], peers);
            config.chain.rpc_url = self.devnet.rpc_url().parse().unwrap();
            config.chain.hub = Some(self.deployment.oracle_hub);
            config.exchange.stagger = Duration::from_millis(300);
            let reporter = Reporter::connect(config, self.devnet.funded_key(i + 1))
                .await
                .unwrap();
            let metrics = reporter.metrics();
            let cancel = CancellationToken::new();
            let task = tokio::spawn(reporter.run_on(listener, cancel.clone()));
            running.push(Some(Running {
                cancel,
                task,
                metrics,
            }));
        }
        running
    }

    /// Waits (up to 30 s) for the spot feed's first round; its `RoundSubmitted` event.
    async fn first_round(&self) -> OracleHub::RoundSubmitted {
        let hub = self.hub();
        let landed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let latest = hub.latestRound(0).call().await.unwrap();
                if latest.roundId > alloy::primitives::aliases::U80::ZERO {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        assert!(landed.is_ok(), "no spot-price round landed within 30 s");
        // Two more polls: a second round of the same observations would show now.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let mut events = self.rounds().await;
        assert_eq!(
            events.len(),
            1,
            "one round, not one per reporter: {events:?}"
        );
        events.remove(0)
    }

    /// Every spot-price `RoundSubmitted` so far.
    async fn rounds(&self) -> Vec<OracleHub::RoundSubmitted> {
        self.hub()
            .RoundSubmitted_filter()
            .from_block(self.deployment.deployed_at_block)
            .topic1(B256::with_last_byte(FeedKind::SpotPrice.id()))
            .query()
            .await
            .unwrap()
            .into_iter()
            .map(|(event, _)| event)
            .collect()
    }

    /// The latest block's timestamp.
    async fn now(&self) -> u64 {
        self.devnet
            .admin
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }
}

/// Sources ten times the honest spot price.
async fn wild_sources() -> Url {
    serve(vec![
        (
            "/awattar",
            Answer::Body(fixture("awattar.json").replace("87.41", "874.1")),
        ),
        (
            "/energy-charts",
            Answer::Body(fixture("energy-charts.json").replace("84.9", "849.0")),
        ),
    ])
    .await
}

fn errors(reporters: &[Option<Running>]) -> u64 {
    reporters
        .iter()
        .flatten()
        .map(|running| running.metrics.errors.load(Relaxed))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wild_reporter_does_not_move_the_median() {
    let network = Network::start().await;
    let honest = serve(every_fixture()).await;
    let wild = wild_sources().await;
    let reporters = network
        .reporters([&honest, &honest, &wild], [true, true, true])
        .await;
    let round = network.first_round().await;
    assert_eq!(
        round.observations,
        U256::from(3),
        "the wild observation is in the round"
    );
    assert_eq!(round.answer, I256::try_from(HONEST).unwrap());
    let wild_observed = reporters[2].as_ref().unwrap().feed().observed.load(Relaxed);
    assert_eq!(wild_observed, 10 * HONEST, "the wild reporter observed 10x");

    let data = network.spot_feed().latestRoundData().call().await.unwrap();
    assert_eq!(data.answer, I256::try_from(HONEST).unwrap());
    assert_eq!(data.roundId, round.roundId);
    assert!(
        !network
            .hub()
            .isStale(FeedKind::SpotPrice.id())
            .call()
            .await
            .unwrap()
    );
    let submitted: u64 = reporters
        .iter()
        .flatten()
        .map(|running| running.feed().rounds_submitted.load(Relaxed))
        .sum();
    assert_eq!(submitted, 1, "the others saw the round land and sent none");
    assert_eq!(errors(&reporters), 0, "no reporter's round failed");
    for running in reporters.into_iter().flatten() {
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reporter_down_still_meets_the_quorum() {
    let network = Network::start().await;
    let honest = serve(every_fixture()).await;
    let reporters = network
        .reporters([&honest, &honest, &honest], [true, true, false])
        .await;
    let round = network.first_round().await;
    assert_eq!(round.observations, U256::from(2), "quorum 2 of the two up");
    assert_eq!(round.answer, I256::try_from(HONEST).unwrap());
    let data = network.spot_feed().latestRoundData().call().await.unwrap();
    assert_eq!(data.answer, I256::try_from(HONEST).unwrap());
    let running = reporters[0].as_ref().unwrap();
    assert!(
        running.metrics.peer(1).failures.load(Relaxed) > 0,
        "the down reporter is counted as a failed peer"
    );
    assert_eq!(errors(&reporters), 0, "no reporter's round failed");
    for running in reporters.into_iter().flatten() {
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reporters_down_leave_the_answer_to_go_stale() {
    let network = Network::start().await;
    let honest = serve(every_fixture()).await;
    let mut reporters = network
        .reporters([&honest, &honest, &honest], [true, true, true])
        .await;
    let round = network.first_round().await;
    assert_eq!(round.observations, U256::from(3));
    let hub = network.hub();
    let spot = FeedKind::SpotPrice.id();
    assert!(!hub.isStale(spot).call().await.unwrap());
    let landed = hub.latestRound(spot).call().await.unwrap();

    for running in reporters.drain(1..).flatten() {
        running.stop().await;
    }
    let lone = reporters.remove(0).unwrap();
    let no_quorum = lone.feed().no_quorum.load(Relaxed);
    // Past the heartbeat: the lone reporter's sources still have a value (aWATTar's next hour,
    // Energy-Charts' latest), and its heartbeat says to report it.
    let heartbeat = u64::from(FEED_RULES[usize::from(spot)].heartbeat);
    network.devnet.advance_time(heartbeat + 1).await.unwrap();
    let tried = tokio::time::timeout(Duration::from_secs(30), async {
        while lone.feed().no_quorum.load(Relaxed) == no_quorum {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        tried.is_ok(),
        "the lone reporter did not try a heartbeat round within 30 s (observed {} at {})",
        lone.feed().observed.load(Relaxed),
        lone.feed().observed_at.load(Relaxed)
    );
    assert_eq!(lone.metrics.errors.load(Relaxed), 0);
    lone.stop().await;

    assert_eq!(network.rounds().await.len(), 1, "no update");
    let latest = hub.latestRound(spot).call().await.unwrap();
    assert_eq!(latest.roundId, landed.roundId);
    assert!(
        hub.isStale(spot).call().await.unwrap(),
        "the hub says stale"
    );
    // A Chainlink consumer's rule on the feed's AggregatorV3Interface.
    let data = network.spot_feed().latestRoundData().call().await.unwrap();
    assert_eq!(data.updatedAt, landed.updatedAt);
    assert!(
        data.updatedAt + U256::from(heartbeat) < U256::from(network.now().await),
        "updatedAt + heartbeat is in the past"
    );
    let refusal = hub
        .latestFreshAnswer(spot)
        .call()
        .await
        .expect_err("a stale answer is refused");
    match refusal.as_decoded_interface_error::<OracleHubErrors>() {
        Some(OracleHubErrors::OracleHubStaleAnswer(stale)) => {
            assert_eq!(stale.feed, spot);
            assert_eq!(stale.updatedAt, landed.updatedAt);
            assert_eq!(u64::from(stale.heartbeat), heartbeat);
        }
        other => panic!("expected OracleHubStaleAnswer, got {other:?} ({refusal})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_reporters_racing_the_loser_counts_a_peers_round() {
    let network = Network::start().await;
    let honest = serve(every_fixture()).await;
    // Two reporters that each gather only the third: each is first among its round's signers,
    // so neither waits, and both send.
    let mut keys: Vec<_> = (1..=3).map(|i| network.devnet.funded_key(i)).collect();
    keys.sort_by_key(|key| key.address());
    let third = keys.pop().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let third_url = base_url(&listener);
    let connect = |key, peers| {
        let mut feed = spot_feed(&honest);
        feed.poll_interval = Duration::from_secs(1);
        let mut config = config(vec![feed], peers);
        config.chain.rpc_url = network.devnet.rpc_url().parse().unwrap();
        config.chain.hub = Some(network.deployment.oracle_hub);
        Reporter::connect(config, key)
    };
    let third = connect(third, vec![]).await.unwrap();
    let app = third.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let cancel = CancellationToken::new();
    let feed = spot_feed(&honest);
    assert_eq!(
        third.poll(&feed, &cancel).await.unwrap(),
        Outcome::NoQuorum {
            observations: 1,
            quorum: 2
        },
        "alone, the third only publishes"
    );
    let first = connect(keys[0].clone(), vec![third_url.clone()])
        .await
        .unwrap();
    let second = connect(keys[1].clone(), vec![third_url]).await.unwrap();
    let (a, b) = tokio::join!(first.poll(&feed, &cancel), second.poll(&feed, &cancel));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|outcome| matches!(outcome, Outcome::Submitted { .. }));
    assert_eq!(outcomes[0], Outcome::ByPeer, "{outcomes:?}");
    assert!(
        matches!(
            outcomes[1],
            Outcome::Submitted {
                observations: 2,
                ..
            }
        ),
        "{outcomes:?}"
    );
    let by_peer: u64 = [&first, &second]
        .iter()
        .map(|reporter| {
            reporter
                .metrics()
                .feed(FeedKind::SpotPrice)
                .rounds_by_peer
                .load(Relaxed)
        })
        .sum();
    assert_eq!(by_peer, 1);
    assert_eq!(network.rounds().await.len(), 1);
}
