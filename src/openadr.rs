//! VPP dispatch events as OpenADR 3 events, both ways, as plain data: no chain, no I/O.
//!
//! [`to_openadr`] writes a [`DispatchEvent`] (what `VppDispatch.eventOf` and `EventCreated`
//! report) as an OpenADR 3 `event` object; [`from_openadr`] reads such an object back into the
//! arguments of `VppDispatch.create` (the budget is the caller's).
//!
//! # Schema followed
//! OpenADR 3.0.1 (`openadr3.yaml` of the OpenADR Alliance's specification): the `event`,
//! `interval`, `intervalPeriod`, `valuesMap` and `eventPayloadDescriptor` objects, and the
//! payload types and units of the enumeration schemas (`event-interval-payloads`, `units`). An
//! exported event looks like this (keys sorted; `eventName` only when given):
//!
//! ```json
//! {
//!   "eventName": "cogrid-vpp-7",
//!   "intervalPeriod": {"duration": "PT1H", "start": "2026-11-26T18:00:00Z"},
//!   "intervals": [{"id": 0, "payloads": [
//!     {"type": "DISPATCH_SETPOINT", "values": [250]},
//!     {"type": "PRICE", "values": [0.25]}
//!   ]}],
//!   "objectType": "EVENT",
//!   "payloadDescriptors": [
//!     {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "DISPATCH_SETPOINT", "units": "KW"},
//!     {"currency": "USD", "objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE", "units": "KWH"}
//!   ],
//!   "priority": 1,
//!   "programID": "evening-peak",
//!   "targets": [{"type": "FEEDER", "values": ["3"]}]
//! }
//! ```
//!
//! # Mapping
//! - **Program**: the contract's `programName` is the event's `programID`. OpenADR makes that an
//!   object ID (1 to 128 letters, digits, `-`, `_`), so a program name outside that set is
//!   refused both ways rather than changed.
//! - **Feeder**: a target `{"type": "FEEDER", "values": ["3"]}`. None of OpenADR's target types
//!   names a distribution feeder (`POWER_SERVICE_LOCATION` is one customer's point of service,
//!   `SERVICE_AREA` a named geographic region), and `valuesMap.type` admits private strings, so
//!   the type says exactly what the value is: the feeder number the co-op gives meters in the
//!   MeterRegistry. The value is written as a decimal string, as target values are matched
//!   against query strings (and are plain strings in OpenADR 3.1); a JSON integer is read too.
//!   Other targets (`VEN_NAME`, `GROUP`...) are left to the VTN and ignored.
//! - **Window**: one interval, `intervalPeriod.start` = `start` as RFC 3339 UTC to the second,
//!   `duration` = `end - start` as an ISO 8601 duration ([`format_duration`]). Read from the
//!   event's `intervalPeriod` or the interval's, the interval's fields taking precedence as
//!   OpenADR says; an interval start of `0001-01-01` ("as the event") defers to the event's.
//! - **Setpoint**: a `DISPATCH_SETPOINT` payload in kW (descriptor `units: "KW"`, the power unit
//!   of OpenADR's enumeration; there is no W). Watts / 1000 is a JSON number with at most 3
//!   decimals, exact both ways; a value that is not a whole number of watts is refused. As the
//!   contract uses it, it is the event's aggregate target for the feeder's batteries and EVs,
//!   where OpenADR describes `DISPATCH_SETPOINT` as a resource's absolute consumption.
//! - **Price**: a `PRICE` payload in USD per kWh (descriptor `currency: "USD"`, `units: "KWH"`),
//!   the stablecoin's base units / 10^6, at most 6 decimals. JSON numbers are binary floats,
//!   exact to 15 significant digits, so prices go up to [`MAX_PRICE_PER_KWH`] base units
//!   (999,999,999.999999 USD per kWh), far above any tariff.
//! - **Priority**: OpenADR's (0 highest) as is; an event without one gets the lowest the
//!   contract stores, [`DEFAULT_PRIORITY`].
//! - **eventName**: carried for people both ways; the chain does not store it.
//!
//! Read, not written, and refused unless neutral: `randomizeStart` (must be zero: the on-chain
//! window is exact). Ignored: VTN-provisioned fields (`id`, `createdDateTime`...),
//! `reportDescriptors`, interval `id`s and any unknown field. Several intervals, several values
//! in a payload (OpenADR 3.1's packed sub-intervals) and payload types other than the two above
//! are refused: one on-chain event is one window at one setpoint and one price.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Number, Value, json};

use crate::error::{AmountError, DurationError, OpenAdrError};
use crate::time::MAX_SECONDS;
use crate::units::{self, Unit};

/// The `valuesMap` type of the target that names the feeder.
pub const FEEDER_TARGET: &str = "FEEDER";

/// The priority of an event that states none: the lowest the contract stores.
pub const DEFAULT_PRIORITY: u8 = u8::MAX;

/// The highest price carried, in stablecoin base units per kWh: 15 significant digits, the most a
/// JSON number (an IEEE 754 double) keeps exactly through any parser.
pub const MAX_PRICE_PER_KWH: u64 = 999_999_999_999_999;

const DISPATCH_SETPOINT: &str = "DISPATCH_SETPOINT";
const PRICE: &str = "PRICE";
const SETPOINT_UNITS: &str = "KW";
const PRICE_UNITS: &str = "KWH";
const CURRENCY: &str = "USD";

/// The latest start RFC 3339 writes (four-digit years): 9999-12-31T23:59:59Z.
const LATEST_START: u64 = 253_402_300_799;

/// Seconds in a week and a day: OpenADR's times are UTC, where days have no DST.
const WEEK: u64 = 604_800;
const DAY: u64 = 86_400;

/// A VPP dispatch event with the fields of `VppDispatch.create` (less the budget), in the
/// contract's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchEvent {
    /// The program the event belongs to (`programName` on chain, `programID` in OpenADR).
    pub program_name: String,
    /// A name for people (OpenADR's `eventName`), e.g. `cogrid-vpp-7`; not stored on chain.
    pub event_name: Option<String>,
    /// The feeder whose batteries and EVs are dispatched.
    pub feeder: u32,
    /// Start of the window, unix seconds (inclusive).
    pub start: u64,
    /// End of the window, unix seconds (exclusive), after `start`; at most uint40.
    pub end: u64,
    /// Aggregate export asked of the feeder, watts (the `DISPATCH_SETPOINT`).
    pub target_w: u32,
    /// Pay per kWh delivered, stablecoin base units (6 decimals: 250000 = 0.25 USD per kWh).
    pub price_per_kwh: u64,
    /// OpenADR priority, 0 the highest.
    pub priority: u8,
}

