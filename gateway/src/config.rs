//! The gateway's TOML config (see `vpp-gateway.example.toml`). Types and shapes are checked as the
//! file is read, then the rules between values; either way a bad value is reported with its key
//! path (`policy.reserve_percent: ...`). Relative paths resolve against the file's directory.

use std::{
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{primitives::Address, transports::http::reqwest::Url};
use cogrid_chain::{BrokenRule, KeyConfig, rule};
use serde::{
    Deserialize, Deserializer,
    de::{self, Visitor},
};

use crate::{
    battery::{BatteryParams, NormalMode},
    error::GatewayError,
    policy::{BASE_UNITS_PER_USD, Policy},
};

/// Reads the config at `path`, checks the rules between its values and resolves its relative
/// paths against its directory.
pub fn load(path: &Path) -> Result<Config, GatewayError> {
    let mut config: Config = cogrid_chain::load_toml(path)?;
    config.check().map_err(|broken| broken.in_file(path))?;
    let base = path.parent().unwrap_or(Path::new(""));
    config.chain.deployment = base.join(&config.chain.deployment);
    config.owner.keystore = base.join(&config.owner.keystore);
    Ok(config)
}

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain and the deployment.
    pub chain: ChainConfig,
    /// The battery's meter.
    pub meter: MeterConfig,
    /// The meter owner's key: enrolments must come from it.
    pub owner: KeyConfig,
    /// What the owner accepts.
    pub policy: PolicyConfig,
    /// The simulated battery the gateway drives.
    pub battery: BatteryConfig,
}

impl Config {
    /// The rules serde cannot express; each broken one names its key.
    pub fn check(&self) -> Result<(), BrokenRule> {
        self.owner.check("owner")?;
        rule(
            !self.chain.poll_interval.is_zero(),
            || "chain.poll_interval".into(),
            || "must be longer than zero (\"15s\" suits 15-minute intervals)".into(),
        )?;
        rule(
            self.chain.max_block_range > 0,
            || "chain.max_block_range".into(),
            || "must be at least 1 block per eth_getLogs".into(),
        )?;
        rule(
            self.policy.reserve_percent <= 100,
            || "policy.reserve_percent".into(),
            || {
                format!(
                    "{} is not a percentage of the capacity: use 0 to 100",
                    self.policy.reserve_percent
                )
            },
        )?;
        let battery = &self.battery;
        rule(
            battery.capacity_wh > 0,
            || "battery.capacity_wh".into(),
            || "must be positive".into(),
        )?;
        rule(
            battery.stored_wh <= battery.capacity_wh,
            || "battery.stored_wh".into(),
            || {
                format!(
                    "{} Wh is more than the capacity ({} Wh)",
                    battery.stored_wh, battery.capacity_wh
                )
            },
        )?;
        rule(
            battery.round_trip_efficiency > 0.0 && battery.round_trip_efficiency <= 1.0,
            || "battery.round_trip_efficiency".into(),
            || "must be in (0, 1], e.g. 0.9 for 90 %".into(),
        )?;
        rule(
            battery.normal_charge_to_percent.is_none_or(|p| p <= 100),
            || "battery.normal_charge_to_percent".into(),
            || "must be 0 to 100, or left out for a battery that holds its charge".into(),
        )
    }
}

/// The chain and the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC URL (http or https) of the L2 node.
    #[serde(deserialize_with = "cogrid_chain::http_url")]
    pub rpc_url: Url,
    /// The deployment file `cogrid deploy` wrote (`deployments/<chainId>.json`): the contracts,
    /// the chain id the node must serve, and the block event reading starts from.
    pub deployment: PathBuf,
    /// Read events from this block instead of the deployment's block (a long-lived chain).
    #[serde(default)]
    pub start_block: Option<u64>,
    /// Blocks on top of a block before its events are read.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// Most blocks per `eth_getLogs` (public RPC endpoints cap it).
    #[serde(default = "default_max_block_range")]
    pub max_block_range: u64,
    /// How often the node is asked for new events and the time.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
}

/// The battery's meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// The meter's address (its signing key's), as registered by the co-op.
    pub address: Address,
}

