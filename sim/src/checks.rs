//! The conservation checks of DESIGN.md's "Invariants", computed from chain state and events
//! alone: nothing here reads the simulator's own bookkeeping, so a simulator that miscounted
//! cannot make them pass.
//!
//! Each [`Check`] states what it compared, with both numbers. The events read: the market's
//! `ReadingAccepted`, `MetersSettled` (decoded with [`SettlementRecord::decode_all`]),
//! `IntervalSettled`, `CarbonHeld`, `CarbonReleased`, `ParticipantRegistered` and
//! `MeterRegistered`; both credit tokens' `Transfer`s and the carbon token's `Retired`; the pool's
//! `LiquidityAdded`, `LiquidityRemoved` and `Swapped`; VppDispatch's `EventCreated`,
//! `EventCancelled`, `EventClosed`, `DeliverySettled` and `Claimed`. The state read: token
//! balances and supplies, vault balances, meter states, the pool's reserves and the carbon
//! intensity the market read before each batch.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256},
    providers::DynProvider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use cogrid_bindings::{
    CarbonCredit, EnergyAmm, EnergyCredit, EnergyMarket, OracleHub, VppDispatch,
};
use cogrid_chain::{ChainError, Deployment, SettlementRecord, logs_since};
use serde::Serialize;

use crate::SimError;

/// `Feeds.CARBON_INTENSITY`: the hub's feed the market takes its carbon intensity from.
const CARBON_INTENSITY_FEED: u8 = 3;

/// One conservation check and what it compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The identity checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was compared, with both numbers.
    pub detail: String,
}

impl Check {
    fn new(name: &str, passed: bool, detail: String) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            detail,
        }
    }
}

/// Computes every check from the chain behind `provider` (`rpc_url` names it in errors):
/// `meters` are the simulated homes' meters and `participants` their owners (and any other
/// account the simulation gave a vault); the pool's vault is added. Call it once the run has
/// stopped sending transactions: events and state are read as of the latest block, at slightly
/// different moments. Errs only when the chain cannot be read; a broken identity is a failed
/// [`Check`].
pub async fn conservation(
    provider: &DynProvider,
    rpc_url: &str,
    deployment: &Deployment,
    meters: &[Address],
    participants: &[Address],
) -> Result<Vec<Check>, SimError> {
    let events = Events::read(provider, rpc_url, deployment).await?;
    let reader = Reader {
        provider,
        deployment,
    };
    // Each vault once, however often the caller named it: a sum must not count one twice.
    let vaults: Vec<Address> = participants
        .iter()
        .copied()
        .chain([deployment.energy_amm])
        .collect::<BTreeSet<Address>>()
        .into_iter()
        .collect();
    let mut checks = vec![coverage(&events, deployment, meters, participants)];
    checks.extend(reader.vaults(&vaults).await?);
    checks.push(settlement_money(&events));
    checks.extend(reader.energy(&events, meters).await?);
    checks.push(reader.credit_supply(&events).await?);
    checks.push(credits_from_export(&events, deployment));
    checks.push(reader.carbon_supply(&events).await?);
    checks.push(reader.carbon_minted(&events, &vaults).await?);
    checks.push(reader.amm(&events).await?);
    checks.push(reader.vpp(&events).await?);
    checks.push(intervals_once(&events));
    checks.push(volumes_once(&events));
    checks.push(readings_once(&events));
    Ok(checks)
}

/// A settlement transaction: its records and, for `settle`, its `IntervalSettled`.
#[derive(Debug, Default)]
struct Batch {
    block: u64,
    tx_index: u64,
    records: Vec<SettlementRecord>,
    settled: Option<EnergyMarket::IntervalSettled>,
    /// `CarbonHeld`'s export, when the batch held its carbon.
    held_wh: Option<U256>,
}

/// The decoded events, in chain order.
#[derive(Debug, Default)]
struct Events {
    /// `(meter, seq, import delta, export delta)` of every accepted reading.
    readings: Vec<(Address, u32, u64, u64)>,
    /// Settlement transactions in chain order.
    batches: Vec<Batch>,
    carbon_held_wh: U256,
    carbon_released_wh: U256,
    carbon_released_grams: U256,
    participants: BTreeSet<Address>,
    meters: BTreeSet<Address>,
    /// Energy credit `Transfer`s from and to the zero address: (to, amount), (from, amount).
    credit_mints: Vec<(Address, U256)>,
    credit_burns: Vec<(Address, U256)>,
    carbon_minted: U256,
    carbon_burned: U256,
    carbon_retired: U256,
    /// The pool's reserve changes, in order.
    pool: Vec<PoolEvent>,
    vpp: VppMoney,
}

/// The VPP contract's money, from its events.
#[derive(Debug, Default)]
struct VppMoney {
    events: u64,
    budgets: U256,
    refunded: U256,
    claimed: U256,
    /// `DeliverySettled.owed` summed per event id.
    owed: BTreeMap<U256, U256>,
    /// `EventClosed.paid` per event id.
    paid: BTreeMap<U256, U256>,
}

#[derive(Debug)]
enum PoolEvent {
    Added {
        credits: U256,
        stable: U256,
    },
    Removed {
        credits: U256,
        stable: U256,
    },
    Swapped {
        credits_in: bool,
        amount_in: U256,
        amount_out: U256,
    },
}

