//! Follows the market contract's events into the [`Store`], a confirmation depth behind the chain
//! head, and rewinds when a block it indexed is no longer on the chain (a reorg).
//!
//! Each step indexes at most [`MAX_BLOCKS_PER_STEP`] blocks: the logs of the range in one
//! `eth_getLogs`, then every block that holds an event, and the range's last block (so the cursor
//! moves even through blocks without events), each written with its events in one database
//! transaction. Before a step, the hash of the last indexed block is compared with the chain's;
//! on a mismatch the indexer walks back through the blocks it stored until one still matches and
//! rewinds the store to it.

use std::collections::BTreeMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEventInterface,
};
use cogrid_bindings::EnergyMarket::EnergyMarketEvents;
use cogrid_chain::SettlementRecord;
use tracing::{debug, info, warn};

use crate::{
    error::{KeeperError, rpc},
    store::{Event, IndexedBlock, LoggedEvent, Store},
};

/// Blocks indexed per step at most: one `eth_getLogs` range, well under the 10,000-block ranges
/// public RPC providers accept.
pub const MAX_BLOCKS_PER_STEP: u64 = 2_000;

/// What one [`Indexer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepOutcome {
    /// The last block now indexed (`None` before the deployment block).
    pub indexed_to: Option<u64>,
    /// The chain head when the step started.
    pub head: u64,
    /// Blocks rewound because of a reorg.
    pub rewound: u64,
    /// Whether the index is as far as the confirmation depth allows.
    pub caught_up: bool,
}

/// Indexes the market's events into the store.
#[derive(Debug)]
pub struct Indexer {
    provider: DynProvider,
    store: Store,
    market: Address,
    first_block: u64,
    confirmations: u64,
}

impl Indexer {
    /// An indexer of `market`'s events from `first_block` (the deployment block) on.
    pub fn new(
        provider: DynProvider,
        store: Store,
        market: Address,
        first_block: u64,
        confirmations: u64,
    ) -> Self {
        Self {
            provider,
            store,
            market,
            first_block,
            confirmations,
        }
    }

    /// Indexes the next range of confirmed blocks, after rewinding a reorg if there was one.
    pub async fn step(&self) -> Result<StepOutcome, KeeperError> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(rpc("eth_blockNumber"))?;
        let rewound = self.rewind_reorg().await?;
        let last = self.store.last_indexed_block().await?;
        let from = last.map_or(self.first_block, |last| last + 1);
        let Some(confirmed) = head.checked_sub(self.confirmations) else {
            return Ok(StepOutcome {
                indexed_to: last,
                head,
                rewound,
                caught_up: true,
            });
        };
        if from > confirmed {
            return Ok(StepOutcome {
                indexed_to: last,
                head,
                rewound,
                caught_up: true,
            });
        }
        let to = confirmed.min(from + MAX_BLOCKS_PER_STEP - 1);
        let logs = self
            .provider
            .get_logs(
                &Filter::new()
                    .address(self.market)
                    .from_block(from)
                    .to_block(to),
            )
            .await
            .map_err(rpc("eth_getLogs"))?;
        let mut by_block: BTreeMap<u64, Vec<LoggedEvent>> = BTreeMap::new();
        for log in &logs {
            let (Some(number), Some(log_index)) = (log.block_number, log.log_index) else {
                continue;
            };
            if let Some(event) = to_event(log) {
                by_block
                    .entry(number)
                    .or_default()
                    .push(LoggedEvent { log_index, event });
            }
        }
        // The range's last block moves the cursor even when it holds no event.
        by_block.entry(to).or_default();
        for (number, mut events) in by_block {
            events.sort_by_key(|logged| logged.log_index);
            let block = self.block_header(number).await?;
            let count = events.len();
            self.store
                .apply_block(&IndexedBlock {
                    number,
                    hash: block.0,
                    parent_hash: block.1,
                    timestamp: block.2,
                    events,
                })
                .await?;
            if count > 0 {
                debug!(block = number, events = count, "indexed");
            }
        }
        Ok(StepOutcome {
            indexed_to: Some(to),
            head,
            rewound,
            caught_up: to == confirmed,
        })
    }

    /// Compares the stored hashes of the latest indexed blocks with the chain's and rewinds to the
    /// newest one that still matches. Returns how many blocks were rewound.
    async fn rewind_reorg(&self) -> Result<u64, KeeperError> {
        let Some(last) = self.store.last_indexed_block().await? else {
            return Ok(0);
        };
        let mut number = last;
        loop {
            let stored = self.store.block_hash(number).await?;
            if let Some(stored) = stored {
                let on_chain = self.chain_hash(number).await?;
                if on_chain == Some(stored) {
                    break;
                }
            }
            if number <= self.first_block {
                // Nothing indexed survives: index again from the deployment.
                let rewound = self
                    .store
                    .rewind_to(self.first_block.saturating_sub(1))
                    .await?;
                warn!(
                    from = last,
                    "reorg below every indexed block: reindexing from the deployment"
                );
                return Ok(rewound);
            }
            number -= 1;
        }
        if number == last {
            return Ok(0);
        }
        let rewound = self.store.rewind_to(number).await?;
        warn!(
            from = last,
            to = number,
            rewound,
            "reorg: a block the keeper indexed is no longer on the chain; rewound"
        );
        Ok(rewound)
    }

    async fn chain_hash(&self, number: u64) -> Result<Option<B256>, KeeperError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc("eth_getBlockByNumber"))?;
        Ok(block.map(|block| block.header.hash))
    }

    /// (hash, parent hash, timestamp) of block `number`.
    async fn block_header(&self, number: u64) -> Result<(B256, B256, u64), KeeperError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or(KeeperError::BlockMissing { number })?;
        Ok((
            block.header.hash,
            block.header.parent_hash,
            block.header.timestamp,
        ))
    }

    /// Indexes until the index is as far as the confirmation depth allows.
    pub async fn catch_up(&self) -> Result<StepOutcome, KeeperError> {
        loop {
            let outcome = self.step().await?;
            if outcome.caught_up {
                if let Some(block) = outcome.indexed_to {
                    info!(block, head = outcome.head, "index caught up");
                }
                return Ok(outcome);
            }
        }
    }
}

