//! What a simulation produced, as the report and the checks read it.

use std::time::Duration;

use alloy::primitives::Address;
use cogrid_chain::Deployment;
use serde::Serialize;

/// The utility-only tariffs the bills are compared with, and the market's network fee; stablecoin
/// base units per kWh (1 USD = 1,000,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tariffs {
    /// What the retailer charges for a kWh from the grid.
    pub retail_per_kwh: u64,
    /// What the retailer pays for a kWh exported to the grid.
    pub feed_in_per_kwh: u64,
    /// The grid operator's fee per kWh bought in the market.
    pub network_fee_per_kwh: u64,
}

impl Default for Tariffs {
    fn default() -> Self {
        Self {
            retail_per_kwh: 300_000,
            feed_in_per_kwh: 80_000,
            network_fee_per_kwh: 40_000,
        }
    }
}

/// One interval as it happened on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntervalOutcome {
    /// The interval index (`start / interval_seconds`).
    pub t: u64,
    /// The uniform clearing price, base units per kWh; `None` when nothing traded.
    pub clearing_price: Option<u64>,
    /// Energy traded between neighbours, Wh.
    pub traded_wh: u64,
    /// Import supplied by the grid, Wh.
    pub grid_import_wh: u64,
    /// Every meter's export, Wh.
    pub exported_wh: u64,
    /// Every meter's import, Wh.
    pub imported_wh: u64,
    /// The oracle's spot price, base units per MWh.
    pub spot_price_per_mwh: i64,
    /// The oracle's grid carbon intensity, gCO2e/kWh.
    pub carbon_intensity: u16,
    /// Fills settled.
    pub fills: u32,
}

/// One home over the whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HomeOutcome {
    /// Its place in the neighbourhood.
    pub index: usize,
    /// What it is (PV only, PV + battery, ...).
    pub kind: String,
    /// Its meter's address.
    pub meter: Address,
    /// Its owner's account.
    pub owner: Address,
    /// Energy its meter imported, Wh.
    pub imported_wh: u64,
    /// Energy its meter exported, Wh.
    pub exported_wh: u64,
    /// Its bill with cogrid, base units (negative: it earned more than it paid).
    pub cogrid_bill: i64,
    /// Its bill with the utility alone: import at retail less export at feed-in, base units.
    pub utility_bill: i64,
    /// Carbon credits it earned, g CO2e.
    pub carbon_grams: u64,
    /// What the VPP paid it, base units.
    pub vpp_paid: u64,
}

/// The run's VPP event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VppOutcome {
    /// The event's id.
    pub event: u64,
    /// The feeder called.
    pub feeder: u32,
    /// Start of the window, unix s.
    pub start: u64,
    /// End of the window, unix s.
    pub end: u64,
    /// The power asked for, W.
    pub target_w: u32,
    /// Batteries enrolled.
    pub enrolled: u32,
    /// The power they committed, W.
    pub committed_w: u32,
    /// Energy delivered over the baselines, Wh.
    pub delivered_wh: u64,
    /// Paid to the participants, base units.
    pub paid: u64,
    /// Refunded to the grid operator, base units.
    pub refunded: u64,
}

/// What the oracle's reporters did over the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OracleOutcome {
    /// Reporters, each with its own key.
    pub reporters: u32,
    /// Feeds relayed.
    pub feeds: u32,
    /// Hourly polls of every feed by the reporters.
    pub polls: u64,
    /// Polls in which a reporter failed.
    pub failed_polls: u64,
    /// Rounds the hub accepted.
    pub rounds: u64,
    /// Observations in those rounds.
    pub observations: u64,
    /// Transactions the reporters sent.
    pub transactions: u64,
    /// Gas they used.
    pub gas_used: u64,
    /// Carbon intensity rounds.
    pub carbon_rounds: u64,
    /// Carbon intensity rounds whose answer is not the day's intensity then, described.
    pub carbon_mismatches: Vec<String>,
}

/// The calldata of a kind of transaction, as an L2 pays for it on L1: the OP Stack's Ecotone fee
/// counts zero and non-zero bytes apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CalldataSize {
    /// Transactions counted.
    pub txs: u64,
    /// Their calldata, bytes.
    pub bytes: u64,
    /// Of which zero bytes.
    pub zero_bytes: u64,
}

impl CalldataSize {
    /// Counts one transaction whose calldata is `input`.
    pub fn add(&mut self, input: &[u8]) {
        self.txs += 1;
        self.bytes += input.len() as u64;
        self.zero_bytes += input.iter().filter(|byte| **byte == 0).count() as u64;
    }
}

/// Gas used, from the receipts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GasFigures {
    /// Reading submissions: gas and readings counted.
    pub readings_gas: u64,
    /// Readings submitted.
    pub readings: u64,
    /// Settlement transactions: gas.
    pub settlement_gas: u64,
    /// Settlement transactions sent.
    pub settlements: u64,
    /// Fills in them.
    pub fills: u64,
    /// The calldata of the reading submissions (`CalldataSize::add` with each transaction's input).
    pub readings_calldata: CalldataSize,
    /// The calldata of the settlement transactions.
    pub settlement_calldata: CalldataSize,
}

/// Where the wall time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// Setting up: anvil, deployment, registration.
    pub setup: Duration,
    /// Signing readings.
    pub signing: Duration,
    /// Posting readings until they were mined.
    pub posting: Duration,
    /// The keeper's clearing: matching the book (every re-clearing included).
    pub clearing: Duration,
    /// The rest of the keeper's rounds: indexing, reading the chain, simulating each batch on
    /// revm, sending settlements and finalizations until they were mined.
    pub settlement: Duration,
    /// The oracle's rounds and the VPP event.
    pub other: Duration,
    /// The whole run.
    pub wall: Duration,
}

/// A finished simulation.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Homes simulated.
    pub homes_count: usize,
    /// Hours simulated.
    pub hours: u64,
    /// Interval length, s.
    pub interval_seconds: u64,
    /// The seed of the home mix.
    pub seed: u64,
    /// The bundled day replayed.
    pub day: String,
    /// Where each of the day's series comes from, as the day's data states it (the report's
    /// attribution).
    pub day_sources: Vec<String>,
    /// The tariffs.
    pub tariffs: Tariffs,
    /// Every modelling assumption, stated.
    pub assumptions: Vec<String>,
    /// Per interval.
    pub intervals: Vec<IntervalOutcome>,
    /// Per home.
    pub homes: Vec<HomeOutcome>,
    /// The VPP event, if one was called.
    pub vpp: Option<VppOutcome>,
    /// What the oracle did.
    pub oracle: OracleOutcome,
    /// Carbon the market held while the intensity feed was stale and released at the end of the
    /// run, g CO2e (on top of the settlements' carbon in [`HomeOutcome::carbon_grams`]).
    pub carbon_released_grams: u64,
    /// Gas used.
    pub gas: GasFigures,
    /// Where the time went.
    pub timings: Timings,
    /// The contracts.
    pub deployment: Deployment,
}