/// The dispatch event as an OpenADR 3 `event` object (shape in the module documentation).
///
/// Refuses an event that no valid OpenADR event describes: a program name that is not an object
/// ID, an empty window, a start after the year 9999, an end past uint40, a zero setpoint, a
/// price of zero or above [`MAX_PRICE_PER_KWH`].
pub fn to_openadr(event: &DispatchEvent) -> Result<Value, OpenAdrError> {
    check_exportable(event)?;
    let start = DateTime::from_timestamp(
        i64::try_from(event.start).expect("checked to be before the year 10000"),
        0,
    )
    .expect("checked to be before the year 10000")
    .to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut object = json!({
        "objectType": "EVENT",
        "programID": event.program_name,
        "priority": event.priority,
        "targets": [{"type": FEEDER_TARGET, "values": [event.feeder.to_string()]}],
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": DISPATCH_SETPOINT,
                "units": SETPOINT_UNITS,
            },
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": PRICE,
                "units": PRICE_UNITS,
                "currency": CURRENCY,
            },
        ],
        "intervalPeriod": {
            "start": start,
            "duration": format_duration(event.end - event.start),
        },
        "intervals": [{
            "id": 0,
            "payloads": [
                {"type": DISPATCH_SETPOINT, "values": [decimal(event.target_w.into(), Unit::Kw)]},
                {"type": PRICE, "values": [decimal(event.price_per_kwh.into(), Unit::UsdPerKwh)]},
            ],
        }],
    });
    if let Some(name) = &event.event_name {
        object["eventName"] = Value::from(name.as_str());
    }
    Ok(object)
}

fn check_exportable(event: &DispatchEvent) -> Result<(), OpenAdrError> {
    let refuse = |field, value: String, expected| {
        Err(OpenAdrError::NotExportable {
            field,
            value,
            expected,
        })
    };
    if !is_object_id(&event.program_name) {
        return refuse(
            "program_name",
            format!("{:?}", event.program_name),
            "OpenADR's programID takes 1 to 128 letters, digits, '-' or '_'",
        );
    }
    if event.start > LATEST_START {
        return refuse(
            "start",
            event.start.to_string(),
            "RFC 3339 writes times up to 9999-12-31T23:59:59Z",
        );
    }
    if event.end <= event.start {
        return refuse(
            "end",
            event.end.to_string(),
            "the window must end after its start",
        );
    }
    if event.end > MAX_SECONDS {
        return refuse(
            "end",
            event.end.to_string(),
            "the contract stores times up to uint40 seconds",
        );
    }
    if event.target_w == 0 {
        return refuse(
            "target_w",
            "0".to_owned(),
            "the setpoint must be at least 1 W",
        );
    }
    if event.price_per_kwh == 0 || event.price_per_kwh > MAX_PRICE_PER_KWH {
        return refuse(
            "price_per_kwh",
            event.price_per_kwh.to_string(),
            "a price is from 1 to 999999999999999 base units per kWh (15 digits, what a JSON \
             number carries exactly)",
        );
    }
    Ok(())
}

/// `value` base units of `unit` as a JSON number with the same decimal digits.
///
/// The digits come from [`units::format`], exact; an integer stays an integer, and a fraction of
/// at most 15 significant digits survives the trip through a double (parsed here, printed
/// shortest by serde_json, parsed by the reader) unchanged.
fn decimal(value: u128, unit: Unit) -> Value {
    let text = units::format(value, unit);
    match text.parse::<u64>() {
        Ok(whole) => Value::from(whole),
        Err(_) => {
            let float = text.parse::<f64>().expect("units::format writes a decimal");
            Value::Number(Number::from_f64(float).expect("a decimal is finite"))
        }
    }
}

/// Reads an OpenADR 3 `event` object into a dispatch event (rules in the module documentation).
///
/// Every refusal names the JSON path and the value found, and says what is expected.
pub fn from_openadr(event: &Value) -> Result<DispatchEvent, OpenAdrError> {
    let root = object(event, "the event")?;
    if let Some(kind) = present(root, "objectType")
        && kind.as_str() != Some("EVENT")
    {
        return Err(OpenAdrError::NotAnEvent { found: shown(kind) });
    }
    let program_name = program_id(root)?;
    let event_name = match present(root, "eventName") {
        Some(name) => Some(string(name, "eventName")?.to_owned()),
        None => None,
    };
    let priority = match present(root, "priority") {
        Some(value) => value
            .as_u64()
            .and_then(|priority| u8::try_from(priority).ok())
            .ok_or_else(|| OpenAdrError::PriorityOutOfRange {
                value: shown(value),
            })?,
        None => DEFAULT_PRIORITY,
    };
    let feeder = feeder(root)?;
    let intervals = array(
        required(root, "intervals", "", "give one interval")?,
        "intervals",
    )?;
    let [interval] = intervals else {
        return Err(OpenAdrError::IntervalCount {
            count: intervals.len(),
        });
    };
    let interval = object(interval, "intervals[0]")?;
    let (start, end) = window(root, interval)?;
    let (target_w, price_per_kwh) = payloads(root, interval)?;
    Ok(DispatchEvent {
        program_name,
        event_name,
        feeder,
        start,
        end,
        target_w,
        price_per_kwh,
        priority,
    })
}

fn program_id(root: &Map<String, Value>) -> Result<String, OpenAdrError> {
    let value = required(
        root,
        "programID",
        "",
        "give the program the event belongs to, e.g. \"programID\": \"evening-peak\"",
    )?;
    let id = string(value, "programID")?;
    if !is_object_id(id) {
        return Err(OpenAdrError::BadProgramId {
            path: "programID".to_owned(),
            value: id.to_owned(),
        });
    }
    Ok(id.to_owned())
}

/// OpenADR's `objectID`: `^[a-zA-Z0-9_-]*$`, 1 to 128 characters.
fn is_object_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn feeder(root: &Map<String, Value>) -> Result<u32, OpenAdrError> {
    let Some(targets) = present(root, "targets") else {
        return Err(OpenAdrError::MissingFeeder);
    };
    let mut feeders = Vec::new();
    for (index, target) in array(targets, "targets")?.iter().enumerate() {
        let path = format!("targets[{index}]");
        let target = object(target, &path)?;
        let kind = required(
            target,
            "type",
            &path,
            "give the target's type, e.g. \"FEEDER\"",
        )?;
        if string(kind, &format!("{path}.type"))? != FEEDER_TARGET {
            continue;
        }
        let values_path = format!("{path}.values");
        let values = required(target, "values", &path, "give the feeder, e.g. [\"7\"]")?;
        for (index, value) in array(values, &values_path)?.iter().enumerate() {
            feeders.push((format!("{values_path}[{index}]"), value));
        }
    }
    match feeders.as_slice() {
        [] => Err(OpenAdrError::MissingFeeder),
        [(path, value)] => {
            let number = match value {
                Value::Number(number) => number.as_u64(),
                Value::String(text) if text.bytes().all(|byte| byte.is_ascii_digit()) => {
                    text.parse().ok()
                }
                _ => None,
            };
            number
                .and_then(|number| u32::try_from(number).ok())
                .ok_or_else(|| OpenAdrError::BadFeeder {
                    path: path.clone(),
                    value: shown(value),
                })
        }
        several => Err(OpenAdrError::SeveralFeeders {
            paths: several.iter().map(|(path, _)| path.clone()).collect(),
        }),
    }
}