/// What the owner accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The lowest price per kWh delivered: an integer of stablecoin base units (6 decimals:
    /// `250000`), or a decimal in US dollars as a string (`"0.25"`).
    pub min_price_per_kwh: PricePerKwh,
    /// The most watts lent to one event.
    pub max_w: u32,
    /// Percent of the capacity that must stay stored.
    pub reserve_percent: u8,
}

impl PolicyConfig {
    /// The policy the decision takes.
    pub fn policy(&self) -> Policy {
        Policy {
            min_price_per_kwh: self.min_price_per_kwh.0,
            max_w: self.max_w,
            reserve_percent: self.reserve_percent,
        }
    }
}

/// The simulated battery.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatteryConfig {
    /// Usable capacity, Wh.
    pub capacity_wh: u64,
    /// Energy stored when the gateway starts, Wh.
    pub stored_wh: u64,
    /// Most charging power, W.
    pub max_charge_w: u32,
    /// Most discharging power, W.
    pub max_discharge_w: u32,
    /// AC out per AC in over a cycle.
    #[serde(default = "default_efficiency")]
    pub round_trip_efficiency: f64,
    /// In normal mode, charge up to this percent of the capacity; left out, the battery holds its
    /// charge.
    #[serde(default)]
    pub normal_charge_to_percent: Option<u8>,
}

impl BatteryConfig {
    /// The simulated battery's parameters.
    pub fn params(&self) -> BatteryParams {
        BatteryParams {
            capacity_wh: self.capacity_wh,
            stored_wh: self.stored_wh,
            max_charge_w: self.max_charge_w,
            max_discharge_w: self.max_discharge_w,
            round_trip_efficiency: self.round_trip_efficiency,
            normal: self
                .normal_charge_to_percent
                .map_or(NormalMode::Hold, |percent| NormalMode::ChargeTo { percent }),
        }
    }
}

/// A price per kWh in stablecoin base units, written in the config as an integer of base units or
/// a decimal US-dollar string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricePerKwh(pub u64);

impl PricePerKwh {
    /// Parses a decimal US-dollar amount (`"0.25"`, `"1"`, `"0.000001"`) into base units; at most
    /// 6 decimals, since the stablecoin has no smaller unit.
    pub fn from_usd(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
            return Err(format!(
                "`{text}` is not a US-dollar amount: write it like \"0.25\""
            ));
        }
        if fraction.len() > 6 {
            return Err(format!(
                "`{text}` has more than 6 decimals: the stablecoin's smallest unit is 0.000001"
            ));
        }
        let too_large = || format!("`{text}` is too large");
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let fraction: u64 = format!("{fraction:0<6}").parse().expect("six digits");
        whole
            .checked_mul(BASE_UNITS_PER_USD)
            .and_then(|units| units.checked_add(fraction))
            .map(Self)
            .ok_or_else(too_large)
    }
}

impl fmt::Display for PricePerKwh {
    /// Formats as US dollars with six decimals, the form [`PricePerKwh::from_usd`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0 / BASE_UNITS_PER_USD,
            self.0 % BASE_UNITS_PER_USD
        )
    }
}

impl<'de> Deserialize<'de> for PricePerKwh {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PriceVisitor;

