//! The meter signer's TOML config. Every key is checked when the file loads, and a bad value is
//! reported with its key path (`meters[0].source.address: ...`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::primitives::Address;
use cogrid_chain::{BrokenRule, KeyConfig, rule};
use serde::Deserialize;

use crate::error::SignerError;

/// Reads the config at `path` and checks the rules between its values.
pub fn load(path: &Path) -> Result<Config, SignerError> {
    let config: Config = cogrid_chain::load_toml(path)?;
    config.check().map_err(|broken| broken.in_file(path))?;
    Ok(config)
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where readings go.
    pub chain: ChainConfig,
    /// The key that pays for the transactions; defaults to the first meter's key.
    pub relayer: Option<KeyConfig>,
    /// The store-and-forward database.
    pub outbox: OutboxConfig,
    /// Batching and retries.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The HTTP endpoint (`/health`, `/metrics`, `POST /readings`).
    #[serde(default)]
    pub http: HttpConfig,
    /// The meters this gateway reads and signs for.
    pub meters: Vec<MeterConfig>,
}

impl Config {
    /// The rules serde cannot express; each broken one names its key.
    pub fn check(&self) -> Result<(), BrokenRule> {
        let chain = &self.chain;
        rule(
            chain.interval_seconds > 0,
            || "chain.interval_seconds".into(),
            || "must be positive (900 for 15-minute intervals)".into(),
        )?;
        rule(
            chain.confirmations > 0,
            || "chain.confirmations".into(),
            || {
                "must be at least 1: the block that includes a transaction is its first confirmation".into()
            },
        )?;
        rule(
            self.delivery.batch_size > 0,
            || "delivery.batch_size".into(),
            || "must be at least 1 reading per transaction".into(),
        )?;
        rule(
            self.delivery.gas_per_reading >= MIN_GAS_PER_READING,
            || "delivery.gas_per_reading".into(),
            || {
                format!(
                    "must be at least {MIN_GAS_PER_READING} (a reading's calldata alone costs about \
                     9,000 gas; 30000 covers a whole reading with room to spare)"
                )
            },
        )?;
        rule(
            !self.meters.is_empty(),
            || "meters".into(),
            || "no [[meters]]: nothing to sign for".into(),
        )?;
        if let Some(relayer) = &self.relayer {
            relayer.check("relayer")?;
        }
        for (index, meter) in self.meters.iter().enumerate() {
            meter.key.check(&format!("meters[{index}]"))?;
            if let SourceConfig::Simulated(simulated) = &meter.source {
                simulated.check(&format!("meters[{index}].source"))?;
            }
        }
        Ok(())
    }
}

impl SimulatedSource {
    fn check(&self, at: &str) -> Result<(), BrokenRule> {
        rule(
            self.start.is_multiple_of(1_800),
            || format!("{at}.start"),
            || {
                format!(
                    "{} is not on a half hour (a multiple of 1800), where the data's slots start",
                    self.start
                )
            },
        )?;
        rule(
            self.end.is_none_or(|end| end > self.start),
            || format!("{at}.end"),
            || "must be after start".into(),
        )?;
        rule(
            self.speed.is_finite() && self.speed >= 0.0,
            || format!("{at}.speed"),
            || "must be 0 (as fast as possible) or a positive factor".into(),
        )?;
        rule(
            self.sample_seconds > 0,
            || format!("{at}.sample_seconds"),
            || "must be positive".into(),
        )?;
        rule(
            self.pv_kwp.is_finite() && self.pv_kwp >= 0.0,
            || format!("{at}.pv_kwp"),
            || "must be 0 or more kWp".into(),
        )?;
        rule(
            self.load_factor.is_finite() && self.load_factor >= 0.0,
            || format!("{at}.load_factor"),
            || "must be 0 or more".into(),
        )
    }
}

/// The chain and the registry contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC URL of the L2 node.
    pub rpc_url: String,
    /// The chain readings are signed for (part of the EIP-712 domain); the signer refuses a
    /// node that serves another one.
    pub chain_id: u64,
    /// The EnergyMarket contract, which is also the meter registry readings go to.
    pub registry: Address,
    /// Confirmations after which a counted reading leaves the outbox.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// Length of a trading interval; checked against the registry when the chain is reachable.
    #[serde(default = "default_interval_seconds")]
    pub interval_seconds: u64,
}

/// The outbox database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// SQLite file.
    pub path: PathBuf,
}

/// The least `delivery.gas_per_reading` accepted: below a reading's calldata cost the node
/// refuses the transaction before it runs, so the sender would never learn to estimate.
pub const MIN_GAS_PER_READING: u64 = 10_000;

/// How readings are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Readings per transaction.
    pub batch_size: usize,
    /// How often the outbox is looked at when nothing wakes the sender.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// First wait after a failed send; doubles up to `max_backoff`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest wait between retries.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How long to wait for a receipt before sending again.
    #[serde(with = "humantime_serde")]
    pub receipt_timeout: Duration,
    /// Gas a batch is sent with per reading (plus a fixed amount for the transaction), instead
    /// of asking the node for an estimate. A counted reading costs about 20,000 gas (`make
    /// bench-gas`); a batch that runs out makes the sender ask the node from then on.
    pub gas_per_reading: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch_size: 50,
            poll_interval: Duration::from_secs(5),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            receipt_timeout: Duration::from_secs(120),
            gas_per_reading: 30_000,
        }
    }
}