/// The window `[start, end)` from the interval's `intervalPeriod`, falling back field by field
/// to the event's.
fn window(
    root: &Map<String, Value>,
    interval: &Map<String, Value>,
) -> Result<(u64, u64), OpenAdrError> {
    let mut periods = Vec::new();
    for (owner, path) in [
        (interval, "intervals[0].intervalPeriod"),
        (root, "intervalPeriod"),
    ] {
        if let Some(period) = present(owner, "intervalPeriod") {
            periods.push((object(period, path)?, path));
        }
    }
    if periods.is_empty() {
        return Err(OpenAdrError::MissingIntervalPeriod);
    }
    for (period, path) in &periods {
        if let Some(value) = present(period, "randomizeStart") {
            let path = format!("{path}.randomizeStart");
            if duration(value, &path)? != 0 {
                return Err(OpenAdrError::RandomizedStart {
                    path,
                    value: shown(value),
                });
            }
        }
    }
    let start = start(&periods)?;
    let Some((value, path)) = periods.iter().find_map(|(period, path)| {
        present(period, "duration").map(|value| (value, format!("{path}.duration")))
    }) else {
        return Err(OpenAdrError::MissingField {
            path: format!("{}.duration", periods[0].1),
            hint: "give the window's length, e.g. \"PT1H\"",
        });
    };
    let seconds = duration(value, &path)?;
    if seconds == 0 {
        return Err(OpenAdrError::EmptyWindow {
            path,
            value: shown(value),
        });
    }
    match start.checked_add(seconds) {
        Some(end) if end <= MAX_SECONDS => Ok((start, end)),
        _ => Err(OpenAdrError::EndOutOfRange {
            path,
            value: shown(value),
        }),
    }
}

/// The first absolute start among `periods`, skipping OpenADR's "beginning of time"
/// (`0001-01-01`), which on an interval means "the event's start".
fn start(periods: &[(&Map<String, Value>, &str)]) -> Result<u64, OpenAdrError> {
    let mut beginning_of_time = None;
    for (period, path) in periods {
        let Some(value) = present(period, "start") else {
            continue;
        };
        let path = format!("{path}.start");
        let text = string(value, &path)?;
        if text.starts_with("0001-01-01") {
            beginning_of_time = Some((path, value));
            continue;
        }
        let bad = |reason| OpenAdrError::BadStart {
            path: path.clone(),
            value: shown(value),
            reason,
        };
        let time = DateTime::parse_from_rfc3339(text)
            .map_err(|_| bad("is not an RFC 3339 time; write e.g. \"2026-11-26T18:00:00Z\""))?;
        if time.timestamp_subsec_nanos() != 0 {
            return Err(bad(
                "falls inside a second; the chain counts whole seconds, e.g. \"2026-11-26T18:00:00Z\"",
            ));
        }
        return u64::try_from(time.timestamp())
            .map_err(|_| bad("is before 1970-01-01T00:00:00Z, the earliest the chain stores"));
    }
    match beginning_of_time {
        Some((path, value)) => Err(OpenAdrError::BadStart {
            path,
            value: shown(value),
            reason: "is OpenADR's \"do it now\"; an on-chain event starts at an absolute time in \
                     the future: give it, e.g. \"2026-11-26T18:00:00Z\"",
        }),
        None => Err(OpenAdrError::MissingField {
            path: format!("{}.start", periods[0].1),
            hint: "give the window's start, e.g. \"2026-11-26T18:00:00Z\"",
        }),
    }
}

fn duration(value: &Value, path: &str) -> Result<u64, OpenAdrError> {
    parse_duration(string(value, path)?).map_err(|reason| OpenAdrError::BadDuration {
        path: path.to_owned(),
        value: shown(value),
        reason,
    })
}

/// The setpoint (W) and price (base units per kWh) of the interval's payloads, read in the
/// units their descriptors state.
fn payloads(
    root: &Map<String, Value>,
    interval: &Map<String, Value>,
) -> Result<(u32, u64), OpenAdrError> {
    let mut setpoint = None;
    let mut price = None;
    let list = required(
        interval,
        "payloads",
        "intervals[0]",
        "give the DISPATCH_SETPOINT and PRICE payloads",
    )?;
    for (index, payload) in array(list, "intervals[0].payloads")?.iter().enumerate() {
        let path = format!("intervals[0].payloads[{index}]");
        let payload = object(payload, &path)?;
        let kind = required(payload, "type", &path, "give the payload's type")?;
        let (slot, payload_type) = match string(kind, &format!("{path}.type"))? {
            DISPATCH_SETPOINT => (&mut setpoint, DISPATCH_SETPOINT),
            PRICE => (&mut price, PRICE),
            _ => {
                return Err(OpenAdrError::UnknownPayloadType {
                    path: format!("{path}.type"),
                    found: shown(kind),
                });
            }
        };
        if slot.is_some() {
            return Err(OpenAdrError::DuplicatePayload { path, payload_type });
        }
        let values_path = format!("{path}.values");
        let values = array(
            required(payload, "values", &path, "give one value")?,
            &values_path,
        )?;
        let [value] = values else {
            return Err(OpenAdrError::ValueCount {
                count: values.len(),
                path: values_path,
            });
        };
        *slot = Some((value, format!("{values_path}[0]")));
    }
    let (setpoint, setpoint_path) = setpoint.ok_or(OpenAdrError::MissingPayload {
        payload_type: DISPATCH_SETPOINT,
        example: "250",
    })?;
    let (price, price_path) = price.ok_or(OpenAdrError::MissingPayload {
        payload_type: PRICE,
        example: "0.25",
    })?;
    check_descriptors(root)?;
    Ok((
        setpoint_w(setpoint, setpoint_path)?,
        price_per_kwh(price, price_path)?,
    ))
}

