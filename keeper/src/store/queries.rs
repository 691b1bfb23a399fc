//! What the keeper reads back: the market's state as of the indexed tip, and settlements.

use std::ops::Range;

use alloy::primitives::Address;

use super::{
    BalanceChange, BalanceChangeKind, IntervalStatus, LiveOrder, Meter, MeterSettlement,
    MeterVolume, Participant, SettlementBatch, Store, StoreError,
    codec::{self, Columns, bind_all, int},
};

/// A meter's latest placement, unless a later placement replaced it or a cancellation followed.
const LIVE_ORDERS: &str = "
SELECT o.block_number, o.log_index, o.meter, o.owner, o.sell_floor, o.buy_ceiling, o.cap_wh,
       o.valid_from, o.valid_until, o.cover_from_credits
FROM orders o
WHERE NOT EXISTS (
        SELECT 1 FROM orders later
        WHERE later.meter = o.meter
          AND (later.block_number, later.log_index) > (o.block_number, o.log_index))
  AND NOT EXISTS (
        SELECT 1 FROM order_cancellations c
        WHERE c.meter = o.meter
          AND (c.block_number, c.log_index) > (o.block_number, o.log_index))
ORDER BY o.block_number, o.log_index";

/// Sums cast back to BIGINT: PostgreSQL sums BIGINTs as NUMERIC.
const MARKETABLE_VOLUMES: &str = "
SELECT meter,
       CAST(SUM(import_delta_wh) AS BIGINT) AS import_wh,
       CAST(SUM(export_delta_wh) AS BIGINT) AS export_wh
FROM readings
WHERE marketable AND interval_end = $1
GROUP BY meter
ORDER BY meter";

/// A meter's latest registration, active unless the latest status change after it says not.
const METERS: &str = "
SELECT m.meter, m.owner, m.feeder, m.kinds, m.capacity_w,
       COALESCE((
           SELECT s.active FROM meter_status_changes s
           WHERE s.meter = m.meter
             AND (s.block_number, s.log_index) > (m.block_number, m.log_index)
           ORDER BY s.block_number DESC, s.log_index DESC
           LIMIT 1), TRUE) AS active
FROM meter_registrations m
WHERE NOT EXISTS (
        SELECT 1 FROM meter_registrations later
        WHERE later.meter = m.meter
          AND (later.block_number, later.log_index) > (m.block_number, m.log_index))
ORDER BY m.meter";

/// An account's latest registration, unless a deactivation followed it.
const ACTIVE_PARTICIPANTS: &str = "
SELECT r.account, r.participant_id
FROM participant_registrations r
WHERE NOT EXISTS (
        SELECT 1 FROM participant_registrations later
        WHERE later.account = r.account
          AND (later.block_number, later.log_index) > (r.block_number, r.log_index))
  AND NOT EXISTS (
        SELECT 1 FROM participant_deactivations d
        WHERE d.account = r.account
          AND (d.block_number, d.log_index) > (r.block_number, r.log_index))
ORDER BY r.participant_id";

/// Meters with any counted reading (marketable or not) that ends at $1.
const METERS_REPORTED: &str = "
SELECT COUNT(DISTINCT meter) FROM readings WHERE interval_end = $1";

/// Meters whose latest reading ending at or before $1 came after their latest settlement and
/// attested some energy since it: their volumes wait for a settlement or a finalize.
const UNSETTLED_METERS: &str = "
SELECT r.meter
FROM readings r
WHERE r.interval_end <= $1
  AND (r.import_delta_wh > 0 OR r.export_delta_wh > 0)
  AND NOT EXISTS (
        SELECT 1 FROM meter_settlements s
        WHERE s.meter = r.meter
          AND (s.block_number, s.log_index) > (r.block_number, r.log_index))
GROUP BY r.meter
ORDER BY r.meter";

const INTERVAL_BATCHES: &str = "
SELECT block_number, log_index, keeper, price, traded_wh, closing, tx_hash
FROM interval_settlements
WHERE interval_index = $1
ORDER BY block_number, log_index";

const LAST_SETTLED_INTERVAL: &str =
    "SELECT MAX(interval_index) FROM interval_settlements WHERE closing";

const INTERVAL_METER_SETTLEMENTS: &str = "
SELECT block_number, log_index, meter, interval_index, sold_wh, bought_wh, credited_wh,
       covered_wh, grid_supplied_wh, amount
FROM meter_settlements
WHERE interval_index = $1
ORDER BY meter, block_number, log_index";

