//! The cogrid meter signer: reads a smart meter (DSMR P1 over serial or TCP, a simulated meter,
//! or register pushes over HTTP), turns its cumulative registers into one reading per interval
//! boundary, signs each with the meter's key (EIP-712), writes it to a SQLite outbox, and posts
//! batches to the meter registry (the EnergyMarket contract) with retries. A reading leaves the outbox only once the
//! transaction that counted it has the configured confirmations, so a crash, a restart or a
//! chain outage loses nothing and counts nothing twice.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod error;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod pipeline;
pub mod profile;
pub mod sampler;
pub mod source;
