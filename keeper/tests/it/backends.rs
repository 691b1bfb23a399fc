//! A fresh, private database per test on each backend: a SQLite file in a temporary directory, or
//! a uniquely named PostgreSQL schema (the store's tables land in it through `search_path`), so
//! tests run in parallel and again.

use std::{
    path::PathBuf,
    process,
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::transports::http::reqwest::Url;
use cogrid_keeper::{config::Database, store::Store};
use sqlx::{Connection, PgConnection, SqliteConnection};

const POSTGRES_URL_VAR: &str = "COGRID_TEST_POSTGRES_URL";

/// Runs each named `async fn(TestDb)` once per backend, as `<name>::sqlite` and
/// `<name>::postgres`.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test(crate::backends::TestDb::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$test(crate::backends::TestDb::postgres().await).await;
            }
        }
    )+};
}
pub(crate) use on_both_backends;

/// A private database for one test.
pub(crate) struct TestDb {
    /// What the keeper config would say.
    pub(crate) database: Database,
    /// Keeps the SQLite file's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server URL and the test's schema on it.
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file, not created yet.
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = Database::Sqlite(dir.path().join("keeper.sqlite"));
        Self {
            database,
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A new empty schema on the server named by `COGRID_TEST_POSTGRES_URL`.
    pub(crate) async fn postgres() -> Self {
        let server = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "set {POSTGRES_URL_VAR} (for example \
                 postgres://cogrid:cogrid@127.0.0.1:5432/cogrid_test) or run `make test`, which \
                 installs and starts PostgreSQL"
            )
        });
        let schema = unique_schema();
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|error| panic!("{POSTGRES_URL_VAR}: cannot connect: {error}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.expect("close");
        let mut url = Url::parse(&server).expect("a valid URL");
        url.query_pairs_mut()
            .append_pair("options[search_path]", &schema);
        Self {
            database: Database::Postgres(url),
            _dir: None,
            schema: Some((server, schema)),
        }
    }

    /// Opens the store, migrating as needed.
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.database).await.expect("open the store")
    }

    /// The SQLite file; `None` on PostgreSQL.
    pub(crate) fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.database {
            Database::Sqlite(path) => Some(path.clone()),
            Database::Postgres(_) => None,
        }
    }

    /// Runs `sql` outside the store, as another program editing the database would.
    pub(crate) async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.database {
            Database::Sqlite(path) => {
                let url = format!("sqlite://{}", path.display());
                let mut connection = SqliteConnection::connect(&url).await.expect("connect");
                sqlx::raw_sql(sql)
                    .execute(&mut connection)
                    .await
                    .expect("execute");
            }
            Database::Postgres(url) => {
                let mut connection = PgConnection::connect(url.as_str()).await.expect("connect");
                sqlx::raw_sql(sql)
                    .execute(&mut connection)
                    .await
                    .expect("execute");
            }
        }
    }

    /// Reads one integer outside the store.
    pub(crate) async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.database {
            Database::Sqlite(path) => {
                let url = format!("sqlite://{}", path.display());
                let mut connection = SqliteConnection::connect(&url).await.expect("connect");
                sqlx::query_scalar(sql)
                    .fetch_one(&mut connection)
                    .await
                    .expect("query")
            }
            Database::Postgres(url) => {
                let mut connection = PgConnection::connect(url.as_str()).await.expect("connect");
                sqlx::query_scalar(sql)
                    .fetch_one(&mut connection)
                    .await
                    .expect("query")
            }
        }
    }

    /// Drops the test's schema (a SQLite directory goes with `self`); a failed test leaves its
    /// schema behind for a look.
    pub(crate) async fn finish(self, store: Store) {
        store.close().await;
        if let Some((server, schema)) = &self.schema {
            let mut admin = PgConnection::connect(server).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .expect("drop the test schema");
        }
    }
}

/// A schema name no other test, run or machine sharing the server picks at the same time.
fn unique_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    format!(
        "keeper_it_{}_{}_{}_{}",
        now.as_secs(),
        now.subsec_micros(),
        process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
