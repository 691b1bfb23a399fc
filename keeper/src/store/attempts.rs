//! The keeper's own record of the settlement transactions it sent. It is not derived from events,
//! so rewinds leave it alone: after a restart or a reorg the keeper still knows what it sent.

use alloy::primitives::B256;

use super::{
    AttemptStatus, SettlementAttempt, Store, StoreError,
    codec::{self, Columns, Value, bind_all, int},
};

const RECORD: &str = "
INSERT INTO settlement_attempts (tx_hash, interval_index, nonce, sent_at, status)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tx_hash) DO NOTHING";

const FOR_INTERVAL: &str = "
SELECT tx_hash, interval_index, nonce, sent_at, status
FROM settlement_attempts
WHERE interval_index = $1
ORDER BY sent_at, nonce, tx_hash";

const MARK: &str = "UPDATE settlement_attempts SET status = $1 WHERE tx_hash = $2";

impl Store {
    /// Records a sent settlement transaction. Recording the same transaction again changes
    /// nothing: a hash names one signed transaction.
    pub async fn record_attempt(&self, attempt: &SettlementAttempt) -> Result<(), StoreError> {
        let args = vec![
            codec::hash(attempt.tx_hash),
            Value::Int(int("interval", attempt.interval)?),
            Value::Int(int("nonce", attempt.nonce)?),
            Value::Int(int("sent at", attempt.sent_at)?),
            Value::Text(attempt.status.as_str().to_owned()),
        ];
        with_pool!(self, |pool| {
            bind_all(sqlx::query(RECORD), args).execute(pool).await?;
        });
        Ok(())
    }

    /// The transactions sent to settle `interval`, oldest first.
    pub async fn attempts_for(&self, interval: u64) -> Result<Vec<SettlementAttempt>, StoreError> {
        let key = int("interval", interval)?;
        with_pool!(self, |pool| {
            sqlx::query(FOR_INTERVAL)
                .bind(key)
                .fetch_all(pool)
                .await?
                .iter()
                .map(attempt)
                .collect()
        })
    }

    /// Sets what became of the transaction `tx_hash`.
    pub async fn mark_attempt(
        &self,
        tx_hash: B256,
        status: AttemptStatus,
    ) -> Result<(), StoreError> {
        let args = vec![
            Value::Text(status.as_str().to_owned()),
            codec::hash(tx_hash),
        ];
        let updated = with_pool!(self, |pool| {
            bind_all(sqlx::query(MARK), args)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::UnknownAttempt { tx_hash });
        }
        Ok(())
    }
}

fn attempt(row: &impl Columns) -> Result<SettlementAttempt, StoreError> {
    let status = row.text("status")?;
    Ok(SettlementAttempt {
        interval: row.unsigned("interval_index")?,
        tx_hash: row.hash("tx_hash")?,
        nonce: row.unsigned("nonce")?,
        sent_at: row.unsigned("sent_at")?,
        status: AttemptStatus::from_name(&status).ok_or(StoreError::Corrupt {
            column: "settlement_attempts.status",
            value: status,
        })?,
    })
}