impl Events {
    async fn read(
        provider: &DynProvider,
        rpc_url: &str,
        deployment: &Deployment,
    ) -> Result<Self, SimError> {
        let from = deployment.deployed_at_block;
        let logs = |address: Address| {
            let filter = Filter::new().address(address);
            async move {
                let mut logs = logs_since(provider, rpc_url, &filter, from).await?;
                // `logs_since` may fetch a long range in pieces: put them in chain order.
                logs.sort_by_key(|log| (log.block_number, log.log_index));
                Ok::<Vec<Log>, SimError>(logs)
            }
        };
        let mut events = Self::default();
        let mut batch_of: HashMap<B256, usize> = HashMap::new();
        for log in logs(deployment.market).await? {
            let Some(topic) = log.topic0().copied() else {
                continue;
            };
            let data = log.data();
            let decoded = |name: &'static str| {
                move |error: alloy::sol_types::Error| {
                    SimError::Chain(ChainError::Read {
                        what: name,
                        message: error.to_string(),
                    })
                }
            };
            let mut batch = |events: &mut Self| {
                let tx = log.transaction_hash.unwrap_or_default();
                *batch_of.entry(tx).or_insert_with(|| {
                    events.batches.push(Batch {
                        block: log.block_number.unwrap_or_default(),
                        tx_index: log.transaction_index.unwrap_or_default(),
                        ..Batch::default()
                    });
                    events.batches.len() - 1
                })
            };
            match topic {
                EnergyMarket::ReadingAccepted::SIGNATURE_HASH => {
                    let event = EnergyMarket::ReadingAccepted::decode_log_data(data)
                        .map_err(decoded("ReadingAccepted"))?;
                    events.readings.push((
                        event.meter,
                        event.seq,
                        event.importDeltaWh.to(),
                        event.exportDeltaWh.to(),
                    ));
                }
                EnergyMarket::MetersSettled::SIGNATURE_HASH => {
                    let event = EnergyMarket::MetersSettled::decode_log_data(data)
                        .map_err(decoded("MetersSettled"))?;
                    let index = batch(&mut events);
                    events.batches[index]
                        .records
                        .extend(SettlementRecord::decode_all(&event.records));
                }
                EnergyMarket::IntervalSettled::SIGNATURE_HASH => {
                    let event = EnergyMarket::IntervalSettled::decode_log_data(data)
                        .map_err(decoded("IntervalSettled"))?;
                    let index = batch(&mut events);
                    events.batches[index].settled = Some(event);
                }
                EnergyMarket::CarbonHeld::SIGNATURE_HASH => {
                    let event = EnergyMarket::CarbonHeld::decode_log_data(data)
                        .map_err(decoded("CarbonHeld"))?;
                    events.carbon_held_wh += event.exportWh;
                    let index = batch(&mut events);
                    events.batches[index].held_wh = Some(event.exportWh);
                }
                EnergyMarket::CarbonReleased::SIGNATURE_HASH => {
                    let event = EnergyMarket::CarbonReleased::decode_log_data(data)
                        .map_err(decoded("CarbonReleased"))?;
                    events.carbon_released_wh += event.exportWh;
                    events.carbon_released_grams += event.grams;
                }
                EnergyMarket::ParticipantRegistered::SIGNATURE_HASH => {
                    let event = EnergyMarket::ParticipantRegistered::decode_log_data(data)
                        .map_err(decoded("ParticipantRegistered"))?;
                    events.participants.insert(event.account);
                }
                EnergyMarket::MeterRegistered::SIGNATURE_HASH => {
                    let event = EnergyMarket::MeterRegistered::decode_log_data(data)
                        .map_err(decoded("MeterRegistered"))?;
                    events.meters.insert(event.meter);
                }
                _ => {}
            }
        }
        for log in logs(deployment.energy_credit).await? {
            if let Ok(transfer) = EnergyCredit::Transfer::decode_log_data(log.data()) {
                if transfer.from.is_zero() {
                    events.credit_mints.push((transfer.to, transfer.value));
                }
                if transfer.to.is_zero() {
                    events.credit_burns.push((transfer.from, transfer.value));
                }
            }
        }
        for log in logs(deployment.carbon_credit).await? {
            let data = log.data();
            if let Ok(transfer) = CarbonCredit::Transfer::decode_log_data(data) {
                if transfer.from.is_zero() {
                    events.carbon_minted += transfer.value;
                }
                if transfer.to.is_zero() {
                    events.carbon_burned += transfer.value;
                }
            } else if let Ok(retired) = CarbonCredit::Retired::decode_log_data(data) {
                events.carbon_retired += retired.amount;
            }
        }
        for log in logs(deployment.energy_amm).await? {
            let data = log.data();
            if let Ok(added) = EnergyAmm::LiquidityAdded::decode_log_data(data) {
                events.pool.push(PoolEvent::Added {
                    credits: added.amountCredits,
                    stable: added.amountStable,
                });
            } else if let Ok(removed) = EnergyAmm::LiquidityRemoved::decode_log_data(data) {
                events.pool.push(PoolEvent::Removed {
                    credits: removed.amountCredits,
                    stable: removed.amountStable,
                });
            } else if let Ok(swapped) = EnergyAmm::Swapped::decode_log_data(data) {
                events.pool.push(PoolEvent::Swapped {
                    credits_in: swapped.creditsIn,
                    amount_in: swapped.amountIn,
                    amount_out: swapped.amountOut,
                });
            }
        }
        for log in logs(deployment.vpp_dispatch).await? {
            let data = log.data();
            let vpp = &mut events.vpp;
            if let Ok(created) = VppDispatch::EventCreated::decode_log_data(data) {
                vpp.events += 1;
                vpp.budgets += created.budget;
            } else if let Ok(cancelled) = VppDispatch::EventCancelled::decode_log_data(data) {
                vpp.refunded += cancelled.refund;
            } else if let Ok(closed) = VppDispatch::EventClosed::decode_log_data(data) {
                vpp.refunded += closed.refund;
                vpp.paid.insert(closed.id, closed.paid);
            } else if let Ok(settled) = VppDispatch::DeliverySettled::decode_log_data(data) {
                *vpp.owed.entry(settled.id).or_default() += settled.owed;
            } else if let Ok(claimed) = VppDispatch::Claimed::decode_log_data(data) {
                vpp.claimed += claimed.amount;
            }
        }
        Ok(events)
    }

    fn records(&self) -> impl Iterator<Item = &SettlementRecord> {
        self.batches.iter().flat_map(|batch| batch.records.iter())
    }
}

/// The lists the checks sum over must hold every vault and meter the chain registered, or a sum
/// over them proves nothing.
fn coverage(
    events: &Events,
    deployment: &Deployment,
    meters: &[Address],
    participants: &[Address],
) -> Check {
    let given: BTreeSet<Address> = participants.iter().copied().collect();
    let missing_participants: Vec<&Address> = events
        .participants
        .iter()
        .filter(|account| **account != deployment.energy_amm && !given.contains(*account))
        .collect();
    let given: BTreeSet<Address> = meters.iter().copied().collect();
    let missing_meters: Vec<&Address> = events
        .meters
        .iter()
        .filter(|meter| !given.contains(*meter))
        .collect();
    Check::new(
        "registry: the participants and meters checked are all those registered on chain",
        missing_participants.is_empty() && missing_meters.is_empty(),
        format!(
            "chain: {} participants (pool included), {} meters (ParticipantRegistered, \
             MeterRegistered); checked: {} participants + the pool, {} meters; not checked: {} \
             participants{}, {} meters{}",
            events.participants.len(),
            events.meters.len(),
            participants.len(),
            meters.len(),
            missing_participants.len(),
            first(&missing_participants),
            missing_meters.len(),
            first(&missing_meters),
        ),
    )
}

