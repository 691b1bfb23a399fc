//! Schema migrations: SQL files under `keeper/migrations/`, the same for both backends, applied in
//! order in one transaction and recorded in `schema_version`.

use super::{Backend, Store, StoreError, codec::int};

/// A schema change.
#[derive(Debug)]
pub(super) struct Migration {
    pub(super) version: u64,
    pub(super) name: &'static str,
    pub(super) sql: &'static str,
}

/// Every migration, oldest first; versions count up from 1. Never edit a released one: add the
/// next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_index.sql",
        sql: include_str!("../../migrations/0001_index.sql"),
    },
    Migration {
        version: 2,
        name: "0002_settlement_position_index.sql",
        sql: include_str!("../../migrations/0002_settlement_position_index.sql"),
    },
];

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL
)";

/// Keepers of one co-op migrating one PostgreSQL database at once take turns on this lock (an
/// arbitrary key), held until their transaction ends. A SQLite file has a single writer anyway.
const POSTGRES_LOCK: &str = "SELECT pg_advisory_xact_lock(7163840214)";

/// The migrations a database at `current` still needs.
fn pending(current: Option<i64>) -> Result<&'static [Migration], StoreError> {
    let applied = version(current)?;
    let known = MIGRATIONS.len() as u64;
    if applied > known {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            known,
        });
    }
    // At most MIGRATIONS.len(), so it fits a usize.
    Ok(&MIGRATIONS[applied as usize..])
}

/// The recorded schema version; 0 before the first migration.
fn version(recorded: Option<i64>) -> Result<u64, StoreError> {
    recorded.map_or(Ok(0), |version| {
        u64::try_from(version).map_err(|_| StoreError::Corrupt {
            column: "schema_version.version",
            value: version.to_string(),
        })
    })
}

impl Store {
    /// Brings the schema up to date.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let lock = match self.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(POSTGRES_LOCK),
        };
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if let Some(lock) = lock {
                sqlx::raw_sql(lock).execute(&mut *tx).await?;
            }
            sqlx::raw_sql(VERSION_TABLE).execute(&mut *tx).await?;
            let current: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
                    .fetch_one(&mut *tx)
                    .await?;
            for migration in pending(current)? {
                let failed = |source| StoreError::Migration {
                    version: migration.version,
                    name: migration.name,
                    source,
                };
                sqlx::raw_sql(migration.sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                sqlx::query("INSERT INTO schema_version (version, name) VALUES ($1, $2)")
                    .bind(int("schema version", migration.version)?)
                    .bind(migration.name)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The schema version of the database: the newest migration applied.
    pub async fn schema_version(&self) -> Result<u64, StoreError> {
        let recorded: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
                .fetch_one(pool)
                .await?
        });
        version(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as u64 + 1, "{}", migration.name);
            assert!(
                migration
                    .name
                    .starts_with(&format!("{:04}_", migration.version)),
                "{}",
                migration.name
            );
        }
    }

    #[test]
    fn a_fresh_database_needs_every_migration_and_a_current_one_none() {
        assert_eq!(pending(None).unwrap().len(), MIGRATIONS.len());
        assert!(pending(Some(MIGRATIONS.len() as i64)).unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let newer = MIGRATIONS.len() as i64 + 1;
        assert!(matches!(
            pending(Some(newer)),
            Err(StoreError::SchemaTooNew { found, .. }) if found == newer as u64
        ));
    }
}
