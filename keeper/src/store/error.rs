//! Errors of the keeper's store.

use std::path::PathBuf;

use alloy::primitives::B256;

/// Errors of the keeper's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite file could not be opened or created.
    #[error(
        "cannot open the SQLite database {}: {source}; check that its directory exists and the \
         keeper may write there, or point `database.url` in the keeper config elsewhere",
        path.display()
    )]
    SqliteOpen {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        source: sqlx::Error,
    },
    /// The PostgreSQL server could not be reached or refused the keeper.
    #[error(
        "cannot connect to the PostgreSQL database {url}: {source}; check that the server is \
         running and reachable there, and that the role, password and database named in \
         `database.url` of the keeper config exist"
    )]
    PostgresConnect {
        /// The database URL, its password masked.
        url: String,
        /// What the driver reported.
        source: sqlx::Error,
    },
    /// A schema migration failed; its transaction was rolled back, so the schema is as before.
    #[error("schema migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version.
        version: u64,
        /// The migration's file name.
        name: &'static str,
        /// What the database reported.
        source: sqlx::Error,
    },
    /// The database was migrated by a newer keeper, whose tables this one may misread.
    #[error(
        "the database schema is at version {found}, newer than this keeper knows ({known}): \
         upgrade the keeper"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: u64,
        /// The newest version this keeper knows.
        known: u64,
    },
    /// A query failed.
    #[error("keeper database: {0}")]
    Database(#[from] sqlx::Error),
    /// A number does not fit the database's signed 64-bit integers.
    #[error("{field} = {value} does not fit a signed 64-bit database integer")]
    OutOfRange {
        /// What the number is.
        field: &'static str,
        /// The number.
        value: u64,
    },
    /// The end of interval `interval` does not fit in a u64.
    #[error("interval {interval} of {interval_seconds} s ends after the last representable time")]
    IntervalOverflow {
        /// The interval.
        interval: u64,
        /// The interval length.
        interval_seconds: u64,
    },
    /// A stored value is not what the keeper writes there: the database was edited by hand or by
    /// another program.
    #[error("column {column} holds `{value}`, which this keeper never writes there")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
    },
    /// A block at or below the last indexed one was applied; rewind first to replace blocks.
    #[error("block {number} is not above the last indexed block {tip}")]
    BlockNotAfterTip {
        /// The block applied.
        number: u64,
        /// The last indexed block.
        tip: u64,
    },
    /// A block's parent is not the indexed block below it: the chain reorganised, so the index
    /// must be rewound below the fork.
    #[error(
        "block {number} has parent {parent_hash}, but the indexed block {} is {indexed}: the chain \
         reorganised; rewind below the fork",
        number - 1
    )]
    ParentMismatch {
        /// The block applied.
        number: u64,
        /// Its parent hash.
        parent_hash: B256,
        /// The hash indexed for the block below it.
        indexed: B256,
    },
    /// A block's events are not in strictly increasing log order.
    #[error("block {number}: log {log_index} follows log {previous}; events must be in log order")]
    LogsOutOfOrder {
        /// The block.
        number: u64,
        /// The log out of place.
        log_index: u64,
        /// The log before it.
        previous: u64,
    },
    /// No settlement attempt was recorded for this transaction.
    #[error("no settlement attempt was recorded for transaction {tx_hash}")]
    UnknownAttempt {
        /// The transaction hash.
        tx_hash: B256,
    },
}
