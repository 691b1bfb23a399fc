//! Bundled days: one calendar day of each oracle source's response, in the exact format the
//! oracle parses, and the per-interval conditions the homes live through.
//!
//! A day is a folder `sim/days/<name>/` holding `open-meteo.json` (Open-Meteo forecast,
//! `hourly` `shortwave_radiation` and `temperature_2m`), `awattar.json` (aWATTar `v1/marketdata`,
//! 24 hourly prices in EUR/MWh) and `carbon-intensity.json` (Carbon Intensity API
//! `/intensity/date/{date}`, 48 half hours). `sim/days/README.md` says where every number comes
//! from. The bundled days are compiled in, so the binary needs no data files at run time.
//!
//! The oracle reads Open-Meteo's `current` block and the carbon intensity API's current period,
//! so a day also builds those answers for any time ([`Day::open_meteo_current`],
//! [`Day::carbon_intensity_current`], [`Day::awattar_marketdata`], [`Day::energy_charts_price`]),
//! for the driver's local source servers. A run on another date, or longer than a day, repeats the day by UTC time of
//! day.

use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDateTime};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{error::SimError, homes::Conditions};

/// Seconds in a day.
const DAY_SECONDS: u64 = 86_400;
/// Stablecoin base units per EUR: a EUR/MWh price is taken 1:1 as USD/MWh.
pub const BASE_UNITS_PER_EUR: f64 = 1_000_000.0;
/// The files of a day, in the order [`Day::parse`] takes their contents.
pub const FILES: [&str; 3] = ["open-meteo.json", "awattar.json", "carbon-intensity.json"];
/// Open-Meteo's `current` block is a 15-minute value.
const OPEN_METEO_CURRENT_SECONDS: u64 = 900;

/// The days compiled into the binary: name, where the numbers come from, and the three files.
const BUNDLED: [(&str, &str, [&str; 3]); 2] = [
    (
        "sunny-spring",
        "2020-05-22: irradiance derived from Ausgrid customer 12's PV output on 2011-11-15 (a clear day), temperature and spot prices constructed, carbon intensity National Grid ESO's recorded forecast for 00:00-21:00 UTC (the last 3 hours repeat its last value); see sim/days/README.md",
        [
            include_str!("../days/sunny-spring/open-meteo.json"),
            include_str!("../days/sunny-spring/awattar.json"),
            include_str!("../days/sunny-spring/carbon-intensity.json"),
        ],
    ),
    (
        "cloudy-winter",
        "2023-01-01: irradiance and temperature a recorded Open-Meteo historical forecast for Berlin, spot prices the recorded DE-LU day-ahead prices of New Year's Day 2024, carbon intensity constructed; see sim/days/README.md",
        [
            include_str!("../days/cloudy-winter/open-meteo.json"),
            include_str!("../days/cloudy-winter/awattar.json"),
            include_str!("../days/cloudy-winter/carbon-intensity.json"),
        ],
    ),
];

/// One day of weather, spot prices and grid carbon intensity.
#[derive(Debug, Clone)]
pub struct Day {
    name: String,
    provenance: String,
    /// UTC midnight the day starts at, unix seconds.
    start: u64,
    latitude: f64,
    longitude: f64,
    /// Hourly mean irradiance (W/m2), placed at the middle of its hour.
    irradiance: Vec<(u64, f64)>,
    /// Temperature (degC) at the full hours.
    temperature: Vec<(u64, f64)>,
    /// The 24 hourly prices, EUR/MWh.
    prices: Vec<f64>,
    /// Their mean, and the highest of the cheapest quarter, base units per MWh.
    mean_price: i64,
    cheap_price: i64,
    /// The 48 half hours: (forecast, actual), gCO2/kWh.
    intensity: Vec<(f64, Option<f64>)>,
}

