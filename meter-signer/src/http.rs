//! `GET /health`, `GET /metrics` and `POST /readings` (registers pushed by a gateway).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::{
    metrics::Metrics,
    outbox::Outbox,
    pipeline::PipelineError,
    sampler::{Sample, SampleError, unix_now},
    source::SampleMessage,
};

/// Largest register value the registry stores (uint48 Wh).
const MAX_REGISTER_WH: u64 = (1 << 48) - 1;
/// How far ahead of this gateway's clock a pushed timestamp may be.
const MAX_CLOCK_AHEAD: u64 = 300;

/// What the handlers share.
#[derive(Debug)]
pub struct HttpState {
    samples: Option<mpsc::Sender<SampleMessage>>,
    push_meters: HashSet<Address>,
    min_interval: Duration,
    last_push: Mutex<HashMap<Address, Instant>>,
    metrics: Arc<Metrics>,
    outbox: Outbox,
}

impl HttpState {
    /// State for a router that accepts pushes for `push_meters` into `samples` (`None` when
    /// no meter takes pushes).
    pub fn new(
        samples: Option<mpsc::Sender<SampleMessage>>,
        push_meters: HashSet<Address>,
        min_interval: Duration,
        metrics: Arc<Metrics>,
        outbox: Outbox,
    ) -> Self {
        Self {
            samples,
            push_meters,
            min_interval,
            last_push: Mutex::default(),
            metrics,
            outbox,
        }
    }
}

/// The router.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/readings", post(push_reading))
        .with_state(state)
}

/// A register push from a gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// The meter's address (its registered signing key).
    pub meter: Address,
    /// Unix seconds when the registers were read.
    pub timestamp: u64,
    /// Cumulative import register, Wh.
    pub import_wh: u64,
    /// Cumulative export register, Wh.
    pub export_wh: u64,
}

fn refuse(state: &HttpState, status: StatusCode, message: String) -> Response {
    Metrics::bump(&state.metrics.pushes_refused);
    (status, Json(json!({ "error": message }))).into_response()
}

async fn push_reading(
    State(state): State<Arc<HttpState>>,
    body: Result<Json<Push>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(push) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return refuse(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                rejection.body_text(),
            );
        }
    };
    let Some(samples) = state
        .samples
        .as_ref()
        .filter(|_| state.push_meters.contains(&push.meter))
    else {
        return refuse(
            &state,
            StatusCode::NOT_FOUND,
            format!("meter {} is not configured for pushes here", push.meter),
        );
    };
    if push.import_wh > MAX_REGISTER_WH || push.export_wh > MAX_REGISTER_WH {
        return refuse(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("registers above {MAX_REGISTER_WH} Wh are out of range"),
        );
    }
    let now = unix_now();
    if push.timestamp > now + MAX_CLOCK_AHEAD {
        return refuse(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("timestamp {} is in the future (now {now})", push.timestamp),
        );
    }
    {
        let mut last_push = state.last_push.lock().expect("no panics while held");
        let now = Instant::now();
        if let Some(previous) = last_push.get(&push.meter) {
            let elapsed = now.duration_since(*previous);
            if elapsed < state.min_interval {
                let left = state.min_interval - elapsed;
                // Rounded up: a gateway that waits exactly this long must not be refused again.
                let wait = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
                let mut response = refuse(
                    &state,
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "meter {} pushed {elapsed:?} ago; at most one push per {:?}",
                        push.meter, state.min_interval
                    ),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(wait));
                return response;
            }
        }
        last_push.insert(push.meter, now);
    }
    let (reply, verdict) = oneshot::channel();
    let sample = Sample {
        at: push.timestamp,
        import_wh: push.import_wh,
        export_wh: push.export_wh,
    };
    if samples
        .send(SampleMessage {
            meter: push.meter,
            sample,
            reply: Some(reply),
        })
        .await
        .is_err()
    {
        return refuse(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "the signer is shutting down".into(),
        );
    }
    match verdict.await {
        Ok(Ok(())) => (StatusCode::ACCEPTED, Json(json!({ "accepted": true }))).into_response(),
        Ok(Err(error @ PipelineError::Sample(SampleError::RegisterWentBackwards { .. }))) => {
            refuse(&state, StatusCode::CONFLICT, error.to_string())
        }
        Ok(Err(error @ PipelineError::Sample(_))) => {
            refuse(&state, StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        Ok(Err(error)) => refuse(&state, StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        Err(_) => refuse(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "the signer is shutting down".into(),
        ),
    }
}

async fn health(State(state): State<Arc<HttpState>>) -> Response {
    match state.outbox.counts().await {
        Ok(counts) => Json(json!({
            "status": "ok",
            "outbox": { "pending": counts.pending, "included": counts.included, "rejected": counts.rejected },
        }))
        .into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "outbox unavailable", "error": error.to_string() }))).into_response(),
    }
}

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let counts = state.outbox.counts().await.unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(counts),
    )
        .into_response()
}
