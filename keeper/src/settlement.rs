//! Sending the keeper's transactions: explicit nonces, EIP-1559 fees, a resend with bumped fees
//! under the same nonce when a transaction is stuck, and a record of every transaction in the store
//! before it leaves, so that a keeper restarted after a crash knows what it had sent.

use std::{sync::Arc, time::Duration};

use alloy::{
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
};
use tracing::{debug, info, warn};

use crate::{
    error::{KeeperError, rpc},
    metrics::Metrics,
    store::{AttemptStatus, SettlementAttempt, Store},
};

/// How long after a send its receipt is first asked for again, doubling up to [`RECEIPT_POLL`]: a
/// devnet mines within milliseconds, an L2 within its block time.
const FIRST_RECEIPT_POLL: Duration = Duration::from_millis(5);
/// How often, at most, a sent transaction's receipt is asked for.
const RECEIPT_POLL: Duration = Duration::from_millis(200);

/// A mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// The transaction that was included (a resend may have replaced the first one).
    pub tx_hash: B256,
    /// Whether it succeeded.
    pub success: bool,
    /// Gas it used.
    pub gas_used: u64,
}

/// Sends the keeper's transactions one at a time.
#[derive(Debug, Clone)]
pub struct Sender {
    provider: DynProvider,
    wallet: EthereumWallet,
    keeper: Address,
    chain_id: u64,
    store: Store,
    metrics: Arc<Metrics>,
    fee_bump_percent: u32,
    stuck_timeout: Duration,
}

