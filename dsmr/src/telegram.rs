//! The parsed content of one telegram.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Serialize, Serializer};

/// The readings of one P1 telegram that settlement needs.
///
/// Energy is in whole watt-hours and power in whole watts, converted from the meter's
/// decimal text with integer arithmetic. Serializes (e.g. with `serde_json`) with
/// `timestamp` as an RFC 3339 string carrying the meter's offset,
/// `"2010-12-09T11:30:20+01:00"`, or `null` when the meter sends no timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Telegram {
    /// The identification line without its leading `/`, e.g. `ISk5\2MT382-1000`:
    /// manufacturer code, baud rate character, meter type.
    pub header: String,
    /// The P1 version: `1-3:0.2.8` (`"42"`, `"50"`) or, on Belgian meters, `0-0:96.1.4`
    /// (`"50217"`). DSMR 2.2 and 3.0 send neither.
    pub version: Option<String>,
    /// The electricity meter's identifier as sent: `0-0:96.1.1` (hex-encoded ASCII in the
    /// Netherlands and Belgium), else `0-0:96.1.0` (some Belgian meters), else the
    /// logical device name `0-0:42.0.0` (Luxembourg Smarty, also hex-encoded ASCII).
    pub equipment_id: Option<String>,
    /// When the meter took the readings (`0-0:1.0.0`), in Central European time with the
    /// offset the meter flagged: `+01:00` winter, `+02:00` summer.
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// Energy delivered to the client, Wh: `1-0:1.8.0` when sent, else the sum of the
    /// tariff registers `1-0:1.8.1`, `1-0:1.8.2`, ...
    pub import_wh: u64,
    /// Energy delivered by the client, Wh: `1-0:2.8.0` when sent, else the sum of the
    /// tariff registers `1-0:2.8.1`, `1-0:2.8.2`, ...
    pub export_wh: u64,
    /// Instantaneous power drawn, W (`1-0:1.7.0`; 0 when the meter does not send it).
    pub power_import_w: u32,
    /// Instantaneous power fed in, W (`1-0:2.7.0`; 0 when the meter does not send it).
    pub power_export_w: u32,
    /// The CRC-16/ARC from the end line, already verified; `None` for DSMR 2.2/3.0
    /// telegrams, which carry none.
    pub crc: Option<u16>,
}

/// chrono's own serde support is a feature the workspace leaves off; one field does not
/// justify it.
fn rfc3339<S: Serializer>(
    timestamp: &Option<DateTime<FixedOffset>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match timestamp {
        Some(t) => serializer.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, false)),
        None => serializer.serialize_none(),
    }
}
