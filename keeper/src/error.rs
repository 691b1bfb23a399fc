//! Errors of the keeper.

use alloy::primitives::Address;

use crate::store::StoreError;

/// Errors of the keeper.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// The keeper's database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JSON-RPC call to the node failed.
    #[error("the node did not answer {call}: {message}; check that it is running and reachable")]
    Rpc {
        /// The JSON-RPC method or contract call.
        call: &'static str,
        /// What the transport or the node said.
        message: String,
    },
    /// The node does not have a block the keeper asked for (it is behind, or pruned).
    #[error("the node has no block {number}: is it still syncing?")]
    BlockMissing {
        /// The block number.
        number: u64,
    },
    /// The keeper's key may not settle.
    #[error(
        "the keeper key {keeper} does not hold KEEPER_ROLE on the market {market}: ask the co-op \
         admin to grant the role to this address, or configure the key that holds it"
    )]
    NotKeeper {
        /// The keeper's address.
        keeper: Address,
        /// The market contract.
        market: Address,
    },
    /// No contract answers at the deployment's market address.
    #[error(
        "no EnergyMarket at {market} on this chain: the deployment file does not belong to the node \
         at the configured RPC URL (redeploy with `cogrid deploy`, or fix `chain.deployment`)"
    )]
    NoMarket {
        /// The address from the deployment file.
        market: Address,
    },
    /// The settlement simulation could not run.
    #[error(transparent)]
    Simulate(#[from] crate::simulate::SimulateError),
    /// A transaction could not be signed with the keeper's key.
    #[error("cannot sign a transaction with the keeper key: {message}")]
    Sign {
        /// What the signer said.
        message: String,
    },
    /// A call needs more gas than the configured per-transaction cap.
    #[error(
        "the call needs {gas} gas, more than the cap of {cap} (settlement.gas_cap): it must be \
         split"
    )]
    GasAboveCap {
        /// The node's estimate.
        gas: u64,
        /// The cap.
        cap: u64,
    },
    /// A transaction the keeper sent reverted for a reason it cannot act on.
    #[error("{what} reverted on chain (transaction {tx_hash}); the keeper retries the interval")]
    Reverted {
        /// What was sent.
        what: &'static str,
        /// The transaction.
        tx_hash: alloy::primitives::B256,
    },
    /// The settlement of an interval would revert for a reason no fill explains.
    #[error("settling interval {interval} would revert: {reason}")]
    SettlementRefused {
        /// The interval.
        interval: u64,
        /// The contract's error.
        reason: String,
    },
    /// The HTTP endpoint could not listen.
    #[error("cannot listen on {listen} for /health and /metrics: {source}; change `http.listen`")]
    Listen {
        /// The configured address.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Maps a transport failure of the JSON-RPC `call` to [`KeeperError::Rpc`].
pub(crate) fn rpc(call: &'static str) -> impl Fn(alloy::transports::TransportError) -> KeeperError {
    move |error| KeeperError::Rpc {
        call,
        message: error.to_string(),
    }
}
