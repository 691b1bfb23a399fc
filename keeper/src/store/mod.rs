//! The keeper's index: contract events in SQL, on SQLite (a file, the default) or PostgreSQL (one
//! database shared by a co-op's keeper replicas).
//!
//! Both backends run the same migrations (`keeper/migrations/`) and the same query text; each
//! query is written once and compiled for both pools. Numbers are BIGINT (a u64 above `i64::MAX`
//! is refused, not wrapped), addresses and hashes lowercase 0x-hex TEXT, and token amounts decimal
//! TEXT, since they can exceed 64 bits.
//!
//! Indexing is block by block: [`Store::apply_block`] writes a block and all its events in one
//! transaction, so a crash never leaves half a block, and [`Store::rewind_to`] undoes every block
//! above a number after a reorg. Event tables are append-only (current state is each key's latest
//! row), so a rewind restores exactly the state at that block. The keeper's own record of the
//! settlement transactions it sent ([`Store::record_attempt`]) is not derived from events and
//! survives rewinds.

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is: the body is
/// written once and compiled for each.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

mod attempts;
mod chain;
mod codec;
mod error;
mod migrate;
mod queries;
mod types;

use std::{fmt, path::Path, str::FromStr, time::Duration};

use alloy::transports::http::reqwest::Url;
use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

use crate::config::Database;

pub use error::StoreError;
pub use types::{
    AttemptStatus, BalanceChange, BalanceChangeKind, Event, IndexedBlock, IntervalStatus,
    LiveOrder, LogPosition, LoggedEvent, Meter, MeterSettlement, MeterVolume, Participant,
    SettlementAttempt, SettlementBatch,
};

/// Connections per keeper: the indexer, the clearing and the HTTP endpoint.
const MAX_CONNECTIONS: u32 = 4;
/// How long a query waits for a free connection (or for the server to answer a new one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SQLite waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The keeper's index; cheap to clone (clones share the connection pool).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// Connects to `database` (creating a missing SQLite file) and brings its schema up to date.
    pub async fn open(database: &Database) -> Result<Self, StoreError> {
        let store = match database {
            Database::Sqlite(path) => Self::open_sqlite(path).await?,
            Database::Postgres(url) => Self::open_postgres(url).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let failed = |source| StoreError::SqliteOpen {
            path: path.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // Readers (the HTTP endpoint) never wait for the indexer, nor it for them.
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    async fn open_postgres(url: &Url) -> Result<Self, StoreError> {
        let failed = |source| StoreError::PostgresConnect {
            url: masked(url),
            source,
        };
        let options = PgConnectOptions::from_str(url.as_str()).map_err(failed)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }

    /// Waits for queries in flight and closes every connection; for a clean shutdown.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

    fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }
}

impl fmt::Debug for Store {
    /// Names the backend only: connect options hold the database password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// `url` with its password masked, fit for messages and logs.
fn masked(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Only fails for URLs that cannot hold a password, and this one holds one.
        let _ = shown.set_password(Some("***"));
    }
    shown.into()
}
