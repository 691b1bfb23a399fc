//! The public APIs a feed's value comes from: reading each response is a pure function over its
//! bytes ([`parse`]), and [`Sources::fetch`] is the one place that does I/O.
//!
//! - **Open-Meteo** forecast, `current` block: `shortwave_radiation` (W/m², negative values, which
//!   models produce around dusk, clamped to 0), `temperature_2m` (°C) and `cloud_cover` (%, logged
//!   next to the irradiance it explains).
//! - **aWATTar** `marketdata`: `data[]` of `{start_timestamp, end_timestamp, marketprice}` with
//!   times in milliseconds and prices in EUR/MWh; the entry covering now.
//! - **Energy-Charts** `price`: parallel `unix_seconds[]` and `price[]` (EUR/MWh) whose values may
//!   be null (not yet published, or a gap); the latest non-null value at or before now.
//! - **Carbon Intensity** (National Grid ESO format): `data[0].intensity.actual` (gCO2/kWh), or
//!   its `forecast` while the actual value is not yet known.

use std::time::Duration;

use alloy::transports::http::reqwest::{Client, StatusCode};
use serde::Deserialize;
use tracing::debug;

use crate::config::{FeedKind, SourceConfig, SourceKind};

/// Why a source gave no value this round.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// No answer within the source's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request failed before an answer (connection refused, DNS, TLS).
    #[error("request failed: {0}")]
    Transport(String),
    /// The API answered with an error status.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The body is not the API's JSON format.
    #[error("the response is not in the API's format: {0}")]
    Malformed(String),
    /// The format is right but the value is absent or null.
    #[error("the response has no value for {0}")]
    Missing(&'static str),
    /// No entry of the response covers the time asked for.
    #[error("no entry covers unix time {0}")]
    NotCovered(u64),
    /// The value is not finite or does not fit the feed once converted.
    #[error("the value {0} does not convert into the feed's unit")]
    OutOfRange(f64),
}

/// Reads the value `feed` needs from the body of a `kind` response, `now` being unix seconds.
/// The value is in the source's own unit (see [`convert`]).
pub fn parse(kind: SourceKind, feed: FeedKind, body: &[u8], now: u64) -> Result<f64, SourceError> {
    match kind {
        SourceKind::OpenMeteo => open_meteo_value(&parse_open_meteo(body)?, feed),
        SourceKind::Awattar => parse_awattar(body, now),
        SourceKind::EnergyCharts => parse_energy_charts(body, now),
        SourceKind::CarbonIntensity => parse_carbon_intensity(body),
    }
}

/// Open-Meteo's `current` block, each variable present only when the URL asked for it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OpenMeteoCurrent {
    /// Global horizontal irradiance, W/m².
    pub shortwave_radiation: Option<f64>,
    /// Air temperature 2 m above ground, °C.
    pub temperature_2m: Option<f64>,
    /// Total cloud cover, %.
    pub cloud_cover: Option<f64>,
}

/// Reads the `current` block of an Open-Meteo forecast response.
pub fn parse_open_meteo(body: &[u8]) -> Result<OpenMeteoCurrent, SourceError> {
    #[derive(Deserialize)]
    struct Response {
        current: OpenMeteoCurrent,
    }
    Ok(json::<Response>(body)?.current)
}

/// The value of `feed` in an Open-Meteo `current` block.
pub fn open_meteo_value(current: &OpenMeteoCurrent, feed: FeedKind) -> Result<f64, SourceError> {
    match feed {
        // A model's radiation dips below zero around dusk; there is no negative sunshine.
        FeedKind::SolarIrradiance => current
            .shortwave_radiation
            .map(|radiation| radiation.max(0.0))
            .ok_or(SourceError::Missing("current.shortwave_radiation")),
        FeedKind::Temperature => current
            .temperature_2m
            .ok_or(SourceError::Missing("current.temperature_2m")),
        FeedKind::SpotPrice | FeedKind::CarbonIntensity => {
            Err(SourceError::Missing("a weather variable for this feed"))
        }
    }
}

/// The aWATTar market price (EUR/MWh) of the entry covering `now` (unix seconds).
pub fn parse_awattar(body: &[u8], now: u64) -> Result<f64, SourceError> {
    #[derive(Deserialize)]
    struct Response {
        data: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        start_timestamp: u64,
        end_timestamp: u64,
        marketprice: Option<f64>,
    }
    let now_ms = now.saturating_mul(1_000);
    let entry = json::<Response>(body)?
        .data
        .into_iter()
        .find(|entry| entry.start_timestamp <= now_ms && now_ms < entry.end_timestamp)
        .ok_or(SourceError::NotCovered(now))?;
    entry
        .marketprice
        .ok_or(SourceError::Missing("data[].marketprice"))
}

