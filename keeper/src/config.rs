//! The keeper's TOML config (see `keeper.example.toml`). Types and shapes are checked as the file
//! is read, then the rules between values; either way a bad value is reported with its key path
//! (`settlement.gas_cap: ...`). Relative paths in the file resolve against the file's directory.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::transports::http::reqwest::Url;
use serde::Deserialize;

use cogrid_chain::{BrokenRule, KeyConfig, rule};

use crate::error::KeeperError;

/// Gas every transaction pays before it executes anything; a cap at or below it fits no fill.
const INTRINSIC_GAS: u64 = 21_000;
/// Geth, reth and anvil refuse a replacement transaction whose fees rise by less than 10 %.
const MIN_FEE_BUMP_PERCENT: u32 = 10;

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain and the deployment the keeper works on.
    pub chain: ChainConfig,
    /// The keeper's hot key; it must hold the keeper role.
    pub keeper: KeyConfig,
    /// Where indexed events and clearing results are kept.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The HTTP endpoint (`/health`, `/metrics`, `/intervals/{t}`, `/orders`).
    #[serde(default)]
    pub http: HttpConfig,
    /// How settlements are batched, sent and resent.
    #[serde(default)]
    pub settlement: SettlementConfig,
}

/// The chain and the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC URL (http or https) of the L2 node.
    #[serde(deserialize_with = "cogrid_chain::http_url")]
    pub rpc_url: Url,
    /// The chain the keeper settles on; it refuses a node that serves another one.
    pub chain_id: u64,
    /// The deployment file `cogrid deploy` wrote (`deployments/<chainId>.json`): the contract
    /// addresses and the block indexing starts from.
    pub deployment: PathBuf,
    /// Blocks that must be on top of a block before its events are indexed; a deeper reorg is
    /// still detected (a stored block hash no longer matches) and rewound.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// How often the node is asked for new blocks.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
}

/// The keeper's database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A `postgres://` (or `postgresql://`) URL, or the path of a SQLite file, optionally written
    /// `sqlite://PATH`; defaults to `keeper.sqlite` next to the config file.
    #[serde(default)]
    pub url: Database,
}

/// Which SQL backend the keeper indexes into; both share the same migrations.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Database {
    /// A SQLite file, created when missing: one keeper on one machine.
    Sqlite(PathBuf),
    /// A PostgreSQL server: a co-op running several keeper replicas over one database.
    Postgres(Url),
}

impl Default for Database {
    fn default() -> Self {
        Self::Sqlite(PathBuf::from("keeper.sqlite"))
    }
}

impl TryFrom<String> for Database {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            // The message leaves the URL out: it may hold a password.
            return Url::parse(&text)
                .map(Self::Postgres)
                .map_err(|error| format!("not a valid PostgreSQL URL: {error}"));
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(&text);
        if path.is_empty() {
            Err("expected a postgres:// URL or the path of a SQLite file, found nothing".into())
        } else if path == ":memory:" {
            Err("an in-memory SQLite database loses the index on every restart: give a file".into())
        } else if path.contains("://") {
            Err(format!(
                "`{text}`: expected a postgres:// URL or the path of a SQLite file"
            ))
        } else {
            Ok(Self::Sqlite(PathBuf::from(path)))
        }
    }
}

impl fmt::Debug for Database {
    /// Shows a PostgreSQL URL with its password masked, so that logging the config leaks nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    // Only fails for URLs that cannot hold a password, and this one holds one.
                    let _ = shown.set_password(Some("***"));
                }
                f.debug_tuple("Postgres").field(&shown.as_str()).finish()
            }
        }
    }
}

/// The HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address; loopback by default.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9102)),
        }
    }
}