        impl Visitor<'_> for PriceVisitor {
            type Value = PricePerKwh;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an integer of stablecoin base units (250000) or a US-dollar string (\"0.25\")",
                )
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<PricePerKwh, E> {
                Ok(PricePerKwh(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<PricePerKwh, E> {
                u64::try_from(value)
                    .map(PricePerKwh)
                    .map_err(|_| E::custom(format!("{value} is negative: a price is 0 or more")))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<PricePerKwh, E> {
                // A float is refused rather than rounded: 0.1 has no exact binary value.
                Err(E::custom(format!(
                    "{value} is a float: write US dollars as a string (\"{value}\") or base \
                     units as an integer"
                )))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<PricePerKwh, E> {
                PricePerKwh::from_usd(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(PriceVisitor)
    }
}

fn default_confirmations() -> u64 {
    2
}
fn default_max_block_range() -> u64 {
    2_000
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(15)
}
fn default_efficiency() -> f64 {
    0.9
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const GOOD: &str = r#"
[chain]
rpc_url = "http://127.0.0.1:8545"
deployment = "deployments/31337.json"

[meter]
address = "0x0000000000000000000000000000000000000001"

[owner]
keystore = "keys/owner.json"
password_env = "COGRID_OWNER_PASSWORD"

[policy]
min_price_per_kwh = "0.25"
max_w = 4000
reserve_percent = 20

[battery]
capacity_wh = 13500
stored_wh = 10000
max_charge_w = 5000
max_discharge_w = 5000
"#;

    fn load_text(text: &str) -> Result<Config, GatewayError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vpp-gateway.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn a_good_config_loads_with_defaults_and_resolved_paths() {
        let config = load_text(GOOD).unwrap();
        assert_eq!(config.policy.policy().min_price_per_kwh, 250_000);
        assert_eq!(config.chain.confirmations, 2);
        assert_eq!(config.chain.poll_interval, Duration::from_secs(15));
        assert_eq!(config.battery.params().normal, NormalMode::Hold);
        assert!(config.owner.keystore.is_absolute());
        assert!(config.chain.deployment.ends_with("deployments/31337.json"));
    }

    #[test]
    fn the_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vpp-gateway.example.toml");
        let config = load(&path).unwrap();
        assert_eq!(config.policy.policy().reserve_percent, 20);
    }

    #[test]
    fn a_price_is_base_units_or_a_dollar_string() {
        let base_units = GOOD.replace("\"0.25\"", "250000");
        assert_eq!(
            load_text(&base_units).unwrap().policy.min_price_per_kwh,
            PricePerKwh(250_000)
        );
        let error = load_text(&GOOD.replace("\"0.25\"", "0.25"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("key `policy.min_price_per_kwh`"), "{error}");
        assert!(error.contains("\"0.25\""), "{error}");
    }

    #[test]
    fn each_rule_names_its_key() {
        let cases = [
            (
                "reserve_percent = 20",
                "reserve_percent = 120",
                "policy.reserve_percent",
            ),
            (
                "stored_wh = 10000",
                "stored_wh = 20000",
                "battery.stored_wh",
            ),
            (
                "capacity_wh = 13500",
                "capacity_wh = 0",
                "battery.capacity_wh",
            ),
            (
                "max_discharge_w = 5000",
                "max_discharge_w = 5000\nround_trip_efficiency = 1.5",
                "battery.round_trip_efficiency",
            ),
            (
                "max_discharge_w = 5000",
                "max_discharge_w = 5000\nnormal_charge_to_percent = 101",
                "battery.normal_charge_to_percent",
            ),
            (
                "deployment = \"deployments/31337.json\"",
                "deployment = \"d.json\"\npoll_interval = \"0s\"",
                "chain.poll_interval",
            ),
            (
                "deployment = \"deployments/31337.json\"",
                "deployment = \"d.json\"\nmax_block_range = 0",
                "chain.max_block_range",
            ),
            ("COGRID_OWNER_PASSWORD", "A=B", "owner.password_env"),
            ("\"0.25\"", "\"0.2500001\"", "policy.min_price_per_kwh"),
            ("\"0.25\"", "-5", "policy.min_price_per_kwh"),
            (
                "0x0000000000000000000000000000000000000001",
                "0x12",
                "meter.address",
            ),
            (
                "http://127.0.0.1:8545",
                "ws://127.0.0.1:8545",
                "chain.rpc_url",
            ),
            ("max_w = 4000", "max_w = 4000\nmax_kw = 4", "policy.max_kw"),
        ];
        for (from, to, key) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{from}");
            let error = load_text(&text).unwrap_err().to_string();
            assert!(error.contains(&format!("key `{key}`")), "{key}: {error}");
        }
    }

    #[test]
    fn dollar_strings_parse_exactly() {
        assert_eq!(PricePerKwh::from_usd("0.25"), Ok(PricePerKwh(250_000)));
        assert_eq!(PricePerKwh::from_usd("1"), Ok(PricePerKwh(1_000_000)));
        assert_eq!(PricePerKwh::from_usd(".5"), Ok(PricePerKwh(500_000)));
        assert_eq!(PricePerKwh::from_usd("0.000001"), Ok(PricePerKwh(1)));
        for bad in ["", ".", "1.2.3", "$1", "-1", "1e3", "99999999999999999999"] {
            assert!(PricePerKwh::from_usd(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_formatted_price_parses_back(units in any::<u64>()) {
            let price = PricePerKwh(units);
            prop_assert_eq!(PricePerKwh::from_usd(&price.to_string()), Ok(price));
        }
    }
}