/// The store's form of a market event; `None` for events the keeper does not index (roles,
/// parameters, rejected readings).
pub fn to_event(log: &Log) -> Option<Event> {
    let decoded = EnergyMarketEvents::decode_log(&log.inner).ok()?;
    Some(match decoded.data {
        EnergyMarketEvents::ParticipantRegistered(event) => Event::ParticipantRegistered {
            account: event.account,
            id: event.id,
        },
        EnergyMarketEvents::ParticipantDeactivated(event) => Event::ParticipantDeactivated {
            account: event.account,
        },
        EnergyMarketEvents::MeterRegistered(event) => Event::MeterRegistered {
            meter: event.meter,
            owner: event.owner,
            feeder: event.feeder,
            kinds: event.kinds,
            capacity_w: event.capacityW,
        },
        EnergyMarketEvents::MeterDeactivated(event) => {
            Event::MeterDeactivated { meter: event.meter }
        }
        EnergyMarketEvents::MeterReactivated(event) => {
            Event::MeterReactivated { meter: event.meter }
        }
        EnergyMarketEvents::ReadingAccepted(event) => Event::ReadingAccepted {
            meter: event.meter,
            seq: event.seq,
            interval_end: event.intervalEnd.to(),
            import_delta_wh: event.importDeltaWh.to(),
            export_delta_wh: event.exportDeltaWh.to(),
            marketable: event.marketable,
        },
        EnergyMarketEvents::OrderPlaced(event) => {
            let params = event.params;
            Event::OrderPlaced {
                meter: event.meter,
                owner: event.owner,
                sell_floor: params.sells.then_some(params.sellFloor),
                buy_ceiling: params.buys.then_some(params.buyCeiling),
                cap_wh: (params.capWh != 0).then_some(u64::from(params.capWh)),
                valid_from: params.validFrom.to(),
                valid_until: (!params.validUntil.is_zero()).then(|| params.validUntil.to()),
                cover_from_credits: params.coverFromCredits,
            }
        }
        EnergyMarketEvents::OrderCancelled(event) => Event::OrderCancelled { meter: event.meter },
        EnergyMarketEvents::IntervalSettled(event) => Event::IntervalSettled {
            interval: event.t,
            keeper: event.keeper,
            price: event.price,
            traded_wh: event.tradedWh.saturating_to(),
            closing: event.closing,
            tx_hash: log.transaction_hash.unwrap_or_default(),
        },
        EnergyMarketEvents::MetersSettled(event) => Event::MetersSettled {
            records: SettlementRecord::decode_all(&event.records),
        },
        EnergyMarketEvents::Deposited(event) => Event::Deposited {
            account: event.account,
            asset: event.asset,
            amount: event.amount.saturating_to(),
        },
        EnergyMarketEvents::Withdrawn(event) => Event::Withdrawn {
            account: event.account,
            asset: event.asset,
            amount: event.amount.saturating_to(),
        },
        _ => return None,
    })
}
