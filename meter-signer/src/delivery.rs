//! Sends the outbox's readings in batches, records what the chain made of each one, and removes
//! them once their transaction is final. Failures back off and retry; nothing is dropped.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::{
    primitives::{
        Address,
        aliases::{U40, U48},
    },
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};
use cogrid_bindings::{
    EnergyMarket::{self, EnergyMarketInstance},
    IMeterRegistry, RejectReason,
};
use cogrid_chain::{SignedReading, check_chain};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    config::DeliveryConfig,
    error::SignerError,
    metrics::Metrics,
    outbox::{IncludedTx, Outbox},
};

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Readings the chain counted in this pass.
    pub delivered: u64,
    /// Readings that left the outbox as final.
    pub finalized: u64,
    /// Readings put back in line because a reorg removed their transaction.
    pub requeued: u64,
}

/// What to do with a reading the registry skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// The chain counted it before: it is delivered.
    Delivered,
    /// The chain counted a later reading of this meter: this one's seq is below it. Its energy is
    /// in that later reading's delta (registers are cumulative), so it is done, and this
    /// gateway's seq must be lifted above the chain's before it signs again.
    Superseded,
    /// Try again later (the node's clock is behind the meter's).
    Retry,
    /// It will never be counted: keep it for the operator and stop sending it.
    Reject,
}

fn disposition(reason: RejectReason) -> Disposition {
    match reason {
        RejectReason::AlreadyCounted => Disposition::Delivered,
        RejectReason::SeqNotIncreasing => Disposition::Superseded,
        RejectReason::FromFuture | RejectReason::DuplicateInBatch => Disposition::Retry,
        _ => Disposition::Reject,
    }
}

/// What the signer must agree on with the chain before it sends: checked on the first pass that
/// reaches the node, and again whenever the chain shows a seq this gateway did not expect.
#[derive(Debug, Clone)]
pub struct ChainExpectations {
    /// The RPC URL, for error messages.
    pub rpc_url: String,
    /// The chain the readings are signed for.
    pub chain_id: u64,
    /// The registry's interval length.
    pub interval_seconds: u64,
    /// The meters this gateway signs for.
    pub meters: Vec<Address>,
}

/// What an operator can do about a reason.
fn advice(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::UnknownMeter => "ask the co-op admin to register this meter",
        RejectReason::MeterDeactivated => "the co-op deactivated this meter; ask them why",
        RejectReason::TooOld => {
            "it missed the acceptance window; its energy is carried by the next reading"
        }
        RejectReason::WrongSigner | RejectReason::MalformedSignature => {
            "the keystore does not hold this meter's registered key"
        }
        RejectReason::SeqNotIncreasing => {
            "the outbox is behind the chain; it resynchronises on restart"
        }
        RejectReason::ImplausibleDelta => {
            "more energy than the registered capacity allows, or unsettled volumes near their limit: check the meter and its registration, and that a keeper settles the market"
        }
        _ => "the meter's registers or clock are inconsistent; check the meter",
    }
}

/// Gas of a `submitReadings` transaction besides its readings' (`gas_per_reading` each): the
/// intrinsic 21,000, the registry's cold account, the call and its loop.
const BATCH_GAS: u64 = 30_000;

/// The sender.
#[derive(Debug, Clone)]
pub struct Delivery {
    provider: DynProvider,
    registry: EnergyMarketInstance<DynProvider>,
    outbox: Outbox,
    config: DeliveryConfig,
    confirmations: u64,
    metrics: Arc<Metrics>,
    expectations: ChainExpectations,
    synced: Arc<AtomicBool>,
    /// Set once a batch ran out of the gas `gas_per_reading` gave it: from then on the node
    /// estimates each batch.
    estimate_gas: Arc<AtomicBool>,
}