/// The latest non-null Energy-Charts price (EUR/MWh) at or before `now` (unix seconds).
pub fn parse_energy_charts(body: &[u8], now: u64) -> Result<f64, SourceError> {
    #[derive(Deserialize)]
    struct Response {
        unix_seconds: Vec<u64>,
        price: Vec<Option<f64>>,
    }
    let response = json::<Response>(body)?;
    if response.unix_seconds.len() != response.price.len() {
        return Err(SourceError::Malformed(format!(
            "{} timestamps for {} prices",
            response.unix_seconds.len(),
            response.price.len()
        )));
    }
    response
        .unix_seconds
        .iter()
        .zip(&response.price)
        .filter(|(at, price)| **at <= now && price.is_some())
        .max_by_key(|(at, _)| **at)
        .and_then(|(_, price)| *price)
        .ok_or(SourceError::NotCovered(now))
}

/// The carbon intensity (gCO2/kWh) of the current period: the measured value, else the forecast.
pub fn parse_carbon_intensity(body: &[u8]) -> Result<f64, SourceError> {
    #[derive(Deserialize)]
    struct Response {
        data: Vec<Period>,
    }
    #[derive(Deserialize)]
    struct Period {
        intensity: Intensity,
    }
    #[derive(Deserialize)]
    struct Intensity {
        actual: Option<f64>,
        forecast: Option<f64>,
    }
    let response = json::<Response>(body)?;
    let period = response
        .data
        .first()
        .ok_or(SourceError::Missing("data[0]"))?;
    period
        .intensity
        .actual
        .or(period.intensity.forecast)
        .ok_or(SourceError::Missing(
            "data[0].intensity.actual or .forecast",
        ))
}

/// `round(value * multiply / divide)`: a source's value in the feed's on-chain unit.
pub fn convert(value: f64, multiply: u64, divide: u64) -> Result<i64, SourceError> {
    let converted = (value * multiply as f64 / divide as f64).round();
    // i64::MAX as f64 rounds up to 2^63, which itself does not fit: hence the strict bound.
    if converted.is_finite() && converted.abs() < i64::MAX as f64 {
        Ok(converted as i64)
    } else {
        Err(SourceError::OutOfRange(value))
    }
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|error| SourceError::Malformed(error.to_string()))
}

/// The HTTP client every source of every feed shares (one connection pool).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    client: Client,
}

impl Sources {
    /// Sources fetched with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Fetches `source` for `feed` and returns its value in the feed's unit; `now` (unix
    /// seconds) picks the entry of a time series.
    pub async fn fetch(
        &self,
        source: &SourceConfig,
        feed: FeedKind,
        now: u64,
    ) -> Result<i64, SourceError> {
        let body = self.get(source).await?;
        let value = if source.kind == SourceKind::OpenMeteo {
            let current = parse_open_meteo(&body)?;
            debug!(%feed, url = %source.url, cloud_cover = ?current.cloud_cover, "open-meteo");
            open_meteo_value(&current, feed)?
        } else {
            parse(source.kind, feed, &body, now)?
        };
        let converted = convert(value, source.multiply, source.divide)?;
        debug!(%feed, url = %source.url, value, unit = %source.unit, converted, "source answered");
        Ok(converted)
    }