const METER_HISTORY: &str = "
SELECT block_number, log_index, meter, interval_index, sold_wh, bought_wh, credited_wh,
       covered_wh, grid_supplied_wh, amount
FROM meter_settlements
WHERE meter = $1 AND interval_index >= $2 AND interval_index < $3
ORDER BY interval_index, block_number, log_index";

const BALANCE_CHANGES: &str = "
SELECT block_number, log_index, account, kind, asset, amount
FROM balance_changes
WHERE account = $1
ORDER BY block_number, log_index";

impl Store {
    /// Every meter's standing order that is neither replaced nor cancelled, earliest placed
    /// first (time priority).
    pub async fn live_orders(&self) -> Result<Vec<LiveOrder>, StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(LIVE_ORDERS)
                .fetch_all(pool)
                .await?
                .iter()
                .map(live_order)
                .collect()
        })
    }

    /// Each meter's import and export tradable in interval `interval` (intervals being
    /// `interval_seconds` long): the sums of its marketable readings that end the interval.
    /// Meters without such a reading are left out.
    pub async fn marketable_volumes(
        &self,
        interval: u64,
        interval_seconds: u64,
    ) -> Result<Vec<MeterVolume>, StoreError> {
        let end = interval
            .checked_add(1)
            .and_then(|next| next.checked_mul(interval_seconds))
            .ok_or(StoreError::IntervalOverflow {
                interval,
                interval_seconds,
            })?;
        let end = int("interval end", end)?;
        with_pool!(self, |pool| {
            sqlx::query(MARKETABLE_VOLUMES)
                .bind(end)
                .fetch_all(pool)
                .await?
                .iter()
                .map(meter_volume)
                .collect()
        })
    }

    /// How many meters have a counted reading ending at `interval_end` (unix s), marketable or
    /// not: when it equals the active meters, the interval's readings are all in.
    pub async fn meters_reported(&self, interval_end: u64) -> Result<u64, StoreError> {
        let end = int("interval end", interval_end)?;
        let count: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar(METERS_REPORTED)
                .bind(end)
                .fetch_one(pool)
                .await?
        });
        codec::unsigned("readings.count", count)
    }

    /// The meters with energy attested by a reading ending at or before `up_to_end` (unix s)
    /// that no settlement has covered yet, by address: the candidates for `finalize` once their
    /// intervals are settled.
    pub async fn unsettled_meters(&self, up_to_end: u64) -> Result<Vec<Address>, StoreError> {
        let end = int("interval end", up_to_end)?;
        let meters: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(UNSETTLED_METERS)
                .bind(end)
                .fetch_all(pool)
                .await?
        });
        meters
            .into_iter()
            .map(|meter| codec::parsed("readings.meter", meter))
            .collect()
    }

    /// Every registered meter with its current status, by address.
    pub async fn meters(&self) -> Result<Vec<Meter>, StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(METERS)
                .fetch_all(pool)
                .await?
                .iter()
                .map(meter)
                .collect()
        })
    }

    /// The participants registered and not deactivated since, by id.
    pub async fn active_participants(&self) -> Result<Vec<Participant>, StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(ACTIVE_PARTICIPANTS)
                .fetch_all(pool)
                .await?
                .iter()
                .map(participant)
                .collect()
        })
    }

    /// The settlement batches indexed for `interval`; `None` when there is none yet.
    pub async fn interval_status(
        &self,
        interval: u64,
    ) -> Result<Option<IntervalStatus>, StoreError> {
        let key = int("interval", interval)?;
        let batches: Vec<SettlementBatch> = with_pool!(self, |pool| {
            sqlx::query(INTERVAL_BATCHES)
                .bind(key)
                .fetch_all(pool)
                .await?
                .iter()
                .map(settlement_batch)
                .collect::<Result<_, _>>()?
        });
        Ok((!batches.is_empty()).then_some(IntervalStatus { interval, batches }))
    }

    /// The highest interval a closing batch settled, if any.
    pub async fn last_settled_interval(&self) -> Result<Option<u64>, StoreError> {
        let last: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar(LAST_SETTLED_INTERVAL)
                .fetch_one(pool)
                .await?
        });
        last.map(|last| codec::unsigned("interval_settlements.interval_index", last))
            .transpose()
    }

    /// Every meter's settlement of `interval`, by meter.
    pub async fn meter_settlements(
        &self,
        interval: u64,
    ) -> Result<Vec<MeterSettlement>, StoreError> {
        let key = int("interval", interval)?;
        with_pool!(self, |pool| {
            sqlx::query(INTERVAL_METER_SETTLEMENTS)
                .bind(key)
                .fetch_all(pool)
                .await?
                .iter()
                .map(meter_settlement)
                .collect()
        })
    }

    /// `meter`'s settlements of the intervals in `intervals`, oldest first: what its bill is made
    /// of.
    pub async fn meter_history(
        &self,
        meter: Address,
        intervals: Range<u64>,
    ) -> Result<Vec<MeterSettlement>, StoreError> {
        let args = vec![
            codec::address(meter),
            codec::Value::Int(codec::clamped(intervals.start)),
            codec::Value::Int(codec::clamped(intervals.end)),
        ];
        with_pool!(self, |pool| {
            bind_all(sqlx::query(METER_HISTORY), args)
                .fetch_all(pool)
                .await?
                .iter()
                .map(meter_settlement)
                .collect()
        })
    }

    /// `account`'s deposits and withdrawals, in chain order.
    pub async fn balance_changes(
        &self,
        account: Address,
    ) -> Result<Vec<BalanceChange>, StoreError> {
        let args = vec![codec::address(account)];
        with_pool!(self, |pool| {
            bind_all(sqlx::query(BALANCE_CHANGES), args)
                .fetch_all(pool)
                .await?
                .iter()
                .map(balance_change)
                .collect()
        })
    }
}