/// The HTTP endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address; loopback by default.
    pub listen: SocketAddr,
    /// Smallest time between two pushes for one meter; faster pushes get 429.
    #[serde(with = "humantime_serde")]
    pub push_min_interval: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9101)),
            push_min_interval: Duration::from_secs(1),
        }
    }
}

/// One meter: its key and where its registers come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// The meter's signing key.
    #[serde(flatten)]
    pub key: KeyConfig,
    /// Where the registers are read.
    pub source: SourceConfig,
}

/// Where a meter's registers come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
pub enum SourceConfig {
    /// A DSMR P1 port exposed over TCP (ser2net, ESP gateways).
    P1Tcp {
        /// `host:port`.
        address: String,
        /// Time until a silent connection is dropped and reopened.
        #[serde(default = "default_p1_timeout", with = "humantime_serde")]
        read_timeout: Duration,
    },
    /// A DSMR P1 port on a local serial device.
    P1Serial {
        /// e.g. `/dev/ttyUSB0`.
        device: PathBuf,
        /// 115200 for DSMR 4/5, 9600 for DSMR 2.2/3.
        #[serde(default = "default_baud")]
        baud: u32,
    },
    /// Registers pushed by a gateway to `POST /readings`.
    Push,
    /// A meter simulated from a real household's load and PV shapes.
    Simulated(SimulatedSource),
}

/// Settings of a simulated meter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedSource {
    /// Half-hourly `timestamp,GC,GG` CSV (kW).
    pub profile: PathBuf,
    /// PV peak power, kWp.
    pub pv_kwp: f64,
    /// Multiplies the reference household load.
    #[serde(default = "one")]
    pub load_factor: f64,
    /// Shifts the shapes by whole half hours.
    #[serde(default)]
    pub shift_half_hours: u32,
    /// Day of the data year to start on.
    #[serde(default)]
    pub start_day: u32,
    /// Unix time the simulated meter starts at (a multiple of 1,800).
    pub start: u64,
    /// Stop after this unix time (a replay); runs on forever when absent.
    pub end: Option<u64>,
    /// Simulated seconds per wall-clock second; 0 runs as fast as the pipeline takes it.
    #[serde(default = "one")]
    pub speed: f64,
    /// Simulated seconds between two register samples (a DSMR 4 meter sends every 10 s).
    #[serde(default = "default_sample_seconds")]
    pub sample_seconds: u64,
}

fn default_confirmations() -> u64 {
    2
}
fn default_interval_seconds() -> u64 {
    900
}
fn default_p1_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_baud() -> u32 {
    115_200
}
fn one() -> f64 {
    1.0
}
fn default_sample_seconds() -> u64 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra_delivery: &str, source: &str) -> String {
        format!(
            r#"
[chain]
rpc_url = "http://127.0.0.1:8545"
chain_id = 10
registry = "0x0000000000000000000000000000000000000001"
[outbox]
path = "outbox.db"
[delivery]
{extra_delivery}
[[meters]]
keystore = "meter.json"
password_env = "COGRID_METER_PASSWORD"
[meters.source]
{source}
"#
        )
    }

    fn load_text(text: &str) -> Result<Config, SignerError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter-signer.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    const SIMULATED: &str = "kind = \"simulated\"\nprofile = \"p.csv\"\npv_kwp = 4.0\nstart = 1800";

    #[test]
    fn a_good_config_loads() {
        let loaded = load_text(&config("batch_size = 10", SIMULATED)).unwrap();
        assert_eq!(loaded.delivery.batch_size, 10);
        assert_eq!(loaded.chain.confirmations, 2);
        assert!(matches!(
            loaded.meters[0].source,
            SourceConfig::Simulated(_)
        ));
    }

    #[test]
    fn each_rule_names_its_key() {
        let cases = [
            (
                config("batch_size = 0", "kind = \"push\""),
                "delivery.batch_size",
            ),
            (
                config("gas_per_reading = 9999", "kind = \"push\""),
                "delivery.gas_per_reading",
            ),
            (
                config(
                    "",
                    "kind = \"simulated\"\nprofile = \"p.csv\"\npv_kwp = 4.0\nstart = 1000",
                ),
                "meters[0].source.start",
            ),
            (
                config(
                    "",
                    "kind = \"simulated\"\nprofile = \"p.csv\"\npv_kwp = -1.0\nstart = 1800",
                ),
                "meters[0].source.pv_kwp",
            ),
            (
                config("", &format!("{SIMULATED}\nend = 1800")),
                "meters[0].source.end",
            ),
            (
                config("", "kind = \"push\"")
                    .replace("chain_id = 10", "chain_id = 10\nconfirmations = 0"),
                "chain.confirmations",
            ),
            (
                config("", "kind = \"push\"")
                    .replace("chain_id = 10", "chain_id = 10\ninterval_seconds = 0"),
                "chain.interval_seconds",
            ),
            (
                config("", "kind = \"push\"").replace("COGRID_METER_PASSWORD", "A=B"),
                "meters[0].password_env",
            ),
        ];
        for (text, key) in cases {
            let error = load_text(&text).unwrap_err().to_string();
            assert!(error.contains(&format!("key `{key}`")), "{key}: {error}");
        }
    }
}
