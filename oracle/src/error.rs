//! Errors of the oracle reporter.

use std::{net::SocketAddr, path::PathBuf};

use alloy::primitives::{Address, B256};
use cogrid_bindings::OracleHub::OracleHubErrors;

use crate::config::FeedKind;

/// Errors of the oracle reporter.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Config, keystore or RPC trouble from the shared chain plumbing.
    #[error(transparent)]
    Chain(#[from] cogrid_chain::ChainError),
    /// The deployment file cannot be read, or names no OracleHub.
    #[error(
        "the deployment file {path} gives no OracleHub address: {message}; redeploy with \
         `cogrid deploy` (a file written before OracleHub was part of the suite has no \
         `oracleHub`), or set `chain.hub` to OracleHub's address"
    )]
    BadDeployment {
        /// The deployment file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// No contract answers at the hub's address.
    #[error(
        "no contract at the OracleHub address {hub} on this chain: the deployment file or \
         `chain.hub` belongs to another chain (fix `chain.deployment` or `chain.hub`)"
    )]
    NoHub {
        /// The configured address.
        hub: Address,
    },
    /// The hub's EIP-712 domain is not the one the reporter signs for.
    #[error(
        "OracleHub {hub} has domain separator {actual}, but the reporter signs for {expected} \
         (name \"cogrid OracleHub\", version \"1\", chain {chain_id}): is `chain.chain_id` right, \
         and is this an OracleHub?"
    )]
    DomainMismatch {
        /// The hub.
        hub: Address,
        /// The chain the reporter signs for.
        chain_id: u64,
        /// The separator the reporter computes.
        expected: B256,
        /// The hub's.
        actual: B256,
    },
    /// The hub hashes observations under another EIP-712 type than the reporter signs.
    #[error(
        "OracleHub {hub} digests an observation as {actual}, but the reporter signs {expected} \
         for type Observation(uint8 feed,int256 answer,uint64 observedAt): the reporter and the \
         contract disagree on the signed type; run matching versions"
    )]
    DigestMismatch {
        /// The hub.
        hub: Address,
        /// The digest the reporter signs.
        expected: B256,
        /// The hub's `observationDigest`.
        actual: B256,
    },
    /// The reporter's key is not an authorized reporter.
    #[error(
        "the reporter key {reporter} is not an authorized reporter of OracleHub {hub}: ask the \
         co-op admin to add this address, or configure the key that is"
    )]
    NotReporter {
        /// The reporter's address.
        reporter: Address,
        /// The hub.
        hub: Address,
    },
    /// A JSON-RPC call to the node failed.
    #[error("the node did not answer {call}: {message}; check that it is running and reachable")]
    Rpc {
        /// The JSON-RPC method or contract call.
        call: &'static str,
        /// What the transport or the node said.
        message: String,
    },
    /// An observation could not be signed with the reporter's key.
    #[error("cannot sign an observation with the reporter key: {message}")]
    Sign {
        /// What the signer said.
        message: String,
    },
    /// OracleHub refused a round for a reason other than a peer's round landing first.
    #[error(
        "OracleHub refused the {feed} round: {reason:?}; the reporter retries at the next poll"
    )]
    Refused {
        /// The feed.
        feed: FeedKind,
        /// The hub's error, decoded from the revert.
        reason: OracleHubErrors,
    },
    /// A round could not be sent: the transport failed, or the node refused it without an
    /// OracleHub error (out of gas or funds, a nonce conflict).
    #[error("submitting a {feed} round failed: {message}; the reporter retries at the next poll")]
    Submit {
        /// The feed.
        feed: FeedKind,
        /// The node's or the contract's answer.
        message: String,
    },
    /// A round's transaction was mined but reverted, and no newer round explains it.
    #[error(
        "the {feed} round in transaction {tx_hash} reverted; the reporter retries at the next poll"
    )]
    Reverted {
        /// The feed.
        feed: FeedKind,
        /// The transaction.
        tx_hash: B256,
    },
    /// The HTTP endpoint could not listen.
    #[error(
        "cannot listen on {listen} for /health, /metrics and /observations: {source}; change \
         `http.listen`"
    )]
    Listen {
        /// The configured address.
        listen: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Maps a failed contract call `call` to [`OracleError::Rpc`].
pub(crate) fn contract_call(call: &'static str) -> impl Fn(alloy::contract::Error) -> OracleError {
    move |error| OracleError::Rpc {
        call,
        message: error.to_string(),
    }
}
