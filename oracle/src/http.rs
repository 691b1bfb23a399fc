//! `GET /health`, `GET /metrics` and `GET /observations/{feed}`, the latest signed observation
//! of a feed that the other reporters gather.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use alloy::primitives::Address;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{config::FeedKind, metrics::Metrics, observation::SignedObservation};

/// What the handlers share: the reporter's latest signed observation per feed and its metrics.
#[derive(Debug)]
pub struct HttpState {
    reporter: Address,
    metrics: Arc<Metrics>,
    observations: Mutex<BTreeMap<FeedKind, SignedObservation>>,
}

impl HttpState {
    /// State of the reporter `reporter`.
    pub fn new(reporter: Address, metrics: Arc<Metrics>) -> Self {
        Self {
            reporter,
            metrics,
            observations: Mutex::default(),
        }
    }

    /// Serves `observation` as the latest of its feed.
    pub fn publish(&self, observation: SignedObservation) {
        self.lock().insert(observation.feed, observation);
    }

    /// The latest observation of `feed` this reporter signed.
    pub fn latest(&self, feed: FeedKind) -> Option<SignedObservation> {
        self.lock().get(&feed).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<FeedKind, SignedObservation>> {
        self.observations
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The router.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/observations/{feed}", get(observation))
        .with_state(state)
}

async fn health(State(state): State<Arc<HttpState>>) -> Response {
    let observed: BTreeMap<String, u64> = state
        .lock()
        .values()
        .map(|observation| (observation.feed.to_string(), observation.observed_at))
        .collect();
    Json(json!({
        "status": "ok",
        "reporter": state.reporter,
        "observed_at": observed,
    }))
    .into_response()
}

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn observation(State(state): State<Arc<HttpState>>, Path(feed): Path<String>) -> Response {
    let Some(kind) = FeedKind::from_name(&feed) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!(
                "unknown feed `{feed}`: one of SPOT_PRICE, SOLAR_IRRADIANCE, TEMPERATURE, CARBON_INTENSITY"
            ) })),
        )
            .into_response();
    };
    match state.latest(kind) {
        Some(observation) => Json(observation).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no observation of {kind} yet") })),
        )
            .into_response(),
    }
}