impl Day {
    /// The bundled days' names.
    pub fn names() -> Vec<&'static str> {
        BUNDLED.iter().map(|(name, _, _)| *name).collect()
    }

    /// A bundled day; an unknown name is an error listing the known ones.
    pub fn bundled(name: &str) -> Result<Self, SimError> {
        let (name, provenance, files) = BUNDLED
            .iter()
            .find(|(known, _, _)| *known == name)
            .ok_or_else(|| SimError::UnknownDay {
                name: name.to_owned(),
                known: Self::names().into_iter().map(str::to_owned).collect(),
            })?;
        let folder = Path::new("sim/days").join(name);
        Self::parse(name, provenance, &folder, files.map(str::to_owned))
    }

    /// A day from `root/<name>/` (the same three files as a bundled day); an unknown name is an
    /// error listing the days `root` holds.
    pub fn load(root: &Path, name: &str) -> Result<Self, SimError> {
        let folder = root.join(name);
        if name.contains(['/', '\\']) || !FILES.iter().all(|file| folder.join(file).is_file()) {
            let mut known: Vec<String> = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| FILES.iter().all(|file| entry.path().join(file).is_file()))
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect();
            known.sort();
            return Err(SimError::UnknownDay {
                name: name.to_owned(),
                known,
            });
        }
        let mut contents = Vec::with_capacity(FILES.len());
        for file in FILES {
            let path = folder.join(file);
            contents.push(
                std::fs::read_to_string(&path).map_err(|error| SimError::Data {
                    path,
                    message: error.to_string(),
                })?,
            );
        }
        let contents: [String; 3] = contents.try_into().expect("one per file");
        let provenance = format!("loaded from {}", folder.display());
        Self::parse(name, &provenance, &folder, contents)
    }

    /// A day from the contents of its three files ([`FILES`] order); `folder` names them in
    /// errors.
    pub fn parse(
        name: &str,
        provenance: &str,
        folder: &Path,
        [open_meteo, awattar, carbon]: [String; 3],
    ) -> Result<Self, SimError> {
        let error = |file: &str| {
            let path = folder.join(file);
            move |message: String| SimError::Data { path, message }
        };
        let weather = parse_open_meteo(&open_meteo).map_err(error(FILES[0]))?;
        let start = weather.start;
        let prices = parse_awattar(&awattar, start).map_err(error(FILES[1]))?;
        let intensity = parse_carbon_intensity(&carbon, start).map_err(error(FILES[2]))?;
        let mut sorted = prices.clone();
        sorted.sort_by(f64::total_cmp);
        let mean = prices.iter().sum::<f64>() / prices.len() as f64;
        Ok(Self {
            name: name.to_owned(),
            provenance: provenance.to_owned(),
            start,
            latitude: weather.latitude,
            longitude: weather.longitude,
            irradiance: weather.irradiance,
            temperature: weather.temperature,
            mean_price: base_units(mean),
            cheap_price: base_units(sorted[sorted.len() / 4 - 1]),
            prices,
            intensity,
        })
    }

    /// The day's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The UTC midnight the day starts at, unix seconds: a run's default start.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The day of the Ausgrid data year (1 July 2011 = 0) in the same season: the data is from
    /// the southern hemisphere, so 1 January maps to 1 July, day 0.
    pub fn ausgrid_day(&self) -> u32 {
        let date = DateTime::from_timestamp(self.start as i64, 0).expect("parsed from a date");
        date.ordinal0().min(365)
    }

    /// The conditions of the interval `[start, start + len)`: the irradiance averaged over it
    /// (Simpson's rule over the hourly means interpolated between their hours' middles), the
    /// temperature at its middle, the spot price of its first hour and the carbon intensity of
    /// its first half hour, with the day's mean and cheapest-quarter spot prices.
    pub fn conditions(&self, start: u64, len: u64) -> Conditions {
        let irradiance = (self.irradiance_at(start)
            + 4.0 * self.irradiance_at(start + len / 2)
            + self.irradiance_at(start + len))
            / 6.0;
        Conditions {
            start,
            len,
            irradiance_w_m2: irradiance,
            temperature_c: self.temperature_at(start + len / 2),
            spot_price_per_mwh: self.spot_price_per_mwh_at(start),
            day_mean_spot_price: self.mean_price,
            day_cheap_spot_price: self.cheap_price,
            carbon_intensity: self.carbon_intensity_at(start),
        }
    }

    /// Global horizontal irradiance at `unix`, W/m2.
    pub fn irradiance_at(&self, unix: u64) -> f64 {
        interpolate(&self.irradiance, self.on_day(unix)).max(0.0)
    }

    /// Air temperature at `unix`, degC.
    pub fn temperature_at(&self, unix: u64) -> f64 {
        interpolate(&self.temperature, self.on_day(unix))
    }

    /// The day-ahead price of the hour holding `unix`, EUR/MWh.
    pub fn spot_price_at(&self, unix: u64) -> f64 {
        self.prices[((unix % DAY_SECONDS) / 3_600) as usize]
    }

    /// The day-ahead price of the hour holding `unix`, stablecoin base units per MWh (the
    /// oracle's `SPOT_PRICE` unit; EUR taken 1:1).
    pub fn spot_price_per_mwh_at(&self, unix: u64) -> i64 {
        base_units(self.spot_price_at(unix))
    }

    /// The carbon intensity of the half hour holding `unix` (the actual value, else the
    /// forecast, as the oracle reads it), gCO2e/kWh.
    pub fn carbon_intensity_at(&self, unix: u64) -> u16 {
        let (forecast, actual) = self.intensity[((unix % DAY_SECONDS) / 1_800) as usize];
        actual
            .unwrap_or(forecast)
            .round()
            .clamp(0.0, f64::from(u16::MAX)) as u16
    }

    /// Open-Meteo's answer to `forecast?current=temperature_2m,shortwave_radiation` at `unix`:
    /// the 15-minute period holding it, with the values at `unix`.
    pub fn open_meteo_current(&self, unix: u64) -> Value {
        let period = unix - unix % OPEN_METEO_CURRENT_SECONDS;
        json!({
            "latitude": self.latitude,
            "longitude": self.longitude,
            "generationtime_ms": 0.05,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "timezone_abbreviation": "GMT",
            "elevation": 38.0,
            "current_units": {
                "time": "iso8601",
                "interval": "seconds",
                "temperature_2m": "°C",
                "shortwave_radiation": "W/m²"
            },
            "current": {
                "time": iso_minutes(period),
                "interval": OPEN_METEO_CURRENT_SECONDS,
                "temperature_2m": round_to(self.temperature_at(unix), 1),
                "shortwave_radiation": round_to(self.irradiance_at(unix), 1)
            }
        })
    }

    /// aWATTar's `v1/marketdata` answer for the UTC day holding `unix`: its 24 hourly prices
    /// (the oracle picks the one covering now).
    pub fn awattar_marketdata(&self, unix: u64) -> Value {
        let midnight = unix - unix % DAY_SECONDS;
        let data: Vec<Value> = self
            .prices
            .iter()
            .enumerate()
            .map(|(hour, price)| {
                let start = midnight + hour as u64 * 3_600;
                json!({
                    "start_timestamp": start * 1_000,
                    "end_timestamp": (start + 3_600) * 1_000,
                    "marketprice": price,
                    "unit": "Eur/MWh"
                })
            })
            .collect();
        json!({ "object": "list", "data": data, "url": "/de/v1/marketdata" })
    }

    /// Energy-Charts' `price?bzn=DE-LU` answer for the UTC day holding `unix`: the same
    /// day-ahead auction's prices (Energy-Charts publishes EPEX's result too), per quarter hour,
    /// those after `unix` not yet published (null), as the live API shows them.
    pub fn energy_charts_price(&self, unix: u64) -> Value {
        let midnight = unix - unix % DAY_SECONDS;
        let quarters: Vec<u64> = (0..96).map(|quarter| midnight + quarter * 900).collect();
        let prices: Vec<Option<f64>> = quarters
            .iter()
            .map(|at| (*at <= unix).then(|| self.spot_price_at(*at)))
            .collect();
        json!({
            "license_info": "CC BY 4.0 (creativecommons.org/licenses/by/4.0) from Bundesnetzagentur | SMARD.de",
            "unix_seconds": quarters,
            "price": prices,
            "unit": "EUR / MWh",
            "deprecated": false
        })
    }

    /// The Carbon Intensity API's `/intensity` answer at `unix`: the half hour holding it.
    pub fn carbon_intensity_current(&self, unix: u64) -> Value {
        let from = unix - unix % 1_800;
        let (forecast, actual) = self.intensity[((unix % DAY_SECONDS) / 1_800) as usize];
        json!({
            "data": [{
                "from": format!("{}Z", iso_minutes(from)),
                "to": format!("{}Z", iso_minutes(from + 1_800)),
                "intensity": {
                    "forecast": forecast,
                    "actual": actual,
                    "index": intensity_index(actual.unwrap_or(forecast))
                }
            }]
        })
    }

    /// How the day's data is used, a sentence each, for the report.
    pub fn assumptions(&self) -> Vec<String> {
        vec![
            format!("Day `{}`: {}.", self.name, self.provenance),
            "Spot prices in EUR/MWh are taken 1:1 as USD/MWh of the stablecoin.".to_owned(),
            "An interval's irradiance is the mean over it of Open-Meteo's hourly means (each the mean of the hour before its time stamp) interpolated linearly between their hours' middles; its temperature is interpolated at its middle; its spot price is its hour's and its carbon intensity its half hour's (the actual value, else the forecast).".to_owned(),
            "A run on another date, or longer than a day, repeats the day by UTC time of day.".to_owned(),
        ]
    }

    /// `unix` moved onto this day by its UTC time of day.
    fn on_day(&self, unix: u64) -> u64 {
        self.start + unix % DAY_SECONDS
    }
}

