//! The simulator's errors.

use std::path::PathBuf;

/// What stops a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Chain plumbing: config, keys, RPC, anvil.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// A bundled file could not be read or parsed.
    #[error("{path}: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `--day` names no bundled (or given) day.
    #[error("unknown day `{name}`; the known days are: {}", known.join(", "))]
    UnknownDay {
        /// The name asked for.
        name: String,
        /// The days there are.
        known: Vec<String>,
    },
}
