//! Three reporters in-process, each with its own key, sources and HTTP endpoint on loopback,
//! exchanging signed observations up to the `submitRound` call (the hub itself is not involved:
//! the authorized set stands for its `isReporter`).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, I256},
    signers::local::PrivateKeySigner,
    sol_types::{Eip712Domain, SolCall},
    transports::http::reqwest::{Client, Url},
};
use axum::{Json, Router, routing::get};
use cogrid_bindings::OracleHub;
use cogrid_chain::hub_domain;
use cogrid_oracle::{
    config::{Config, FeedKind},
    daemon::Observer,
    exchange::{LeftOut, PeerError, Peers, RoundRules, assemble},
    http::{HttpState, router},
    metrics::Metrics,
    observation::{BadSignature, SignedObservation},
    sources::Sources,
};
use tokio::net::TcpListener;

use crate::replay::{
    Answer, NOW, base_url, config, dead_url, every_fixture, fixture, serve, serve_router, spot_feed,
};

fn domain() -> Eip712Domain {
    hub_domain(31337, Address::repeat_byte(0x0b))
}

/// One reporter: its observer and its HTTP endpoint.
struct Node {
    observer: Observer,
    url: Url,
}

impl Node {
    /// A reporter whose spot-price sources are at `sources`, serving on a fresh port.
    async fn start(config: &Config) -> Self {
        let signer = PrivateKeySigner::random();
        let metrics = Arc::new(Metrics::new(config));
        let state = Arc::new(HttpState::new(signer.address(), metrics.clone()));
        let observer = Observer::new(
            Sources::new(Client::new()),
            signer,
            domain(),
            metrics,
            state.clone(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = base_url(&listener);
        let app = router(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { observer, url }
    }

    async fn observe(&self, config: &Config) -> SignedObservation {
        self.observer
            .observe(&config.feeds[0], NOW)
            .await
            .unwrap()
            .expect("the fixtures give a value")
    }
}

/// Three reporters over honest sources, the third over wild ones (ten times the price).
async fn three_reporters() -> (Config, [Node; 3]) {
    let honest = serve(every_fixture()).await;
    let wild = serve(vec![
        (
            "/awattar",
            Answer::Body(fixture("awattar.json").replace("87.41", "874.1")),
        ),
        (
            "/energy-charts",
            Answer::Body(fixture("energy-charts.json").replace("84.9", "849.0")),
        ),
    ])
    .await;
    let config = config(vec![spot_feed(&honest)], vec![]);
    let wild_config = self::config_with_sources(&wild);
    let nodes = [
        Node::start(&config).await,
        Node::start(&config).await,
        Node::start(&wild_config).await,
    ];
    for (node, config) in nodes.iter().zip([&config, &config, &wild_config]) {
        node.observe(config).await;
    }
    (config, nodes)
}

fn config_with_sources(base: &Url) -> Config {
    config(vec![spot_feed(base)], vec![])
}

fn peers(urls: Vec<Url>) -> Peers {
    Peers::new(Client::new(), urls, Duration::from_millis(500))
}

const RULES: RoundRules = RoundRules {
    updated_at: NOW - 3_600,
    now: NOW,
    max_age: 63,
};

#[tokio::test]
async fn a_round_of_three_with_a_wild_reporter_has_the_honest_median() {
    let (config, nodes) = three_reporters().await;
    let own = nodes[0].observe(&config).await;
    let gathered = peers(vec![nodes[1].url.clone(), nodes[2].url.clone()])
        .gather(FeedKind::SpotPrice, &domain())
        .await;
    let gathered: Vec<SignedObservation> = gathered.into_iter().map(Result::unwrap).collect();
    assert_eq!(gathered[0].signer, nodes[1].observer.address());
    assert_eq!(gathered[1].answer, 930_474_000, "the wild reporter's value");

    let authorized: BTreeSet<Address> = nodes.iter().map(|n| n.observer.address()).collect();
    let round = assemble(
        std::iter::once(own).chain(gathered),
        |signer| authorized.contains(&signer),
        RULES,
    );
    assert!(round.left_out.is_empty());
    assert_eq!(round.observations.len(), 3);
    assert_eq!(
        round.median(),
        Some(93_047_400),
        "the wild value does not move it"
    );

    let call = round.call(FeedKind::SpotPrice);
    let signers: Vec<Address> = round.observations.iter().map(|o| o.signer).collect();
    let mut sorted = signers.clone();
    sorted.sort();
    assert_eq!(signers, sorted, "sorted by signer, as the hub requires");
    assert_eq!(call.feed, 0);
    // The calldata carries every observation, and each still verifies as its signer's.
    let decoded = OracleHub::submitRoundCall::abi_decode(&call.abi_encode()).unwrap();
    assert_eq!(decoded.observations.len(), 3);
    for (carried, observation) in decoded.observations.iter().zip(&round.observations) {
        let rebuilt = SignedObservation {
            feed: FeedKind::SpotPrice,
            answer: i64::try_from(carried.answer).unwrap(),
            observed_at: carried.observedAt,
            signer: observation.signer,
            r: carried.r,
            vs: carried.vs,
        };
        rebuilt.verify(&domain()).unwrap();
        assert_eq!(carried.answer, I256::try_from(observation.answer).unwrap());
    }
}

#[tokio::test]
async fn one_reporter_down_still_meets_a_quorum_of_two() {
    let (config, nodes) = three_reporters().await;
    let own = nodes[0].observe(&config).await;
    let gathered = peers(vec![dead_url().await, nodes[2].url.clone()])
        .gather(FeedKind::SpotPrice, &domain())
        .await;
    assert!(matches!(gathered[0], Err(PeerError::Transport(_))));
    let round = assemble(
        std::iter::once(own).chain(gathered.into_iter().filter_map(Result::ok)),
        |_| true,
        RULES,
    );
    assert_eq!(round.observations.len(), 2);
    assert!(round.observations.len() >= 2, "quorum 2 met");
}

#[tokio::test]
async fn two_reporters_down_leave_no_quorum() {
    let (config, nodes) = three_reporters().await;
    let own = nodes[0].observe(&config).await;
    let gathered = peers(vec![dead_url().await, dead_url().await])
        .gather(FeedKind::SpotPrice, &domain())
        .await;
    assert!(gathered.iter().all(Result::is_err));
    let round = assemble(
        std::iter::once(own).chain(gathered.into_iter().filter_map(Result::ok)),
        |_| true,
        RULES,
    );
    assert_eq!(
        round.observations.len(),
        1,
        "below a quorum of 2: nothing is sent"
    );
}

#[tokio::test]
async fn forged_slow_and_unauthorized_peers_are_left_out() {
    let (config, nodes) = three_reporters().await;
    let honest = nodes[1].observe(&config).await;
    let mut forged = honest.clone();
    forged.answer += 1;
    let forger = serve_router(Router::new().route(
        "/observations/SPOT_PRICE",
        get(move || {
            let forged = forged.clone();
            async move { Json(forged) }
        }),
    ))
    .await;
    let slow = serve(vec![(
        "/observations/SPOT_PRICE",
        Answer::Slow(
            Duration::from_secs(5),
            serde_json::to_string(&honest).unwrap(),
        ),
    )])
    .await;
    let garbage = serve(vec![(
        "/observations/SPOT_PRICE",
        Answer::Body("{\"answer\": 1}".into()),
    )])
    .await;
    let gathered = peers(vec![
        forger,
        slow,
        garbage,
        nodes[2].url.clone(),
        nodes[1].url.clone(),
    ])
    .gather(FeedKind::SpotPrice, &domain())
    .await;
    assert!(matches!(
        gathered[0],
        Err(PeerError::Signature(BadSignature::WrongSigner { .. }))
    ));
    assert_eq!(
        gathered[1],
        Err(PeerError::Timeout(Duration::from_millis(500)))
    );
    assert!(matches!(gathered[2], Err(PeerError::Malformed(_))));

    // The wild reporter (nodes[2]) is not an authorized reporter here.
    let authorized = [nodes[0].observer.address(), nodes[1].observer.address()];
    let own = nodes[0].observe(&config).await;
    let round = assemble(
        std::iter::once(own).chain(gathered.into_iter().filter_map(Result::ok)),
        |signer| authorized.contains(&signer),
        RULES,
    );
    assert_eq!(round.observations.len(), 2);
    assert_eq!(round.left_out.len(), 1);
    assert_eq!(round.left_out[0].0.signer, nodes[2].observer.address());
    assert_eq!(round.left_out[0].1, LeftOut::Unauthorized);
}

#[tokio::test]
async fn an_observation_older_than_the_last_round_is_stale() {
    let (config, nodes) = three_reporters().await;
    let own = nodes[0].observe(&config).await;
    let round = assemble(
        [own],
        |_| true,
        RoundRules {
            updated_at: NOW,
            ..RULES
        },
    );
    assert!(round.observations.is_empty());
    assert_eq!(round.left_out[0].1, LeftOut::Stale);
}

#[tokio::test]
async fn the_endpoint_serves_health_metrics_and_observations() {
    let (config, nodes) = three_reporters().await;
    let client = Client::new();
    let get = |path: &str| client.get(nodes[0].url.join(path).unwrap()).send();
    let observation: SignedObservation = serde_json::from_slice(
        &get("observations/SPOT_PRICE")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    // Signatures are deterministic (RFC 6979): observing again at the same time gives the same.
    assert_eq!(observation, nodes[0].observe(&config).await);
    assert_eq!(get("observations/TEMPERATURE").await.unwrap().status(), 404);
    assert_eq!(get("observations/WIND").await.unwrap().status(), 400);
    let health: serde_json::Value =
        serde_json::from_slice(&get("health").await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["observed_at"]["SPOT_PRICE"], NOW);
    let metrics = get("metrics").await.unwrap();
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("# TYPE cogrid_oracle_source_failures_total counter"),
        "{text}"
    );
}
