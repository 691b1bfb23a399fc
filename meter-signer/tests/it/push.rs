//! `POST /readings`, `/health` and `/metrics` served on loopback, with a real pipeline signing
//! into an outbox in a temporary directory.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{primitives::Address, signers::local::PrivateKeySigner, sol_types::Eip712Domain};
use cogrid_meter_signer::{
    http::{HttpState, router},
    outbox::Outbox,
    sampler::unix_now,
};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    harness::{InProcessSigner, past_boundary},
    p1::signer_of,
};

/// The largest register the registry stores (uint48 Wh).
const MAX_REGISTER_WH: u64 = (1 << 48) - 1;

/// The endpoint with one push meter, its pipeline and its outbox; stops when dropped.
struct PushServer {
    base: String,
    client: reqwest::Client,
    meter: PrivateKeySigner,
    domain: Eip712Domain,
    outbox: Outbox,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

/// What the endpoint answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {self:?}"))
    }
}

impl PushServer {
    /// Serves pushes for one new meter, refusing a second push within `min_interval`.
    async fn start(min_interval: Duration) -> Self {
        let cancel = CancellationToken::new();
        let InProcessSigner {
            outbox,
            meter,
            domain,
            metrics,
            samples,
            dir,
            ..
        } = InProcessSigner::start(cancel.clone()).await;
        let state = Arc::new(HttpState::new(
            Some(samples),
            HashSet::from([meter.address()]),
            min_interval,
            metrics,
            outbox.clone(),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = cancel.clone();
        tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
                .unwrap();
        });
        Self {
            base,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            meter,
            domain,
            outbox,
            cancel,
            _dir: dir,
        }
    }

    async fn post(&self, body: String) -> Answer {
        let response = self
            .client
            .post(format!("{}/readings", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .map(|value| value.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{status} answer is not JSON ({error}): {text}"));
        Answer {
            status,
            retry_after,
            body,
        }
    }

    /// Pushes registers for `meter`.
    async fn push_for(&self, meter: Address, at: u64, import_wh: u64, export_wh: u64) -> Answer {
        self.post(
            json!({ "meter": meter, "timestamp": at, "import_wh": import_wh, "export_wh": export_wh })
                .to_string(),
        )
        .await
    }

    /// Pushes registers for the served meter.
    async fn push(&self, at: u64, import_wh: u64, export_wh: u64) -> Answer {
        self.push_for(self.meter.address(), at, import_wh, export_wh)
            .await
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// `(interval_end, import_wh, export_wh)` of every reading in the outbox, oldest first.
    async fn outbox_readings(&self) -> Vec<(u64, u64, u64)> {
        self.outbox
            .pending(100)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.interval_end, r.import_wh, r.export_wh))
            .collect()
    }

    async fn metric(&self, name: &str) -> u64 {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200);
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    }
}

impl Drop for PushServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Pushes are accepted with 202; the one that crosses a boundary leaves a signed reading with its
/// registers in the outbox before the gateway gets its answer.
#[tokio::test]
async fn a_push_that_crosses_a_boundary_is_signed_into_the_outbox() {
    let server = PushServer::start(Duration::ZERO).await;
    let boundary = past_boundary();

    let answer = server.push(boundary - 30, 5_000, 1_000).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body, json!({ "accepted": true }));
    // A fresh meter's first push, mid-interval, only starts watching for the next boundary.
    assert!(server.outbox_readings().await.is_empty());

    let answer = server.push(boundary - 10, 5_004, 1_001).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(
        server.outbox_readings().await.is_empty(),
        "no boundary crossed"
    );

    let answer = server.push(boundary + 3, 5_010, 1_002).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        server.outbox_readings().await,
        vec![(boundary, 5_010, 1_002)]
    );
    let readings = server.outbox.pending(100).await.unwrap();
    assert_eq!(readings[0].seq, 1);
    for reading in &readings {
        assert_eq!(signer_of(reading, &server.domain), server.meter.address());
    }
}

/// A cumulative register never goes down: such a push gets 409 naming the problem, and is not
/// taken.
#[tokio::test]
async fn a_register_going_backwards_gets_409() {
    let server = PushServer::start(Duration::ZERO).await;
    let boundary = past_boundary();
    assert_eq!(server.push(boundary, 5_000, 1_000).await.status, 202);

    let answer = server.push(boundary + 2, 4_999, 2_000).await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(answer.error().contains("went backwards"), "{answer:?}");
    assert!(answer.error().contains("4999"), "{answer:?}");

    // Had the refused push been taken, this one (lower than it in export) would be refused too.
    let answer = server.push(boundary + 901, 5_100, 1_500).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(
        server.outbox_readings().await,
        vec![(boundary, 5_000, 1_000), (boundary + 900, 5_100, 1_500)]
    );
}