/// Linear interpolation in `points` (sorted by time), held flat beyond either end.
fn interpolate(points: &[(u64, f64)], at: u64) -> f64 {
    let after = points.partition_point(|(time, _)| *time <= at);
    match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
        (Some((t0, v0)), Some(&(t1, v1))) => v0 + (v1 - v0) * (at - t0) as f64 / (t1 - t0) as f64,
        (Some((_, v)), None) | (None, Some(&(_, v))) => v,
        (None, None) => 0.0,
    }
}

fn base_units(eur_per_mwh: f64) -> i64 {
    (eur_per_mwh * BASE_UNITS_PER_EUR).round() as i64
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn iso_minutes(unix: u64) -> String {
    DateTime::from_timestamp(unix as i64, 0)
        .expect("a unix time of this era")
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The API's qualitative index, by the bands stated in sim/days/README.md.
fn intensity_index(value: f64) -> &'static str {
    match value {
        v if v < 40.0 => "very low",
        v if v < 120.0 => "low",
        v if v < 200.0 => "moderate",
        v if v < 290.0 => "high",
        _ => "very high",
    }
}

struct Weather {
    start: u64,
    latitude: f64,
    longitude: f64,
    irradiance: Vec<(u64, f64)>,
    temperature: Vec<(u64, f64)>,
}

fn json_of<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|error| format!("not the API's format: {error}"))
}

