//! Errors of the keeper.

/// Errors of the keeper.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
}
