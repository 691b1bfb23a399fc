//! The oracle reporter's TOML config (see `oracle.example.toml`). Types and shapes are checked as
//! the file is read, then the rules between values; either way a bad value is reported with its key
//! path (`feeds[0].sources[1].divide: ...`). Relative paths in the file resolve against the file's
//! directory.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{primitives::Address, transports::http::reqwest::Url};
use serde::{Deserialize, Serialize};

use cogrid_chain::{BrokenRule, KeyConfig, rule};

use crate::error::OracleError;

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain and the deployment the reporter reports to.
    pub chain: ChainConfig,
    /// The reporter's key; OracleHub must list it as an authorized reporter.
    pub reporter: KeyConfig,
    /// The HTTP endpoint (`/health`, `/metrics`, `/observations/{feed}`).
    #[serde(default)]
    pub http: HttpConfig,
    /// The other reporters this one gathers signed observations from.
    #[serde(default)]
    pub exchange: ExchangeConfig,
    /// The feeds this reporter reports, each at most once.
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
}

/// The chain and the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// JSON-RPC URL (http or https) of the L2 node.
    #[serde(deserialize_with = "cogrid_chain::http_url")]
    pub rpc_url: Url,
    /// The chain observations are signed for; the reporter refuses a node that serves another one.
    pub chain_id: u64,
    /// The deployment file `cogrid deploy` wrote (`deployments/<chainId>.json`), whose
    /// `oracleHub` key locates OracleHub. Either this or `hub` must be given.
    #[serde(default)]
    pub deployment: Option<PathBuf>,
    /// OracleHub's address, when there is no deployment file or to override it.
    #[serde(default)]
    pub hub: Option<Address>,
}

/// The exchange of signed observations between the co-ops' reporters: a round needs a quorum of
/// reporters' signatures in one transaction, so each reporter serves its latest signed
/// observation per feed and gathers the others' before it submits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeConfig {
    /// Base URLs (http or https) of the other reporters' HTTP endpoints; each serves
    /// `GET /observations/{feed}`.
    #[serde(deserialize_with = "http_urls")]
    pub peers: Vec<Url>,
    /// How long a peer may take to answer before its observation is left out of the round.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long each reporter waits per rank (its place among the round's signers, by address)
    /// before it sends, so that the first one's round lands and the others see it instead of
    /// racing it.
    #[serde(with = "humantime_serde")]
    pub stagger: Duration,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            timeout: Duration::from_secs(3),
            stagger: Duration::from_secs(5),
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
            listen: SocketAddr::from(([127, 0, 0, 1], 9103)),
        }
    }
}

/// One feed: what it measures, when it is reported and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Which OracleHub feed this is.
    pub kind: FeedKind,
    /// Report when the median moves this many basis points (1/100 of a percent) away from the
    /// last reported value; when that value is 0, any change counts.
    pub deviation_bps: u32,
    /// Report when this long has passed since the last report, moved or not.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// Fewest sources that must answer for a value to be reported at all.
    pub min_sources: usize,
    /// How often the sources are fetched; at most the heartbeat.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// A source whose value lies farther than this many basis points from the median of all the
    /// sources' values (or than `outlier_min`, whichever is larger) is dropped as an outlier
    /// before the median is taken again.
    #[serde(default = "default_outlier_bps")]
    pub outlier_bps: u32,
    /// The smallest distance from the median, in the feed's unit, that counts as an outlier: near
    /// zero (irradiance at dusk) a relative threshold alone would drop every source.
    #[serde(default)]
    pub outlier_min: u64,
    /// Where the value comes from; each answers on its own and the median is taken.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}

/// The OracleHub feeds, with the unit of their on-chain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeedKind {
    /// Wholesale spot price, in stablecoin base units per MWh.
    SpotPrice,
    /// Solar irradiance (global horizontal), in W/m².
    SolarIrradiance,
    /// Air temperature, in centi-degrees Celsius.
    Temperature,
    /// Grid carbon intensity, in gCO2e/kWh.
    CarbonIntensity,
}

