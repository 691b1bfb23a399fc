//! `GET /health`, `GET /metrics`, `GET /intervals/{t}` and `GET /orders`.
//!
//! `/intervals/{t}` and `/orders` answer from the index, so every replica of a co-op's keeper
//! serves the same answer; `/intervals/{t}` adds the clearing this keeper computed for `t`, when
//! it computed one.

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
use serde::Serialize;
use serde_json::json;

use crate::{metrics::Metrics, store::Store};

/// Clearing results this keeper kept, by interval, for `/intervals/{t}`.
const KEPT_CLEARINGS: usize = 2_000;

/// One interval's clearing as this keeper computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClearingReport {
    /// The interval.
    pub interval: u64,
    /// Clearing price, stablecoin base units per kWh (0 when nothing traded).
    pub price: u64,
    /// Wh traded.
    pub traded_wh: u64,
    /// The fills, as sent.
    pub fills: Vec<ReportedFill>,
    /// Meters left out because their fills would have reverted, with the contract's reason.
    pub dropped: Vec<DroppedFill>,
    /// Settlement transactions, in order.
    pub transactions: Vec<String>,
    /// The pool credits bought for buyers the market left short, before the settlement.
    pub pool_cover: Option<PoolCover>,
    /// What became of the interval: `settled`, `settled by another keeper`.
    pub outcome: String,
    /// Time spent clearing, µs: matching the book, each re-clearing after a dropped fill and
    /// the pool cover's plan. The rest of the keeper's work on the interval is reading the
    /// chain, simulating and sending.
    pub clearing_micros: u64,
}

/// A fill in a [`ClearingReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedFill {
    /// The meter.
    pub meter: Address,
    /// `sell` or `buy`.
    pub side: &'static str,
    /// Wh.
    pub wh: u64,
}

/// What `EnergyAmm.coverShortfalls` did for an interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolCover {
    /// The transaction.
    pub transaction: String,
    /// The shortfalls the pool covered.
    pub covered: Vec<CoveredShortfall>,
    /// The shortfalls it skipped (the price or a vault moved since the keeper planned).
    pub skipped: Vec<SkippedShortfall>,
}

/// Credits the pool sold for a meter's unbought import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoveredShortfall {
    /// The meter.
    pub meter: Address,
    /// Credits bought, Wh.
    pub wh: u64,
    /// What its owner paid, stablecoin base units.
    pub paid: u128,
}

/// A shortfall the pool did not cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedShortfall {
    /// The meter.
    pub meter: Address,
    /// The contract's reason.
    pub reason: &'static str,
}

/// A meter left out of a clearing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedFill {
    /// The meter.
    pub meter: String,
    /// The contract's error that its fill would have caused.
    pub reason: String,
}

/// What the handlers share.
#[derive(Debug)]
pub struct HttpState {
    store: Store,
    metrics: Arc<Metrics>,
    clearings: Mutex<BTreeMap<u64, ClearingReport>>,
}

impl HttpState {
    /// State over the keeper's store and metrics.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            metrics,
            clearings: Mutex::default(),
        }
    }

    /// Keeps `report` for `/intervals/{t}`, forgetting the oldest beyond a bound.
    pub fn keep_clearing(&self, report: ClearingReport) {
        let mut clearings = self
            .clearings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        clearings.insert(report.interval, report);
        while clearings.len() > KEPT_CLEARINGS {
            clearings.pop_first();
        }
    }

    /// The clearing of `interval`, while it is kept.
    pub fn clearing(&self, interval: u64) -> Option<ClearingReport> {
        let clearings = self
            .clearings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        clearings.get(&interval).cloned()
    }
}

/// The router.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/intervals/{t}", get(interval))
        .route("/orders", get(orders))
        .with_state(state)
}

async fn health(State(state): State<Arc<HttpState>>) -> Response {
    let indexed = state.store.last_indexed_block().await;
    match indexed {
        Ok(indexed) => Json(json!({
            "status": "ok",
            "indexed_block": indexed,
            "chain_head": state.metrics.chain_head.load(std::sync::atomic::Ordering::Relaxed),
            "lag_blocks": state.metrics.lag_blocks(),
        }))
        .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database unavailable", "error": error.to_string() })),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn interval(State(state): State<Arc<HttpState>>, Path(t): Path<u64>) -> Response {
    let status = match state.store.interval_status(t).await {
        Ok(status) => status,
        Err(error) => return unavailable(&error),
    };
    let settlements = match state.store.meter_settlements(t).await {
        Ok(settlements) => settlements,
        Err(error) => return unavailable(&error),
    };
    let clearing = state.clearing(t);
    if status.is_none() && settlements.is_empty() && clearing.is_none() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("interval {t} has no settlement yet") })),
        )
            .into_response();
    }
    let batches: Vec<_> = status
        .iter()
        .flat_map(|status| &status.batches)
        .map(|batch| {
            json!({
                "keeper": batch.keeper,
                "price": batch.price,
                "traded_wh": batch.traded_wh,
                "closing": batch.closing,
                "tx_hash": batch.tx_hash,
                "block": batch.position.block_number,
            })
        })
        .collect();
    let meters: Vec<_> = settlements
        .iter()
        .map(|settled| {
            json!({
                "meter": settled.meter,
                "sold_wh": settled.sold_wh,
                "bought_wh": settled.bought_wh,
                "amount": settled.amount.to_string(),
                "credited_wh": settled.credited_wh,
                "covered_wh": settled.covered_wh,
                "grid_supplied_wh": settled.grid_supplied_wh,
            })
        })
        .collect();
    Json(json!({
        "interval": t,
        "settled": status.as_ref().is_some_and(|status| status.settled()),
        "traded_wh": status.as_ref().map_or(0, |status| status.traded_wh()),
        "batches": batches,
        "meters": meters,
        "clearing": clearing,
    }))
    .into_response()
}

async fn orders(State(state): State<Arc<HttpState>>) -> Response {
    match state.store.live_orders().await {
        Ok(orders) => {
            let orders: Vec<_> = orders
                .iter()
                .map(|order| {
                    json!({
                        "meter": order.meter,
                        "owner": order.owner,
                        "sell_floor": order.sell_floor,
                        "buy_ceiling": order.buy_ceiling,
                        "cap_wh": order.cap_wh,
                        "valid_from": order.valid_from,
                        "valid_until": order.valid_until,
                        "cover_from_credits": order.cover_from_credits,
                        "placed_in_block": order.priority.block_number,
                    })
                })
                .collect();
            Json(json!({ "orders": orders })).into_response()
        }
        Err(error) => unavailable(&error),
    }
}

fn unavailable(error: &dyn std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": error.to_string() })),
    )
        .into_response()
}
