//! Settling a virtual power plant event: an enrolled meter proves its delivery with its own signed
//! readings at the event's three boundaries (`start - (end - start)`, `start`, `end`).
//!
//! The meters' gateways post those readings to the registry like any other; the registry's
//! `ReadingAccepted` event names the meter, the boundary and the reading's `seq`, and the
//! signature is in the calldata of the `submitReadings` transaction that counted it. So anyone can
//! rebuild every proof from the chain alone, without asking the gateways.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use cogrid_bindings::{EnergyMarket, IMeterRegistry, IVppDispatch, VppDispatch};

use crate::{
    ChainError, Deployment, SignedReading, first_block_at_or_after, logs_since, reading_domain,
};

/// Where a VppDispatch event is in its life (`IVppDispatch.EventStatus`, a `uint8` in the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VppEventStatus {
    /// No such event.
    None,
    /// Open to enrolments before its start, to proofs after its end.
    Open,
    /// Cancelled by its operator before its start.
    Cancelled,
    /// Closed: the rest of its budget went back to its operator.
    Closed,
}

impl VppEventStatus {
    /// The status the contract reports as `value`.
    pub fn from_abi(value: u8) -> Option<Self> {
        [Self::None, Self::Open, Self::Cancelled, Self::Closed]
            .get(usize::from(value))
            .copied()
    }
}

/// Where an enrolment is in its life (`IVppDispatch.EnrolmentStatus`, a `uint8` in the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VppEnrolmentStatus {
    /// Not enrolled.
    None,
    /// Enrolled, not settled yet.
    Enrolled,
    /// Settled: its pay is owed, not claimed yet.
    Settled,
    /// Its pay was claimed.
    Claimed,
}

impl VppEnrolmentStatus {
    /// The status the contract reports as `value`.
    pub fn from_abi(value: u8) -> Option<Self> {
        [Self::None, Self::Enrolled, Self::Settled, Self::Claimed]
            .get(usize::from(value))
            .copied()
    }
}

/// Proofs per `settle` transaction: about 25,000 gas each, 1.3 M gas a call, well under any L2's
/// per-transaction cap.
pub const PROOFS_PER_SETTLE: usize = 50;

/// The boundaries whose readings prove an event's delivery, in proof order.
pub fn vpp_boundaries(start: u64, end: u64) -> [u64; 3] {
    [start - (end - start), start, end]
}

/// What the chain holds to settle an event's open enrolments.
#[derive(Debug, Clone, Default)]
pub struct VppProofs {
    /// A proof per enrolled, unsettled meter whose three readings were all found.
    pub proofs: Vec<IVppDispatch::Proof>,
    /// Enrolled, unsettled meters with the boundaries (unix s) they have no reading for: they
    /// cannot be settled yet (their gateway has not posted it), or ever, if it never does.
    pub missing: Vec<(Address, Vec<u64>)>,
}

/// Every meter enrolled in event `id`, with the watts it committed, in enrolment order.
pub async fn vpp_enrolments(
    provider: &DynProvider,
    rpc_url: &str,
    deployment: &Deployment,
    id: U256,
) -> Result<Vec<(Address, u32)>, ChainError> {
    let filter = Filter::new()
        .address(deployment.vpp_dispatch)
        .event_signature(VppDispatch::Enrolled::SIGNATURE_HASH)
        .topic1(B256::from(id));
    let logs = logs_since(provider, rpc_url, &filter, deployment.deployed_at_block).await?;
    Ok(logs
        .iter()
        .filter_map(|log| log.log_decode::<VppDispatch::Enrolled>().ok())
        .map(|log| (log.inner.data.meter, log.inner.data.committedW))
        .collect())
}

