//! Errors of the oracle reporter.

/// Errors of the oracle reporter.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
}