/// How settlements are batched, sent and resent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettlementConfig {
    /// Gas one settlement transaction may use; a batch whose simulation needs more is split.
    /// Defaults to 16,777,216, the per-transaction cap of EIP-7825.
    pub gas_cap: u64,
    /// Fills per settlement transaction at most, before the gas cap splits further.
    pub batch_size: usize,
    /// How much both EIP-1559 fees rise, in percent, each time a stuck transaction is resent;
    /// at least 10, or nodes refuse the replacement.
    pub fee_bump_percent: u32,
    /// Time without a receipt after which a sent transaction counts as stuck and is resent with
    /// bumped fees under the same nonce.
    #[serde(with = "humantime_serde")]
    pub stuck_timeout: Duration,
    /// How long after an interval closes the keeper waits for late readings before it clears the
    /// interval without them; it clears earlier once every active meter has reported.
    #[serde(with = "humantime_serde")]
    pub readings_grace: Duration,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        Self {
            gas_cap: 16_777_216,
            batch_size: 500,
            fee_bump_percent: 12,
            stuck_timeout: Duration::from_secs(30),
            readings_grace: Duration::from_secs(60),
        }
    }
}

/// Reads the keeper config at `path`, checks it, and resolves its relative paths against the
/// file's directory.
pub fn load(path: &Path) -> Result<Config, KeeperError> {
    let mut config: Config = cogrid_chain::load_toml(path)?;
    config.check().map_err(|broken| broken.in_file(path))?;
    config.resolve_paths(path.parent().unwrap_or(Path::new("")));
    Ok(config)
}

impl Config {
    fn check(&self) -> Result<(), BrokenRule> {
        self.keeper.check("keeper")?;
        rule(
            !self.chain.poll_interval.is_zero(),
            || "chain.poll_interval".into(),
            || "must be longer than zero".into(),
        )?;
        let settlement = &self.settlement;
        rule(
            settlement.gas_cap > INTRINSIC_GAS,
            || "settlement.gas_cap".into(),
            || {
                format!(
                    "{} leaves no gas for a fill: every transaction spends {INTRINSIC_GAS} before \
                     it executes (the EIP-7825 cap is 16777216)",
                    settlement.gas_cap
                )
            },
        )?;
        rule(
            settlement.batch_size > 0,
            || "settlement.batch_size".into(),
            || "must be at least 1 fill".into(),
        )?;
        rule(
            settlement.fee_bump_percent >= MIN_FEE_BUMP_PERCENT,
            || "settlement.fee_bump_percent".into(),
            || {
                format!(
                    "{} is too small: nodes refuse a replacement transaction whose fees rise by \
                     less than {MIN_FEE_BUMP_PERCENT} %",
                    settlement.fee_bump_percent
                )
            },
        )?;
        rule(
            !settlement.stuck_timeout.is_zero(),
            || "settlement.stuck_timeout".into(),
            || "must be longer than zero".into(),
        )
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.chain.deployment = base.join(&self.chain.deployment);
        self.keeper.keystore = base.join(&self.keeper.keystore);
        if let Database::Sqlite(file) = &mut self.database.url {
            *file = base.join(&*file);
        }
    }
}