    async fn get(&self, source: &SourceConfig) -> Result<Vec<u8>, SourceError> {
        let failed = |error: alloy::transports::http::reqwest::Error| {
            if error.is_timeout() {
                SourceError::Timeout(source.timeout)
            } else {
                SourceError::Transport(error.to_string())
            }
        };
        let response = self
            .client
            .get(source.url.clone())
            .timeout(source.timeout)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(SourceError::Status(status.as_u16()));
        }
        Ok(response.bytes().await.map_err(failed)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(name),
        )
        .unwrap()
    }

    /// 2024-06-01 12:10 UTC, inside every fixture's current entry.
    const NOW: u64 = 1_717_243_800;

    #[test]
    fn open_meteo_gives_irradiance_temperature_and_cloud_cover() {
        let current = parse_open_meteo(&fixture("open-meteo.json")).unwrap();
        assert_eq!(current.cloud_cover, Some(40.0));
        assert_eq!(
            open_meteo_value(&current, FeedKind::SolarIrradiance),
            Ok(612.0)
        );
        assert_eq!(open_meteo_value(&current, FeedKind::Temperature), Ok(21.3));
        assert_eq!(convert(21.3, 100, 1), Ok(2_130), "degC into centi-degC");
    }

    #[test]
    fn negative_radiation_is_clamped_to_zero() {
        let body = fixture("open-meteo-dusk.json");
        assert_eq!(
            parse(SourceKind::OpenMeteo, FeedKind::SolarIrradiance, &body, NOW),
            Ok(0.0)
        );
        assert_eq!(
            parse(SourceKind::OpenMeteo, FeedKind::Temperature, &body, NOW),
            Ok(-1.8)
        );
    }

    #[test]
    fn a_null_weather_variable_is_missing() {
        let body = fixture("open-meteo-null.json");
        assert_eq!(
            parse(SourceKind::OpenMeteo, FeedKind::SolarIrradiance, &body, NOW),
            Err(SourceError::Missing("current.shortwave_radiation"))
        );
    }

    #[test]
    fn awattar_takes_the_entry_covering_now() {
        let body = fixture("awattar.json");
        assert_eq!(parse_awattar(&body, NOW), Ok(87.41));
        // The first instant of the next hour belongs to the next entry.
        assert_eq!(parse_awattar(&body, 1_717_246_800), Ok(95.02));
        // Prices go negative when renewables flood the market; the feed is signed.
        assert_eq!(parse_awattar(&body, 1_717_252_200), Ok(-5.12));
        assert_eq!(convert(-5.12, 1_080_000, 1), Ok(-5_529_600));
        assert_eq!(
            parse_awattar(&body, 1_800_000_000),
            Err(SourceError::NotCovered(1_800_000_000))
        );
    }

    #[test]
    fn energy_charts_takes_the_latest_non_null_price() {
        let body = fixture("energy-charts.json");
        // 12:00 is null (not published yet): the 11:45 price stands.
        assert_eq!(parse_energy_charts(&body, NOW), Ok(84.9));
        assert_eq!(
            parse_energy_charts(&body, 1_717_200_000),
            Err(SourceError::NotCovered(1_717_200_000))
        );
    }

    #[test]
    fn energy_charts_with_only_nulls_has_no_value() {
        assert_eq!(
            parse_energy_charts(&fixture("energy-charts-null.json"), NOW),
            Err(SourceError::NotCovered(NOW))
        );
    }

    #[test]
    fn carbon_intensity_prefers_the_actual_value() {
        assert_eq!(
            parse_carbon_intensity(&fixture("carbon-intensity.json")),
            Ok(182.0)
        );
        assert_eq!(
            parse_carbon_intensity(&fixture("carbon-intensity-forecast.json")),
            Ok(190.0)
        );
    }

    #[test]
    fn malformed_and_empty_bodies_are_refused_for_every_kind() {
        for body in [fixture("malformed.json"), Vec::new(), b"{}".to_vec()] {
            for (kind, feed) in [
                (SourceKind::OpenMeteo, FeedKind::Temperature),
                (SourceKind::Awattar, FeedKind::SpotPrice),
                (SourceKind::EnergyCharts, FeedKind::SpotPrice),
                (SourceKind::CarbonIntensity, FeedKind::CarbonIntensity),
            ] {
                assert!(
                    matches!(
                        parse(kind, feed, &body, NOW),
                        Err(SourceError::Malformed(_))
                    ),
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn mismatched_energy_charts_arrays_are_malformed() {
        let body = br#"{"unix_seconds":[1,2],"price":[3.0]}"#;
        assert!(matches!(
            parse_energy_charts(body, 5),
            Err(SourceError::Malformed(_))
        ));
    }

    #[test]
    fn conversion_rounds_half_away_from_zero_and_refuses_overflow() {
        assert_eq!(convert(87.41, 1_080_000, 1), Ok(94_402_800));
        assert_eq!(convert(0.5, 1, 1), Ok(1));
        assert_eq!(convert(-0.5, 1, 1), Ok(-1));
        assert_eq!(convert(1.0, 1, 3), Ok(0));
        assert_eq!(convert(2.0, 1, 3), Ok(1));
        assert!(convert(f64::NAN, 1, 1).is_err());
        assert!(convert(1e30, 1, 1).is_err());
    }
}
