//! What goes into the store (blocks of events) and what comes out (plain rows).

use std::fmt;

use alloy::primitives::{Address, B256};
use cogrid_chain::SettlementRecord;

/// A block to index: the chain cursor advances to it, together with its events, in one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedBlock {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// The parent block's hash; checked against the indexed block below, when there is one.
    pub parent_hash: B256,
    /// Block timestamp, Unix seconds.
    pub timestamp: u64,
    /// The contracts' events in the block, in strictly increasing log order.
    pub events: Vec<LoggedEvent>,
}

/// An event with its place in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The log's index in its block (block-wide, as in the receipt).
    pub log_index: u64,
    /// The event.
    pub event: Event,
}

/// A contract event the keeper indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The co-op registered a participant.
    ParticipantRegistered {
        /// The participant's wallet.
        account: Address,
        /// The participant's id.
        id: u32,
    },
    /// The co-op deactivated a participant.
    ParticipantDeactivated {
        /// The participant's wallet.
        account: Address,
    },
    /// The co-op registered a meter.
    MeterRegistered {
        /// The meter's signing address.
        meter: Address,
        /// The participant owning it.
        owner: Address,
        /// The feeder it hangs on.
        feeder: u32,
        /// Bit set of what sits behind it (PV, battery, EV, critical load).
        kinds: u8,
        /// Connection capacity, W.
        capacity_w: u32,
    },
    /// The co-op deactivated a meter.
    MeterDeactivated {
        /// The meter.
        meter: Address,
    },
    /// The co-op reactivated a meter.
    MeterReactivated {
        /// The meter.
        meter: Address,
    },
    /// The registry accepted a signed reading.
    ReadingAccepted {
        /// The meter.
        meter: Address,
        /// The reading's sequence number.
        seq: u32,
        /// The end of the interval the reading closes, Unix seconds.
        interval_end: u64,
        /// Import since the meter's previous reading, Wh.
        import_delta_wh: u64,
        /// Export since the meter's previous reading, Wh.
        export_delta_wh: u64,
        /// The deltas are tradable in the interval ending at `interval_end` (no gap before the
        /// reading); otherwise they are residual only.
        marketable: bool,
    },
    /// A meter's owner placed a standing order, replacing the meter's earlier one.
    OrderPlaced {
        /// The meter the order trades.
        meter: Address,
        /// The participant placing it.
        owner: Address,
        /// Lowest price per kWh to sell at.
        sell_floor: Option<u64>,
        /// Highest price per kWh, network fee included, to buy at.
        buy_ceiling: Option<u64>,
        /// Wh per interval at most.
        cap_wh: Option<u64>,
        /// Unix seconds from which the order trades.
        valid_from: u64,
        /// Unix seconds until which the order trades; open-ended when absent.
        valid_until: Option<u64>,
        /// Unmatched import is covered from the owner's energy credits.
        cover_from_credits: bool,
    },
    /// A meter's owner cancelled its order.
    OrderCancelled {
        /// The meter.
        meter: Address,
    },
    /// A keeper settled (a batch of) an interval.
    IntervalSettled {
        /// The interval.
        interval: u64,
        /// The settling keeper.
        keeper: Address,
        /// Clearing price per kWh.
        price: u64,
        /// Wh traded in this batch.
        traded_wh: u64,
        /// This batch completes the interval.
        closing: bool,
        /// The settling transaction.
        tx_hash: B256,
    },
    /// A settlement or finalize batch settled meters' pending volumes (`MetersSettled`), one
    /// record per meter, stored with its index within the event.
    MetersSettled {
        /// The records, in the event's order.
        records: Vec<SettlementRecord>,
    },
    /// An account deposited into the market's vault.
    Deposited {
        /// The account.
        account: Address,
        /// Which asset (stablecoin or credits), as the contract numbers them.
        asset: u8,
        /// Base units.
        amount: u128,
    },
    /// An account withdrew from the market's vault.
    Withdrawn {
        /// The account.
        account: Address,
        /// Which asset (stablecoin or credits), as the contract numbers them.
        asset: u8,
        /// Base units.
        amount: u128,
    },
}

/// Where an event sits in the chain; ordered as the chain orders events, which is an order's time
/// priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    /// Block number.
    pub block_number: u64,
    /// Log index within the block.
    pub log_index: u64,
}

/// An active participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participant {
    /// The participant's wallet.
    pub account: Address,
    /// The participant's id.
    pub id: u32,
}