fn default_confirmations() -> u64 {
    2
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest config the keeper accepts.
    const MINIMAL: &str = r#"
[chain]
rpc_url = "https://l2.example.org/rpc"
chain_id = 10
deployment = "deployments/10.json"

[keeper]
keystore = "keys/keeper.json"
password_env = "COGRID_KEEPER_PASSWORD"
"#;

    /// Writes `text` as `keeper.toml` in a fresh directory and loads it.
    fn load_text(text: &str) -> (tempfile::TempDir, Result<Config, KeeperError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path);
        (dir, loaded)
    }

    /// Loads `text` and checks that it is refused with an error naming `key`.
    fn assert_refused(text: &str, key: &str) -> String {
        let (_dir, loaded) = load_text(text);
        let error = loaded
            .expect_err("the config should be refused")
            .to_string();
        assert!(error.contains(&format!("key `{key}`")), "{error}");
        error
    }

    fn with_settlement(lines: &str) -> String {
        format!("{MINIMAL}\n[settlement]\n{lines}\n")
    }

    #[test]
    fn the_example_parses_to_its_values() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = load(&dir.join("keeper.example.toml")).unwrap();
        assert_eq!(
            config,
            Config {
                chain: ChainConfig {
                    rpc_url: Url::parse("http://127.0.0.1:8545").unwrap(),
                    chain_id: 31337,
                    deployment: dir.join("deployments/31337.json"),
                    confirmations: 2,
                    poll_interval: Duration::from_secs(1),
                },
                keeper: KeyConfig {
                    keystore: dir.join("keys/keeper.json"),
                    password_env: "COGRID_KEEPER_PASSWORD".into(),
                },
                database: DatabaseConfig {
                    url: Database::Sqlite(dir.join("keeper.sqlite")),
                },
                http: HttpConfig {
                    listen: "127.0.0.1:9102".parse().unwrap(),
                },
                settlement: SettlementConfig {
                    gas_cap: 16_777_216,
                    batch_size: 500,
                    fee_bump_percent: 12,
                    stuck_timeout: Duration::from_secs(30),
                    readings_grace: Duration::from_secs(60),
                },
            }
        );
    }

    #[test]
    fn a_complete_config_parses_to_its_values() {
        let (dir, loaded) = load_text(
            r#"
[chain]
rpc_url = "https://l2.example.org/rpc"
chain_id = 10
deployment = "/etc/cogrid/deployments/10.json"
confirmations = 12
poll_interval = "500ms"

[keeper]
keystore = "keys/keeper.json"
password_env = "KEEPER_PW"

[database]
url = "postgres://keeper:s3cret@db.example.org:5433/cogrid"

[http]
listen = "0.0.0.0:8080"

[settlement]
gas_cap = 30_000_000
batch_size = 200
fee_bump_percent = 25
stuck_timeout = "2m"
readings_grace = "90s"
"#,
        );
        let config = loaded.unwrap();
        assert_eq!(
            config.chain,
            ChainConfig {
                rpc_url: Url::parse("https://l2.example.org/rpc").unwrap(),
                chain_id: 10,
                deployment: PathBuf::from("/etc/cogrid/deployments/10.json"),
                confirmations: 12,
                poll_interval: Duration::from_millis(500),
            }
        );
        assert_eq!(config.keeper.keystore, dir.path().join("keys/keeper.json"));
        assert_eq!(config.keeper.password_env, "KEEPER_PW");
        let Database::Postgres(url) = &config.database.url else {
            panic!("expected PostgreSQL, got {:?}", config.database.url);
        };
        assert_eq!(url.host_str(), Some("db.example.org"));
        assert_eq!(url.port(), Some(5433));
        assert_eq!(url.path(), "/cogrid");
        assert_eq!(config.http.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            config.settlement,
            SettlementConfig {
                gas_cap: 30_000_000,
                batch_size: 200,
                fee_bump_percent: 25,
                stuck_timeout: Duration::from_secs(120),
                readings_grace: Duration::from_secs(90),
            }
        );
    }

    #[test]
    fn left_out_keys_take_their_defaults() {
        let (dir, loaded) = load_text(MINIMAL);
        let config = loaded.unwrap();
        assert_eq!(config.chain.confirmations, 2);
        assert_eq!(config.chain.poll_interval, Duration::from_secs(1));
        assert_eq!(
            config.database.url,
            Database::Sqlite(dir.path().join("keeper.sqlite"))
        );
        assert!(config.http.listen.ip().is_loopback());
        assert_eq!(config.settlement.gas_cap, 16_777_216);
        assert_eq!(config.settlement, SettlementConfig::default());
    }

    #[test]
    fn sqlite_may_be_written_as_a_url() {
        for (written, file) in [
            ("sqlite://state/keeper.db", "state/keeper.db"),
            ("sqlite:keeper.db", "keeper.db"),
            (
                "sqlite:///var/lib/cogrid/keeper.db",
                "/var/lib/cogrid/keeper.db",
            ),
        ] {
            let (dir, loaded) = load_text(&format!("{MINIMAL}\n[database]\nurl = \"{written}\"\n"));
            assert_eq!(
                loaded.unwrap().database.url,
                Database::Sqlite(dir.path().join(file)),
                "{written}"
            );
        }
    }

    #[test]
    fn logging_the_config_hides_the_database_password() {
        let database =
            Database::try_from("postgresql://keeper:s3cret@db.example.org/cogrid".to_owned())
                .unwrap();
        let shown = format!("{database:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("keeper:***@db.example.org"), "{shown}");
    }

    #[test]
    fn another_database_scheme_is_refused() {
        let error = assert_refused(
            &format!("{MINIMAL}\n[database]\nurl = \"mysql://keeper@db/cogrid\"\n"),
            "database.url",
        );
        assert!(error.contains("postgres://"), "{error}");
    }

    #[test]
    fn an_in_memory_database_is_refused() {
        assert_refused(
            &format!("{MINIMAL}\n[database]\nurl = \"sqlite::memory:\"\n"),
            "database.url",
        );
    }

    #[test]
    fn an_empty_database_url_is_refused() {
        assert_refused(
            &format!("{MINIMAL}\n[database]\nurl = \"\"\n"),
            "database.url",
        );
    }

    #[test]
    fn a_broken_postgres_url_is_refused_without_echoing_it() {
        let error = assert_refused(
            &format!("{MINIMAL}\n[database]\nurl = \"postgres://keeper:s3cret@db:port/x\"\n"),
            "database.url",
        );
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn an_rpc_url_that_does_not_parse_is_refused() {
        assert_refused(
            &MINIMAL.replace("https://l2.example.org/rpc", "l2.example.org"),
            "chain.rpc_url",
        );
    }

    #[test]
    fn a_websocket_rpc_url_is_refused() {
        assert_refused(
            &MINIMAL.replace("https://l2.example.org/rpc", "wss://l2.example.org/rpc"),
            "chain.rpc_url",
        );
    }

    #[test]
    fn a_zero_poll_interval_is_refused() {
        assert_refused(
            &MINIMAL.replace("chain_id = 10", "chain_id = 10\npoll_interval = \"0s\""),
            "chain.poll_interval",
        );
    }

    #[test]
    fn an_empty_password_variable_is_refused() {
        assert_refused(
            &MINIMAL.replace("\"COGRID_KEEPER_PASSWORD\"", "\"\""),
            "keeper.password_env",
        );
    }

    #[test]
    fn a_gas_cap_without_room_for_a_fill_is_refused() {
        assert_refused(&with_settlement("gas_cap = 21_000"), "settlement.gas_cap");
        let (_dir, loaded) = load_text(&with_settlement("gas_cap = 21_001"));
        assert_eq!(loaded.unwrap().settlement.gas_cap, 21_001);
    }

    #[test]
    fn an_empty_batch_is_refused() {
        assert_refused(&with_settlement("batch_size = 0"), "settlement.batch_size");
    }

    #[test]
    fn a_fee_bump_nodes_would_refuse_is_refused() {
        assert_refused(
            &with_settlement("fee_bump_percent = 9"),
            "settlement.fee_bump_percent",
        );
    }

    #[test]
    fn a_zero_stuck_timeout_is_refused() {
        assert_refused(
            &with_settlement("stuck_timeout = \"0s\""),
            "settlement.stuck_timeout",
        );
    }

    #[test]
    fn a_bad_duration_names_its_key() {
        assert_refused(
            &with_settlement("readings_grace = \"a while\""),
            "settlement.readings_grace",
        );
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let error = assert_refused(
            &MINIMAL.replace(
                "password_env = \"COGRID_KEEPER_PASSWORD\"",
                "password = \"hunter2\"",
            ),
            "keeper.password",
        );
        assert!(error.contains("unknown field"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error = assert_refused(
            &with_settlement("gas_limit = 1_000_000"),
            "settlement.gas_limit",
        );
        assert!(error.contains("expected one of `gas_cap`"), "{error}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = load(Path::new("/nonexistent/keeper.toml")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/keeper.toml"),
            "{error}"
        );
    }
}
