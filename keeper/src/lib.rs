//! The cogrid keeper, run by a co-op: it clears each trading interval of the neighbourhood energy
//! market off chain and settles it on chain. The binary is `keeper --config keeper.toml` (see
//! `keeper.example.toml` next to this crate's manifest); [`daemon::run`] is the whole daemon.
//!
//! - **Index** ([`indexer`], [`store`]): the market's events go into SQL, a SQLite file by
//!   default or PostgreSQL for a co-op running several replicas over one database, with the same
//!   migrations. The index reads at a confirmation depth, resumes from the last indexed block
//!   after a restart, and rewinds when a block hash it indexed no longer matches the chain.
//! - **Clear** ([`clearing`], [`book`]): once an interval has closed and its readings are in
//!   (every active meter reported, or the readings grace passed), a uniform-price double auction
//!   (pay-as-clear) over the standing orders and the attested volumes: merit order by price, then
//!   time, then order id; an islanded feeder's critical loads first; no participant on both sides;
//!   caps and balances respected; the price is the midpoint of the marginal bid (net of the network
//!   fee, which buyers pay on top) and the marginal ask, rounded down. [`clearing::clear`] is a pure
//!   function, tested and benchmarked without a chain.
//! - **Simulate** ([`simulate`]): every settlement batch runs first in revm on a fork of the latest
//!   block; a fill that would revert is dropped (and logged with the contract's error) and the
//!   interval cleared again without its meter; a batch whose gas passes the cap is split
//!   ([`batch`]) into balanced batches under the per-transaction gas cap of EIP-7825.
//! - **Settle** ([`settlement`]): explicit nonces and EIP-1559 fees, each transaction recorded in
//!   the store before it is sent, a stuck transaction resent with bumped fees under the same nonce.
//!   A keeper that crashes and restarts never settles an interval twice (it reads the chain's
//!   record first, and the contract refuses a second settlement) nor leaves one unsettled; one that
//!   loses a race to another co-op's keeper counts it and moves on. After each interval the meters
//!   whose volumes can only be residuals are finalized (credits, cover, grid supply).
//! - **Route** ([`routing`]): when an interval leaves buyers short, the keeper first buys the
//!   market pool's credits for those whose order covers unbought import from credits and whose
//!   ceiling is above the pool's price (`EnergyAmm.coverShortfalls`), so the settlement covers
//!   their import from credits rather than grid supply.
//! - **Serve** ([`http`], [`metrics`]): `/health`, `/metrics` (Prometheus), `/intervals/{t}` and
//!   `/orders`.
//!
//! Budget: for 500 homes, at most 200 MiB resident, and an interval cleared, simulated and sent
//! within 1 s of its last reading arriving.

pub mod batch;
pub mod book;
pub mod clearing;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod http;
pub mod indexer;
pub mod metrics;
pub mod routing;
pub mod settlement;
pub mod simulate;
pub mod store;
