//! The cogrid keeper, run by a co-op: it clears each trading interval of the neighbourhood energy
//! market off chain and settles it on chain.
//!
//! This version holds the keeper's config ([`config`], with `keeper.example.toml` next to this
//! crate's manifest), its errors ([`error`]) and the interval clearing ([`clearing`]). The daemon
//! will:
//!
//! - **Index** the contracts' events into SQL: a SQLite file by default, PostgreSQL for a co-op
//!   running several replicas over one database. It reads at a confirmation depth, resumes from
//!   the last indexed block after a restart, and rewinds when a block hash it indexed no longer
//!   matches the chain (a reorg).
//! - **Clear** each interval once it has closed and its readings are in, with a uniform-price
//!   double auction (pay-as-clear) over the standing orders and the attested volumes: merit order
//!   by price, then time, then order id; an islanded feeder's critical loads first; no participant
//!   on both sides; per-interval caps and balances respected. The clearing price is the midpoint of
//!   the marginal bid (net of the network fee, which buyers pay on top) and the marginal ask,
//!   rounded down. An islanded feeder cannot exchange with the rest of the grid, so it clears on
//!   its own, at its own price. Clearing is a pure function of its inputs ([`clearing::clear`]),
//!   tested and benchmarked without a chain.
//! - **Settle** in batches: each batch is simulated on a revm fork of the latest block before it
//!   is sent, fills that would revert are dropped (and logged with the reason), and batches are
//!   split under the per-transaction gas cap (16,777,216 gas, EIP-7825). It manages nonces and
//!   EIP-1559 fees and resends a stuck transaction with bumped fees. A keeper that crashes and
//!   restarts never settles an interval twice nor leaves one unsettled; one that loses a race to
//!   another co-op's keeper records the interval as already settled and moves on.
//! - **Serve** `/health`, `/metrics` (Prometheus), `/intervals/{t}` (a clearing result as JSON)
//!   and `/orders` over HTTP.
//!
//! Budget: for 500 homes, at most 200 MiB resident, and an interval cleared, simulated and sent
//! within 1 s of its last reading arriving.

pub mod clearing;
pub mod config;
pub mod error;
