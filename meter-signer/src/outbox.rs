//! The store-and-forward outbox: every signed reading is written to SQLite before it is sent, and
//! leaves only after the transaction that counted it is final. A crash at any point loses nothing:
//! a reading is either still here, or on chain with enough confirmations.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
    str::FromStr,
};

use alloy::primitives::{Address, B256};
use cogrid_chain::SignedReading;
use sqlx::{
    QueryBuilder, Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{error::SignerError, sampler::IntervalReading};

/// A transaction that counted readings and is waiting for its confirmations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncludedTx {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The block it was included in.
    pub block_number: u64,
}

/// How many readings are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Signed, not yet counted on chain.
    pub pending: u64,
    /// Counted on chain, waiting for confirmations.
    pub included: u64,
    /// Refused by the chain for good (kept for the operator to inspect).
    pub rejected: u64,
}

/// The SQLite outbox.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path` and applies its migrations.
    pub async fn open(path: &Path) -> Result<Self, SignerError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|source| SignerError::Outbox {
                path: path.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a reading acknowledged as stored survives a power cut of the gateway.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| SignerError::Outbox {
                path: path.to_owned(),
                source,
            })?;
        migrate(&pool).await.map_err(|source| SignerError::Outbox {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self { pool })
    }

    /// The last reading signed for `meter` (boundary and registers), if any.
    pub async fn last_reading(
        &self,
        meter: Address,
    ) -> Result<Option<IntervalReading>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT last_interval_end, last_import_wh, last_export_wh FROM meters
             WHERE meter = ? AND last_interval_end IS NOT NULL",
        )
        .bind(meter.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| IntervalReading {
            interval_end: row.get::<i64, _>(0) as u64,
            import_wh: row.get::<Option<i64>, _>(1).unwrap_or(0) as u64,
            export_wh: row.get::<Option<i64>, _>(2).unwrap_or(0) as u64,
        }))
    }

    /// Makes sure the next seq for `meter` is above `chain_seq`, the last seq the chain counted:
    /// a gateway that lost its outbox must not reuse sequence numbers.
    pub async fn ensure_seq_above(
        &self,
        meter: Address,
        chain_seq: u32,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO meters (meter, last_seq) VALUES (?1, ?2)
             ON CONFLICT (meter) DO UPDATE SET last_seq = MAX(last_seq, ?2)",
        )
        .bind(meter.to_string())
        .bind(i64::from(chain_seq))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives each of `readings` its meter's next seq, signs it with `sign` (its index in
    /// `readings`, its seq) and stores it, all in one transaction: every reading is stored, or
    /// none. Readings taken together (the simulator stores each boundary's 500 at once) cost a
    /// commit and a few statements rather than three statements and a commit each, and many of
    /// them are signed on every core.
    pub async fn record_all<F>(
        &self,
        readings: &[(Address, IntervalReading)],
        sign: F,
    ) -> Result<Vec<SignedReading>, SignerError>
    where
        F: Fn(usize, u32) -> Result<SignedReading, SignerError> + Sync,
    {
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let mut last_seqs = HashMap::new();
        let meters: Vec<String> = readings
            .iter()
            .map(|(meter, _)| meter.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in meters.chunks(ROWS_PER_STATEMENT) {
            let mut query =
                QueryBuilder::new("SELECT meter, last_seq FROM meters WHERE meter IN (");
            let mut listed = query.separated(", ");
            for meter in chunk {
                listed.push_bind(meter);
            }
            query.push(")");
            for row in query.build().fetch_all(&mut *tx).await? {
                last_seqs.insert(row.get::<String, _>(0), row.get::<i64, _>(1));
            }
        }
        let seqs = readings
            .iter()
            .map(|(meter, _)| {
                let last = last_seqs.entry(meter.to_string()).or_insert(0);
                *last += 1;
                u32::try_from(*last).map_err(|_| SignerError::SeqExhausted)
            })
            .collect::<Result<Vec<u32>, _>>()?;
        let signed = sign_readings(&seqs, &sign)?;

        for chunk in signed.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO outbox (meter, seq, interval_end, import_wh, export_wh, r, vs, signed_at) ",
            );
            insert.push_values(chunk, |mut row, reading| {
                row.push_bind(reading.meter.to_string())
                    .push_bind(i64::from(reading.seq))
                    .push_bind(reading.interval_end as i64)
                    .push_bind(reading.import_wh as i64)
                    .push_bind(reading.export_wh as i64)
                    .push_bind(reading.r.as_slice())
                    .push_bind(reading.vs.as_slice())
                    .push("unixepoch()");
            });
            insert.build().execute(&mut *tx).await?;
        }
        // Each meter's last reading of the call: a meter signed twice keeps the later one.
        let mut last_readings = BTreeMap::new();
        for reading in &signed {
            last_readings.insert(reading.meter, reading);
        }
        let last_readings: Vec<&SignedReading> = last_readings.into_values().collect();
        for chunk in last_readings.chunks(ROWS_PER_STATEMENT) {
            let mut upsert = QueryBuilder::new(
                "INSERT INTO meters (meter, last_seq, last_interval_end, last_import_wh, last_export_wh) ",
            );
            upsert.push_values(chunk, |mut row, reading| {
                row.push_bind(reading.meter.to_string())
                    .push_bind(i64::from(reading.seq))
                    .push_bind(reading.interval_end as i64)
                    .push_bind(reading.import_wh as i64)
                    .push_bind(reading.export_wh as i64);
            });
            upsert.push(
                " ON CONFLICT (meter) DO UPDATE SET last_seq = excluded.last_seq, \
                 last_interval_end = excluded.last_interval_end, \
                 last_import_wh = excluded.last_import_wh, last_export_wh = excluded.last_export_wh",
            );
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(signed)
    }

    /// Up to `limit` readings not yet counted on chain, oldest first.
    pub async fn pending(&self, limit: usize) -> Result<Vec<SignedReading>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT meter, seq, interval_end, import_wh, export_wh, r, vs FROM outbox
             WHERE state = 'pending' ORDER BY interval_end, meter, seq LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(signed_reading_from_row).collect()
    }

    /// Marks readings as counted by `tx`.
    pub async fn mark_included(
        &self,
        readings: &[(Address, u32)],
        tx: IncludedTx,
    ) -> Result<(), sqlx::Error> {
        let mut db = self.pool.begin().await?;
        for chunk in readings.chunks(ROWS_PER_STATEMENT) {
            let mut update = QueryBuilder::new("UPDATE outbox SET state = 'included', tx_hash = ");
            update
                .push_bind(tx.tx_hash.as_slice())
                .push(", block_number = ")
                .push_bind(tx.block_number as i64)
                .push(", reason = NULL WHERE (meter, seq) IN (VALUES ");
            let mut rows = update.separated(", ");
            for (meter, seq) in chunk {
                rows.push("(")
                    .push_bind_unseparated(meter.to_string())
                    .push_unseparated(", ")
                    .push_bind_unseparated(i64::from(*seq))
                    .push_unseparated(")");
            }
            update.push(")");
            update.build().execute(&mut *db).await?;
        }
        db.commit().await
    }

    /// Marks a reading the chain refused for good, with the reason.
    pub async fn mark_rejected(
        &self,
        meter: Address,
        seq: u32,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE outbox SET state = 'rejected', reason = ? WHERE meter = ? AND seq = ?")
            .bind(reason)
            .bind(meter.to_string())
            .bind(i64::from(seq))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Transactions whose readings wait for confirmations.
    pub async fn included_transactions(&self) -> Result<Vec<IncludedTx>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT DISTINCT tx_hash, block_number FROM outbox WHERE state = 'included' ORDER BY block_number",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| IncludedTx {
                tx_hash: B256::from_slice(row.get::<&[u8], _>(0)),
                block_number: row.get::<i64, _>(1) as u64,
            })
            .collect())
    }

    /// Removes the readings of a final transaction; returns how many left.
    pub async fn remove_final(&self, tx_hash: B256) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM outbox WHERE state = 'included' AND tx_hash = ?")
            .bind(tx_hash.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records that a reorg moved a transaction to another block.
    pub async fn move_to_block(
        &self,
        tx_hash: B256,
        block_number: u64,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE outbox SET block_number = ? WHERE state = 'included' AND tx_hash = ?",
        )
        .bind(block_number as i64)
        .bind(tx_hash.as_slice())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Puts the readings of a transaction that a reorg dropped back in line.
    pub async fn requeue(&self, tx_hash: B256) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', tx_hash = NULL, block_number = NULL
             WHERE state = 'included' AND tx_hash = ?",
        )
        .bind(tx_hash.as_slice())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Readings per state.
    pub async fn counts(&self) -> Result<OutboxCounts, sqlx::Error> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let count = row.get::<i64, _>(1) as u64;
            match row.get::<&str, _>(0) {
                "pending" => counts.pending = count,
                "included" => counts.included = count,
                _ => counts.rejected = count,
            }
        }
        Ok(counts)
    }
}