/// Each `settle` batch conserves money: its buyers paid what its sellers earned plus the network
/// fee and the keeper fee (rounding dust included), and it bought as many Wh as it sold.
fn settlement_money(events: &Events) -> Check {
    let mut paid = U256::ZERO;
    let mut earned_and_fees = U256::ZERO;
    let mut broken = Vec::new();
    let mut batches = 0;
    for batch in &events.batches {
        let Some(settled) = &batch.settled else {
            continue;
        };
        batches += 1;
        let mut batch_paid = U256::ZERO;
        let mut batch_earned = U256::ZERO;
        let (mut bought_wh, mut sold_wh) = (0u64, 0u64);
        for record in &batch.records {
            if record.bought {
                batch_paid += U256::from(record.amount);
                bought_wh += u64::from(record.traded_wh);
            } else {
                batch_earned += U256::from(record.amount);
                sold_wh += u64::from(record.sold_wh());
            }
        }
        let batch_out = batch_earned + settled.networkFee + settled.keeperFee;
        if batch_paid != batch_out
            || bought_wh != sold_wh
            || U256::from(sold_wh) != settled.tradedWh
        {
            broken.push(format!(
                "interval {}: paid {batch_paid}, earned + fees {batch_out}, bought {bought_wh} \
                 Wh, sold {sold_wh} Wh, tradedWh {}",
                settled.t, settled.tradedWh
            ));
        }
        paid += batch_paid;
        earned_and_fees += batch_out;
    }
    Check::new(
        "money: every settlement pays buyers' money to sellers and fees, to the unit",
        broken.is_empty(),
        format!(
            "{batches} batches: buyers paid {paid} == sellers earned + network fee + keeper fee \
             {earned_and_fees} base units, bought Wh == sold Wh == IntervalSettled.tradedWh; \
             {} batches broke it{}",
            broken.len(),
            broken
                .first()
                .map(|first| format!(", first: {first}"))
                .unwrap_or_default()
        ),
    )
}

/// Carbon minted, per record, as the market computes it: the meter's whole settled export (sold
/// and credited) times the intensity the batch read, over 1000, rounded down.
fn record_carbon(record: &SettlementRecord, intensity: u64) -> u64 {
    (u64::from(record.sold_wh()) + u64::from(record.credited_wh)) * intensity / 1000
}

/// The range of intensities under which every record of a batch earns the carbon it shows; empty
/// (`lo > hi`) when no single intensity explains them.
fn feasible_intensities(records: &[SettlementRecord]) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, u64::from(u16::MAX));
    for record in records {
        let export = u64::from(record.sold_wh()) + u64::from(record.credited_wh);
        if export == 0 {
            continue;
        }
        // floor(export * i / 1000) == c  <=>  1000c <= export * i < 1000(c + 1).
        let c = record.carbon_grams;
        lo = lo.max((1000 * c).div_ceil(export));
        hi = hi.min((1000 * (c + 1)).div_ceil(export).saturating_sub(1));
    }
    (lo, hi)
}

/// No interval closed twice, and no batch after the one that closed it.
fn intervals_once(events: &Events) -> Check {
    let mut closed: BTreeMap<u64, u32> = BTreeMap::new();
    let mut after_close = 0;
    let mut batches = 0;
    for settled in events
        .batches
        .iter()
        .filter_map(|batch| batch.settled.as_ref())
    {
        batches += 1;
        if closed.contains_key(&settled.t) {
            after_close += 1;
        }
        if settled.closing {
            *closed.entry(settled.t).or_default() += 1;
        }
    }
    let twice = closed.values().filter(|count| **count > 1).count();
    Check::new(
        "intervals: each settled at most once",
        twice == 0 && after_close == 0,
        format!(
            "{} intervals closed by {batches} IntervalSettled batches; closed twice: {twice}; \
             batches after the close: {after_close}",
            closed.len()
        ),
    )
}

/// A meter's volumes are settled once: no two records of one meter for one interval.
fn volumes_once(events: &Events) -> Check {
    let mut seen = BTreeSet::new();
    let mut duplicates = Vec::new();
    let mut records = 0;
    for record in events.records() {
        records += 1;
        if !seen.insert((record.meter, record.interval)) {
            duplicates.push((record.meter, record.interval));
        }
    }
    Check::new(
        "settlement: a meter's volumes of an interval settled at most once",
        duplicates.is_empty(),
        format!(
            "{records} MetersSettled records, {} distinct (meter, interval); duplicates: {}{}",
            seen.len(),
            duplicates.len(),
            duplicates
                .first()
                .map(|(meter, t)| format!(", first: {meter} in interval {t}"))
                .unwrap_or_default()
        ),
    )
}

/// A reading is counted once: no `(meter, seq)` accepted twice.
fn readings_once(events: &Events) -> Check {
    let mut seen = BTreeSet::new();
    let mut duplicates = Vec::new();
    for (meter, seq, _, _) in &events.readings {
        if !seen.insert((*meter, *seq)) {
            duplicates.push((*meter, *seq));
        }
    }
    Check::new(
        "readings: each counted at most once",
        duplicates.is_empty(),
        format!(
            "{} ReadingAccepted, {} distinct (meter, seq); duplicates: {}{}",
            events.readings.len(),
            seen.len(),
            duplicates.len(),
            duplicates
                .first()
                .map(|(meter, seq)| format!(", first: {meter} seq {seq}"))
                .unwrap_or_default()
        ),
    )
}

/// Credits exist only for settled export: every mint of the token, net of the market's own
/// burns, is what the records credited less what they covered from credits, and no more than
/// the attested export.
fn credits_from_export(events: &Events, deployment: &Deployment) -> Check {
    let minted: U256 = events.credit_mints.iter().map(|(_, amount)| *amount).sum();
    let burned_by_market: U256 = events
        .credit_burns
        .iter()
        .filter(|(from, _)| *from == deployment.market)
        .map(|(_, amount)| *amount)
        .sum();
    let credited: u64 = events.records().map(|r| u64::from(r.credited_wh)).sum();
    let covered: u64 = events.records().map(|r| u64::from(r.covered_wh)).sum();
    let attested_export: u64 = events.readings.iter().map(|(_, _, _, export)| export).sum();
    let expected = i128::from(credited) - i128::from(covered);
    // Both sums are of u64 amounts over a run's transactions: far inside i128.
    let net_minted = i128::try_from(minted)
        .ok()
        .zip(i128::try_from(burned_by_market).ok())
        .map(|(minted, burned)| minted - burned);
    let passed = net_minted == Some(expected) && credited <= attested_export;
    Check::new(
        "credits: minted only for attested export",
        passed,
        format!(
            "EnergyCredit minted {minted} - burned by the market {burned_by_market} = \
             {} Wh; records credited {credited} - covered {covered} = {expected} Wh; \
             credited {credited} <= attested export {attested_export} Wh",
            net_minted.map_or_else(|| "overflow".into(), |net| net.to_string())
        ),
    )
}