impl Delivery {
    /// A sender of `outbox` to `registry` through `provider` (which holds the relayer's wallet).
    pub fn new(
        provider: DynProvider,
        registry: Address,
        outbox: Outbox,
        config: DeliveryConfig,
        confirmations: u64,
        metrics: Arc<Metrics>,
        expectations: ChainExpectations,
    ) -> Self {
        let registry = EnergyMarket::new(registry, provider.clone());
        Self {
            provider,
            registry,
            outbox,
            config,
            confirmations,
            metrics,
            expectations,
            synced: Arc::new(AtomicBool::new(false)),
            estimate_gas: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Checks the chain id and interval length, and lifts each meter's next seq above what the
    /// chain counted (a gateway that lost its outbox must not reuse seqs). Errs without sending
    /// anything when the node is unreachable or disagrees.
    pub async fn sync(&self) -> Result<(), SignerError> {
        let expected = &self.expectations;
        check_chain(&self.provider, &expected.rpc_url, Some(expected.chain_id)).await?;
        let interval = self
            .registry
            .INTERVAL_SECONDS()
            .call()
            .await
            .map_err(failed("reading the registry's INTERVAL_SECONDS"))?;
        if u64::from(interval) != expected.interval_seconds {
            return Err(SignerError::IntervalMismatch {
                configured: expected.interval_seconds,
                registry: u64::from(interval),
            });
        }
        for &meter in &expected.meters {
            let state = self
                .registry
                .meterState(meter)
                .call()
                .await
                .map_err(failed("reading a meter's state"))?;
            if state.status == 0 {
                return Err(SignerError::MeterNotRegistered {
                    meter,
                    registry: *self.registry.address(),
                });
            }
            self.outbox.ensure_seq_above(meter, state.seq).await?;
        }
        self.synced.store(true, Ordering::Release);
        Ok(())
    }

    /// Runs until `cancel`: wakes on `wake` (a new reading) or every poll interval, and backs off
    /// exponentially while the chain is unreachable.
    pub async fn run(self, wake: Arc<Notify>, cancel: CancellationToken) {
        let mut backoff = self.config.initial_backoff;
        loop {
            let (wait, wakeable) = match self.pass().await {
                Ok(progress) => {
                    backoff = self.config.initial_backoff;
                    let more =
                        progress.delivered > 0 || progress.finalized > 0 || progress.requeued > 0;
                    (
                        if more {
                            Duration::ZERO
                        } else {
                            self.config.poll_interval
                        },
                        true,
                    )
                }
                Err(error) => {
                    Metrics::bump(&self.metrics.send_failures);
                    warn!(%error, retry_in = ?backoff, "delivery failed; readings stay in the outbox");
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    // New readings must not cut a back-off short: the chain is still down.
                    (wait, false)
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = wake.notified(), if wakeable => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass: agree with the chain if not done yet, finalize what is deep enough, then send
    /// one batch of pending readings.
    pub async fn pass(&self) -> Result<Progress, SignerError> {
        if !self.synced.load(Ordering::Acquire) {
            self.sync().await?;
        }
        let (finalized, requeued) = self.finalize().await?;
        let mut progress = Progress {
            finalized,
            requeued,
            ..Progress::default()
        };
        if requeued > 0 {
            // A reorg seen partway through the waiting transactions: those looked up before it
            // may be gone too. Send nothing until a pass has seen them all on the same chain, so
            // that readings go back in their order (a later reading counted first would turn
            // the earlier ones into a gap).
            return Ok(progress);
        }
        let batch = self.outbox.pending(self.config.batch_size).await?;
        if batch.is_empty() {
            return Ok(progress);
        }
        let receipt = self.send(&batch).await?;
        let (delivered, rejected) = self.record(&batch, &receipt).await?;
        if delivered == 0 && rejected == 0 {
            // Every reading was skipped for now (its interval has not ended by the block's time:
            // a meter clock ahead of the sequencer's). Back off instead of paying for the same
            // skipped batch on every poll.
            return Err(SignerError::NotYetAccepted {
                readings: batch.len(),
            });
        }
        progress.delivered = delivered;
        Ok(progress)
    }

    /// Sends `batch` with a gas limit of `gas_per_reading` per reading rather than the node's
    /// estimate: a reading's gas hardly varies (one signature, one storage word that is never
    /// zero, one event), the unused gas is not paid for, and an `eth_estimateGas` is a binary
    /// search of executions of the whole batch (about 25 on anvil) before every send.
    async fn send(&self, batch: &[SignedReading]) -> Result<TransactionReceipt, SignerError> {
        let readings: Vec<IMeterRegistry::Reading> =
            batch.iter().map(to_contract_reading).collect();
        let limit = BATCH_GAS + batch.len() as u64 * self.config.gas_per_reading;
        let bounded = !self.estimate_gas.load(Ordering::Acquire);
        let mut call = self.registry.submitReadings(readings);
        if bounded {
            call = call.gas(limit);
        }
        let pending = call
            .send()
            .await
            .map_err(failed("sending submitReadings"))?;
        Metrics::bump(&self.metrics.batches_sent);
        let receipt = pending
            .with_timeout(Some(self.config.receipt_timeout))
            .get_receipt()
            .await
            .map_err(failed("waiting for the submitReadings receipt"))?;
        self.metrics
            .gas_used
            .fetch_add(receipt.gas_used, std::sync::atomic::Ordering::Relaxed);
        if !receipt.status() {
            // `submitReadings` skips a bad reading instead of reverting: a batch sent with the
            // configured gas that reverts ran out of it (inside the signature check's call it
            // keeps a 64th back, so its gas used is a little under the limit).
            if bounded {
                self.estimate_gas.store(true, Ordering::Release);
                warn!(
                    limit,
                    gas_used = receipt.gas_used,
                    gas_per_reading = self.config.gas_per_reading,
                    "a batch sent with the configured gas reverted; the node estimates every batch from now on (raise delivery.gas_per_reading)"
                );
            }
            return Err(SignerError::Contract {
                what: "submitReadings",
                message: format!("transaction {} reverted", receipt.transaction_hash),
            });
        }
        Ok(receipt)
    }

    /// Applies the registry's verdict on each reading of a mined batch.
    async fn record(
        &self,
        batch: &[SignedReading],
        receipt: &TransactionReceipt,
    ) -> Result<(u64, u64), SignerError> {
        let tx = IncludedTx {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
        };
        let mut delivered = Vec::new();
        let mut rejected = 0;
        for log in receipt.logs() {
            if let Ok(accepted) = log.log_decode::<EnergyMarket::ReadingAccepted>() {
                delivered.push((accepted.inner.meter, accepted.inner.seq));
            } else if let Ok(skipped) = log.log_decode::<EnergyMarket::ReadingRejected>() {
                let EnergyMarket::ReadingRejected { meter, seq, reason } = skipped.inner.data;
                let reason = RejectReason::from_abi(reason);
                match disposition(reason) {
                    Disposition::Delivered => delivered.push((meter, seq)),
                    Disposition::Superseded => {
                        info!(%meter, seq, "the chain counted a later reading of this meter; this one is covered by it");
                        self.synced.store(false, Ordering::Release);
                        delivered.push((meter, seq));
                    }
                    Disposition::Retry => {
                        info!(%meter, seq, ?reason, "reading not yet accepted; will retry")
                    }
                    Disposition::Reject => {
                        error!(%meter, seq, ?reason, advice = advice(reason), "reading refused by the registry");
                        self.outbox
                            .mark_rejected(meter, seq, &format!("{reason:?}"))
                            .await?;
                        rejected += 1;
                    }
                }
            }
        }
        delivered.retain(|(meter, seq)| {
            batch
                .iter()
                .any(|reading| reading.meter == *meter && reading.seq == *seq)
        });
        self.outbox.mark_included(&delivered, tx).await?;
        let count = delivered.len() as u64;
        self.metrics
            .readings_delivered
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .readings_rejected
            .fetch_add(rejected, std::sync::atomic::Ordering::Relaxed);
        info!(tx = %tx.tx_hash, block = tx.block_number, delivered = count, rejected, gas = receipt.gas_used, "batch mined");
        Ok((count, rejected))
    }

    /// Removes readings whose transaction has enough confirmations, and puts back in line those
    /// whose transaction a reorg removed. Every waiting transaction is looked up on every pass,
    /// before anything new is sent, so readings go back in their order.
    async fn finalize(&self) -> Result<(u64, u64), SignerError> {
        let waiting = self.outbox.included_transactions().await?;
        if waiting.is_empty() {
            return Ok((0, 0));
        }
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(failed("reading the chain head"))?;
        let (mut finalized, mut requeued_total) = (0, 0);
        for tx in waiting {
            let receipt = self
                .provider
                .get_transaction_receipt(tx.tx_hash)
                .await
                .map_err(failed("fetching a receipt"))?;
            let included_at = receipt.and_then(|receipt| receipt.block_number);
            if let Some(block_number) = included_at.filter(|&block| block != tx.block_number) {
                // A reorg moved the transaction to another block: its confirmations restart there.
                self.outbox.move_to_block(tx.tx_hash, block_number).await?;
            } else if included_at.is_none() {
                let requeued = self.outbox.requeue(tx.tx_hash).await?;
                warn!(tx = %tx.tx_hash, requeued, "transaction left the chain (reorg); resending its readings");
                self.metrics
                    .readings_requeued
                    .fetch_add(requeued, std::sync::atomic::Ordering::Relaxed);
                requeued_total += requeued;
            } else if head + 1 >= tx.block_number + self.confirmations {
                finalized += self.outbox.remove_final(tx.tx_hash).await?;
            }
        }
        self.metrics
            .readings_final
            .fetch_add(finalized, std::sync::atomic::Ordering::Relaxed);
        Ok((finalized, requeued_total))
    }
}

impl SignerError {
    /// Whether retrying cannot help: the config disagrees with the chain.
    pub fn is_config_mismatch(&self) -> bool {
        matches!(
            self,
            Self::Chain(cogrid_chain::ChainError::WrongChain { .. })
                | Self::IntervalMismatch { .. }
                | Self::MeterNotRegistered { .. }
        )
    }
}

/// Names what was being done when an RPC or contract call failed.
fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> SignerError {
    move |error| SignerError::Contract {
        what,
        message: error.to_string(),
    }
}

/// The contract's form of a signed reading.
pub fn to_contract_reading(reading: &SignedReading) -> IMeterRegistry::Reading {
    IMeterRegistry::Reading {
        meter: reading.meter,
        seq: reading.seq,
        intervalEnd: U40::from(reading.interval_end),
        importWh: U48::from(reading.import_wh),
        exportWh: U48::from(reading.export_wh),
        r: reading.r,
        vs: reading.vs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gas a batch is sent with covers what the registry's gas tests measure for one reading
    /// and for a batch of 100, with a tenth to spare: a contract change that makes readings
    /// dearer changes the committed snapshot and fails here, not in a gateway's outbox.
    #[test]
    fn the_default_gas_covers_the_registrys_measured_readings() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../contracts/snapshots/MeterRegistryGasTest.json"
        );
        let snapshot: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let per_reading = DeliveryConfig::default().gas_per_reading;
        for (name, readings) in [("reading_single", 1u64), ("reading_in_batch_of_100", 100)] {
            let execution: u64 = snapshot[name].as_str().unwrap().parse().unwrap();
            // The snapshot is execution alone: add the intrinsic gas, the registry's cold
            // account, and the calldata (selector, offset, length, 7 words a reading) as if
            // every byte were non-zero.
            let calldata_bytes = 4 + 64 + readings * 7 * 32;
            let needed = 21_000 + 2_600 + calldata_bytes * 16 + execution;
            let limit = BATCH_GAS + readings * per_reading;
            assert!(
                limit >= needed + needed / 10,
                "{name}: {limit} gas sent, {needed} needed"
            );
        }
    }

    #[test]
    fn a_reading_the_chain_counted_or_passed_is_never_a_rejection() {
        assert_eq!(
            disposition(RejectReason::AlreadyCounted),
            Disposition::Delivered
        );
        assert_eq!(
            disposition(RejectReason::SeqNotIncreasing),
            Disposition::Superseded
        );
        assert_eq!(disposition(RejectReason::FromFuture), Disposition::Retry);
        assert_eq!(
            disposition(RejectReason::DuplicateInBatch),
            Disposition::Retry
        );
        for reason in [
            RejectReason::UnknownMeter,
            RejectReason::MeterDeactivated,
            RejectReason::TooOld,
            RejectReason::WrongSigner,
            RejectReason::MalformedSignature,
            RejectReason::RegisterWentBackwards,
            RejectReason::ImplausibleDelta,
            RejectReason::Unknown(200),
        ] {
            assert_eq!(disposition(reason), Disposition::Reject, "{reason:?}");
        }
    }
}