impl FeedKind {
    /// Every feed, in id order.
    pub const ALL: [Self; 4] = [
        Self::SpotPrice,
        Self::SolarIrradiance,
        Self::Temperature,
        Self::CarbonIntensity,
    ];

    /// The feed's id in OracleHub.
    pub fn id(self) -> u8 {
        match self {
            Self::SpotPrice => 0,
            Self::SolarIrradiance => 1,
            Self::Temperature => 2,
            Self::CarbonIntensity => 3,
        }
    }

    /// The feed with OracleHub id `id`.
    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|feed| feed.id() == id)
    }

    /// The feed named `name` (`SPOT_PRICE`), as in the config and the HTTP paths.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|feed| feed.to_string() == name)
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SpotPrice => "SPOT_PRICE",
            Self::SolarIrradiance => "SOLAR_IRRADIANCE",
            Self::Temperature => "TEMPERATURE",
            Self::CarbonIntensity => "CARBON_INTENSITY",
        })
    }
}

/// One source of a feed's value, and how its value converts into the feed's unit:
/// `round(value * multiply / divide)`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Which API this is, and so how its response is read.
    pub kind: SourceKind,
    /// The full request URL (http or https), query included.
    #[serde(deserialize_with = "cogrid_chain::http_url")]
    pub url: Url,
    /// How long a request may take before the source counts as failed for this round.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The unit the source reports in (`EUR/MWh`, `W/m2`, `degC`, `gCO2/kWh`): what `multiply`
    /// and `divide` convert from, written next to them so a reader can check the conversion, and
    /// shown with the source's values in the reporter's logs.
    pub unit: String,
    /// Numerator of the conversion into the feed's unit (a currency rate and a decimal scale for
    /// prices, 100 for degrees Celsius into centi-degrees).
    #[serde(default = "one")]
    pub multiply: u64,
    /// Denominator of the conversion into the feed's unit.
    #[serde(default = "one")]
    pub divide: u64,
}

/// The public APIs the reporter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Open-Meteo forecast, `current` block: `shortwave_radiation` for `SOLAR_IRRADIANCE`
    /// (negative values clamped to zero), `temperature_2m` for `TEMPERATURE`.
    OpenMeteo,
    /// aWATTar `marketdata`: day-ahead prices in EUR/MWh.
    Awattar,
    /// Energy-Charts `price`: day-ahead prices per bidding zone in EUR/MWh, some of them null.
    EnergyCharts,
    /// The Carbon Intensity API (`api.carbonintensity.org.uk`) format, in gCO2/kWh.
    CarbonIntensity,
}

impl SourceKind {
    /// The feeds this source can supply.
    pub fn feeds(self) -> &'static [FeedKind] {
        match self {
            Self::OpenMeteo => &[FeedKind::SolarIrradiance, FeedKind::Temperature],
            Self::Awattar | Self::EnergyCharts => &[FeedKind::SpotPrice],
            Self::CarbonIntensity => &[FeedKind::CarbonIntensity],
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenMeteo => "open-meteo",
            Self::Awattar => "awattar",
            Self::EnergyCharts => "energy-charts",
            Self::CarbonIntensity => "carbon-intensity",
        })
    }
}

/// Reads the reporter config at `path`, checks it, and resolves its relative paths against the
/// file's directory.
pub fn load(path: &Path) -> Result<Config, OracleError> {
    let mut config: Config = cogrid_chain::load_toml(path)?;
    config.check().map_err(|broken| broken.in_file(path))?;
    config.resolve_paths(path.parent().unwrap_or(Path::new("")));
    Ok(config)
}

