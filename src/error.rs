//! Errors of the `cogrid` tool's pure parts: reading amounts and times typed by a person.
//!
//! Their messages complete clap's "invalid value 'X' for '--flag <UNIT>': ", so each says what is
//! wrong and gives an example of a good value.

use crate::units::Unit;

/// A human amount that cannot be turned into base units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was given.
    #[error("the amount is empty; give a number of {}, e.g. {}", .unit.name(), .unit.example())]
    Empty {
        /// The unit the amount is in.
        unit: Unit,
    },
    /// A minus sign: amounts move one way, the command says which.
    #[error("negative amounts are not allowed; give a number of {}, e.g. {}", .unit.name(), .unit.example())]
    Negative {
        /// The unit the amount is in.
        unit: Unit,
    },
    /// A comma, most likely as a decimal separator.
    #[error("use a dot as the decimal separator and no thousands separator, e.g. {}", .unit.example())]
    Comma {
        /// The unit the amount is in.
        unit: Unit,
    },
    /// Anything else that is not `digits[.digits]`.
    #[error("not a decimal number of {}; write digits with an optional dot, e.g. {}", .unit.name(), .unit.example())]
    NotANumber {
        /// The unit the amount is in.
        unit: Unit,
    },
    /// More decimals than the unit's base unit resolves.
    #[error("{}", too_many_decimals(*.unit, *.given))]
    TooManyDecimals {
        /// The unit the amount is in.
        unit: Unit,
        /// How many decimals were given.
        given: usize,
    },
    /// Zero where only a positive amount makes sense.
    #[error("the amount must be more than zero, e.g. {}", .unit.example())]
    Zero {
        /// The unit the amount is in.
        unit: Unit,
    },
    /// More than the chain can store.
    #[error("the amount is above the most allowed here, {max} {}", .unit.name())]
    TooLarge {
        /// The unit the amount is in.
        unit: Unit,
        /// The largest amount allowed, formatted in `unit`.
        max: String,
    },
}

fn too_many_decimals(unit: Unit, given: usize) -> String {
    let plural = if given == 1 { "" } else { "s" };
    match unit.decimals() {
        0 => format!(
            "{} take whole numbers only (got {given} decimal{plural}), e.g. {}",
            unit.name(),
            unit.example()
        ),
        decimals => format!(
            "{} takes at most {decimals} decimals (got {given}), e.g. {}",
            unit.name(),
            unit.example()
        ),
    }
}

/// A time or date that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not a date, an RFC 3339 time or unix seconds.
    #[error(
        "expected a date (2025-06-15, UTC), an RFC 3339 time (2025-06-15T10:30:00Z, \
         2025-06-15T12:30:00+02:00) or unix seconds (1750000000)"
    )]
    Unreadable,
    /// Before 1970: no interval of the market starts there.
    #[error("the time is before 1970-01-01T00:00:00Z")]
    BeforeEpoch,
    /// Past what the contract stores (uint40 seconds, the year 36812).
    #[error("the time is past the year 36812, the latest the market stores")]
    TooLate,
}

/// An ISO 8601 duration that cannot be read as a whole number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text does not start with the designator `P`.
    #[error("an ISO 8601 duration starts with P, e.g. PT1H (one hour) or P1DT2H30M")]
    NoLeadingP,
    /// A minus sign (OpenADR's pattern allows one).
    #[error("negative durations are not allowed: a dispatch window runs forward from its start")]
    Negative,
    /// `P` and nothing after it.
    #[error("give at least one component after P, e.g. PT15M")]
    Empty,
    /// `T` with no time component after it.
    #[error("T must be followed by hours, minutes or seconds, e.g. PT30M")]
    EmptyTime,
    /// Years, or months (an `M` before `T`).
    #[error(
        "{unit} have no fixed length in seconds; give weeks, days, hours, minutes or seconds \
         instead, e.g. P30D"
    )]
    Calendar {
        /// `years` or `months`.
        unit: &'static str,
    },
    /// A character that designates no duration component.
    #[error("'{found}' is not a duration designator; use W or D before T, and H, M or S after it")]
    UnknownDesignator {
        /// The character found.
        found: char,
    },
    /// A designator repeated, out of order or on the wrong side of `T`.
    #[error(
        "'{designator}' is out of place; write nW or nD first, then T and nH, nM, nS in that \
         order, each at most once, e.g. P1DT2H30M"
    )]
    OutOfPlace {
        /// The designator found.
        designator: char,
    },
    /// A designator with no number before it.
    #[error("'{designator}' has no number before it, e.g. PT15M")]
    MissingNumber {
        /// The designator found.
        designator: char,
    },
    /// A number with no designator after it.
    #[error("the number {number} has no designator (W, D, H, M or S) after it")]
    MissingDesignator {
        /// The number found.
        number: String,
    },
    /// Something other than digits with an optional decimal fraction before a designator.
    #[error("'{number}' is not a number; write digits with an optional fraction, e.g. 1.5")]
    BadNumber {
        /// The text found before the designator.
        number: String,
    },
    /// A decimal fraction on a component other than the last (ISO 8601 allows it on the last).
    #[error(
        "only the last component may have a decimal fraction, e.g. PT1.5H or PT1H30M, not PT1.5H30M"
    )]
    FractionNotLast,
    /// A fraction that does not add up to whole seconds.
    #[error("the duration is not a whole number of seconds; the chain counts whole seconds")]
    NotWholeSeconds,
    /// More seconds than a u64 holds.
    #[error("the duration is too long to count in seconds")]
    TooLong,
}