/// Checks that the event's payload descriptors read the setpoint in kW and the price in USD per
/// kWh; without them the numbers have no unit.
fn check_descriptors(root: &Map<String, Value>) -> Result<(), OpenAdrError> {
    const SETPOINT_DESCRIPTOR: &str = "{\"payloadType\": \"DISPATCH_SETPOINT\", \"units\": \"KW\"}";
    const PRICE_DESCRIPTOR: &str =
        "{\"payloadType\": \"PRICE\", \"units\": \"KWH\", \"currency\": \"USD\"}";
    let mut described = (false, false);
    if let Some(list) = present(root, "payloadDescriptors") {
        for (index, descriptor) in array(list, "payloadDescriptors")?.iter().enumerate() {
            let path = format!("payloadDescriptors[{index}]");
            let descriptor = object(descriptor, &path)?;
            let Some(kind) = present(descriptor, "payloadType") else {
                continue;
            };
            let expected: &[(&str, &str, &'static str)] =
                match string(kind, &format!("{path}.payloadType"))? {
                    DISPATCH_SETPOINT => {
                        described.0 = true;
                        &[("units", SETPOINT_UNITS, "\"KW\" (setpoints are read in kW)")]
                    }
                    PRICE => {
                        described.1 = true;
                        &[
                            ("units", PRICE_UNITS, "\"KWH\" (prices are per kWh)"),
                            (
                                "currency",
                                CURRENCY,
                                "\"USD\" (the market's stablecoin is dollars; convert first)",
                            ),
                        ]
                    }
                    _ => &[],
                };
            for &(field, wanted, expected) in expected {
                let value = descriptor.get(field).unwrap_or(&Value::Null);
                if value.as_str() != Some(wanted) {
                    return Err(OpenAdrError::WrongDescriptor {
                        path: format!("{path}.{field}"),
                        found: shown(value),
                        expected,
                    });
                }
            }
        }
    }
    match described {
        (false, _) => Err(OpenAdrError::MissingDescriptor {
            payload_type: DISPATCH_SETPOINT,
            expected: SETPOINT_DESCRIPTOR,
        }),
        (_, false) => Err(OpenAdrError::MissingDescriptor {
            payload_type: PRICE,
            expected: PRICE_DESCRIPTOR,
        }),
        (true, true) => Ok(()),
    }
}

fn setpoint_w(value: &Value, path: String) -> Result<u32, OpenAdrError> {
    let watts = exact(value, &path, Unit::Kw, "a number of kW, e.g. 250")?;
    let out_of_range = || OpenAdrError::SetpointOutOfRange {
        path: path.clone(),
        value: shown(value),
    };
    match watts {
        Ok(0) => Err(out_of_range()),
        Ok(watts) => u32::try_from(watts).map_err(|_| out_of_range()),
        Err(AmountError::TooManyDecimals { .. }) => Err(OpenAdrError::SetpointNotWholeWatts {
            path,
            value: shown(value),
        }),
        Err(_) => Err(out_of_range()),
    }
}

fn price_per_kwh(value: &Value, path: String) -> Result<u64, OpenAdrError> {
    let base_units = exact(
        value,
        &path,
        Unit::UsdPerKwh,
        "a number of USD per kWh, e.g. 0.25",
    )?;
    let out_of_range = || OpenAdrError::PriceOutOfRange {
        path: path.clone(),
        value: shown(value),
        max: units::format(MAX_PRICE_PER_KWH.into(), Unit::UsdPerKwh),
    };
    match base_units {
        Ok(0) => Err(out_of_range()),
        Ok(base_units) => u64::try_from(base_units)
            .ok()
            .filter(|&price| price <= MAX_PRICE_PER_KWH)
            .ok_or_else(out_of_range),
        Err(AmountError::TooManyDecimals { .. }) => Err(OpenAdrError::PriceTooPrecise {
            path,
            value: shown(value),
        }),
        Err(_) => Err(out_of_range()),
    }
}

/// A JSON number as base units of `unit`, digit by digit: the outer error is a value that is no
/// number, the inner one a number that is no amount (negative, too precise, too large).
fn exact(
    value: &Value,
    path: &str,
    unit: Unit,
    expected: &'static str,
) -> Result<Result<u128, AmountError>, OpenAdrError> {
    let Value::Number(number) = value else {
        return Err(wrong_type(value, path, expected));
    };
    // A double prints as the shortest decimal that reads back as it, never in exponent form:
    // the digits the writer meant, for any number of up to 15 significant digits.
    let text = match (number.as_u64(), number.as_i64(), number.as_f64()) {
        (Some(whole), _, _) => whole.to_string(),
        (None, Some(negative), _) => negative.to_string(),
        (None, None, Some(float)) => float.to_string(),
        (None, None, None) => return Err(wrong_type(value, path, expected)),
    };
    Ok(units::parse(&text, unit))
}

fn present<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn required<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    parent: &str,
    hint: &'static str,
) -> Result<&'a Value, OpenAdrError> {
    present(object, key).ok_or_else(|| OpenAdrError::MissingField {
        path: if parent.is_empty() {
            key.to_owned()
        } else {
            format!("{parent}.{key}")
        },
        hint,
    })
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, OpenAdrError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(value, path, "an object"))
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a [Value], OpenAdrError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| wrong_type(value, path, "an array"))
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, OpenAdrError> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(value, path, "a string"))
}

fn wrong_type(value: &Value, path: &str, expected: &'static str) -> OpenAdrError {
    OpenAdrError::WrongType {
        path: path.to_owned(),
        expected,
        found: shown(value),
    }
}

/// A value as compact JSON for a message, cut short when long.
fn shown(value: &Value) -> String {
    const LONGEST: usize = 80;
    let text = value.to_string();
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// Parses an ISO 8601 duration into seconds.
///
/// Takes OpenADR's form: `P`, then weeks and days (`nW`, `nD`), then `T` and hours, minutes,
/// seconds (`nH`, `nM`, `nS`), each in that order, at most once, and at least one overall:
/// `PT15M`, `P1DT2H`, `P2W`. A day is 86,400 s (OpenADR times are UTC). The last
/// component may have a decimal fraction (`.` or `,`) if the total is whole seconds (`PT1.5M`
/// is 90 s; `PT1.5S` is refused). Refuses years and months, which have no fixed length in
/// seconds, and negative durations.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let rest = text.strip_prefix('P').ok_or(DurationError::NoLeadingP)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(DurationError::Empty);
    }
    if time == Some("") {
        return Err(DurationError::EmptyTime);
    }
    let mut total = Components::default();
    total.add_all(date, |designator| match designator {
        'W' => Ok((0, WEEK)),
        'D' => Ok((1, DAY)),
        'Y' => Err(DurationError::Calendar { unit: "years" }),
        'M' => Err(DurationError::Calendar { unit: "months" }),
        'H' | 'S' | 'P' => Err(DurationError::OutOfPlace { designator }),
        found => Err(DurationError::UnknownDesignator { found }),
    })?;
    total.add_all(time.unwrap_or(""), |designator| match designator {
        'H' => Ok((2, 3_600)),
        'M' => Ok((3, 60)),
        'S' => Ok((4, 1)),
        'W' | 'D' | 'Y' | 'T' | 'P' => Err(DurationError::OutOfPlace { designator }),
        found => Err(DurationError::UnknownDesignator { found }),
    })?;
    u64::try_from(total.seconds).map_err(|_| DurationError::TooLong)
}