/// Chain state, read as of the latest block unless a check says otherwise.
struct Reader<'a> {
    provider: &'a DynProvider,
    deployment: &'a Deployment,
}

fn read_error(what: &'static str) -> impl Fn(alloy::contract::Error) -> SimError {
    move |error| {
        SimError::Chain(ChainError::Read {
            what,
            message: error.to_string(),
        })
    }
}

impl Reader<'_> {
    fn market(&self) -> EnergyMarket::EnergyMarketInstance<DynProvider> {
        EnergyMarket::new(self.deployment.market, self.provider.clone())
    }

    /// The market holds exactly its vaults' balances of each token.
    async fn vaults(&self, vaults: &[Address]) -> Result<Vec<Check>, SimError> {
        let market = self.market();
        let (mut stable, mut credits, mut carbon) = (U256::ZERO, U256::ZERO, U256::ZERO);
        for account in vaults {
            let balances = market
                .balancesOf(*account)
                .call()
                .await
                .map_err(read_error("EnergyMarket.balancesOf"))?;
            stable += balances.stablecoin;
            credits += balances.creditsWh;
            carbon += balances.carbonGrams;
        }
        let held = |token: Address| async move {
            // Every token here is an ERC-20: the stablecoin's binding reads any of them.
            cogrid_bindings::MockStablecoin::new(token, self.provider.clone())
                .balanceOf(self.deployment.market)
                .call()
                .await
                .map_err(read_error("balanceOf(market)"))
        };
        let mut checks = Vec::new();
        for (name, token, unit, sum) in [
            (
                "stablecoin: held by the market == sum of vault balances",
                self.deployment.stablecoin,
                "base units",
                stable,
            ),
            (
                "energy credits: held by the market == sum of vault balances",
                self.deployment.energy_credit,
                "Wh",
                credits,
            ),
            (
                "carbon credits: held by the market == sum of vault balances",
                self.deployment.carbon_credit,
                "g",
                carbon,
            ),
        ] {
            let balance = held(token).await?;
            checks.push(Check::new(
                name,
                balance == sum,
                format!(
                    "balanceOf(market) {balance} {unit} vs sum of balancesOf over {} vaults {sum} \
                     {unit}",
                    vaults.len()
                ),
            ));
        }
        Ok(checks)
    }

    /// Per meter over the run: attested export == sold + credited; attested import == bought +
    /// covered + grid supplied (unserved included); and nothing left pending.
    async fn energy(&self, events: &Events, meters: &[Address]) -> Result<Vec<Check>, SimError> {
        #[derive(Default)]
        struct Meter {
            import: u64,
            export: u64,
            sold: u64,
            credited: u64,
            bought: u64,
            covered: u64,
            grid: u64,
            unserved: u64,
        }
        let mut per_meter: BTreeMap<Address, Meter> = meters
            .iter()
            .map(|meter| (*meter, Meter::default()))
            .collect();
        for (meter, _, import, export) in &events.readings {
            if let Some(totals) = per_meter.get_mut(meter) {
                totals.import += import;
                totals.export += export;
            }
        }
        for record in events.records() {
            if let Some(totals) = per_meter.get_mut(&record.meter) {
                totals.sold += u64::from(record.sold_wh());
                totals.bought += u64::from(record.bought_wh());
                totals.credited += u64::from(record.credited_wh);
                totals.covered += u64::from(record.covered_wh);
                if record.unserved {
                    totals.unserved += u64::from(record.grid_supplied_wh);
                } else {
                    totals.grid += u64::from(record.grid_supplied_wh);
                }
            }
        }
        let market = self.market();
        let mut pending = Vec::new();
        for meter in meters {
            let state = market
                .meterState(*meter)
                .call()
                .await
                .map_err(read_error("EnergyMarket.meterState"))?;
            if state.pendingImportWh != 0 || state.pendingExportWh != 0 {
                pending.push((*meter, state.pendingImportWh, state.pendingExportWh));
            }
        }
        let pending_note = format!(
            "meters with volumes still pending (not settled, so not comparable): {}{}",
            pending.len(),
            pending
                .first()
                .map(|(meter, import, export)| format!(
                    ", first: {meter} import {import} Wh export {export} Wh"
                ))
                .unwrap_or_default()
        );
        let sum = |field: fn(&Meter) -> u64| -> u64 { per_meter.values().map(field).sum() };
        let export_broken: Vec<&Address> = per_meter
            .iter()
            .filter(|(_, m)| m.export != m.sold + m.credited)
            .map(|(meter, _)| meter)
            .collect();
        let import_broken: Vec<&Address> = per_meter
            .iter()
            .filter(|(_, m)| m.import != m.bought + m.covered + m.grid + m.unserved)
            .map(|(meter, _)| meter)
            .collect();
        Ok(vec![
            Check::new(
                "energy: attested export == sold + credited, per meter",
                export_broken.is_empty() && pending.is_empty(),
                format!(
                    "over {} meters: ReadingAccepted export {} Wh vs sold {} + credited {} Wh \
                     (MetersSettled); meters that differ: {}{}; {pending_note}",
                    per_meter.len(),
                    sum(|m| m.export),
                    sum(|m| m.sold),
                    sum(|m| m.credited),
                    export_broken.len(),
                    first(&export_broken),
                ),
            ),
            Check::new(
                "energy: attested import == bought + covered from credits + grid supplied \
                 (+ unserved), per meter",
                import_broken.is_empty() && pending.is_empty(),
                format!(
                    "over {} meters: ReadingAccepted import {} Wh vs bought {} + covered {} + \
                     grid supplied {} + unserved {} Wh (MetersSettled); meters that differ: \
                     {}{}; {pending_note}",
                    per_meter.len(),
                    sum(|m| m.import),
                    sum(|m| m.bought),
                    sum(|m| m.covered),
                    sum(|m| m.grid),
                    sum(|m| m.unserved),
                    import_broken.len(),
                    first(&import_broken),
                ),
            ),
        ])
    }

    /// EnergyCredit's total supply is what was minted less what was burnt.
    async fn credit_supply(&self, events: &Events) -> Result<Check, SimError> {
        let supply = EnergyCredit::new(self.deployment.energy_credit, self.provider.clone())
            .totalSupply()
            .call()
            .await
            .map_err(read_error("EnergyCredit.totalSupply"))?;
        let minted: U256 = events.credit_mints.iter().map(|(_, amount)| *amount).sum();
        let burned: U256 = events.credit_burns.iter().map(|(_, amount)| *amount).sum();
        Ok(Check::new(
            "credits: total supply == minted - burned",
            minted >= burned && supply == minted - burned,
            format!(
                "totalSupply {supply} Wh vs Transfer from zero {minted} - Transfer to zero \
                 {burned} Wh"
            ),
        ))
    }

    /// CarbonCredit's total supply plus what was retired is what was minted.
    async fn carbon_supply(&self, events: &Events) -> Result<Check, SimError> {
        let carbon = CarbonCredit::new(self.deployment.carbon_credit, self.provider.clone());
        let supply = carbon
            .totalSupply()
            .call()
            .await
            .map_err(read_error("CarbonCredit.totalSupply"))?;
        let retired = carbon
            .totalRetired()
            .call()
            .await
            .map_err(read_error("CarbonCredit.totalRetired"))?;
        let minted = events.carbon_minted;
        Ok(Check::new(
            "carbon: total supply + retired == minted",
            supply + retired == minted
                && retired == events.carbon_retired
                && events.carbon_burned == events.carbon_retired,
            format!(
                "totalSupply {supply} + totalRetired {retired} = {} g vs Transfer from zero \
                 {minted} g; Retired events {} g, Transfer to zero {} g",
                supply + retired,
                events.carbon_retired,
                events.carbon_burned
            ),
        ))
    }

    /// Carbon minted is the settled export times the intensity the market read, per record as
    /// the market rounds it, plus the held carbon released later; and the held export not yet
    /// released waits in the vaults' held totals.
    async fn carbon_minted(&self, events: &Events, vaults: &[Address]) -> Result<Check, SimError> {
        let market = self.market();
        let recorded: u64 = events.records().map(|record| record.carbon_grams).sum();
        let expected = U256::from(recorded) + events.carbon_released_grams;
        let mut wrong = Vec::new();
        let mut cross_checked = 0;
        for batch in events
            .batches
            .iter()
            .filter(|batch| !batch.records.is_empty())
        {
            let t = batch.records[0].interval;
            if let Some(held_wh) = batch.held_wh {
                let export: u64 = batch
                    .records
                    .iter()
                    .map(|r| u64::from(r.sold_wh()) + u64::from(r.credited_wh))
                    .sum();
                if U256::from(export) != held_wh
                    || batch.records.iter().any(|r| r.carbon_grams != 0)
                {
                    wrong.push(format!(
                        "interval {t}: held {held_wh} Wh but settled {export} Wh of export"
                    ));
                }
                continue;
            }
            if batch
                .records
                .iter()
                .all(|r| r.sold_wh() == 0 && r.credited_wh == 0)
            {
                // No export, so no carbon at any intensity: nothing to read.
                if let Some(record) = batch.records.iter().find(|r| r.carbon_grams != 0) {
                    wrong.push(format!(
                        "interval {t}: {} earned {} g without export",
                        record.meter, record.carbon_grams
                    ));
                }
                continue;
            }
            // The state before the batch is the block before's only when the batch opened its
            // block; otherwise the records must agree on one intensity among themselves.
            if batch.tx_index == 0 && batch.block > 0 {
                let intensity = self.intensity_before(batch.block).await?;
                cross_checked += 1;
                if let Some(record) = batch
                    .records
                    .iter()
                    .find(|record| record_carbon(record, intensity) != record.carbon_grams)
                {
                    wrong.push(format!(
                        "interval {t}: {} earned {} g, but {} Wh at {intensity} g/kWh is {} g",
                        record.meter,
                        record.carbon_grams,
                        u64::from(record.sold_wh()) + u64::from(record.credited_wh),
                        record_carbon(record, intensity)
                    ));
                }
            } else {
                let (lo, hi) = feasible_intensities(&batch.records);
                if lo > hi {
                    wrong.push(format!(
                        "interval {t}: no single intensity explains the batch's carbon"
                    ));
                }
            }
        }
        let mut still_held = U256::ZERO;
        if !events.carbon_held_wh.is_zero() {
            for account in vaults {
                still_held += market
                    .heldCarbonExportWh(*account)
                    .call()
                    .await
                    .map_err(read_error("EnergyMarket.heldCarbonExportWh"))?;
            }
        }
        let held_balances = events.carbon_held_wh == events.carbon_released_wh + still_held;
        Ok(Check::new(
            "carbon: minted == settled export x intensity / 1000 (per record, rounded down)",
            events.carbon_minted == expected && wrong.is_empty() && held_balances,
            format!(
                "CarbonCredit minted {} g vs records {recorded} + released {} = {expected} g; \
                 {} batches, {cross_checked} checked record by record against the intensity \
                 the market read, {} wrong{}; held export {} Wh = released {} + still held {} \
                 Wh",
                events.carbon_minted,
                events.carbon_released_grams,
                events.batches.len(),
                wrong.len(),
                wrong
                    .first()
                    .map(|first| format!(" (first: {first})"))
                    .unwrap_or_default(),
                events.carbon_held_wh,
                events.carbon_released_wh,
                still_held
            ),
        ))
    }

    /// The intensity the market would settle at, as of the end of block `block - 1`: its fixed
    /// intensity, or its hub's `CARBON_INTENSITY` answer.
    async fn intensity_before(&self, block: u64) -> Result<u64, SimError> {
        let at = BlockId::number(block - 1);
        let market = self.market();
        let hub = market
            .carbonIntensityHub()
            .block(at)
            .call()
            .await
            .map_err(read_error("EnergyMarket.carbonIntensityHub"))?;
        if hub.is_zero() {
            let fixed = market
                .carbonIntensity()
                .block(at)
                .call()
                .await
                .map_err(read_error("EnergyMarket.carbonIntensity"))?;
            return Ok(u64::from(fixed));
        }
        let round = OracleHub::new(hub, self.provider.clone())
            .latestRound(CARBON_INTENSITY_FEED)
            .block(at)
            .call()
            .await
            .map_err(read_error("OracleHub.latestRound"))?;
        // The market holds the carbon of an answer outside 0..=65,535; a batch that did not
        // hold it read one inside.
        Ok(u64::try_from(round.answer).unwrap_or(u64::MAX))
    }

    /// Replays the pool's reserves from its events: `k` never decreases across a swap, and the
    /// replay ends at the reserves the pool and the market hold.
    async fn amm(&self, events: &Events) -> Result<Check, SimError> {
        let (mut credits, mut stable) = (U256::ZERO, U256::ZERO);
        let mut swaps = 0;
        let mut decreased = Vec::new();
        let mut underflow = false;
        for event in &events.pool {
            match event {
                PoolEvent::Added {
                    credits: c,
                    stable: s,
                } => {
                    credits += *c;
                    stable += *s;
                }
                PoolEvent::Removed {
                    credits: c,
                    stable: s,
                } => {
                    underflow |= credits < *c || stable < *s;
                    credits = credits.saturating_sub(*c);
                    stable = stable.saturating_sub(*s);
                }
                PoolEvent::Swapped {
                    credits_in,
                    amount_in,
                    amount_out,
                } => {
                    swaps += 1;
                    let before = credits * stable;
                    let (input, output) = if *credits_in {
                        (&mut credits, &mut stable)
                    } else {
                        (&mut stable, &mut credits)
                    };
                    underflow |= *output < *amount_out;
                    *input += *amount_in;
                    *output = output.saturating_sub(*amount_out);
                    let after = credits * stable;
                    if after < before {
                        decreased.push((before, after));
                    }
                }
            }
        }
        let reserves = EnergyAmm::new(self.deployment.energy_amm, self.provider.clone())
            .getReserves()
            .call()
            .await
            .map_err(read_error("EnergyAmm.getReserves"))?;
        let vault = self
            .market()
            .balancesOf(self.deployment.energy_amm)
            .call()
            .await
            .map_err(read_error("EnergyMarket.balancesOf(pool)"))?;
        let replayed = (credits, stable);
        let passed = decreased.is_empty()
            && !underflow
            && replayed == (reserves.reserveCredits, reserves.reserveStable)
            && replayed == (vault.creditsWh, vault.stablecoin);
        Ok(Check::new(
            "AMM: k never decreased across a swap",
            passed,
            format!(
                "{swaps} swaps replayed from LiquidityAdded/LiquidityRemoved/Swapped; k decreased \
                 in {}{}; replayed reserves {credits} Wh / {stable} base units vs getReserves {} \
                 / {} vs the pool's vault {} / {}",
                decreased.len(),
                decreased
                    .first()
                    .map(|(before, after)| format!(" (first: {before} -> {after})"))
                    .unwrap_or_default(),
                reserves.reserveCredits,
                reserves.reserveStable,
                vault.creditsWh,
                vault.stablecoin
            ),
        ))
    }

    /// VppDispatch holds what it escrowed less what it refunded and what owners claimed; a
    /// closed event paid exactly what its settled enrolments were owed, and nobody claimed more
    /// than they were owed.
    async fn vpp(&self, events: &Events) -> Result<Check, SimError> {
        let vpp = &events.vpp;
        let balance =
            cogrid_bindings::MockStablecoin::new(self.deployment.stablecoin, self.provider.clone())
                .balanceOf(self.deployment.vpp_dispatch)
                .call()
                .await
                .map_err(read_error("stablecoin.balanceOf(VppDispatch)"))?;
        let out = vpp.refunded + vpp.claimed;
        let expected = vpp.budgets.checked_sub(out);
        let owed: U256 = vpp.owed.values().copied().sum();
        let mispaid: Vec<&U256> = vpp
            .paid
            .iter()
            .filter(|(id, paid)| vpp.owed.get(*id).copied().unwrap_or_default() != **paid)
            .map(|(id, _)| id)
            .collect();
        Ok(Check::new(
            "VPP: escrow held == budgets - refunds - claims; closed events paid what was owed",
            expected == Some(balance) && mispaid.is_empty() && vpp.claimed <= owed,
            format!(
                "VppDispatch holds {balance} base units vs {} events' budgets {} - refunded {} - \
                 claimed {}; owed {owed} >= claimed; closed events whose paid != sum of their \
                 DeliverySettled.owed: {}{}",
                vpp.events,
                vpp.budgets,
                vpp.refunded,
                vpp.claimed,
                mispaid.len(),
                mispaid
                    .first()
                    .map(|id| format!(" (first: event {id})"))
                    .unwrap_or_default()
            ),
        ))
    }
}