/// A dispatch event that cannot be written as OpenADR 3 event JSON, or OpenADR 3 event JSON that
/// cannot become an on-chain dispatch event.
///
/// Paths name the place in the event JSON (`intervals[0].payloads[1].values[0]`); each message
/// says what was found and what the mapping expects there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenAdrError {
    /// A JSON value of the wrong kind.
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// Where the value is.
        path: String,
        /// What the mapping expects there.
        expected: &'static str,
        /// The value found, as JSON.
        found: String,
    },
    /// A field the on-chain event needs is absent or null.
    #[error("{path} is missing; {hint}")]
    MissingField {
        /// Where the field should be.
        path: String,
        /// What to give.
        hint: &'static str,
    },
    /// An object of another OpenADR type (a program, a report...).
    #[error("objectType is {found}: only an OpenADR EVENT becomes a dispatch event")]
    NotAnEvent {
        /// The `objectType` found, as JSON.
        found: String,
    },
    /// A `programID` that is not an OpenADR object ID.
    #[error(
        "{path}: {value:?} is not an OpenADR object ID (programID); use 1 to 128 letters, \
         digits, '-' or '_', e.g. evening-peak"
    )]
    BadProgramId {
        /// Where the value is.
        path: String,
        /// The value found.
        value: String,
    },
    /// A priority the contract cannot store.
    #[error(
        "priority: {value} is not a priority the contract stores; give a whole number from 0 (highest) to 255"
    )]
    PriorityOutOfRange {
        /// The value found, as JSON.
        value: String,
    },
    /// No `FEEDER` target.
    #[error(
        "targets has no FEEDER entry; name the feeder the event dispatches, e.g. \
         \"targets\": [{{\"type\": \"FEEDER\", \"values\": [\"7\"]}}]"
    )]
    MissingFeeder,
    /// More than one feeder, in one `FEEDER` target or several.
    #[error("{} name several feeders; an on-chain event dispatches one feeder: create one event per feeder", .paths.join(", "))]
    SeveralFeeders {
        /// Where the feeder values are.
        paths: Vec<String>,
    },
    /// A feeder that is not a uint32.
    #[error(
        "{path}: {value} is not a feeder number; give a whole number from 0 to 4294967295, e.g. \"7\""
    )]
    BadFeeder {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// Not exactly one interval.
    #[error(
        "intervals has {count} entries; an on-chain event is one window with one setpoint and \
         one price: give exactly one interval (create one event per interval)"
    )]
    IntervalCount {
        /// How many intervals were found.
        count: usize,
    },
    /// Neither the event nor its interval has an `intervalPeriod`.
    #[error(
        "intervalPeriod is missing from the event and from intervals[0]; give the window, e.g. \
         \"intervalPeriod\": {{\"start\": \"2026-11-26T18:00:00Z\", \"duration\": \"PT1H\"}}"
    )]
    MissingIntervalPeriod,
    /// A start that is not an absolute RFC 3339 time the chain can store.
    #[error("{path}: {value} {reason}")]
    BadStart {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
        /// What is wrong and what to give.
        reason: &'static str,
    },
    /// A duration that is not one this mapping reads.
    #[error("{path}: {value} is not a usable duration: {reason}")]
    BadDuration {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
        /// What is wrong with it.
        reason: DurationError,
    },
    /// A window of no length (`PT0S`, OpenADR's "instantaneous or infinite").
    #[error("{path}: {value} is an empty window; give the event's length, e.g. \"PT1H\"")]
    EmptyWindow {
        /// Where the duration is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A window ending after the latest second the contract stores.
    #[error(
        "{path}: {value} ends the window after the latest time the contract stores (uint40 seconds, the year 36812)"
    )]
    EndOutOfRange {
        /// Where the duration is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A randomized start: the on-chain window is exact.
    #[error(
        "{path}: {value} asks VENs to randomize the start, but the on-chain window and its \
         baseline are exact; remove randomizeStart or set it to \"PT0S\""
    )]
    RandomizedStart {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A payload type other than `DISPATCH_SETPOINT` and `PRICE`.
    #[error(
        "{path}: payload type {found} is not understood; a dispatch event carries only \
         DISPATCH_SETPOINT (kW) and PRICE (USD per kWh)"
    )]
    UnknownPayloadType {
        /// Where the type is.
        path: String,
        /// The type found, as JSON.
        found: String,
    },
    /// The same payload type twice in the interval.
    #[error("{path}: a second {payload_type} payload; give it once")]
    DuplicatePayload {
        /// Where the second payload is.
        path: String,
        /// The repeated type.
        payload_type: &'static str,
    },
    /// A payload the on-chain event needs is absent from the interval.
    #[error(
        "intervals[0].payloads has no {payload_type} payload; add {{\"type\": \"{payload_type}\", \"values\": [{example}]}}"
    )]
    MissingPayload {
        /// The missing type.
        payload_type: &'static str,
        /// A well-formed value.
        example: &'static str,
    },
    /// A payload with other than one value (OpenADR 3.1 packs sub-intervals this way).
    #[error(
        "{path} has {count} values; the on-chain event has one value for its whole window: \
         give exactly one (create one event per sub-interval)"
    )]
    ValueCount {
        /// Where the values are.
        path: String,
        /// How many were found.
        count: usize,
    },
    /// No payload descriptor says how to read a payload.
    #[error("payloadDescriptors has no entry for {payload_type}; add {expected}")]
    MissingDescriptor {
        /// The payload type left without one.
        payload_type: &'static str,
        /// The descriptor to add.
        expected: &'static str,
    },
    /// A payload descriptor with other units or currency than the mapping's.
    #[error("{path}: {found} is not understood here; expected {expected}")]
    WrongDescriptor {
        /// Where the field is.
        path: String,
        /// The value found, as JSON.
        found: String,
        /// What the mapping reads.
        expected: &'static str,
    },
    /// A setpoint that is not a whole number of watts.
    #[error(
        "{path}: {value} kW is not a whole number of watts; give at most 3 decimals, e.g. 12.345"
    )]
    SetpointNotWholeWatts {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A setpoint the contract does not take (zero, negative or above uint32 watts).
    #[error(
        "{path}: {value} kW is out of range; a dispatch setpoint is from 0.001 kW (1 W) to 4294967.295 kW (uint32 watts)"
    )]
    SetpointOutOfRange {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A price finer than the stablecoin's base unit.
    #[error(
        "{path}: {value} USD per kWh has more than 6 decimals, finer than the stablecoin's base unit; round it, e.g. 0.253"
    )]
    PriceTooPrecise {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
    },
    /// A price the contract or an exact JSON number cannot carry.
    #[error(
        "{path}: {value} USD per kWh is out of range; a price is from 0.000001 to \
         {max} USD per kWh (15 significant digits, what a JSON number carries exactly)"
    )]
    PriceOutOfRange {
        /// Where the value is.
        path: String,
        /// The value found, as JSON.
        value: String,
        /// The highest price, in USD per kWh.
        max: String,
    },
    /// A dispatch event whose fields cannot be written as a valid OpenADR 3 event.
    #[error("cannot write the event as OpenADR 3: {field} = {value}; {expected}")]
    NotExportable {
        /// The field of the dispatch event.
        field: &'static str,
        /// Its value.
        value: String,
        /// What OpenADR or the contract needs instead.
        expected: &'static str,
    },
}
