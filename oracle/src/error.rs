//! Errors of the oracle reporter.

use std::path::PathBuf;

/// Errors of the oracle reporter.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// The config file parses, but a value breaks one of the reporter's rules.
    #[error("bad config in {path}: key `{key}`: {message}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// The dotted path of the offending key (`feeds[1].sources[0].divide`).
        key: String,
        /// What is wrong and what is expected instead.
        message: String,
    },
}