fn first(addresses: &[&Address]) -> String {
    addresses
        .first()
        .map(|address| format!(" (first: {address})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use alloy::{
        network::EthereumWallet,
        primitives::aliases::U40,
        providers::{Provider, ProviderBuilder},
        signers::local::PrivateKeySigner,
    };
    use cogrid_bindings::{IEnergyMarket, MockStablecoin};
    use cogrid_chain::{
        Devnet, Fill, Reading, SuiteParams, deploy_suite, reading_domain, sign_reading,
    };
    use cogrid_meter_signer::delivery::to_contract_reading;

    use super::*;

    const INTERVAL: u64 = 900;

    async fn confirm(
        sent: Result<
            alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
            alloy::contract::Error,
        >,
    ) {
        let receipt = sent.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "setup transaction reverted");
    }

    fn as_account(devnet: &Devnet, key: &PrivateKeySigner) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(key.clone()))
            .connect_http(devnet.rpc_url().parse().unwrap())
            .erased()
    }

    async fn now(devnet: &Devnet) -> u64 {
        devnet
            .admin
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// A seller and a buyer trading, a no-trade interval settled as residuals, a pool with a
    /// swap, import covered from credits and carbon retired: every path the identities sum.
    struct Street {
        devnet: Devnet,
        deployment: Deployment,
        owners: Vec<PrivateKeySigner>,
        meters: Vec<PrivateKeySigner>,
        /// Each meter's (import, export, seq).
        registers: Vec<(u64, u64, u32)>,
        /// The boundary of the meters' baseline readings.
        baseline: u64,
    }

    impl Street {
        async fn start() -> Self {
            // One second after a boundary an hour ago: the setup stays inside one interval.
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let genesis = (wall / INTERVAL - 4) * INTERVAL + 1;
            let devnet = Devnet::start_with_args(&["--timestamp", &genesis.to_string()])
                .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
            let admin = devnet.admin_key.address();
            let deployment = deploy_suite(&devnet.admin, admin, SuiteParams::default())
                .await
                .unwrap();
            let market = EnergyMarket::new(deployment.market, devnet.admin.clone());
            let coin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
            for role in [
                market.KEEPER_ROLE().call().await.unwrap(),
                market.GRID_OPERATOR_ROLE().call().await.unwrap(),
            ] {
                confirm(market.grantRole(role, admin).send().await).await;
            }
            confirm(market.setNetworkFee(40_000).send().await).await;
            confirm(market.setKeeperFee(100).send().await).await;
            let orders = [
                IEnergyMarket::OrderParams {
                    sells: true,
                    sellFloor: 50_000,
                    buys: false,
                    buyCeiling: 0,
                    capWh: 0,
                    validFrom: U40::ZERO,
                    validUntil: U40::ZERO,
                    coverFromCredits: false,
                },
                IEnergyMarket::OrderParams {
                    sells: false,
                    sellFloor: 0,
                    buys: true,
                    buyCeiling: 400_000,
                    capWh: 0,
                    validFrom: U40::ZERO,
                    validUntil: U40::ZERO,
                    coverFromCredits: true,
                },
            ];
            let mut owners = Vec::new();
            let mut meters = Vec::new();
            for (index, order) in orders.into_iter().enumerate() {
                let owner = devnet.funded_key(index + 1);
                let meter = PrivateKeySigner::random();
                confirm(market.registerParticipant(owner.address()).send().await).await;
                confirm(
                    market
                        .registerMeter(meter.address(), owner.address(), 1, 1, 10_000)
                        .send()
                        .await,
                )
                .await;
                let deposit = U256::from(50_000_000u64);
                confirm(coin.mint(owner.address(), deposit).send().await).await;
                let provider = as_account(&devnet, &owner);
                let own_coin = MockStablecoin::new(deployment.stablecoin, provider.clone());
                confirm(own_coin.approve(deployment.market, deposit).send().await).await;
                let own_market = EnergyMarket::new(deployment.market, provider);
                confirm(own_market.deposit(0, deposit).send().await).await;
                confirm(own_market.placeOrder(meter.address(), order).send().await).await;
                owners.push(owner);
                meters.push(meter);
            }
            let mut street = Self {
                devnet,
                deployment,
                owners,
                meters,
                registers: vec![(0, 0, 0); 2],
                baseline: 0,
            };
            street.baseline = now(&street.devnet).await / INTERVAL * INTERVAL;
            street.readings(street.baseline, &[(0, 0), (0, 0)]).await;
            street
        }

        /// Moves the clock to `end` and submits each meter's reading there, its registers grown
        /// by `volumes[i]` = (import, export) Wh.
        async fn readings(&mut self, end: u64, volumes: &[(u64, u64)]) {
            let chain_now = now(&self.devnet).await;
            if end > chain_now {
                self.devnet.advance_time(end - chain_now).await.unwrap();
            }
            let domain = reading_domain(self.deployment.chain_id, self.deployment.market);
            let mut batch = Vec::new();
            for ((meter, registers), (import, export)) in
                self.meters.iter().zip(&mut self.registers).zip(volumes)
            {
                registers.0 += import;
                registers.1 += export;
                registers.2 += 1;
                let reading =
                    Reading::new(meter.address(), registers.2, end, registers.0, registers.1)
                        .unwrap();
                batch.push(to_contract_reading(
                    &sign_reading(meter, &domain, &reading).unwrap(),
                ));
            }
            let market = EnergyMarket::new(self.deployment.market, self.devnet.admin.clone());
            confirm(market.submitReadings(batch).send().await).await;
        }

        /// Settles interval `t` with `fills` (any order) and finalizes every meter.
        async fn settle(&self, t: u64, price: u64, mut fills: Vec<Fill>) {
            fills.sort_by_key(|fill| fill.meter);
            let market = EnergyMarket::new(self.deployment.market, self.devnet.admin.clone());
            let packed = fills.iter().map(Fill::pack).collect();
            confirm(market.settle(t, price, packed, true).send().await).await;
            let meters = self.meters.iter().map(|meter| meter.address()).collect();
            confirm(market.finalize(meters).send().await).await;
        }

        fn meter_addresses(&self) -> Vec<Address> {
            self.meters.iter().map(|meter| meter.address()).collect()
        }

        fn owner_addresses(&self) -> Vec<Address> {
            self.owners.iter().map(|owner| owner.address()).collect()
        }

        async fn check(&self, meters: &[Address], participants: &[Address]) -> Vec<Check> {
            conservation(
                &self.devnet.admin,
                &self.devnet.rpc_url(),
                &self.deployment,
                meters,
                participants,
            )
            .await
            .unwrap()
        }
    }

    #[tokio::test]
    async fn every_identity_holds_on_a_consistent_chain_and_a_missing_vault_breaks_them() {
        let mut street = Street::start().await;
        let (seller, buyer) = (street.meters[0].address(), street.meters[1].address());
        let deadline = U256::from(now(&street.devnet).await + 86_400);

        // Interval 1: 600 of the seller's 1,000 Wh go to the buyer, who imported 800.
        let first_end = street.baseline + INTERVAL;
        street.readings(first_end, &[(0, 1_000), (800, 0)]).await;
        let t = first_end / INTERVAL - 1;
        let fills = vec![
            Fill {
                meter: seller,
                buy: false,
                wh: 600,
            },
            Fill {
                meter: buyer,
                buy: true,
                wh: 600,
            },
        ];
        street.settle(t, 100_000, fills).await;

        // The seller pools 300 of its 400 credited Wh with 1 USD; the buyer buys credits there.
        let seller_provider = as_account(&street.devnet, &street.owners[0]);
        let pool = EnergyAmm::new(street.deployment.energy_amm, seller_provider.clone());
        confirm(
            pool.addLiquidity(
                U256::from(300),
                U256::from(1_000_000),
                U256::ZERO,
                U256::ZERO,
                deadline,
            )
            .send()
            .await,
        )
        .await;
        let buyer_pool = EnergyAmm::new(
            street.deployment.energy_amm,
            as_account(&street.devnet, &street.owners[1]),
        );
        confirm(
            buyer_pool
                .swapExactIn(false, U256::from(100_000), U256::ZERO, deadline)
                .send()
                .await,
        )
        .await;

        // Interval 2: no trade; the buyer's import is covered from the credits it bought.
        let second_end = first_end + INTERVAL;
        street.readings(second_end, &[(0, 500), (20, 0)]).await;
        street.settle(t + 1, 0, Vec::new()).await;

        // The seller takes its carbon out of the vault and retires half of it.
        let seller_market = EnergyMarket::new(street.deployment.market, seller_provider.clone());
        let carbon = seller_market
            .balancesOf(street.owners[0].address())
            .call()
            .await
            .unwrap()
            .carbonGrams;
        assert!(carbon > U256::ZERO, "the seller earned no carbon");
        confirm(seller_market.withdraw(2, carbon).send().await).await;
        let carbon_token = CarbonCredit::new(street.deployment.carbon_credit, seller_provider);
        confirm(
            carbon_token
                .retire(
                    carbon / U256::from(2),
                    "the street".into(),
                    U40::from(first_end - INTERVAL),
                    U40::from(second_end),
                    "test".into(),
                )
                .send()
                .await,
        )
        .await;

        // Two VPP events escrow their budgets; one is cancelled, refunding it.
        let admin = street.devnet.admin_key.address();
        let coin = MockStablecoin::new(street.deployment.stablecoin, street.devnet.admin.clone());
        confirm(coin.mint(admin, U256::from(200_000)).send().await).await;
        confirm(
            coin.approve(street.deployment.vpp_dispatch, U256::from(200_000))
                .send()
                .await,
        )
        .await;
        let vpp = VppDispatch::new(street.deployment.vpp_dispatch, street.devnet.admin.clone());
        let start = second_end + 4 * INTERVAL;
        for feeder in [7, 8] {
            confirm(
                vpp.create(
                    feeder,
                    U40::from(start),
                    U40::from(start + INTERVAL),
                    1_000,
                    100_000,
                    U256::from(100_000),
                    0,
                    "test".into(),
                )
                .send()
                .await,
            )
            .await;
        }
        confirm(vpp.cancel(U256::from(1)).send().await).await;

        let meters = street.meter_addresses();
        let owners = street.owner_addresses();
        let checks = street.check(&meters, &owners).await;
        for check in &checks {
            assert!(check.passed, "{}: {}", check.name, check.detail);
        }
        assert!(checks.len() >= 15, "{checks:#?}");
        let vpp = checks
            .iter()
            .find(|check| check.name.starts_with("VPP:"))
            .unwrap();
        assert!(
            vpp.detail
                .starts_with("VppDispatch holds 100000 base units vs 2 events' budgets 200000"),
            "{}",
            vpp.detail
        );
        let energy = checks
            .iter()
            .find(|check| check.name.starts_with("energy: attested import"))
            .unwrap();
        // 820 Wh imported: 600 bought, 200 from the grid, 20 covered from credits.
        assert!(
            energy
                .detail
                .contains("import 820 Wh vs bought 600 + covered 20 + grid supplied 200"),
            "{}",
            energy.detail
        );

        // A vault named twice is still summed once.
        let twice = [owners.clone(), owners.clone()].concat();
        let again = street.check(&meters, &twice).await;
        assert!(again.iter().all(|check| check.passed), "{again:#?}");

        // Leave the buyer's vault out: its stablecoin and credits are no longer summed.
        let missing = street.check(&meters, &owners[..1]).await;
        let failed: Vec<&str> = missing
            .iter()
            .filter(|check| !check.passed)
            .map(|check| check.name.as_str())
            .collect();
        assert!(
            failed.iter().any(|name| name.starts_with("stablecoin:")),
            "{failed:?}"
        );
        assert!(
            failed.iter().any(|name| name.starts_with("registry:")),
            "{failed:?}"
        );

        // A reading whose volume is still pending breaks the energy identities.
        street
            .readings(second_end + INTERVAL, &[(0, 0), (5, 0)])
            .await;
        let pending = street.check(&meters, &owners).await;
        let energy = pending
            .iter()
            .find(|check| check.name.starts_with("energy: attested import"))
            .unwrap();
        assert!(!energy.passed, "{}", energy.detail);
        assert!(energy.detail.contains("still pending"), "{}", energy.detail);
    }

    fn record(sold: u32, credited: u32, carbon: u64) -> SettlementRecord {
        SettlementRecord {
            meter: Address::repeat_byte(1),
            interval: 5,
            carbon_grams: carbon,
            traded_wh: sold,
            credited_wh: credited,
            covered_wh: 0,
            grid_supplied_wh: 0,
            amount: 0,
            bought: false,
            unserved: false,
        }
    }

    fn settled(t: u64, traded: u64, network: u64, keeper: u64) -> EnergyMarket::IntervalSettled {
        EnergyMarket::IntervalSettled {
            t,
            keeper: Address::ZERO,
            price: 100_000,
            tradedWh: U256::from(traded),
            networkFee: U256::from(network),
            keeperFee: U256::from(keeper),
            closing: true,
        }
    }

    fn buy(wh: u32, amount: u128) -> SettlementRecord {
        SettlementRecord {
            meter: Address::repeat_byte(2),
            bought: true,
            amount,
            ..record(wh, 0, 0)
        }
    }

    #[test]
    fn the_event_identities_fail_on_inconsistent_events() {
        // 600 Wh at 0.10 + 0.04: the buyer pays 84,000; the seller earns 60,000 less 1 %.
        let batch = |paid: u128| Batch {
            records: vec![
                SettlementRecord {
                    amount: 59_400,
                    ..record(600, 0, 0)
                },
                buy(600, paid),
            ],
            settled: Some(settled(5, 600, 24_000, 600)),
            ..Batch::default()
        };
        let mut events = Events {
            batches: vec![batch(84_000)],
            readings: vec![(Address::repeat_byte(1), 1, 0, 600)],
            ..Events::default()
        };
        for check in [
            settlement_money(&events),
            intervals_once(&events),
            volumes_once(&events),
            readings_once(&events),
        ] {
            assert!(check.passed, "{}: {}", check.name, check.detail);
        }
        // A unit paid that nobody received; the same interval closed twice (and so the same
        // meters settled twice); the same reading counted twice.
        events.batches.push(batch(84_001));
        events.readings.push((Address::repeat_byte(1), 1, 0, 600));
        for check in [
            settlement_money(&events),
            intervals_once(&events),
            volumes_once(&events),
            readings_once(&events),
        ] {
            assert!(!check.passed, "{}: {}", check.name, check.detail);
        }
        assert!(
            settlement_money(&events)
                .detail
                .contains("first: interval 5: paid 84001, earned + fees 84000"),
            "{}",
            settlement_money(&events).detail
        );
    }

    #[test]
    fn carbon_is_floored_per_record_on_the_whole_export() {
        // 1,234 Wh at 401 g/kWh = 494.834 g: 494.
        assert_eq!(record_carbon(&record(1_000, 234, 0), 401), 494);
    }

    #[test]
    fn the_feasible_intensities_are_those_that_floor_to_each_record() {
        let records = [record(1_000, 234, 494), record(0, 3_000, 1_203)];
        let (lo, hi) = feasible_intensities(&records);
        // 1,234 Wh -> 494 g: 400.33..401.13, so 401; 3,000 Wh -> 1,203 g: 401.
        assert_eq!((lo, hi), (401, 401));
        let inconsistent = [record(1_000, 0, 400), record(1_000, 0, 500)];
        let (lo, hi) = feasible_intensities(&inconsistent);
        assert!(lo > hi);
    }
}