impl Sender {
    /// A sender for `keeper`'s key (in `wallet`) on chain `chain_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: DynProvider,
        wallet: EthereumWallet,
        keeper: Address,
        chain_id: u64,
        store: Store,
        metrics: Arc<Metrics>,
        fee_bump_percent: u32,
        stuck_timeout: Duration,
    ) -> Self {
        Self {
            provider,
            wallet,
            keeper,
            chain_id,
            store,
            metrics,
            fee_bump_percent,
            stuck_timeout,
        }
    }

    /// The account this sender signs for.
    pub fn keeper(&self) -> Address {
        self.keeper
    }

    /// Sends a call to `to` for `interval` and waits until it is mined. A transaction without a
    /// receipt after the stuck timeout is resent under the same nonce with both fees raised by
    /// the configured percentage; whichever of the sent transactions is mined is returned.
    pub async fn send(
        &self,
        interval: u64,
        to: Address,
        input: Bytes,
        gas_limit: u64,
    ) -> Result<Mined, KeeperError> {
        let nonce = self
            .provider
            .get_transaction_count(self.keeper)
            .pending()
            .await
            .map_err(rpc("eth_getTransactionCount"))?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(rpc("eth_feeHistory"))?;
        let (mut max_fee, mut priority_fee) = (fees.max_fee_per_gas, fees.max_priority_fee_per_gas);
        let mut sent: Vec<B256> = Vec::new();
        loop {
            let request = TransactionRequest::default()
                .with_from(self.keeper)
                .with_to(to)
                .with_input(input.clone())
                .with_nonce(nonce)
                .with_chain_id(self.chain_id)
                .with_gas_limit(gas_limit)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority_fee);
            let envelope =
                request
                    .build(&self.wallet)
                    .await
                    .map_err(|error| KeeperError::Sign {
                        message: error.to_string(),
                    })?;
            let tx_hash = *envelope.tx_hash();
            // Recorded before it leaves: a crash right after sending still finds it.
            self.store
                .record_attempt(&SettlementAttempt {
                    interval,
                    tx_hash,
                    nonce,
                    sent_at: unix_now(),
                    status: AttemptStatus::Pending,
                })
                .await?;
            match self.provider.send_tx_envelope(envelope).await {
                Ok(_) => {}
                // An earlier send under this nonce was mined meanwhile: its receipt is below.
                Err(error) if is_nonce_used(&error.to_string()) => {
                    debug!(%tx_hash, "nonce already used: an earlier send was mined");
                }
                Err(error) => return Err(rpc("eth_sendRawTransaction")(error)),
            }
            sent.push(tx_hash);
            Metrics::add(&self.metrics.transactions_sent, 1);
            debug!(%tx_hash, nonce, interval, "sent");
            if let Some(receipt) = self.wait_for_any(&sent).await? {
                return self.conclude(&sent, &receipt).await;
            }
            max_fee = bump(max_fee, self.fee_bump_percent);
            priority_fee = bump(priority_fee, self.fee_bump_percent);
            Metrics::add(&self.metrics.fee_bumps, 1);
            warn!(
                %tx_hash,
                nonce,
                max_fee,
                "no receipt within the stuck timeout: resending with bumped fees"
            );
        }
    }

    /// Marks the mined transaction and the ones it replaced, and counts its gas.
    async fn conclude(
        &self,
        sent: &[B256],
        receipt: &TransactionReceipt,
    ) -> Result<Mined, KeeperError> {
        let mined = Mined {
            tx_hash: receipt.transaction_hash,
            success: receipt.status(),
            gas_used: receipt.gas_used,
        };
        for hash in sent {
            let status = if *hash != mined.tx_hash {
                AttemptStatus::Replaced
            } else if mined.success {
                AttemptStatus::Succeeded
            } else {
                AttemptStatus::Reverted
            };
            self.store.mark_attempt(*hash, status).await?;
        }
        Metrics::add(&self.metrics.gas_used, mined.gas_used);
        info!(tx_hash = %mined.tx_hash, gas = mined.gas_used, success = mined.success, "mined");
        Ok(mined)
    }

    /// The receipt of whichever of `sent` is mined first, or `None` after the stuck timeout.
    async fn wait_for_any(&self, sent: &[B256]) -> Result<Option<TransactionReceipt>, KeeperError> {
        let deadline = tokio::time::Instant::now() + self.stuck_timeout;
        let mut pause = FIRST_RECEIPT_POLL;
        loop {
            for hash in sent.iter().rev() {
                if let Some(receipt) = self.receipt(*hash).await? {
                    return Ok(Some(receipt));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECEIPT_POLL);
        }
    }

    /// A transaction's receipt, if it is mined.
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<TransactionReceipt>, KeeperError> {
        self.provider
            .get_transaction_receipt(tx_hash)
            .await
            .map_err(rpc("eth_getTransactionReceipt"))
    }

    /// Settles what the store says about `interval`'s earlier attempts with the chain: mined ones
    /// are marked, ones the node no longer knows are dropped. Returns whether one is still waiting
    /// in the node's pool (then the caller waits rather than sending another).
    pub async fn reconcile(&self, interval: u64) -> Result<bool, KeeperError> {
        let mut waiting = false;
        for attempt in self.store.attempts_for(interval).await? {
            if attempt.status != AttemptStatus::Pending {
                continue;
            }
            if let Some(receipt) = self.receipt(attempt.tx_hash).await? {
                let status = if receipt.status() {
                    AttemptStatus::Succeeded
                } else {
                    AttemptStatus::Reverted
                };
                self.store.mark_attempt(attempt.tx_hash, status).await?;
                continue;
            }
            let known = self
                .provider
                .get_transaction_by_hash(attempt.tx_hash)
                .await
                .map_err(rpc("eth_getTransactionByHash"))?;
            if known.is_some() {
                waiting = true;
            } else {
                self.store
                    .mark_attempt(attempt.tx_hash, AttemptStatus::Dropped)
                    .await?;
            }
        }
        Ok(waiting)
    }
}

/// `fee` raised by `percent`, rounded up, and by at least 1 wei.
fn bump(fee: u128, percent: u32) -> u128 {
    let raised = fee.saturating_mul(100 + u128::from(percent)).div_ceil(100);
    raised.max(fee.saturating_add(1))
}

/// Whether a node's refusal says the nonce was taken by a mined transaction (geth, reth, anvil
/// word it differently).
fn is_nonce_used(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("nonce too low") || message.contains("already known")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_raises_by_the_percentage_and_at_least_one_wei() {
        assert_eq!(bump(1_000_000_000, 12), 1_120_000_000);
        assert_eq!(bump(1, 12), 2);
        assert_eq!(bump(0, 12), 1);
        assert_eq!(bump(u128::MAX, 12), u128::MAX);
    }

    #[test]
    fn used_nonces_are_recognised_in_each_nodes_words() {
        assert!(is_nonce_used("nonce too low: next nonce 5, tx nonce 4"));
        assert!(is_nonce_used("already known"));
        assert!(!is_nonce_used("insufficient funds for gas * price + value"));
    }
}