fn live_order(row: &impl Columns) -> Result<LiveOrder, StoreError> {
    Ok(LiveOrder {
        meter: row.address("meter")?,
        owner: row.address("owner")?,
        sell_floor: row.nullable_u64("sell_floor")?,
        buy_ceiling: row.nullable_u64("buy_ceiling")?,
        cap_wh: row.nullable_u64("cap_wh")?,
        valid_from: row.unsigned("valid_from")?,
        valid_until: row.nullable_u64("valid_until")?,
        cover_from_credits: row.flag("cover_from_credits")?,
        priority: row.position()?,
    })
}

fn meter_volume(row: &impl Columns) -> Result<MeterVolume, StoreError> {
    Ok(MeterVolume {
        meter: row.address("meter")?,
        import_wh: row.unsigned("import_wh")?,
        export_wh: row.unsigned("export_wh")?,
    })
}

fn meter(row: &impl Columns) -> Result<Meter, StoreError> {
    Ok(Meter {
        meter: row.address("meter")?,
        owner: row.address("owner")?,
        feeder: row.unsigned("feeder")?,
        kinds: row.unsigned("kinds")?,
        capacity_w: row.unsigned("capacity_w")?,
        active: row.flag("active")?,
    })
}

fn participant(row: &impl Columns) -> Result<Participant, StoreError> {
    Ok(Participant {
        account: row.address("account")?,
        id: row.unsigned("participant_id")?,
    })
}

fn settlement_batch(row: &impl Columns) -> Result<SettlementBatch, StoreError> {
    Ok(SettlementBatch {
        keeper: row.address("keeper")?,
        price: row.unsigned("price")?,
        traded_wh: row.unsigned("traded_wh")?,
        closing: row.flag("closing")?,
        tx_hash: row.hash("tx_hash")?,
        position: row.position()?,
    })
}

fn meter_settlement(row: &impl Columns) -> Result<MeterSettlement, StoreError> {
    Ok(MeterSettlement {
        meter: row.address("meter")?,
        interval: row.unsigned("interval_index")?,
        sold_wh: row.unsigned("sold_wh")?,
        bought_wh: row.unsigned("bought_wh")?,
        credited_wh: row.unsigned("credited_wh")?,
        covered_wh: row.unsigned("covered_wh")?,
        grid_supplied_wh: row.unsigned("grid_supplied_wh")?,
        amount: row.amount("amount")?,
        position: row.position()?,
    })
}

fn balance_change(row: &impl Columns) -> Result<BalanceChange, StoreError> {
    let kind = match row.text("kind")?.as_str() {
        "deposit" => BalanceChangeKind::Deposit,
        "withdrawal" => BalanceChangeKind::Withdrawal,
        other => {
            return Err(StoreError::Corrupt {
                column: "balance_changes.kind",
                value: other.to_owned(),
            });
        }
    };
    Ok(BalanceChange {
        account: row.address("account")?,
        kind,
        asset: row.unsigned("asset")?,
        amount: row.amount("amount")?,
        position: row.position()?,
    })
}
