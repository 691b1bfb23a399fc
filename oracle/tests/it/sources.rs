//! Sources replayed from a local server: every API's fixture, and the failures a source can have.

use std::{sync::Arc, sync::atomic::Ordering::Relaxed, time::Duration};

use alloy::{
    primitives::Address, signers::local::PrivateKeySigner, transports::http::reqwest::Client,
};
use cogrid_chain::hub_domain;
use cogrid_oracle::{
    config::{FeedKind, SourceKind},
    daemon::Observer,
    http::HttpState,
    metrics::Metrics,
    sources::{SourceError, Sources},
};

use crate::replay::{NOW, config, dead_url, every_fixture, serve, source, spot_feed};

#[tokio::test]
async fn every_api_is_read_from_its_fixture_and_converted() {
    let base = serve(every_fixture()).await;
    let sources = Sources::new(Client::new());
    let cases = [
        (
            "open-meteo",
            SourceKind::OpenMeteo,
            FeedKind::SolarIrradiance,
            1,
            612,
        ),
        (
            "open-meteo",
            SourceKind::OpenMeteo,
            FeedKind::Temperature,
            100,
            2_130,
        ),
        (
            "open-meteo-dusk",
            SourceKind::OpenMeteo,
            FeedKind::SolarIrradiance,
            1,
            0,
        ),
        (
            "open-meteo-dusk",
            SourceKind::OpenMeteo,
            FeedKind::Temperature,
            100,
            -180,
        ),
        (
            "awattar",
            SourceKind::Awattar,
            FeedKind::SpotPrice,
            1_080_000,
            94_402_800,
        ),
        (
            "energy-charts",
            SourceKind::EnergyCharts,
            FeedKind::SpotPrice,
            1_080_000,
            91_692_000,
        ),
        (
            "carbon-intensity",
            SourceKind::CarbonIntensity,
            FeedKind::CarbonIntensity,
            1,
            182,
        ),
        (
            "carbon-intensity-forecast",
            SourceKind::CarbonIntensity,
            FeedKind::CarbonIntensity,
            1,
            190,
        ),
    ];
    for (path, kind, feed, multiply, expected) in cases {
        let value = sources
            .fetch(&source(&base, path, kind, multiply), feed, NOW)
            .await;
        assert_eq!(value, Ok(expected), "{path} for {feed}");
    }
}

#[tokio::test]
async fn each_failure_is_named() {
    let base = serve(every_fixture()).await;
    let sources = Sources::new(Client::new());
    let fetch = |path: &'static str, kind: SourceKind, feed: FeedKind| {
        let (sources, source) = (sources.clone(), source(&base, path, kind, 1));
        async move { sources.fetch(&source, feed, NOW).await }
    };
    assert!(matches!(
        fetch("malformed", SourceKind::Awattar, FeedKind::SpotPrice).await,
        Err(SourceError::Malformed(_))
    ));
    assert!(matches!(
        fetch(
            "empty",
            SourceKind::CarbonIntensity,
            FeedKind::CarbonIntensity
        )
        .await,
        Err(SourceError::Malformed(_))
    ));
    assert_eq!(
        fetch(
            "open-meteo-null",
            SourceKind::OpenMeteo,
            FeedKind::Temperature
        )
        .await,
        Err(SourceError::Missing("current.temperature_2m"))
    );
    assert_eq!(
        fetch(
            "energy-charts-null",
            SourceKind::EnergyCharts,
            FeedKind::SpotPrice
        )
        .await,
        Err(SourceError::NotCovered(NOW))
    );
    assert_eq!(
        fetch("error", SourceKind::Awattar, FeedKind::SpotPrice).await,
        Err(SourceError::Status(500))
    );
    assert_eq!(
        fetch("no-such-path", SourceKind::Awattar, FeedKind::SpotPrice).await,
        Err(SourceError::Status(404))
    );
    let started = std::time::Instant::now();
    assert_eq!(
        fetch("slow", SourceKind::Awattar, FeedKind::SpotPrice).await,
        Err(SourceError::Timeout(Duration::from_millis(500)))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut the wait"
    );
    let down = source(&dead_url().await, "awattar", SourceKind::Awattar, 1);
    assert!(matches!(
        sources.fetch(&down, FeedKind::SpotPrice, NOW).await,
        Err(SourceError::Transport(_))
    ));
}