/// Schema versions in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_outbox.sql"),
    include_str!("../migrations/0002_last_registers.sql"),
];

async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(pool)
        .await?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let mut tx = pool.begin().await?;
        // Both strings are compiled in: the migration files and a counter.
        sqlx::raw_sql(sqlx::AssertSqlSafe(*migration))
            .execute(&mut *tx)
            .await?;
        let version = format!("PRAGMA user_version = {}", index + 1);
        sqlx::raw_sql(sqlx::AssertSqlSafe(version))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Rows per multi-row statement: 7 bound values each stays well under SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Readings signed on the calling thread; more are spread over the cores. A signature takes
/// about 70 µs: starting threads is not worth it for a few.
const SIGNED_ON_ONE_THREAD: usize = 32;

/// Signs reading `index` with seq `seqs[index]` for every index, in order: on the calling thread
/// when there are few, else on as many threads as the machine has cores.
fn sign_readings<F>(seqs: &[u32], sign: &F) -> Result<Vec<SignedReading>, SignerError>
where
    F: Fn(usize, u32) -> Result<SignedReading, SignerError> + Sync,
{
    if seqs.len() <= SIGNED_ON_ONE_THREAD {
        return seqs
            .iter()
            .enumerate()
            .map(|(index, &seq)| sign(index, seq))
            .collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = seqs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = seqs
            .chunks(per_thread)
            .enumerate()
            .map(|(chunk, seqs)| {
                scope.spawn(move || {
                    seqs.iter()
                        .enumerate()
                        .map(|(offset, &seq)| sign(chunk * per_thread + offset, seq))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut signed = Vec::with_capacity(seqs.len());
        for worker in workers {
            let chunk = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            signed.extend(chunk);
        }
        Ok(signed)
    })
}

fn signed_reading_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SignedReading, sqlx::Error> {
    let meter: &str = row.get(0);
    let meter = meter
        .parse::<Address>()
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
    Ok(SignedReading {
        meter,
        seq: row.get::<i64, _>(1) as u32,
        interval_end: row.get::<i64, _>(2) as u64,
        import_wh: row.get::<i64, _>(3) as u64,
        export_wh: row.get::<i64, _>(4) as u64,
        r: B256::from_slice(row.get::<&[u8], _>(5)),
        vs: B256::from_slice(row.get::<&[u8], _>(6)),
    })
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;
    use cogrid_chain::reading_domain;

    use super::*;

    async fn outbox() -> (tempfile::TempDir, Outbox) {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("outbox.db")).await.unwrap();
        (dir, outbox)
    }

    async fn record(
        outbox: &Outbox,
        signer: &PrivateKeySigner,
        interval_end: u64,
    ) -> SignedReading {
        let domain = reading_domain(1, Address::repeat_byte(9));
        let reading = IntervalReading {
            interval_end,
            import_wh: interval_end / 10,
            export_wh: 5,
        };
        outbox
            .record_all(&[(signer.address(), reading)], |_, seq| {
                reading.sign(signer.address(), seq, signer, &domain)
            })
            .await
            .unwrap()
            .remove(0)
    }

    #[tokio::test]
    async fn seq_increases_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let signer = PrivateKeySigner::random();
        {
            let outbox = Outbox::open(&path).await.unwrap();
            assert_eq!(record(&outbox, &signer, 900).await.seq, 1);
            assert_eq!(record(&outbox, &signer, 1_800).await.seq, 2);
        }
        let outbox = Outbox::open(&path).await.unwrap();
        assert_eq!(
            outbox.last_reading(signer.address()).await.unwrap(),
            Some(IntervalReading {
                interval_end: 1_800,
                import_wh: 180,
                export_wh: 5
            })
        );
        assert_eq!(outbox.pending(10).await.unwrap().len(), 2);
        assert_eq!(record(&outbox, &signer, 2_700).await.seq, 3);
    }

    #[tokio::test]
    async fn the_chain_seq_is_never_reused() {
        let (_dir, outbox) = outbox().await;
        let signer = PrivateKeySigner::random();
        outbox.ensure_seq_above(signer.address(), 41).await.unwrap();
        assert_eq!(record(&outbox, &signer, 900).await.seq, 42);
        outbox.ensure_seq_above(signer.address(), 10).await.unwrap();
        assert_eq!(record(&outbox, &signer, 1_800).await.seq, 43);
    }

    /// Many meters' readings in one call, one meter twice: each gets its meter's next seq, in
    /// the order given, signed by its own key, and each meter's last reading is remembered.
    #[tokio::test]
    async fn readings_stored_together_take_their_meters_next_seqs_in_order() {
        let (_dir, outbox) = outbox().await;
        // More readings than are signed on one thread: the threads' results come back in order.
        let keys: Vec<PrivateKeySigner> = (0..40).map(|_| PrivateKeySigner::random()).collect();
        outbox.ensure_seq_above(keys[3].address(), 7).await.unwrap();
        let domain = reading_domain(1, Address::repeat_byte(9));
        let reading = |interval_end: u64, key: usize| IntervalReading {
            interval_end,
            import_wh: key as u64,
            export_wh: 0,
        };
        let mut readings: Vec<(Address, IntervalReading)> = keys
            .iter()
            .enumerate()
            .map(|(index, key)| (key.address(), reading(900, index)))
            .collect();
        readings.push((keys[3].address(), reading(1_800, 3)));
        let signed = outbox
            .record_all(&readings, |index, seq| {
                let (meter, reading) = readings[index];
                let key = keys.iter().find(|key| key.address() == meter).unwrap();
                reading.sign(meter, seq, key, &domain)
            })
            .await
            .unwrap();
        let stored: Vec<(Address, u32, u64)> = signed
            .iter()
            .map(|reading| (reading.meter, reading.seq, reading.interval_end))
            .collect();
        let mut expected: Vec<(Address, u32, u64)> = keys
            .iter()
            .enumerate()
            .map(|(index, key)| (key.address(), if index == 3 { 8 } else { 1 }, 900))
            .collect();
        expected.push((keys[3].address(), 9, 1_800));
        assert_eq!(stored, expected);
        assert!(
            signed
                .iter()
                .all(|reading| reading.signed_by_meter(&domain)),
            "each signed by its own meter's key"
        );
        assert_eq!(outbox.pending(100).await.unwrap().len(), 41);
        assert_eq!(
            outbox.last_reading(keys[3].address()).await.unwrap(),
            Some(reading(1_800, 3))
        );
        assert_eq!(record(&outbox, &keys[3], 2_700).await.seq, 10);
    }

    #[tokio::test]
    async fn readings_leave_only_when_final_and_come_back_after_a_reorg() {
        let (_dir, outbox) = outbox().await;
        let signer = PrivateKeySigner::random();
        let first = record(&outbox, &signer, 900).await;
        let second = record(&outbox, &signer, 1_800).await;
        let tx_a = IncludedTx {
            tx_hash: B256::repeat_byte(1),
            block_number: 10,
        };
        let tx_b = IncludedTx {
            tx_hash: B256::repeat_byte(2),
            block_number: 11,
        };
        outbox
            .mark_included(&[(first.meter, first.seq)], tx_a)
            .await
            .unwrap();
        outbox
            .mark_included(&[(second.meter, second.seq)], tx_b)
            .await
            .unwrap();
        assert!(outbox.pending(10).await.unwrap().is_empty());
        assert_eq!(
            outbox.included_transactions().await.unwrap(),
            vec![tx_a, tx_b]
        );

        assert_eq!(outbox.move_to_block(tx_a.tx_hash, 12).await.unwrap(), 1);
        let moved = IncludedTx {
            block_number: 12,
            ..tx_a
        };
        assert_eq!(
            outbox.included_transactions().await.unwrap(),
            vec![tx_b, moved]
        );
        assert_eq!(outbox.requeue(tx_b.tx_hash).await.unwrap(), 1);
        assert_eq!(outbox.pending(10).await.unwrap(), vec![second]);
        assert_eq!(outbox.remove_final(tx_a.tx_hash).await.unwrap(), 1);
        let counts = outbox.counts().await.unwrap();
        assert_eq!(
            counts,
            OutboxCounts {
                pending: 1,
                included: 0,
                rejected: 0
            }
        );
    }

    #[tokio::test]
    async fn a_rejected_reading_is_kept_but_no_longer_sent() {
        let (_dir, outbox) = outbox().await;
        let signer = PrivateKeySigner::random();
        let reading = record(&outbox, &signer, 900).await;
        outbox
            .mark_rejected(reading.meter, reading.seq, "TooOld")
            .await
            .unwrap();
        assert!(outbox.pending(10).await.unwrap().is_empty());
        assert_eq!(outbox.counts().await.unwrap().rejected, 1);
    }
}
