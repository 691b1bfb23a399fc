//! Local HTTP servers replaying the sources' fixtures, and the configs the tests build on them.

use std::{path::PathBuf, time::Duration};

use alloy::{primitives::Address, transports::http::reqwest::Url};
use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use cogrid_chain::KeyConfig;
use cogrid_oracle::config::{
    ChainConfig, Config, ExchangeConfig, FeedConfig, FeedKind, HttpConfig, SourceConfig, SourceKind,
};
use tokio::net::TcpListener;

/// 2024-06-01 12:10 UTC, inside every fixture's current entry.
pub(crate) const NOW: u64 = 1_717_243_800;

/// A fixture's text.
pub(crate) fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name),
    )
    .unwrap()
}

/// What a replayed path answers.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// 200 with this body.
    Body(String),
    /// This status with an empty body.
    Status(u16),
    /// 200 with this body, after this long.
    Slow(Duration, String),
}

/// Serves `routes` on a fresh loopback port until the test's runtime ends; the base URL.
pub(crate) async fn serve(routes: Vec<(&'static str, Answer)>) -> Url {
    let mut app = Router::new();
    for (path, answer) in routes {
        app = app.route(
            path,
            get(move || {
                let answer = answer.clone();
                async move {
                    match answer {
                        Answer::Body(body) => (StatusCode::OK, body).into_response(),
                        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
                        Answer::Slow(delay, body) => {
                            tokio::time::sleep(delay).await;
                            (StatusCode::OK, body).into_response()
                        }
                    }
                }
            }),
        );
    }
    serve_router(app).await
}

/// Serves `app` on a fresh loopback port until the test's runtime ends; the base URL.
pub(crate) async fn serve_router(app: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = base_url(&listener);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// `http://127.0.0.1:{port}/` of a bound listener.
pub(crate) fn base_url(listener: &TcpListener) -> Url {
    Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap()
}

/// A loopback URL nothing listens on: a reporter that is down.
pub(crate) async fn dead_url() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    base_url(&listener)
}

/// The source fixtures at their usual paths.
pub(crate) fn every_fixture() -> Vec<(&'static str, Answer)> {
    vec![
        ("/open-meteo", Answer::Body(fixture("open-meteo.json"))),
        (
            "/open-meteo-dusk",
            Answer::Body(fixture("open-meteo-dusk.json")),
        ),
        (
            "/open-meteo-null",
            Answer::Body(fixture("open-meteo-null.json")),
        ),
        ("/awattar", Answer::Body(fixture("awattar.json"))),
        (
            "/energy-charts",
            Answer::Body(fixture("energy-charts.json")),
        ),
        (
            "/energy-charts-null",
            Answer::Body(fixture("energy-charts-null.json")),
        ),
        (
            "/carbon-intensity",
            Answer::Body(fixture("carbon-intensity.json")),
        ),
        (
            "/carbon-intensity-forecast",
            Answer::Body(fixture("carbon-intensity-forecast.json")),
        ),
        ("/malformed", Answer::Body(fixture("malformed.json"))),
        ("/empty", Answer::Body(String::new())),
        ("/error", Answer::Status(500)),
        (
            "/slow",
            Answer::Slow(Duration::from_secs(5), fixture("awattar.json")),
        ),
    ]
}

/// A source of `kind` at `path` under `base`.
pub(crate) fn source(base: &Url, path: &str, kind: SourceKind, multiply: u64) -> SourceConfig {
    SourceConfig {
        kind,
        url: base.join(path).unwrap(),
        timeout: Duration::from_millis(500),
        unit: "as the fixture says".into(),
        multiply,
        divide: 1,
    }
}

/// The spot-price feed over aWATTar and Energy-Charts at `base` (EUR/MWh at 1.08 USD, 6 decimals).
pub(crate) fn spot_feed(base: &Url) -> FeedConfig {
    FeedConfig {
        kind: FeedKind::SpotPrice,
        deviation_bps: 100,
        heartbeat: Duration::from_secs(3_600),
        min_sources: 2,
        poll_interval: Duration::from_secs(60),
        outlier_bps: 1_000,
        outlier_min: 0,
        sources: vec![
            source(base, "awattar", SourceKind::Awattar, 1_080_000),
            source(base, "energy-charts", SourceKind::EnergyCharts, 1_080_000),
        ],
    }
}

/// A reporter config with `feeds` and `peers`; the chain section is never contacted.
pub(crate) fn config(feeds: Vec<FeedConfig>, peers: Vec<Url>) -> Config {
    Config {
        chain: ChainConfig {
            rpc_url: Url::parse("http://127.0.0.1:8545").unwrap(),
            chain_id: 31337,
            deployment: None,
            hub: Some(Address::repeat_byte(0x0b)),
        },
        reporter: KeyConfig {
            keystore: "unused.json".into(),
            password_env: "COGRID_ORACLE_TEST_UNUSED".into(),
        },
        http: HttpConfig::default(),
        exchange: ExchangeConfig {
            peers,
            timeout: Duration::from_millis(500),
            stagger: Duration::from_millis(100),
        },
        feeds,
    }
}