/// The proofs of event `id`'s enrolments that are not settled yet, rebuilt from the readings the
/// registry accepted at the event's boundaries and the transactions that carried them.
pub async fn vpp_proofs(
    provider: &DynProvider,
    rpc_url: &str,
    deployment: &Deployment,
    id: U256,
) -> Result<VppProofs, ChainError> {
    let vpp = VppDispatch::new(deployment.vpp_dispatch, provider.clone());
    let rpc = |error: alloy::contract::Error| ChainError::Read {
        what: "VppDispatch",
        message: error.to_string(),
    };
    let event = vpp.eventOf(id).call().await.map_err(rpc)?;
    let boundaries = vpp_boundaries(event.start.to(), event.end.to());
    let mut open = Vec::new();
    for (meter, _) in vpp_enrolments(provider, rpc_url, deployment, id).await? {
        let enrolment = vpp.enrolmentOf(id, meter).call().await.map_err(rpc)?;
        if VppEnrolmentStatus::from_abi(enrolment.status) == Some(VppEnrolmentStatus::Enrolled) {
            open.push(meter);
        }
    }
    if open.is_empty() {
        return Ok(VppProofs::default());
    }

    // The `seq` and the carrying transaction of each open meter's reading at each boundary. A
    // reading of boundary X is accepted in a block of time X or later: the scan starts there.
    let filter = Filter::new()
        .address(deployment.market)
        .event_signature(EnergyMarket::ReadingAccepted::SIGNATURE_HASH)
        .topic1(
            open.iter()
                .map(|meter| meter.into_word())
                .collect::<Vec<_>>(),
        );
    let first = first_block_at_or_after(
        provider,
        rpc_url,
        boundaries[0],
        deployment.deployed_at_block,
    )
    .await?;
    let mut found: HashMap<(Address, u64), (u32, B256)> = HashMap::new();
    for log in logs_since(provider, rpc_url, &filter, first).await? {
        let Ok(accepted) = log.log_decode::<EnergyMarket::ReadingAccepted>() else {
            continue;
        };
        let reading = &accepted.inner.data;
        let end: u64 = reading.intervalEnd.to();
        if let (true, Some(hash)) = (boundaries.contains(&end), log.transaction_hash) {
            found.insert((reading.meter, end), (reading.seq, hash));
        }
    }

    // Each carrying transaction's readings, decoded once.
    let mut batches: BTreeMap<B256, Vec<IMeterRegistry::Reading>> = BTreeMap::new();
    for (_, hash) in found.values() {
        if batches.contains_key(hash) {
            continue;
        }
        let transaction = provider
            .get_transaction_by_hash(*hash)
            .await
            .map_err(|error| ChainError::Read {
                what: "eth_getTransactionByHash",
                message: error.to_string(),
            })?
            .ok_or(ChainError::Read {
                what: "eth_getTransactionByHash",
                message: format!("the node does not know transaction {hash}"),
            })?;
        // A reading relayed through another contract (not a direct `submitReadings` call) is
        // not in the calldata in this form; its meter is reported as missing that reading.
        let readings = EnergyMarket::submitReadingsCall::abi_decode(transaction.input())
            .map(|call| call.readings)
            .unwrap_or_default();
        batches.insert(*hash, readings);
    }

    let domain = reading_domain(deployment.chain_id, deployment.market);
    let mut proofs = VppProofs::default();
    for meter in open {
        let mut readings = Vec::with_capacity(3);
        let mut missing = Vec::new();
        for boundary in boundaries {
            // A batch may also carry a reading the registry refused with the same meter, seq
            // and boundary (a forged copy): the meter's own signature tells the accepted one.
            let signed = found.get(&(meter, boundary)).and_then(|(seq, hash)| {
                batches[hash].iter().find(|reading| {
                    reading.meter == meter
                        && reading.seq == *seq
                        && reading.intervalEnd.to::<u64>() == boundary
                        && signed_reading(reading).signed_by_meter(&domain)
                })
            });
            match signed {
                Some(reading) => readings.push(IVppDispatch::SignedReading {
                    registers: packed_registers(reading),
                    r: reading.r,
                    vs: reading.vs,
                }),
                None => missing.push(boundary),
            }
        }
        match <[IVppDispatch::SignedReading; 3]>::try_from(readings) {
            Ok(readings) if missing.is_empty() => {
                proofs.proofs.push(IVppDispatch::Proof { meter, readings });
            }
            _ => proofs.missing.push((meter, missing)),
        }
    }
    Ok(proofs)
}