impl Config {
    fn check(&self) -> Result<(), BrokenRule> {
        self.reporter.check("reporter")?;
        rule(
            self.chain.deployment.is_some() || self.chain.hub.is_some(),
            || "chain".into(),
            || {
                "set `deployment` (the file `cogrid deploy` wrote) or `hub` (OracleHub's address)"
                    .into()
            },
        )?;
        self.exchange.check()?;
        rule(
            !self.feeds.is_empty(),
            || "feeds".into(),
            || "no [[feeds]]: a reporter needs at least one feed to report".into(),
        )?;
        for (index, feed) in self.feeds.iter().enumerate() {
            let first = self.feeds.iter().position(|other| other.kind == feed.kind);
            rule(
                first == Some(index),
                || format!("feeds[{index}].kind"),
                || {
                    format!(
                        "{} is already configured in feeds[{}]",
                        feed.kind,
                        first.unwrap_or(0)
                    )
                },
            )?;
            feed.check(&format!("feeds[{index}]"))?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        if let Some(deployment) = &mut self.chain.deployment {
            *deployment = base.join(&*deployment);
        }
        self.reporter.keystore = base.join(&self.reporter.keystore);
    }
}

impl ExchangeConfig {
    fn check(&self) -> Result<(), BrokenRule> {
        rule(
            !self.timeout.is_zero(),
            || "exchange.timeout".into(),
            || "must be longer than zero".into(),
        )?;
        for (index, peer) in self.peers.iter().enumerate() {
            let first = self.peers.iter().position(|other| other == peer);
            rule(
                first == Some(index),
                || format!("exchange.peers[{index}]"),
                || {
                    format!(
                        "same URL as peers[{}]: one reporter counted twice",
                        first.unwrap_or(0)
                    )
                },
            )?;
        }
        Ok(())
    }
}

impl FeedConfig {
    /// Checks the feed found at key `at`.
    fn check(&self, at: &str) -> Result<(), BrokenRule> {
        rule(
            self.deviation_bps > 0,
            || format!("{at}.deviation_bps"),
            || "must be at least 1 basis point".into(),
        )?;
        rule(
            !self.heartbeat.is_zero(),
            || format!("{at}.heartbeat"),
            || "must be longer than zero".into(),
        )?;
        rule(
            !self.poll_interval.is_zero() && self.poll_interval <= self.heartbeat,
            || format!("{at}.poll_interval"),
            || {
                format!(
                    "{} must be longer than zero and at most the heartbeat ({}), or the heartbeat \
                     cannot be kept",
                    humantime_serde::re::humantime::format_duration(self.poll_interval),
                    humantime_serde::re::humantime::format_duration(self.heartbeat),
                )
            },
        )?;
        rule(
            self.min_sources > 0,
            || format!("{at}.min_sources"),
            || "must be at least 1: a value needs a source behind it".into(),
        )?;
        rule(
            self.min_sources <= self.sources.len(),
            || format!("{at}.min_sources"),
            || {
                format!(
                    "{} is more than the {} source(s) listed in {at}.sources: the feed could never \
                     be reported",
                    self.min_sources,
                    self.sources.len()
                )
            },
        )?;
        for (index, source) in self.sources.iter().enumerate() {
            let at = format!("{at}.sources[{index}]");
            source.check(&at, self)?;
            let first = self
                .sources
                .iter()
                .position(|other| other.url == source.url);
            rule(
                first == Some(index),
                || format!("{at}.url"),
                || {
                    format!(
                        "same URL as sources[{}]: one source counted twice would stand in for two",
                        first.unwrap_or(0)
                    )
                },
            )?;
        }
        Ok(())
    }
}

impl SourceConfig {
    /// Checks the source found at key `at`, a source of `feed`.
    fn check(&self, at: &str, feed: &FeedConfig) -> Result<(), BrokenRule> {
        rule(
            self.kind.feeds().contains(&feed.kind),
            || format!("{at}.kind"),
            || {
                let serves: Vec<String> = self.kind.feeds().iter().map(|f| f.to_string()).collect();
                format!(
                    "{} cannot supply {}; it supplies {}",
                    self.kind,
                    feed.kind,
                    serves.join(", ")
                )
            },
        )?;
        rule(
            !self.timeout.is_zero() && self.timeout <= feed.poll_interval,
            || format!("{at}.timeout"),
            || {
                format!(
                    "{} must be longer than zero and at most the feed's poll_interval ({})",
                    humantime_serde::re::humantime::format_duration(self.timeout),
                    humantime_serde::re::humantime::format_duration(feed.poll_interval),
                )
            },
        )?;
        rule(
            !self.unit.trim().is_empty(),
            || format!("{at}.unit"),
            || "name the unit the source reports in, e.g. \"EUR/MWh\"".into(),
        )?;
        rule(
            self.multiply > 0,
            || format!("{at}.multiply"),
            || "must be at least 1: 0 would report every value as 0".into(),
        )?;
        rule(
            self.divide > 0,
            || format!("{at}.divide"),
            || "must be at least 1: a conversion cannot divide by 0".into(),
        )
    }
}

fn http_urls<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Url>, D::Error> {
    /// One URL of the list, checked like every other URL of the config.
    #[derive(Deserialize)]
    struct Checked(#[serde(deserialize_with = "cogrid_chain::http_url")] Url);
    let urls: Vec<Checked> = Vec::deserialize(deserializer)?;
    Ok(urls.into_iter().map(|Checked(url)| url).collect())
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_outlier_bps() -> u32 {
    1_000
}
fn one() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest config the reporter accepts: one feed with one source.
    const MINIMAL: &str = r#"
[chain]
rpc_url = "https://l2.example.org/rpc"
chain_id = 10
deployment = "deployments/10.json"

[reporter]
keystore = "keys/reporter.json"
password_env = "COGRID_ORACLE_PASSWORD"

[[feeds]]
kind = "CARBON_INTENSITY"
deviation_bps = 500
heartbeat = "1h"
min_sources = 1

[[feeds.sources]]
kind = "carbon-intensity"
url = "https://api.carbonintensity.org.uk/intensity"
unit = "gCO2/kWh"
"#;

    /// A spot-price feed with two sources, to append to [`MINIMAL`] (as `feeds[1]`).
    const SPOT: &str = r#"
[[feeds]]
kind = "SPOT_PRICE"
deviation_bps = 100
heartbeat = "1h"
min_sources = 2

[[feeds.sources]]
kind = "awattar"
url = "https://api.awattar.de/v1/marketdata"
unit = "EUR/MWh"
multiply = 1_080_000

[[feeds.sources]]
kind = "energy-charts"
url = "https://api.energy-charts.info/price?bzn=DE-LU"
unit = "EUR/MWh"
multiply = 1_080_000
"#;

    /// Writes `text` as `oracle.toml` in a fresh directory and loads it.
    fn load_text(text: &str) -> (tempfile::TempDir, Result<Config, OracleError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oracle.toml");
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

    /// [`MINIMAL`] followed by [`SPOT`] with `from` replaced by `to` in the spot feed.
    fn with_spot(from: &str, to: &str) -> String {
        assert!(SPOT.contains(from), "{from}");
        format!("{MINIMAL}{}", SPOT.replacen(from, to, 1))
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_example_parses_to_its_values() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = load(&dir.join("oracle.example.toml")).unwrap();
        assert_eq!(
            config.chain,
            ChainConfig {
                rpc_url: url("http://127.0.0.1:8545"),
                chain_id: 31337,
                deployment: Some(dir.join("deployments/31337.json")),
                hub: None,
            }
        );
        assert_eq!(
            config.reporter,
            KeyConfig {
                keystore: dir.join("keys/reporter.json"),
                password_env: "COGRID_ORACLE_PASSWORD".into(),
            }
        );
        assert_eq!(config.http.listen, "127.0.0.1:9103".parse().unwrap());
        assert_eq!(
            config.exchange,
            ExchangeConfig {
                peers: vec![
                    url("https://oracle.coop-b.example"),
                    url("https://oracle.coop-c.example")
                ],
                timeout: Duration::from_secs(3),
                stagger: Duration::from_secs(5),
            }
        );
        let kinds: Vec<FeedKind> = config.feeds.iter().map(|feed| feed.kind).collect();
        assert_eq!(
            kinds,
            [
                FeedKind::SpotPrice,
                FeedKind::SolarIrradiance,
                FeedKind::Temperature,
                FeedKind::CarbonIntensity
            ]
        );
        let spot = &config.feeds[0];
        assert_eq!(spot.deviation_bps, 100);
        assert_eq!(spot.heartbeat, Duration::from_secs(3_600));
        assert_eq!(spot.min_sources, 2);
        assert_eq!(spot.poll_interval, Duration::from_secs(60));
        assert_eq!((spot.outlier_bps, spot.outlier_min), (1_000, 0));
        assert_eq!(
            (config.feeds[1].outlier_bps, config.feeds[1].outlier_min),
            (5_000, 50)
        );
        assert_eq!(
            spot.sources[0],
            SourceConfig {
                kind: SourceKind::Awattar,
                url: url("https://api.awattar.de/v1/marketdata"),
                timeout: Duration::from_secs(10),
                unit: "EUR/MWh".into(),
                multiply: 1_080_000,
                divide: 1,
            }
        );
        assert_eq!(spot.sources[1].kind, SourceKind::EnergyCharts);
        assert_eq!(
            spot.sources[1].url.query_pairs().collect::<Vec<_>>(),
            [("bzn".into(), "DE-LU".into())]
        );
        let temperature = &config.feeds[2];
        assert_eq!(temperature.sources.len(), 2);
        assert!(
            temperature
                .sources
                .iter()
                .all(|source| source.kind == SourceKind::OpenMeteo
                    && source.multiply == 100
                    && source.divide == 1)
        );
        let carbon = &config.feeds[3];
        assert_eq!(carbon.poll_interval, Duration::from_secs(300));
        assert_eq!(carbon.sources[0].kind, SourceKind::CarbonIntensity);
    }

    #[test]
    fn left_out_keys_take_their_defaults() {
        let (dir, loaded) = load_text(MINIMAL);
        let config = loaded.unwrap();
        assert!(config.http.listen.ip().is_loopback());
        assert_eq!(
            config.chain.deployment,
            Some(dir.path().join("deployments/10.json"))
        );
        assert_eq!(config.exchange, ExchangeConfig::default());
        assert_eq!(config.feeds[0].outlier_bps, 1_000);
        assert_eq!(config.feeds[0].outlier_min, 0);
        assert_eq!(
            config.reporter.keystore,
            dir.path().join("keys/reporter.json")
        );
        let feed = &config.feeds[0];
        assert_eq!(feed.poll_interval, Duration::from_secs(60));
        assert_eq!(feed.sources[0].timeout, Duration::from_secs(10));
        assert_eq!((feed.sources[0].multiply, feed.sources[0].divide), (1, 1));
    }

    #[test]
    fn absolute_paths_stay_as_written() {
        let (_dir, loaded) =
            load_text(&MINIMAL.replace("\"keys/reporter.json\"", "\"/etc/cogrid/reporter.json\""));
        assert_eq!(
            loaded.unwrap().reporter.keystore,
            Path::new("/etc/cogrid/reporter.json")
        );
    }

    #[test]
    fn a_reporter_without_feeds_is_refused() {
        let without_feeds = &MINIMAL[..MINIMAL.find("[[feeds]]").unwrap()];
        assert_refused(without_feeds, "feeds");
    }

    #[test]
    fn a_feed_configured_twice_is_refused() {
        let error = assert_refused(&format!("{MINIMAL}{SPOT}{SPOT}"), "feeds[2].kind");
        assert!(
            error.contains("SPOT_PRICE is already configured in feeds[1]"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_feed_kind_is_refused() {
        assert_refused(
            &MINIMAL.replace("\"CARBON_INTENSITY\"", "\"WIND_SPEED\""),
            "feeds[0].kind",
        );
    }

    #[test]
    fn a_zero_deviation_is_refused() {
        assert_refused(
            &with_spot("deviation_bps = 100", "deviation_bps = 0"),
            "feeds[1].deviation_bps",
        );
    }

    #[test]
    fn a_zero_heartbeat_is_refused() {
        assert_refused(
            &with_spot("heartbeat = \"1h\"", "heartbeat = \"0s\""),
            "feeds[1].heartbeat",
        );
    }

    #[test]
    fn polling_slower_than_the_heartbeat_is_refused() {
        let error = assert_refused(
            &with_spot(
                "heartbeat = \"1h\"",
                "heartbeat = \"1h\"\npoll_interval = \"2h\"",
            ),
            "feeds[1].poll_interval",
        );
        assert!(error.contains("heartbeat (1h)"), "{error}");
    }

    #[test]
    fn a_minimum_of_no_sources_is_refused() {
        assert_refused(
            &with_spot("min_sources = 2", "min_sources = 0"),
            "feeds[1].min_sources",
        );
    }

    #[test]
    fn a_minimum_above_the_sources_listed_is_refused() {
        let error = assert_refused(
            &with_spot("min_sources = 2", "min_sources = 3"),
            "feeds[1].min_sources",
        );
        assert!(error.contains("3 is more than the 2 source(s)"), "{error}");
    }

    #[test]
    fn a_feed_without_sources_is_refused() {
        let without_sources = &MINIMAL[..MINIMAL.find("[[feeds.sources]]").unwrap()];
        assert_refused(without_sources, "feeds[0].min_sources");
    }

    #[test]
    fn a_source_that_cannot_supply_the_feed_is_refused() {
        let error = assert_refused(
            &with_spot("kind = \"energy-charts\"", "kind = \"open-meteo\""),
            "feeds[1].sources[1].kind",
        );
        assert!(
            error.contains(
                "open-meteo cannot supply SPOT_PRICE; it supplies SOLAR_IRRADIANCE, TEMPERATURE"
            ),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_source_kind_is_refused() {
        assert_refused(
            &with_spot("kind = \"awattar\"", "kind = \"nordpool\""),
            "feeds[1].sources[0].kind",
        );
    }

    #[test]
    fn a_source_url_that_does_not_parse_is_refused() {
        assert_refused(
            &with_spot(
                "\"https://api.awattar.de/v1/marketdata\"",
                "\"api.awattar.de/v1/marketdata\"",
            ),
            "feeds[1].sources[0].url",
        );
    }

    #[test]
    fn a_source_url_of_another_scheme_is_refused() {
        assert_refused(
            &with_spot(
                "\"https://api.awattar.de/v1/marketdata\"",
                "\"ftp://api.awattar.de/v1/marketdata\"",
            ),
            "feeds[1].sources[0].url",
        );
    }

    #[test]
    fn the_same_source_twice_is_refused() {
        let error = assert_refused(
            &with_spot(
                "\"https://api.energy-charts.info/price?bzn=DE-LU\"",
                "\"https://api.awattar.de/v1/marketdata\"",
            ),
            "feeds[1].sources[1].url",
        );
        assert!(error.contains("same URL as sources[0]"), "{error}");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        assert_refused(
            &with_spot("unit = \"EUR/MWh\"", "unit = \"EUR/MWh\"\ntimeout = \"0s\""),
            "feeds[1].sources[0].timeout",
        );
    }

    #[test]
    fn a_timeout_beyond_the_poll_interval_is_refused() {
        assert_refused(
            &with_spot("unit = \"EUR/MWh\"", "unit = \"EUR/MWh\"\ntimeout = \"2m\""),
            "feeds[1].sources[0].timeout",
        );
    }

    #[test]
    fn an_empty_unit_is_refused() {
        assert_refused(
            &with_spot("unit = \"EUR/MWh\"", "unit = \" \""),
            "feeds[1].sources[0].unit",
        );
    }

    #[test]
    fn a_zero_multiplier_is_refused() {
        assert_refused(
            &with_spot("multiply = 1_080_000", "multiply = 0"),
            "feeds[1].sources[0].multiply",
        );
    }

    #[test]
    fn a_zero_divisor_is_refused() {
        assert_refused(
            &with_spot("multiply = 1_080_000", "multiply = 1_080_000\ndivide = 0"),
            "feeds[1].sources[0].divide",
        );
    }

    #[test]
    fn a_negative_factor_names_its_key() {
        assert_refused(
            &with_spot("multiply = 1_080_000", "multiply = -1_080_000"),
            "feeds[1].sources[0].multiply",
        );
    }

    #[test]
    fn an_rpc_url_that_does_not_parse_is_refused() {
        assert_refused(
            &MINIMAL.replace("https://l2.example.org/rpc", "not a url"),
            "chain.rpc_url",
        );
    }

    #[test]
    fn an_empty_password_variable_is_refused() {
        assert_refused(
            &MINIMAL.replace("\"COGRID_ORACLE_PASSWORD\"", "\"\""),
            "reporter.password_env",
        );
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error = assert_refused(
            &with_spot(
                "unit = \"EUR/MWh\"",
                "unit = \"EUR/MWh\"\napi_key = \"abc\"",
            ),
            "feeds[1].sources[0].api_key",
        );
        assert!(error.contains("unknown field"), "{error}");
    }

    #[test]
    fn a_hub_address_stands_in_for_the_deployment_file() {
        let (_dir, loaded) = load_text(&MINIMAL.replace(
            "deployment = \"deployments/10.json\"",
            "hub = \"0x00000000000000000000000000000000000000aa\"",
        ));
        let chain = loaded.unwrap().chain;
        assert_eq!(chain.deployment, None);
        assert_eq!(chain.hub, Some(Address::with_last_byte(0xaa)));
    }

    #[test]
    fn neither_a_deployment_nor_a_hub_is_refused() {
        let error = assert_refused(
            &MINIMAL.replace("deployment = \"deployments/10.json\"", ""),
            "chain",
        );
        assert!(error.contains("`hub`"), "{error}");
    }

    #[test]
    fn a_malformed_hub_address_names_its_key() {
        assert_refused(
            &MINIMAL.replace("deployment = \"deployments/10.json\"", "hub = \"0x1234\""),
            "chain.hub",
        );
    }

    #[test]
    fn a_peer_listed_twice_is_refused() {
        let error = assert_refused(
            &format!(
                "{MINIMAL}\n[exchange]\npeers = [\"http://127.0.0.1:9104\", \"http://127.0.0.1:9104\"]\n"
            ),
            "exchange.peers[1]",
        );
        assert!(error.contains("same URL as peers[0]"), "{error}");
    }

    #[test]
    fn a_peer_url_of_another_scheme_names_its_key() {
        assert_refused(
            &format!("{MINIMAL}\n[exchange]\npeers = [\"ftp://127.0.0.1:9104\"]\n"),
            "exchange.peers[0]",
        );
    }

    #[test]
    fn a_zero_exchange_timeout_is_refused() {
        assert_refused(
            &format!("{MINIMAL}\n[exchange]\ntimeout = \"0s\"\n"),
            "exchange.timeout",
        );
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = load(Path::new("/nonexistent/oracle.toml")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/oracle.toml"),
            "{error}"
        );
    }
}
