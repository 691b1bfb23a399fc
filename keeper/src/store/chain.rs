//! The chain cursor: applying a block's events atomically, and rewinding after a reorg.

use alloy::primitives::{Address, B256};
use cogrid_chain::SettlementRecord;

use super::{
    BalanceChangeKind, Event, IndexedBlock, Store, StoreError,
    codec::{self, Statement, Value, bind_all, int, nullable_int, parsed, unsigned},
};

/// Undoes the blocks above `$1`: every table whose rows come from events, then `blocks`. Each
/// event row references its block, so a table missing here makes a rewind fail rather than leave
/// rows of undone blocks behind.
const REWIND_EVENTS: [&str; 10] = [
    "DELETE FROM participant_registrations WHERE block_number > $1",
    "DELETE FROM participant_deactivations WHERE block_number > $1",
    "DELETE FROM meter_registrations WHERE block_number > $1",
    "DELETE FROM meter_status_changes WHERE block_number > $1",
    "DELETE FROM readings WHERE block_number > $1",
    "DELETE FROM orders WHERE block_number > $1",
    "DELETE FROM order_cancellations WHERE block_number > $1",
    "DELETE FROM interval_settlements WHERE block_number > $1",
    "DELETE FROM meter_settlements WHERE block_number > $1",
    "DELETE FROM balance_changes WHERE block_number > $1",
];
const REWIND_BLOCKS: &str = "DELETE FROM blocks WHERE block_number > $1";

impl Store {
    /// The highest block indexed, if any.
    pub async fn last_indexed_block(&self) -> Result<Option<u64>, StoreError> {
        let tip: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT MAX(block_number) FROM blocks")
                .fetch_one(pool)
                .await?
        });
        tip.map(|tip| unsigned("blocks.block_number", tip))
            .transpose()
    }

    /// The hash indexed for block `number`, if it is indexed.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let number = int("block number", number)?;
        let hash: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT block_hash FROM blocks WHERE block_number = $1")
                .bind(number)
                .fetch_optional(pool)
                .await?
        });
        hash.map(|hash| parsed("blocks.block_hash", hash))
            .transpose()
    }

    /// Indexes `block` and its events in one transaction. The block must be above the last one
    /// indexed, and when the block below it is indexed, be its child.
    pub async fn apply_block(&self, block: &IndexedBlock) -> Result<(), StoreError> {
        let statements = statements(block)?;
        let below = block
            .number
            .checked_sub(1)
            .map(|below| int("block number", below))
            .transpose()?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let tip: Option<i64> = sqlx::query_scalar("SELECT MAX(block_number) FROM blocks")
                .fetch_one(&mut *tx)
                .await?;
            let parent: Option<String> = match below {
                Some(below) => {
                    sqlx::query_scalar("SELECT block_hash FROM blocks WHERE block_number = $1")
                        .bind(below)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            check_follows(block, tip, parent)?;
            for statement in statements {
                bind_all(sqlx::query(statement.sql), statement.args)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes every block above `number` and every row its events produced, in one transaction;
    /// settlement attempts stay. Returns how many blocks were removed.
    pub async fn rewind_to(&self, number: u64) -> Result<u64, StoreError> {
        let number = codec::clamped(number);
        let removed = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for sql in REWIND_EVENTS {
                sqlx::query(sql).bind(number).execute(&mut *tx).await?;
            }
            let blocks = sqlx::query(REWIND_BLOCKS)
                .bind(number)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            blocks.rows_affected()
        });
        Ok(removed)
    }
}

/// Refuses a block that is not above the tip, or whose parent is not the indexed block below it.
fn check_follows(
    block: &IndexedBlock,
    tip: Option<i64>,
    parent: Option<String>,
) -> Result<(), StoreError> {
    if let Some(tip) = tip {
        let tip = unsigned("blocks.block_number", tip)?;
        if block.number <= tip {
            return Err(StoreError::BlockNotAfterTip {
                number: block.number,
                tip,
            });
        }
    }
    if let Some(parent) = parent {
        let indexed: B256 = parsed("blocks.block_hash", parent)?;
        if indexed != block.parent_hash {
            return Err(StoreError::ParentMismatch {
                number: block.number,
                parent_hash: block.parent_hash,
                indexed,
            });
        }
    }
    Ok(())
}

/// The inserts that index `block`: the block first, then each event, in log order.
fn statements(block: &IndexedBlock) -> Result<Vec<Statement>, StoreError> {
    let number = int("block number", block.number)?;
    let mut statements = Vec::with_capacity(block.events.len() + 1);
    statements.push(Statement {
        sql: "INSERT INTO blocks (block_number, block_hash, parent_hash, block_timestamp) \
              VALUES ($1, $2, $3, $4)",
        args: vec![
            Value::Int(number),
            codec::hash(block.hash),
            codec::hash(block.parent_hash),
            Value::Int(int("block timestamp", block.timestamp)?),
        ],
    });
    let mut previous: Option<u64> = None;
    for logged in &block.events {
        if let Some(previous) = previous.filter(|&previous| logged.log_index <= previous) {
            return Err(StoreError::LogsOutOfOrder {
                number: block.number,
                log_index: logged.log_index,
                previous,
            });
        }
        previous = Some(logged.log_index);
        for (sql, fields) in event_rows(&logged.event)? {
            let mut args = vec![
                Value::Int(number),
                Value::Int(int("log index", logged.log_index)?),
            ];
            args.extend(fields);
            statements.push(Statement { sql, args });
        }
    }
    Ok(statements)
}

/// The inserts of one event (one row, but one per record for `MetersSettled`); the first two
/// parameters of each are the block number and the log index.
fn event_rows(event: &Event) -> Result<Vec<(&'static str, Vec<Value>)>, StoreError> {
    use codec::address;

    let row = match *event {
        Event::ParticipantRegistered { account, id } => (
            "INSERT INTO participant_registrations (block_number, log_index, account, \
             participant_id) VALUES ($1, $2, $3, $4)",
            vec![address(account), Value::Int(id.into())],
        ),
        Event::ParticipantDeactivated { account } => (
            "INSERT INTO participant_deactivations (block_number, log_index, account) \
             VALUES ($1, $2, $3)",
            vec![address(account)],
        ),
        Event::MeterRegistered {
            meter,
            owner,
            feeder,
            kinds,
            capacity_w,
        } => (
            "INSERT INTO meter_registrations (block_number, log_index, meter, owner, feeder, \
             kinds, capacity_w) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                address(meter),
                address(owner),
                Value::Int(feeder.into()),
                Value::Int(kinds.into()),
                Value::Int(capacity_w.into()),
            ],
        ),
        Event::MeterDeactivated { meter } => meter_status(meter, false),
        Event::MeterReactivated { meter } => meter_status(meter, true),
        Event::ReadingAccepted {
            meter,
            seq,
            interval_end,
            import_delta_wh,
            export_delta_wh,
            marketable,
        } => (
            "INSERT INTO readings (block_number, log_index, meter, seq, interval_end, \
             import_delta_wh, export_delta_wh, marketable) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                address(meter),
                Value::Int(seq.into()),
                Value::Int(int("interval end", interval_end)?),
                Value::Int(int("import delta", import_delta_wh)?),
                Value::Int(int("export delta", export_delta_wh)?),
                Value::Bool(marketable),
            ],
        ),
        Event::OrderPlaced {
            meter,
            owner,
            sell_floor,
            buy_ceiling,
            cap_wh,
            valid_from,
            valid_until,
            cover_from_credits,
        } => (
            "INSERT INTO orders (block_number, log_index, meter, owner, sell_floor, buy_ceiling, \
             cap_wh, valid_from, valid_until, cover_from_credits) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                address(meter),
                address(owner),
                nullable_int("sell floor", sell_floor)?,
                nullable_int("buy ceiling", buy_ceiling)?,
                nullable_int("order cap", cap_wh)?,
                Value::Int(int("order valid from", valid_from)?),
                nullable_int("order valid until", valid_until)?,
                Value::Bool(cover_from_credits),
            ],
        ),
        Event::OrderCancelled { meter } => (
            "INSERT INTO order_cancellations (block_number, log_index, meter) VALUES ($1, $2, $3)",
            vec![address(meter)],
        ),
        Event::IntervalSettled {
            interval,
            keeper,
            price,
            traded_wh,
            closing,
            tx_hash,
        } => (
            "INSERT INTO interval_settlements (block_number, log_index, interval_index, keeper, \
             price, traded_wh, closing, tx_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                Value::Int(int("interval", interval)?),
                address(keeper),
                Value::Int(int("clearing price", price)?),
                Value::Int(int("traded energy", traded_wh)?),
                Value::Bool(closing),
                codec::hash(tx_hash),
            ],
        ),
        Event::MetersSettled { ref records } => {
            return records
                .iter()
                .enumerate()
                .map(|(index, record)| settled_meter_row(index, record))
                .collect();
        }
        Event::Deposited {
            account,
            asset,
            amount,
        } => balance_change(account, BalanceChangeKind::Deposit, asset, amount),
        Event::Withdrawn {
            account,
            asset,
            amount,
        } => balance_change(account, BalanceChangeKind::Withdrawal, asset, amount),
    };
    Ok(vec![row])
}