/// The `settle` calls that submit `proofs` for event `id`, [`PROOFS_PER_SETTLE`] at a time; with
/// `closing`, the last one (or a call without proofs) closes the event.
pub fn vpp_settle_calls(
    id: U256,
    proofs: &[IVppDispatch::Proof],
    closing: bool,
) -> Vec<VppDispatch::settleCall> {
    let mut calls: Vec<VppDispatch::settleCall> = proofs
        .chunks(PROOFS_PER_SETTLE)
        .map(|chunk| VppDispatch::settleCall {
            id,
            proofs: chunk.to_vec(),
            closing: false,
        })
        .collect();
    if closing {
        match calls.last_mut() {
            Some(last) => last.closing = true,
            None => calls.push(VppDispatch::settleCall {
                id,
                proofs: Vec::new(),
                closing: true,
            }),
        }
    }
    calls
}

/// A registry reading as the signed reading it carries.
fn signed_reading(reading: &IMeterRegistry::Reading) -> SignedReading {
    SignedReading {
        meter: reading.meter,
        seq: reading.seq,
        interval_end: reading.intervalEnd.to(),
        import_wh: reading.importWh.to(),
        export_wh: reading.exportWh.to(),
        r: reading.r,
        vs: reading.vs,
    }
}

/// `seq << 96 | importWh << 48 | exportWh`, as VppDispatch takes a reading's registers.
fn packed_registers(reading: &IMeterRegistry::Reading) -> u128 {
    (u128::from(reading.seq) << 96)
        | (u128::from(reading.importWh.to::<u64>()) << 48)
        | u128::from(reading.exportWh.to::<u64>())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::aliases::{U40, U48};

    use super::*;

    #[test]
    fn the_boundaries_are_the_baseline_start_the_start_and_the_end() {
        assert_eq!(vpp_boundaries(7_200, 10_800), [3_600, 7_200, 10_800]);
    }

    #[test]
    fn settle_calls_split_the_proofs_and_close_with_the_last() {
        let reading = IVppDispatch::SignedReading {
            registers: 0,
            r: B256::ZERO,
            vs: B256::ZERO,
        };
        let proof = IVppDispatch::Proof {
            meter: Address::ZERO,
            readings: [reading.clone(), reading.clone(), reading],
        };
        let proofs = vec![proof; PROOFS_PER_SETTLE + 1];
        let calls = vpp_settle_calls(U256::from(3), &proofs, true);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].proofs.len(), PROOFS_PER_SETTLE);
        assert!(!calls[0].closing && calls[1].closing);
        assert_eq!(calls[1].proofs.len(), 1);
        let close_only = vpp_settle_calls(U256::from(3), &[], true);
        assert_eq!(close_only.len(), 1);
        assert!(close_only[0].closing && close_only[0].proofs.is_empty());
        assert!(vpp_settle_calls(U256::from(3), &[], false).is_empty());
    }

    #[test]
    fn registers_pack_as_the_contract_unpacks_them() {
        let reading = IMeterRegistry::Reading {
            meter: Address::ZERO,
            seq: 7,
            intervalEnd: U40::from(900),
            importWh: U48::from(0xFFFF_FFFF_FFFFu64),
            exportWh: U48::from(5u64),
            r: B256::ZERO,
            vs: B256::ZERO,
        };
        let packed = packed_registers(&reading);
        assert_eq!(packed >> 96, 7);
        assert_eq!((packed >> 48) & 0xFFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF);
        assert_eq!(packed & 0xFFFF_FFFF_FFFF, 5);
    }
}