/// An observer over `feed`, with its metrics.
fn observer(config: &cogrid_oracle::config::Config) -> (Observer, Arc<Metrics>, Arc<HttpState>) {
    let signer = PrivateKeySigner::random();
    let metrics = Arc::new(Metrics::new(config));
    let state = Arc::new(HttpState::new(signer.address(), metrics.clone()));
    let observer = Observer::new(
        Sources::new(Client::new()),
        signer,
        hub_domain(31337, Address::repeat_byte(0x0b)),
        metrics.clone(),
        state.clone(),
    );
    (observer, metrics, state)
}

#[tokio::test]
async fn a_failed_source_leaves_the_others_running_and_shows_in_the_metrics() {
    let base = serve(every_fixture()).await;
    let mut feed = spot_feed(&base);
    feed.sources
        .push(source(&base, "slow", SourceKind::Awattar, 1_080_000));
    let config = config(vec![feed.clone()], vec![]);
    let (observer, metrics, state) = observer(&config);

    let observation = observer.observe(&feed, NOW).await.unwrap().unwrap();
    // The median of 94_402_800 (aWATTar) and 91_692_000 (Energy-Charts).
    assert_eq!(observation.answer, 93_047_400);
    assert_eq!(observation.observed_at, NOW);
    assert_eq!(observation.signer, observer.address());
    assert_eq!(state.latest(FeedKind::SpotPrice), Some(observation));

    let slow = metrics.source(FeedKind::SpotPrice, 2);
    assert_eq!(slow.failures.load(Relaxed), 1);
    assert_eq!(slow.last_success.load(Relaxed), 0);
    let awattar = metrics.source(FeedKind::SpotPrice, 0);
    assert_eq!(awattar.failures.load(Relaxed), 0);
    assert_eq!(awattar.last_success.load(Relaxed), NOW);
    let text = metrics.render();
    assert!(
        text.contains(&format!(
            "cogrid_oracle_source_failures_total{{feed=\"SPOT_PRICE\",source=\"awattar\",url=\"{base}slow\"}} 1\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("cogrid_oracle_observed_value{feed=\"SPOT_PRICE\"} 93047400\n"),
        "{text}"
    );
}

#[tokio::test]
async fn too_few_sources_give_no_observation() {
    let base = serve(every_fixture()).await;
    let mut feed = spot_feed(&base);
    feed.sources[1] = source(&base, "error", SourceKind::EnergyCharts, 1_080_000);
    let config = config(vec![feed.clone()], vec![]);
    let (observer, metrics, state) = observer(&config);
    assert_eq!(observer.observe(&feed, NOW).await.unwrap(), None);
    assert_eq!(metrics.feed(FeedKind::SpotPrice).no_value.load(Relaxed), 1);
    assert_eq!(state.latest(FeedKind::SpotPrice), None);
}

#[tokio::test]
async fn a_wild_source_among_three_is_dropped() {
    let base = serve(every_fixture()).await;
    let wild = serve(vec![(
        "/awattar",
        crate::replay::Answer::Body(
            crate::replay::fixture("awattar.json").replace("87.41", "874.1"),
        ),
    )])
    .await;
    let mut feed = spot_feed(&base);
    feed.sources
        .push(source(&wild, "awattar", SourceKind::Awattar, 1_080_000));
    let config = config(vec![feed.clone()], vec![]);
    let (observer, _metrics, _state) = observer(&config);
    let observation = observer.observe(&feed, NOW).await.unwrap().unwrap();
    assert_eq!(
        observation.answer, 93_047_400,
        "the two honest sources' median"
    );
}
