//! The cogrid oracle reporter: it relays the outside data the market needs (the wholesale spot
//! price, solar irradiance, temperature and grid carbon intensity) to the OracleHub contract.
//!
//! The binary is `oracle --config oracle.toml` (see `oracle.example.toml` next to this crate's
//! manifest); [`daemon::Reporter`] is the whole daemon. For each configured feed, every poll:
//!
//! - **fetch** ([`sources`]) the value from several public sources (weather: Open-Meteo; spot
//!   price: aWATTar and Energy-Charts; carbon intensity: the National Grid ESO API format), each
//!   with its own timeout over one shared HTTP client, and convert it from the source's unit into
//!   the feed's on-chain unit with the factors the config declares;
//! - **aggregate** ([`aggregate`]) the sources' values into their median, with outliers rejected,
//!   and never a value backed by fewer sources than the feed's minimum; a failing source leaves
//!   the others running and shows in `/metrics`;
//! - **sign** ([`observation`]) the value as an EIP-712 `Observation` and serve it at
//!   `/observations/{feed}` ([`http`]);
//! - **report** when the value moves past the feed's deviation threshold or its heartbeat runs out
//!   (Chainlink's rule): gather the peers' signed observations ([`exchange`]), keep the fresh ones
//!   of authorized reporters, sorted by signer, and submit them as one round to OracleHub
//!   (`cogrid_bindings::OracleHub`) when they meet its quorum ([`daemon`]).
//!
//! **In-process** (tests, the simulator): bind each reporter's listener first so that every
//! config can list the others as `exchange.peers`, then per reporter
//! `Reporter::connect(config, signer)` and `run_on(listener, cancel)`; or serve [`daemon::Reporter::router`] and drive
//! [`daemon::Reporter::poll`] one feed at a time, looking at its [`daemon::Outcome`]. Observations
//! are made at the chain's time, so a devnet started at the fixtures' time (`anvil --timestamp
//! 1717243800`) replays `fixtures/` as current data. The chain-free
//! half, [`daemon::Observer`] with [`http::router`] and [`exchange::Peers`], runs without a node.
//!
//! Each co-op runs its own reporter; OracleHub takes the median of several reporters' signed
//! observations under a quorum and serves each feed through Chainlink's `AggregatorV3Interface`.
//! On-chain units: `SPOT_PRICE` in stablecoin base units per MWh, `SOLAR_IRRADIANCE` in W/m²,
//! `TEMPERATURE` in centi-degrees Celsius, `CARBON_INTENSITY` in gCO2e/kWh. The reporter serves
//! `/health` and `/metrics` over HTTP and stays under 50 MiB resident.

pub mod aggregate;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod exchange;
pub mod http;
pub mod metrics;
pub mod observation;
pub mod sources;
