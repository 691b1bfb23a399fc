//! Errors of the keeper.

use std::path::PathBuf;

/// Errors of the keeper.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// The config file parses, but a value breaks one of the keeper's rules.
    #[error("bad config in {path}: key `{key}`: {message}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// The dotted path of the offending key.
        key: String,
        /// What is wrong and what is expected instead.
        message: String,
    },
}
