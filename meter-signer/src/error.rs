//! Errors of the meter signer.

use std::path::PathBuf;

use alloy::primitives::Address;

/// Errors of the meter signer.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// Config, keystore or RPC trouble.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// The outbox database could not be opened.
    #[error("outbox {path}: {source}")]
    Outbox {
        /// The database file.
        path: PathBuf,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A query on the outbox failed.
    #[error("outbox: {0}")]
    Database(#[from] sqlx::Error),
    /// Signing failed.
    #[error("signing a reading: {0}")]
    Sign(#[from] alloy::signers::Error),
    /// The meter has signed 2^32 readings.
    #[error("sequence numbers are exhausted for this meter: register a new meter key")]
    SeqExhausted,
    /// A profile file for the simulated meter is unusable.
    #[error("simulated meter profile {path}: {message}")]
    Profile {
        /// The CSV file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The config's interval length differs from the registry's.
    #[error(
        "config chain.interval_seconds = {configured} but the registry's interval is {registry} s: \
         fix the config"
    )]
    IntervalMismatch {
        /// From the config.
        configured: u64,
        /// From the registry.
        registry: u64,
    },
    /// A whole batch was skipped for now (intervals not yet ended by the chain's clock).
    #[error(
        "the registry skipped all {readings} readings as not yet due (the meter's clock is ahead \
         of the chain's); retrying later"
    )]
    NotYetAccepted {
        /// Readings in the batch.
        readings: usize,
    },
    /// The meter is not registered on chain.
    #[error(
        "meter {meter} is not registered in the meter registry of EnergyMarket {registry}: ask the co-op admin to run \
         `cogrid admin register-meter --address {meter} ...`"
    )]
    MeterNotRegistered {
        /// The meter's address.
        meter: Address,
        /// The registry asked.
        registry: Address,
    },
    /// A contract call failed.
    #[error("{what}: {message}")]
    Contract {
        /// What was being done.
        what: &'static str,
        /// The error, decoded where the contract named it.
        message: String,
    },
    /// The HTTP listener could not bind.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The configured address.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The config lists no meter (and names no relayer key).
    #[error("the config has no [[meters]]: nothing to sign for")]
    NoMeters,
    /// Two meters in the config share a key.
    #[error("meter {0} appears twice in the config")]
    DuplicateMeter(Address),
}