fn parse_open_meteo(text: &str) -> Result<Weather, String> {
    #[derive(Deserialize)]
    struct Response {
        latitude: f64,
        longitude: f64,
        utc_offset_seconds: i64,
        hourly: Hourly,
    }
    #[derive(Deserialize)]
    struct Hourly {
        time: Vec<String>,
        shortwave_radiation: Vec<Option<f64>>,
        temperature_2m: Vec<Option<f64>>,
    }
    let response: Response = json_of(text)?;
    let hourly = response.hourly;
    if hourly.time.len() != hourly.shortwave_radiation.len()
        || hourly.time.len() != hourly.temperature_2m.len()
    {
        return Err("hourly arrays of different lengths".to_owned());
    }
    if hourly.time.len() < 24 {
        return Err(format!("{} hours is less than a day", hourly.time.len()));
    }
    let mut times = Vec::with_capacity(hourly.time.len());
    for time in &hourly.time {
        let local = NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M")
            .map_err(|error| format!("hourly.time `{time}`: {error}"))?;
        let unix = local.and_utc().timestamp() - response.utc_offset_seconds;
        times
            .push(u64::try_from(unix).map_err(|_| format!("hourly.time `{time}` is before 1970"))?);
    }
    let start = times[0];
    if !start.is_multiple_of(DAY_SECONDS) || times.windows(2).any(|pair| pair[1] != pair[0] + 3_600)
    {
        return Err("hourly.time must run hour by hour from a UTC midnight".to_owned());
    }
    let series = |values: &[Option<f64>], variable: &str, offset: u64| {
        times
            .iter()
            .zip(values)
            .map(|(time, value)| {
                value
                    .map(|value| (time - offset, value))
                    .ok_or_else(|| format!("hourly.{variable} is null at {}", iso_minutes(*time)))
            })
            .collect::<Result<Vec<_>, String>>()
    };
    Ok(Weather {
        start,
        latitude: response.latitude,
        longitude: response.longitude,
        // Open-Meteo's radiation is the mean of the hour before its time stamp.
        irradiance: series(&hourly.shortwave_radiation, "shortwave_radiation", 1_800)?,
        temperature: series(&hourly.temperature_2m, "temperature_2m", 0)?,
    })
}

