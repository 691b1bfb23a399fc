//! Reads VppDispatch's `EventCreated` logs for one feeder, in bounded block ranges, from a start
//! block on, remembering where it got to.

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use cogrid_bindings::VppDispatch::EventCreated;
use tracing::{debug, warn};

use crate::error::GatewayError;

/// A dispatch event as `EventCreated` announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchEvent {
    /// The event id.
    pub id: U256,
    /// The feeder it calls on.
    pub feeder: u32,
    /// Start of the window (unix s), included.
    pub start: u64,
    /// End of the window (unix s), excluded.
    pub end: u64,
    /// The watts asked for (the OpenADR `DISPATCH_SETPOINT`).
    pub target_w: u32,
    /// Stablecoin base units paid per kWh delivered.
    pub price_per_kwh: u64,
    /// The OpenADR 3 priority (0 is the highest).
    pub priority: u8,
    /// The OpenADR 3 program.
    pub program: String,
}

impl From<EventCreated> for DispatchEvent {
    fn from(event: EventCreated) -> Self {
        Self {
            id: event.id,
            feeder: event.feeder,
            start: event.start.to::<u64>(),
            end: event.end.to::<u64>(),
            target_w: event.targetW,
            price_per_kwh: event.pricePerKwh,
            priority: event.priority,
            program: event.programName,
        }
    }
}

/// The next block range to read: from `next` up to `safe_head`, at most `max_range` blocks;
/// `None` when `next` is past `safe_head`.
pub fn next_range(next: u64, safe_head: u64, max_range: u64) -> Option<(u64, u64)> {
    (next <= safe_head).then(|| (next, safe_head.min(next + max_range.max(1) - 1)))
}

/// Reads new `EventCreated` logs of one feeder.
#[derive(Debug, Clone)]
pub struct EventListener {
    provider: DynProvider,
    dispatch: Address,
    feeder: u32,
    next_block: u64,
    max_range: u64,
    confirmations: u64,
}

impl EventListener {
    /// Listens to `dispatch` for events on `feeder` from `start_block` on, reading at most
    /// `max_range` blocks per `eth_getLogs` (nodes cap a query's range or result size) and only
    /// blocks with `confirmations` blocks on top (0: up to the head).
    pub fn new(
        provider: DynProvider,
        dispatch: Address,
        feeder: u32,
        start_block: u64,
        max_range: u64,
        confirmations: u64,
    ) -> Self {
        Self {
            provider,
            dispatch,
            feeder,
            next_block: start_block,
            max_range,
            confirmations,
        }
    }

    /// The first block not read yet.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// Reads every range from where it got to up to `head` less the confirmations, and returns
    /// the feeder's new events in chain order. A failed range is not skipped: the events read
    /// before it are returned and the next poll starts at it.
    pub async fn poll(&mut self, head: u64) -> Result<Vec<DispatchEvent>, GatewayError> {
        let mut found = Vec::new();
        let Some(safe_head) = head.checked_sub(self.confirmations) else {
            return Ok(found);
        };
        // The feeder is an indexed topic of `EventCreated`: the node filters on it.
        let feeder_topic = B256::from(U256::from(self.feeder));
        while let Some((from, to)) = next_range(self.next_block, safe_head, self.max_range) {
            let filter = Filter::new()
                .address(self.dispatch)
                .event_signature(EventCreated::SIGNATURE_HASH)
                .topic3(feeder_topic)
                .from_block(from)
                .to_block(to);
            let logs = match self.provider.get_logs(&filter).await {
                Ok(logs) => logs,
                Err(error) if found.is_empty() => {
                    return Err(GatewayError::Rpc {
                        call: "eth_getLogs",
                        message: error.to_string(),
                    });
                }
                Err(error) => {
                    warn!(%error, from, to, "eth_getLogs failed; retrying this range at the next poll");
                    break;
                }
            };
            for log in logs {
                match EventCreated::decode_log(&log.inner) {
                    // Checked again here: a node that ignores a topic filter must not make the
                    // gateway enrol on another feeder (the contract would refuse it anyway).
                    Ok(event) if event.data.feeder == self.feeder => {
                        found.push(DispatchEvent::from(event.data));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        warn!(%error, tx = ?log.transaction_hash, "undecodable EventCreated log")
                    }
                }
            }
            debug!(from, to, "read VPP events");
            self.next_block = to + 1;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_bounded_and_cover_up_to_the_head() {
        assert_eq!(next_range(10, 9, 100), None);
        assert_eq!(next_range(10, 10, 100), Some((10, 10)));
        assert_eq!(next_range(10, 500, 100), Some((10, 109)));
        assert_eq!(next_range(110, 150, 100), Some((110, 150)));
        // A zero range would never advance: it reads one block at a time instead.
        assert_eq!(next_range(7, 9, 0), Some((7, 7)));
    }
}