/// A meter this gateway does not serve gets 404, and nothing is signed.
#[tokio::test]
async fn an_unknown_meter_gets_404() {
    let server = PushServer::start(Duration::ZERO).await;
    let stranger = Address::repeat_byte(0x42);
    let answer = server
        .push_for(stranger, past_boundary() + 1, 5_000, 1_000)
        .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    assert!(answer.error().contains(&stranger.to_string()), "{answer:?}");
    assert!(server.outbox_readings().await.is_empty());
}

/// Bodies that are not a push, registers beyond uint48 and timestamps from the future get 422
/// with a reason, and none of them reaches the outbox.
#[tokio::test]
async fn malformed_or_out_of_range_pushes_get_422() {
    let server = PushServer::start(Duration::ZERO).await;
    let meter = server.meter.address();
    let boundary = past_boundary();

    let truncated = server
        .post(format!(
            r#"{{"meter": "{meter}", "timestamp": {boundary}, "import_wh": 1"#
        ))
        .await;
    assert_eq!(truncated.status, 422, "{truncated:?}");

    let missing = server
        .post(json!({ "meter": meter, "timestamp": boundary, "import_wh": 5_000 }).to_string())
        .await;
    assert_eq!(missing.status, 422, "{missing:?}");
    assert!(missing.error().contains("export_wh"), "{missing:?}");

    let too_big = server.push(boundary + 1, MAX_REGISTER_WH + 1, 0).await;
    assert_eq!(too_big.status, 422, "{too_big:?}");
    assert!(too_big.error().contains("out of range"), "{too_big:?}");

    let future = server.push(unix_now() + 3_600, 5_000, 1_000).await;
    assert_eq!(future.status, 422, "{future:?}");
    assert!(future.error().contains("future"), "{future:?}");

    assert!(server.outbox_readings().await.is_empty());
    // The largest register the registry stores is fine.
    let largest = server.push(boundary, MAX_REGISTER_WH, 0).await;
    assert_eq!(largest.status, 202, "{largest:?}");
    assert_eq!(
        server.outbox_readings().await,
        vec![(boundary, MAX_REGISTER_WH, 0)]
    );
}

/// A gateway pushing faster than `push_min_interval` gets 429 with a `Retry-After` that is long
/// enough: retrying after it is not refused for the same reason.
#[tokio::test]
async fn a_second_push_within_the_min_interval_gets_429_with_retry_after() {
    let min_interval = Duration::from_secs(60);
    let server = PushServer::start(min_interval).await;
    let boundary = past_boundary();

    let started = Instant::now();
    assert_eq!(server.push(boundary - 900, 5_000, 1_000).await.status, 202);
    let answer = server.push(boundary + 5, 5_010, 1_001).await;
    let between = started.elapsed();
    assert_eq!(answer.status, 429, "{answer:?}");
    let retry_after: u64 = answer
        .retry_after
        .as_deref()
        .expect("429 without Retry-After")
        .parse()
        .unwrap();
    assert!(
        Duration::from_secs(retry_after) >= min_interval.saturating_sub(between),
        "Retry-After {retry_after} s is shorter than the {:?} left",
        min_interval.saturating_sub(between)
    );
    assert!(retry_after <= 60, "{retry_after}");
    // The refused push crossed a boundary; it was not signed.
    assert_eq!(
        server.outbox_readings().await,
        vec![(boundary - 900, 5_000, 1_000)]
    );
    assert_eq!(server.metric("meter_signer_pushes_refused_total").await, 1);
}

/// `/health` reports the outbox, `/metrics` the refused pushes and the signed readings.
#[tokio::test]
async fn health_and_metrics_count_readings_and_refusals() {
    let server = PushServer::start(Duration::ZERO).await;
    let boundary = past_boundary();
    assert_eq!(server.push(boundary - 900, 4_990, 1_000).await.status, 202);
    assert_eq!(server.push(boundary - 5, 5_000, 1_000).await.status, 202);
    assert_eq!(server.push(boundary + 5, 5_010, 1_000).await.status, 202);
    assert_eq!(server.push(boundary + 6, 5_011, 1_000).await.status, 202);
    // Three refusals of three kinds.
    assert_eq!(server.push(boundary + 7, 5_009, 1_000).await.status, 409);
    let stranger = Address::repeat_byte(0x42);
    assert_eq!(
        server.push_for(stranger, boundary + 8, 1, 1).await.status,
        404
    );
    assert_eq!(server.post("{}".into()).await.status, 422);

    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        health,
        json!({ "status": "ok", "outbox": { "pending": 2, "included": 0, "rejected": 0 } })
    );

    assert_eq!(server.metric("meter_signer_pushes_refused_total").await, 3);
    assert_eq!(server.metric("meter_signer_readings_signed_total").await, 2);
    assert_eq!(
        server
            .metric("meter_signer_outbox_readings{state=\"pending\"}")
            .await,
        2
    );
}