/// The insert of one `MetersSettled` record; its third parameter is the record's index.
fn settled_meter_row(
    index: usize,
    record: &SettlementRecord,
) -> Result<(&'static str, Vec<Value>), StoreError> {
    Ok((
        "INSERT INTO meter_settlements (block_number, log_index, record_index, meter, \
         interval_index, sold_wh, bought_wh, credited_wh, covered_wh, grid_supplied_wh, amount, \
         carbon_grams) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        vec![
            Value::Int(int("record index", index as u64)?),
            codec::address(record.meter),
            Value::Int(int("interval", record.interval)?),
            Value::Int(i64::from(record.sold_wh())),
            Value::Int(i64::from(record.bought_wh())),
            Value::Int(i64::from(record.credited_wh)),
            Value::Int(i64::from(record.covered_wh)),
            Value::Int(i64::from(record.grid_supplied_wh)),
            Value::Text(record.amount.to_string()),
            Value::Int(int("carbon", record.carbon_grams)?),
        ],
    ))
}

fn meter_status(meter: Address, active: bool) -> (&'static str, Vec<Value>) {
    (
        "INSERT INTO meter_status_changes (block_number, log_index, meter, active) \
         VALUES ($1, $2, $3, $4)",
        vec![codec::address(meter), Value::Bool(active)],
    )
}

fn balance_change(
    account: Address,
    kind: BalanceChangeKind,
    asset: u8,
    amount: u128,
) -> (&'static str, Vec<Value>) {
    (
        "INSERT INTO balance_changes (block_number, log_index, account, kind, asset, amount) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            codec::address(account),
            Value::Text(kind.as_str().to_owned()),
            Value::Int(asset.into()),
            Value::Text(amount.to_string()),
        ],
    )
}