/// The running sum of a duration's components, with what the grammar needs to know of the
/// components seen: the place of the last one and whether one had a fraction.
#[derive(Default)]
struct Components {
    seconds: u128,
    last_place: Option<u8>,
    had_fraction: bool,
}

impl Components {
    /// Adds every `number designator` pair of `part`; `place_of` gives each designator's place in
    /// the order and its length in seconds.
    fn add_all(
        &mut self,
        mut part: &str,
        place_of: impl Fn(char) -> Result<(u8, u64), DurationError>,
    ) -> Result<(), DurationError> {
        while !part.is_empty() {
            let number_end = part
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                .unwrap_or(part.len());
            let (number, after) = part.split_at(number_end);
            let Some(designator) = after.chars().next() else {
                return Err(DurationError::MissingDesignator {
                    number: number.to_owned(),
                });
            };
            let (place, unit_seconds) = place_of(designator)?;
            if number.is_empty() {
                return Err(DurationError::MissingNumber { designator });
            }
            if self.last_place.is_some_and(|last| last >= place) {
                return Err(DurationError::OutOfPlace { designator });
            }
            if self.had_fraction {
                return Err(DurationError::FractionNotLast);
            }
            self.last_place = Some(place);
            self.add(number, unit_seconds)?;
            part = &after[designator.len_utf8()..];
        }
        Ok(())
    }

