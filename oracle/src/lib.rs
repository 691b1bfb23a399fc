//! The cogrid oracle reporter: it relays the outside data the market needs (the wholesale spot
//! price, solar irradiance, temperature and grid carbon intensity) to the OracleHub contract.
//!
//! This version holds the reporter's config ([`config`], with `oracle.example.toml` next to this
//! crate's manifest) and its errors ([`error`]). The daemon will, for each configured feed:
//!
//! - **fetch** the value from several public sources (weather: Open-Meteo; spot price: aWATTar and
//!   Energy-Charts; a public carbon-intensity API), each with its own timeout, and convert it from
//!   the source's unit into the feed's on-chain unit with the factors the config declares;
//! - **aggregate** the sources' values into their median, with outliers rejected, and never report
//!   a value backed by fewer sources than the feed's minimum; a failing source leaves the others
//!   running and shows in `/metrics`;
//! - **report** a signed observation when the value moves past the feed's deviation threshold or
//!   its heartbeat runs out (Chainlink's rule).
//!
//! Each co-op runs its own reporter; OracleHub takes the median of several reporters' signed
//! observations under a quorum and serves each feed through Chainlink's `AggregatorV3Interface`.
//! On-chain units: `SPOT_PRICE` in stablecoin base units per MWh, `SOLAR_IRRADIANCE` in W/m²,
//! `TEMPERATURE` in centi-degrees Celsius, `CARBON_INTENSITY` in gCO2e/kWh. The reporter serves
//! `/health` and `/metrics` over HTTP and stays under 50 MiB resident.

pub mod config;
pub mod error;