fn parse_awattar(text: &str, start: u64) -> Result<Vec<f64>, String> {
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
    let response: Response = json_of(text)?;
    (0..24)
        .map(|hour| {
            let from = (start + hour * 3_600) * 1_000;
            let entry = response
                .data
                .iter()
                .find(|entry| {
                    entry.start_timestamp == from && entry.end_timestamp == from + 3_600_000
                })
                .ok_or_else(|| {
                    format!("no hourly entry starts at {}", iso_minutes(from / 1_000))
                })?;
            entry
                .marketprice
                .ok_or_else(|| format!("the price at {} is null", iso_minutes(from / 1_000)))
        })
        .collect()
}

fn parse_carbon_intensity(text: &str, start: u64) -> Result<Vec<(f64, Option<f64>)>, String> {
    #[derive(Deserialize)]
    struct Response {
        data: Vec<Period>,
    }
    #[derive(Deserialize)]
    struct Period {
        from: String,
        intensity: Intensity,
    }
    #[derive(Deserialize)]
    struct Intensity {
        forecast: Option<f64>,
        actual: Option<f64>,
    }
    let response: Response = json_of(text)?;
    let mut periods = Vec::with_capacity(48);
    for half_hour in 0..48 {
        let from = iso_minutes(start + half_hour * 1_800) + "Z";
        let period = response
            .data
            .iter()
            .find(|period| period.from == from)
            .ok_or_else(|| format!("no half hour starts at {from}"))?;
        let Intensity { forecast, actual } = period.intensity;
        let forecast = forecast
            .or(actual)
            .ok_or_else(|| format!("the half hour from {from} has neither forecast nor actual"))?;
        periods.push((forecast, actual));
    }
    Ok(periods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bundled_days_parse_and_have_a_date() {
        assert_eq!(Day::names(), ["sunny-spring", "cloudy-winter"]);
        let spring = Day::bundled("sunny-spring").unwrap();
        assert_eq!(spring.start(), 1_590_105_600, "2020-05-22");
        assert_eq!(spring.ausgrid_day(), 142, "2011-11-20");
        let winter = Day::bundled("cloudy-winter").unwrap();
        assert_eq!(winter.start(), 1_672_531_200, "2023-01-01");
        assert_eq!(winter.ausgrid_day(), 0, "2011-07-01");
    }

    #[test]
    fn noon_is_sunny_and_midnight_dark() {
        for name in Day::names() {
            let day = Day::bundled(name).unwrap();
            let midnight = day.conditions(day.start(), 900);
            let noon = day.conditions(day.start() + 12 * 3_600, 900);
            assert_eq!(midnight.irradiance_w_m2, 0.0, "{name}");
            assert!(noon.irradiance_w_m2 > 50.0, "{name}: {noon:?}");
            assert!(noon.carbon_intensity > 0 && midnight.carbon_intensity > 0);
            assert!(midnight.day_cheap_spot_price <= midnight.day_mean_spot_price);
        }
        let spring = Day::bundled("sunny-spring").unwrap();
        let noon = spring.conditions(spring.start() + 12 * 3_600, 900);
        assert!(noon.irradiance_w_m2 > 900.0, "{noon:?}");
        // 12:00-13:00 costs -2 EUR/MWh: a negative price reaches the feed.
        assert_eq!(noon.spot_price_per_mwh, -2_000_000);
        assert_eq!(noon.carbon_intensity, 64);
        let winter = Day::bundled("cloudy-winter").unwrap();
        let noon = winter.conditions(winter.start() + 12 * 3_600, 900);
        assert!(noon.irradiance_w_m2 < 120.0);
        // The recorded means of 11:00-12:00 and 12:00-13:00 (stamped 12:00 and 13:00) are 111
        // and 95 W/m2: at 12:00, between the two hours' middles, halfway.
        assert!((winter.irradiance_at(winter.start() + 12 * 3_600) - 103.0).abs() < 1e-9);
        assert!((winter.temperature_at(winter.start() + 12 * 3_600) - 15.8).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_day_lists_the_known_ones() {
        let error = Day::bundled("foggy").unwrap_err().to_string();
        assert!(error.contains("foggy"), "{error}");
        assert!(
            error.contains("sunny-spring") && error.contains("cloudy-winter"),
            "{error}"
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("days");
        let error = Day::load(&root, "foggy").unwrap_err().to_string();
        assert!(error.contains("cloudy-winter, sunny-spring"), "{error}");
    }

    #[test]
    fn a_day_loads_from_a_folder_like_the_bundled_one() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("days");
        let loaded = Day::load(&root, "cloudy-winter").unwrap();
        let bundled = Day::bundled("cloudy-winter").unwrap();
        let at = bundled.start() + 17 * 3_600;
        assert_eq!(loaded.conditions(at, 900), bundled.conditions(at, 900));
    }

    #[test]
    fn a_broken_file_is_named_with_what_is_wrong() {
        let [open_meteo, awattar, carbon] = BUNDLED[0].2.map(str::to_owned);
        let short = carbon.replace(
            "\"from\": \"2020-05-22T13:00Z\"",
            "\"from\": \"2020-05-23T13:00Z\"",
        );
        let error = Day::parse("x", "", Path::new("days/x"), [open_meteo, awattar, short])
            .unwrap_err()
            .to_string();
        assert!(error.contains("days/x/carbon-intensity.json"), "{error}");
        assert!(error.contains("2020-05-22T13:00Z"), "{error}");
    }

    #[test]
    fn answers_are_in_each_source_format_for_any_date() {
        let day = Day::bundled("sunny-spring").unwrap();
        // 2026-11-26 13:10 UTC: another date, the same time of day.
        let now = 1_795_651_200 + 13 * 3_600 + 600;
        let current = day.open_meteo_current(now);
        assert_eq!(current["current"]["time"], "2026-11-26T13:00");
        let irradiance = current["current"]["shortwave_radiation"].as_f64().unwrap();
        assert!((irradiance - round_to(day.irradiance_at(now), 1)).abs() < 1e-9);
        let prices = day.awattar_marketdata(now);
        let data = prices["data"].as_array().unwrap();
        assert_eq!(data.len(), 24);
        assert_eq!(data[13]["start_timestamp"], (now - 600) * 1_000);
        assert_eq!(data[13]["marketprice"], -5.0);
        let carbon = day.carbon_intensity_current(now);
        let energy_charts = day.energy_charts_price(now);
        assert_eq!(energy_charts["unix_seconds"][52], now - 600);
        assert_eq!(energy_charts["price"][52], -5.0);
        assert_eq!(
            energy_charts["price"][53],
            Value::Null,
            "13:15 is after now"
        );
        assert_eq!(carbon["data"][0]["from"], "2026-11-26T13:00Z");
        assert_eq!(carbon["data"][0]["intensity"]["forecast"], 62.0);
        assert_eq!(carbon["data"][0]["intensity"]["actual"], Value::Null);
        assert_eq!(day.carbon_intensity_at(now), 62);
    }
}