/// A registered meter as of the indexed tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// The meter's signing address.
    pub meter: Address,
    /// The participant owning it.
    pub owner: Address,
    /// The feeder it hangs on.
    pub feeder: u32,
    /// Bit set of what sits behind it.
    pub kinds: u8,
    /// Connection capacity, W.
    pub capacity_w: u32,
    /// Not deactivated (or reactivated since).
    pub active: bool,
}

/// A meter's standing order that is neither replaced nor cancelled. Whether it is within its
/// validity window, and whether its owner is still active, is for the clearing to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOrder {
    /// The meter the order trades.
    pub meter: Address,
    /// The participant who placed it.
    pub owner: Address,
    /// Lowest price per kWh to sell at.
    pub sell_floor: Option<u64>,
    /// Highest price per kWh, network fee included, to buy at.
    pub buy_ceiling: Option<u64>,
    /// Wh per interval at most.
    pub cap_wh: Option<u64>,
    /// Unix seconds from which the order trades.
    pub valid_from: u64,
    /// Unix seconds until which the order trades.
    pub valid_until: Option<u64>,
    /// Unmatched import is covered from the owner's energy credits.
    pub cover_from_credits: bool,
    /// The placing event; earlier is first among equal prices.
    pub priority: LogPosition,
}

/// A meter's volumes tradable in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterVolume {
    /// The meter.
    pub meter: Address,
    /// Attested import, Wh.
    pub import_wh: u64,
    /// Attested export, Wh.
    pub export_wh: u64,
}

/// One settlement transaction (batch) of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementBatch {
    /// The settling keeper.
    pub keeper: Address,
    /// Clearing price per kWh.
    pub price: u64,
    /// Wh traded in this batch.
    pub traded_wh: u64,
    /// This batch completed the interval.
    pub closing: bool,
    /// The settling transaction.
    pub tx_hash: B256,
    /// Where its event sits.
    pub position: LogPosition,
}

/// What the chain says about an interval's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalStatus {
    /// The interval.
    pub interval: u64,
    /// Its settlement batches in chain order; never empty.
    pub batches: Vec<SettlementBatch>,
}

impl IntervalStatus {
    /// Whether a closing batch completed the interval.
    pub fn settled(&self) -> bool {
        self.batches.iter().any(|batch| batch.closing)
    }

    /// Wh traded over all batches.
    pub fn traded_wh(&self) -> u64 {
        self.batches
            .iter()
            .fold(0, |sum, batch| sum.saturating_add(batch.traded_wh))
    }
}

/// A meter's settlement of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterSettlement {
    /// The meter.
    pub meter: Address,
    /// The interval.
    pub interval: u64,
    /// Wh sold in the interval market.
    pub sold_wh: u64,
    /// Wh bought in the interval market.
    pub bought_wh: u64,
    /// Unmatched export minted as energy credits, Wh.
    pub credited_wh: u64,
    /// Unmatched import covered from energy credits, Wh.
    pub covered_wh: u64,
    /// Unmatched import left to the retailer, Wh.
    pub grid_supplied_wh: u64,
    /// Stablecoin base units earned (when the meter sold) or paid (when it bought).
    pub amount: u128,
    /// Where its event sits.
    pub position: LogPosition,
}

/// A deposit into, or a withdrawal from, the market's vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceChange {
    /// The account.
    pub account: Address,
    /// Deposit or withdrawal.
    pub kind: BalanceChangeKind,
    /// Which asset, as the contract numbers them.
    pub asset: u8,
    /// Base units.
    pub amount: u128,
    /// Where its event sits.
    pub position: LogPosition,
}

/// Which way a balance moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceChangeKind {
    /// Into the vault.
    Deposit,
    /// Out of the vault.
    Withdrawal,
}

impl BalanceChangeKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Withdrawal => "withdrawal",
        }
    }
}

/// A settlement transaction the keeper sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementAttempt {
    /// The interval it settles.
    pub interval: u64,
    /// The transaction.
    pub tx_hash: B256,
    /// Its nonce; a fee bump resends under the same nonce.
    pub nonce: u64,
    /// When it was sent, Unix seconds.
    pub sent_at: u64,
    /// What became of it.
    pub status: AttemptStatus,
}

/// What became of a settlement transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    /// Sent, no receipt yet.
    Pending,
    /// Included and succeeded.
    Succeeded,
    /// Included and reverted.
    Reverted,
    /// Superseded by a resend under the same nonce.
    Replaced,
    /// Gone from the node without a receipt, or its interval was settled by another keeper.
    Dropped,
}

impl AttemptStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Reverted => "reverted",
            Self::Replaced => "replaced",
            Self::Dropped => "dropped",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Succeeded,
            Self::Reverted,
            Self::Replaced,
            Self::Dropped,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