    /// Adds `number` (digits, maybe a fraction) times `unit_seconds`.
    fn add(&mut self, number: &str, unit_seconds: u64) -> Result<(), DurationError> {
        let bad_number = || DurationError::BadNumber {
            number: number.to_owned(),
        };
        let (whole, fraction) = match number.split_once(['.', ',']) {
            Some((whole, fraction)) => {
                self.had_fraction = true;
                (whole, fraction)
            }
            None => (number, ""),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || (number.len() > whole.len() && !all_digits(fraction)) {
            return Err(bad_number());
        }
        let unit_seconds = u128::from(unit_seconds);
        let whole_seconds = whole
            .bytes()
            .try_fold(0u128, |value, digit| {
                value.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
            })
            .and_then(|value| value.checked_mul(unit_seconds))
            .ok_or(DurationError::TooLong)?;
        let fraction = fraction.trim_end_matches('0');
        // A fraction in lowest terms has 2^n or 5^n in its denominator, n its decimals; a week
        // (2^7 x 3^3 x 5^2 x 7) cancels at most 2^7, so more than 7 decimals is never whole
        // seconds, and 30 keeps the arithmetic inside u128.
        if fraction.len() > 30 {
            return Err(DurationError::NotWholeSeconds);
        }
        let numerator = fraction
            .bytes()
            .fold(0u128, |value, digit| value * 10 + u128::from(digit - b'0'))
            * unit_seconds;
        let denominator = 10u128.pow(u32::try_from(fraction.len()).expect("at most 30"));
        if numerator % denominator != 0 {
            return Err(DurationError::NotWholeSeconds);
        }
        self.seconds = self
            .seconds
            .checked_add(numerator / denominator)
            .and_then(|seconds| seconds.checked_add(whole_seconds))
            .ok_or(DurationError::TooLong)?;
        Ok(())
    }
}

/// Writes `seconds` as the shortest ISO 8601 duration in days, hours, minutes and seconds,
/// leaving out zero components: `PT1H`, `PT1H30M`, `P1DT2H`, `PT0S` for zero.
///
/// Never weeks: ISO 8601 does not mix them with other components, and days read the same
/// everywhere. [`parse_duration`] gives `seconds` back.
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "PT0S".to_owned();
    }
    let (days, rest) = (seconds / DAY, seconds % DAY);
    let (hours, minutes, secs) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    let mut text = "P".to_owned();
    if days > 0 {
        text += &format!("{days}D");
    }
    if rest > 0 {
        text.push('T');
        for (amount, designator) in [(hours, 'H'), (minutes, 'M'), (secs, 'S')] {
            if amount > 0 {
                text += &format!("{amount}{designator}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// 2026-11-26T18:00:00Z.
    const EVENING: u64 = 1_795_716_000;

    fn sample() -> DispatchEvent {
        DispatchEvent {
            program_name: "evening-peak".to_owned(),
            event_name: Some("cogrid-vpp-7".to_owned()),
            feeder: 3,
            start: EVENING,
            end: EVENING + 3_600,
            target_w: 250_000,
            price_per_kwh: 250_000,
            priority: 1,
        }
    }

    /// The sample's export with `edit` applied, read back.
    fn import_edited(edit: impl FnOnce(&mut Value)) -> Result<DispatchEvent, OpenAdrError> {
        let mut event = to_openadr(&sample()).unwrap();
        edit(&mut event);
        from_openadr(&event)
    }

    /// Like [`import_edited`], for an edit that must be refused; also checks that the message
    /// names each of `mentions`.
    fn refused(edit: impl FnOnce(&mut Value), mentions: &[&str]) -> OpenAdrError {
        let error = import_edited(edit).expect_err("the edited event must be refused");
        let message = error.to_string();
        for mention in mentions {
            assert!(
                message.contains(mention),
                "{message:?} does not mention {mention:?}"
            );
        }
        error
    }

    #[test]
    fn reads_an_event_as_a_vtn_serves_it() {
        // The shape of the 3.0.1 reference VTN's GET /events answer: provisioned fields, a
        // VEN_NAME target before ours, descriptors in another order with a null currency, a
        // report request, fractional-second times, a zero randomizeStart, payloads reversed.
        let event = json!({
            "id": "42",
            "createdDateTime": "2026-11-25T09:12:44.107Z",
            "modificationDateTime": "2026-11-25T09:12:44.107Z",
            "objectType": "EVENT",
            "programID": "evening-peak",
            "eventName": "feeder 3 evening peak",
            "priority": 1,
            "targets": [
                {"type": "VEN_NAME", "values": ["gateway-0x51f2"]},
                {"type": "FEEDER", "values": [3]}
            ],
            "reportDescriptors": [{
                "payloadType": "USAGE", "readingType": "DIRECT_READ", "units": "KWH",
                "aggregate": false, "startInterval": -1, "numIntervals": -1,
                "historical": true, "frequency": -1, "repeat": 1
            }],
            "payloadDescriptors": [
                {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE",
                 "units": "KWH", "currency": "USD"},
                {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "DISPATCH_SETPOINT",
                 "units": "KW", "currency": null}
            ],
            "intervalPeriod": {
                "start": "2026-11-26T18:00:00.000Z",
                "duration": "PT1H30M",
                "randomizeStart": "PT0S"
            },
            "intervals": [{
                "id": 0,
                "payloads": [
                    {"type": "PRICE", "values": [0.31]},
                    {"type": "DISPATCH_SETPOINT", "values": [187.5]}
                ]
            }]
        });
        assert_eq!(
            from_openadr(&event).unwrap(),
            DispatchEvent {
                program_name: "evening-peak".to_owned(),
                event_name: Some("feeder 3 evening peak".to_owned()),
                feeder: 3,
                start: EVENING,
                end: EVENING + 5_400,
                target_w: 187_500,
                price_per_kwh: 310_000,
                priority: 1,
            }
        );
    }

    #[test]
    fn writes_the_documented_shape() {
        let expected = json!({
            "objectType": "EVENT",
            "programID": "evening-peak",
            "eventName": "cogrid-vpp-7",
            "priority": 1,
            "targets": [{"type": "FEEDER", "values": ["3"]}],
            "payloadDescriptors": [
                {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "DISPATCH_SETPOINT",
                 "units": "KW"},
                {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE",
                 "units": "KWH", "currency": "USD"}
            ],
            "intervalPeriod": {"start": "2026-11-26T18:00:00Z", "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [
                {"type": "DISPATCH_SETPOINT", "values": [250]},
                {"type": "PRICE", "values": [0.25]}
            ]}]
        });
        assert_eq!(to_openadr(&sample()).unwrap(), expected);
        // Fractions are written as plain decimals, exactly.
        let odd = DispatchEvent {
            target_w: 1_234,
            price_per_kwh: 123_457,
            event_name: None,
            ..sample()
        };
        let text = to_openadr(&odd).unwrap().to_string();
        assert!(
            text.contains("[1.234]") && text.contains("[0.123457]"),
            "{text}"
        );
        assert!(!text.contains("eventName"), "{text}");
    }

    #[test]
    fn takes_the_window_from_the_interval_or_the_event() {
        let moved = |event: &mut Value| {
            let period = event["intervalPeriod"].take();
            event.as_object_mut().unwrap().remove("intervalPeriod");
            event["intervals"][0]["intervalPeriod"] = period;
        };
        assert_eq!(import_edited(moved).unwrap(), sample());
        // The interval's fields override the event's; its "0001-01-01" start means the event's.
        let overridden = import_edited(|event| {
            event["intervals"][0]["intervalPeriod"] =
                json!({"start": "0001-01-01T00:00:00Z", "duration": "PT2H15M"});
        })
        .unwrap();
        assert_eq!(
            (overridden.start, overridden.end),
            (EVENING, EVENING + 8_100)
        );
        // An offset names the same instant; a missing priority is the lowest.
        let offset = import_edited(|event| {
            event["intervalPeriod"]["start"] = json!("2026-11-26T19:00:00+01:00");
            event.as_object_mut().unwrap().remove("priority");
        })
        .unwrap();
        assert_eq!((offset.start, offset.priority), (EVENING, DEFAULT_PRIORITY));
    }

    #[test]
    fn round_trips_the_extremes() {
        let extremes = [
            DispatchEvent {
                program_name: "a".repeat(128),
                event_name: None,
                feeder: u32::MAX,
                start: 0,
                end: MAX_SECONDS,
                target_w: u32::MAX,
                price_per_kwh: MAX_PRICE_PER_KWH,
                priority: u8::MAX,
            },
            DispatchEvent {
                program_name: "_".to_owned(),
                event_name: Some(String::new()),
                feeder: 0,
                start: LATEST_START,
                end: LATEST_START + 1,
                target_w: 1,
                price_per_kwh: 1,
                priority: 0,
            },
        ];
        for event in extremes {
            assert_eq!(from_openadr(&to_openadr(&event).unwrap()).unwrap(), event);
        }
    }

    fn dispatch_event() -> impl Strategy<Value = DispatchEvent> {
        (
            "[A-Za-z0-9_-]{1,128}",
            proptest::option::of(any::<String>()),
            any::<u32>(),
            (0..=LATEST_START, any::<u64>()),
            1..=u32::MAX,
            1..=MAX_PRICE_PER_KWH,
            any::<u8>(),
        )
            .prop_map(
                |(program_name, event_name, feeder, (start, length), target_w, price, priority)| {
                    DispatchEvent {
                        program_name,
                        event_name,
                        feeder,
                        start,
                        end: start + 1 + length % (MAX_SECONDS - start),
                        target_w,
                        price_per_kwh: price,
                        priority,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn export_then_import_gives_the_event_back(event in dispatch_event()) {
            let json = to_openadr(&event).unwrap();
            // Through text too, as the CLI writes and reads files.
            let reread: Value = serde_json::from_str(&json.to_string()).unwrap();
            prop_assert_eq!(from_openadr(&reread).unwrap(), event);
        }

        #[test]
        fn durations_round_trip(seconds in any::<u64>()) {
            prop_assert_eq!(parse_duration(&format_duration(seconds)), Ok(seconds));
        }
    }

    #[test]
    fn refuses_payload_types_other_than_setpoint_and_price() {
        for other in ["SIMPLE", "EXPORT_CAPACITY_LIMIT"] {
            let error = refused(
                |event| event["intervals"][0]["payloads"][1]["type"] = json!(other),
                &[
                    "intervals[0].payloads[1].type",
                    other,
                    "only DISPATCH_SETPOINT (kW) and PRICE",
                ],
            );
            assert!(matches!(error, OpenAdrError::UnknownPayloadType { .. }));
        }
        let error = refused(
            |event| event["intervals"][0]["payloads"][1]["type"] = json!("DISPATCH_SETPOINT"),
            &["intervals[0].payloads[1]", "second DISPATCH_SETPOINT"],
        );
        assert!(matches!(error, OpenAdrError::DuplicatePayload { .. }));
    }

    #[test]
    fn refuses_malformed_durations() {
        for (bad, reason) in [
            ("PT1X", DurationError::UnknownDesignator { found: 'X' }),
            ("1H", DurationError::NoLeadingP),
            ("P1M", DurationError::Calendar { unit: "months" }),
        ] {
            let error = refused(
                |event| event["intervalPeriod"]["duration"] = json!(bad),
                &["intervalPeriod.duration", bad],
            );
            assert_eq!(
                error,
                OpenAdrError::BadDuration {
                    path: "intervalPeriod.duration".to_owned(),
                    value: format!("\"{bad}\""),
                    reason,
                }
            );
        }
        let error = refused(
            |event| event["intervalPeriod"]["duration"] = json!("P1M"),
            &["months have no fixed length", "P30D"],
        );
        assert!(matches!(error, OpenAdrError::BadDuration { .. }));
    }

    #[test]
    fn refuses_windows_the_chain_cannot_hold() {
        let error = refused(
            |event| {
                event.as_object_mut().unwrap().remove("intervalPeriod");
            },
            &["intervalPeriod is missing", "intervals[0]"],
        );
        assert_eq!(error, OpenAdrError::MissingIntervalPeriod);
        let error = refused(
            |event| event["intervalPeriod"]["start"] = json!("2026-11-26 18:00"),
            &["intervalPeriod.start", "2026-11-26 18:00", "RFC 3339"],
        );
        assert!(matches!(error, OpenAdrError::BadStart { .. }));
        let error = refused(
            |event| event["intervalPeriod"]["start"] = json!("0001-01-01T00:00:00Z"),
            &["intervalPeriod.start", "do it now"],
        );
        assert!(matches!(error, OpenAdrError::BadStart { .. }));
        let error = refused(
            |event| event["intervalPeriod"]["start"] = json!("1969-12-31T23:59:59Z"),
            &["before 1970"],
        );
        assert!(matches!(error, OpenAdrError::BadStart { .. }));
        let error = refused(
            |event| event["intervalPeriod"]["start"] = json!("2026-11-26T18:00:00.5Z"),
            &["whole seconds"],
        );
        assert!(matches!(error, OpenAdrError::BadStart { .. }));
        let error = refused(
            |event| event["intervalPeriod"]["duration"] = json!("PT0S"),
            &["intervalPeriod.duration", "PT0S", "empty window"],
        );
        assert!(matches!(error, OpenAdrError::EmptyWindow { .. }));
        let error = refused(
            |event| {
                event["intervalPeriod"]
                    .as_object_mut()
                    .unwrap()
                    .remove("duration");
            },
            &["intervalPeriod.duration is missing"],
        );
        assert!(matches!(error, OpenAdrError::MissingField { .. }));
        // 2026 + 99,999,999 days is past uint40 seconds.
        let error = refused(
            |event| event["intervalPeriod"]["duration"] = json!("P99999999D"),
            &["intervalPeriod.duration", "P99999999D", "uint40"],
        );
        assert!(matches!(error, OpenAdrError::EndOutOfRange { .. }));
        let error = refused(
            |event| event["intervalPeriod"]["randomizeStart"] = json!("PT5M"),
            &["intervalPeriod.randomizeStart", "PT5M"],
        );
        assert!(matches!(error, OpenAdrError::RandomizedStart { .. }));
    }

    #[test]
    fn refuses_other_than_one_interval() {
        let error = refused(
            |event| {
                let interval = event["intervals"][0].clone();
                event["intervals"].as_array_mut().unwrap().push(interval);
            },
            &["intervals has 2 entries", "one event per interval"],
        );
        assert_eq!(error, OpenAdrError::IntervalCount { count: 2 });
        let error = refused(|event| event["intervals"] = json!([]), &["0 entries"]);
        assert_eq!(error, OpenAdrError::IntervalCount { count: 0 });
    }

    #[test]
    fn refuses_a_missing_or_bad_feeder() {
        let error = refused(
            |event| event["targets"] = json!([{"type": "VEN_NAME", "values": ["gw"]}]),
            &["FEEDER"],
        );
        assert_eq!(error, OpenAdrError::MissingFeeder);
        let error = refused(
            |event| {
                event.as_object_mut().unwrap().remove("targets");
            },
            &["FEEDER"],
        );
        assert_eq!(error, OpenAdrError::MissingFeeder);
        for bad in [
            json!("north-7"),
            json!(7.5),
            json!(-1),
            json!(4_294_967_296u64),
        ] {
            let shown = bad.to_string();
            let error = refused(
                |event| event["targets"][0]["values"][0] = bad,
                &["targets[0].values[0]", &shown, "0 to 4294967295"],
            );
            assert!(matches!(error, OpenAdrError::BadFeeder { .. }), "{error:?}");
        }
        let error = refused(
            |event| {
                let feeder = event["targets"][0].clone();
                event["targets"].as_array_mut().unwrap().push(feeder);
            },
            &["targets[0].values[0], targets[1].values[0]", "one feeder"],
        );
        assert!(matches!(error, OpenAdrError::SeveralFeeders { .. }));
    }

    #[test]
    fn refuses_setpoints_that_are_not_whole_watts_in_range() {
        let setpoint = |value: Value| {
            move |event: &mut Value| event["intervals"][0]["payloads"][0]["values"][0] = value
        };
        let path = "intervals[0].payloads[0].values[0]";
        for (bad, shown) in [
            (json!(-5), "-5"),
            (json!(-0.5), "-0.5"),
            (json!(0), "0"),
            (json!(0.0), "0.0"),
            (json!(4_294_967.296), "4294967.296"),
        ] {
            let error = refused(
                setpoint(bad),
                &[path, shown, "out of range", "uint32 watts"],
            );
            assert!(matches!(error, OpenAdrError::SetpointOutOfRange { .. }));
        }
        for (bad, shown) in [(json!(1.2345), "1.2345"), (json!(0.0001), "0.0001")] {
            let error = refused(setpoint(bad), &[path, shown, "whole number of watts"]);
            assert!(matches!(error, OpenAdrError::SetpointNotWholeWatts { .. }));
        }
        let error = refused(setpoint(json!("250")), &[path, "a number of kW"]);
        assert!(matches!(error, OpenAdrError::WrongType { .. }));
        let error = refused(
            |event| {
                event["intervals"][0]["payloads"][0]["values"] = json!([250, 300]);
            },
            &["intervals[0].payloads[0].values has 2 values"],
        );
        assert!(matches!(error, OpenAdrError::ValueCount { count: 2, .. }));
    }

    #[test]
    fn refuses_a_missing_payload() {
        let error = refused(
            |event| {
                event["intervals"][0]["payloads"]
                    .as_array_mut()
                    .unwrap()
                    .remove(0);
            },
            &["no DISPATCH_SETPOINT payload"],
        );
        assert!(matches!(
            error,
            OpenAdrError::MissingPayload {
                payload_type: "DISPATCH_SETPOINT",
                ..
            }
        ));
        let error = refused(
            |event| {
                event["intervals"][0]["payloads"]
                    .as_array_mut()
                    .unwrap()
                    .remove(1);
            },
            &["no PRICE payload"],
        );
        assert!(matches!(
            error,
            OpenAdrError::MissingPayload {
                payload_type: "PRICE",
                ..
            }
        ));
    }

    #[test]
    fn refuses_prices_the_stablecoin_cannot_pay_exactly() {
        let price = |value: Value| {
            move |event: &mut Value| event["intervals"][0]["payloads"][1]["values"][0] = value
        };
        let path = "intervals[0].payloads[1].values[0]";
        let error = refused(price(json!(0.1234567)), &[path, "0.1234567", "6 decimals"]);
        assert!(matches!(error, OpenAdrError::PriceTooPrecise { .. }));
        for (bad, shown) in [
            (json!(0), "0"),
            (json!(-0.25), "-0.25"),
            (json!(1_000_000_000), "1000000000"),
            (json!(2e19), "2e+19"),
        ] {
            let error = refused(price(bad), &[path, shown, "999999999.999999"]);
            assert!(matches!(error, OpenAdrError::PriceOutOfRange { .. }));
        }
    }

    #[test]
    fn refuses_payloads_in_other_units() {
        let error = refused(
            |event| event["payloadDescriptors"][0]["units"] = json!("KVA"),
            &["payloadDescriptors[0].units", "KVA", "kW"],
        );
        assert!(matches!(error, OpenAdrError::WrongDescriptor { .. }));
        let error = refused(
            |event| event["payloadDescriptors"][1]["currency"] = json!("EUR"),
            &["payloadDescriptors[1].currency", "EUR", "USD"],
        );
        assert!(matches!(error, OpenAdrError::WrongDescriptor { .. }));
        let error = refused(
            |event| {
                event["payloadDescriptors"]
                    .as_array_mut()
                    .unwrap()
                    .remove(1);
            },
            &["no entry for PRICE", "\"currency\": \"USD\""],
        );
        assert!(matches!(error, OpenAdrError::MissingDescriptor { .. }));
    }

    #[test]
    fn refuses_values_the_contract_cannot_store() {
        for bad in [json!(256), json!(-1), json!(1.5)] {
            let shown = bad.to_string();
            let error = refused(
                |event| event["priority"] = bad,
                &["priority", &shown, "0 (highest) to 255"],
            );
            assert!(matches!(error, OpenAdrError::PriorityOutOfRange { .. }));
        }
        let error = refused(
            |event| event["programID"] = json!("Evening Peak"),
            &["programID", "Evening Peak", "object ID"],
        );
        assert!(matches!(error, OpenAdrError::BadProgramId { .. }));
        let error = refused(
            |event| {
                event.as_object_mut().unwrap().remove("programID");
            },
            &["programID is missing"],
        );
        assert!(matches!(error, OpenAdrError::MissingField { .. }));
        let error = refused(
            |event| event["objectType"] = json!("PROGRAM"),
            &["PROGRAM", "EVENT"],
        );
        assert!(matches!(error, OpenAdrError::NotAnEvent { .. }));
        let error = from_openadr(&json!([1])).unwrap_err();
        assert!(matches!(
            error,
            OpenAdrError::WrongType {
                expected: "an object",
                ..
            }
        ));
    }

    #[test]
    fn refuses_to_export_what_openadr_cannot_say() {
        let cases = [
            (
                DispatchEvent {
                    program_name: "Evening Peak".to_owned(),
                    ..sample()
                },
                "program_name",
            ),
            (
                DispatchEvent {
                    end: EVENING,
                    ..sample()
                },
                "end",
            ),
            (
                DispatchEvent {
                    target_w: 0,
                    ..sample()
                },
                "target_w",
            ),
            (
                DispatchEvent {
                    price_per_kwh: MAX_PRICE_PER_KWH + 1,
                    ..sample()
                },
                "price_per_kwh",
            ),
            (
                DispatchEvent {
                    start: LATEST_START + 1,
                    end: LATEST_START + 2,
                    ..sample()
                },
                "start",
            ),
        ];
        for (event, field) in cases {
            let error = to_openadr(&event).unwrap_err();
            assert!(
                matches!(error, OpenAdrError::NotExportable { field: found, .. } if found == field),
                "{error:?}"
            );
        }
    }

    #[test]
    fn parses_durations() {
        for (text, seconds) in [
            ("PT1H", 3_600),
            ("PT15M", 900),
            ("PT1H30M", 5_400),
            ("P1DT2H", 93_600),
            ("P2W", 1_209_600),
            ("P1W", 604_800),
            ("P1WT1H", 608_400),
            ("PT0S", 0),
            ("PT90M", 5_400),
            ("PT1.5H", 5_400),
            ("PT0,5M", 30),
            ("PT30.000S", 30),
            ("P0.5D", 43_200),
            ("PT18446744073709551615S", u64::MAX),
        ] {
            assert_eq!(parse_duration(text), Ok(seconds), "{text}");
        }
    }

    #[test]
    fn refuses_durations_it_cannot_count_in_seconds() {
        for (text, error) in [
            ("", DurationError::NoLeadingP),
            ("1H", DurationError::NoLeadingP),
            ("pt1h", DurationError::NoLeadingP),
            ("-PT1H", DurationError::Negative),
            ("P", DurationError::Empty),
            ("PT", DurationError::EmptyTime),
            ("P1DT", DurationError::EmptyTime),
            ("P1Y", DurationError::Calendar { unit: "years" }),
            ("P9999Y", DurationError::Calendar { unit: "years" }),
            ("P1M", DurationError::Calendar { unit: "months" }),
            ("PT1X", DurationError::UnknownDesignator { found: 'X' }),
            ("P1H", DurationError::OutOfPlace { designator: 'H' }),
            ("PT1D", DurationError::OutOfPlace { designator: 'D' }),
            ("PT1M1H", DurationError::OutOfPlace { designator: 'H' }),
            ("PT1H1H", DurationError::OutOfPlace { designator: 'H' }),
            ("PT1H2T", DurationError::OutOfPlace { designator: 'T' }),
            ("PTH", DurationError::MissingNumber { designator: 'H' }),
            (
                "PT15",
                DurationError::MissingDesignator {
                    number: "15".to_owned(),
                },
            ),
            (
                "PT1..5S",
                DurationError::BadNumber {
                    number: "1..5".to_owned(),
                },
            ),
            (
                "PT.5M",
                DurationError::BadNumber {
                    number: ".5".to_owned(),
                },
            ),
            ("PT1.5H30M", DurationError::FractionNotLast),
            ("PT1.5S", DurationError::NotWholeSeconds),
            ("PT0.01M", DurationError::NotWholeSeconds),
            ("PT18446744073709551616S", DurationError::TooLong),
            (
                "P99999999999999999999999999999999999999999W",
                DurationError::TooLong,
            ),
        ] {
            assert_eq!(parse_duration(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn formats_durations_shortest() {
        for (seconds, text) in [
            (0, "PT0S"),
            (1, "PT1S"),
            (900, "PT15M"),
            (3_600, "PT1H"),
            (5_400, "PT1H30M"),
            (3_661, "PT1H1M1S"),
            (86_400, "P1D"),
            (93_600, "P1DT2H"),
            (86_401, "P1DT1S"),
            (604_800, "P7D"),
        ] {
            assert_eq!(format_duration(seconds), text);
        }
    }
}
