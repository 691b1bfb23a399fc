//! Errors reported for telegrams that cannot be trusted or understood.

/// Why a telegram was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsmrError {
    /// The frame does not begin with the `/` that opens every telegram.
    #[error("telegram does not start with '/'")]
    MissingStart,

    /// No end line (a line beginning with `!`) was found, or the framer saw the next
    /// telegram begin before this one ended: the telegram was cut short.
    #[error("telegram has no end line ('!'); it was cut short")]
    MissingEnd,

    /// The CRC on the end line does not match the telegram: at least one byte was
    /// corrupted on the way.
    #[error("CRC mismatch: the telegram carries {expected:04X}, its content gives {computed:04X}")]
    CrcMismatch {
        /// The CRC the meter sent on the end line.
        expected: u16,
        /// The CRC-16/ARC of the received bytes from `/` up to and including `!`.
        computed: u16,
    },

    /// The telegram declares DSMR 4.0 or later (which always carries a CRC) but its end
    /// line has none, so the CRC was lost in transit and the content cannot be checked.
    #[error("telegram declares DSMR version {version} but its end line carries no CRC")]
    MissingCrc {
        /// The version as sent in `1-3:0.2.8` or `0-0:96.1.4`.
        version: String,
    },

    /// A line of the telegram does not follow the P1 grammar or holds an unusable value.
    #[error("line {line}: {reason}: {text:?}")]
    MalformedLine {
        /// 1-based line number within the telegram; the `/` identification line is line 1.
        line: usize,
        /// The offending line as received (lossily decoded, cut after 128 bytes).
        text: String,
        /// What is wrong with it.
        reason: LineError,
    },

    /// An energy register needed for settlement is absent.
    #[error("telegram has no {register} register (neither a total nor any tariff)")]
    MissingRegister {
        /// The register group, `1-0:1.8` (import) or `1-0:2.8` (export).
        register: &'static str,
    },

    /// Bytes other than line endings follow the end line.
    #[error("{len} unexpected bytes after the end line")]
    TrailingData {
        /// How many bytes follow the end line and its line ending.
        len: usize,
    },

    /// The framer dropped a telegram that outgrew its buffer limit.
    #[error("telegram exceeds the {limit}-byte limit and was dropped")]
    TooLong {
        /// The framer's maximum telegram length in bytes.
        limit: usize,
    },
}

/// What is wrong with a line reported in [`DsmrError::MalformedLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The identification line holds nothing after the `/`.
    #[error("empty identification line")]
    EmptyHeader,

    /// A byte outside printable ASCII; P1 telegrams are plain ASCII, so this is noise.
    #[error("byte 0x{0:02X} is not printable ASCII")]
    InvalidByte(u8),

    /// A `(` without its `)`, a `)` without its `(`, or a nested `(`.
    #[error("unbalanced parentheses")]
    UnbalancedParentheses,

    /// The line is not an OBIS reference followed by `(value)` groups.
    #[error("expected an OBIS reference followed by (value) groups")]
    Syntax,

    /// The reference before the first `(` is not an OBIS code `A-B:C.D.E` (optionally
    /// `*F`) with groups of 0 to 255.
    #[error("invalid OBIS reference")]
    InvalidObis,

    /// A line of bare `(value)` groups with no object before it to continue.
    #[error("continuation line without a preceding object")]
    OrphanContinuation,

    /// A register this crate reads carries other than exactly one value.
    #[error("expected exactly one value")]
    ValueCount,

    /// A register this crate reads appears more than once, so its value is ambiguous.
    #[error("register appears more than once")]
    DuplicateRegister,

    /// The number is not `digits` or `digits.digits`.
    #[error("invalid number")]
    InvalidNumber,

    /// The number does not fit the register's integer type.
    #[error("number out of range")]
    OutOfRange,

    /// The unit is missing or is not the one the register is measured in
    /// (`kWh`/`Wh` for energy, `kW`/`W` for power).
    #[error("missing or unexpected unit")]
    UnexpectedUnit,

    /// The timestamp is not a valid `YYMMDDhhmmssX` with `X` = `W` (winter) or `S` (summer).
    #[error("invalid timestamp (expected YYMMDDhhmmss followed by W or S)")]
    InvalidTimestamp,

    /// The end line is not `!` alone or `!` followed by four hex digits.
    #[error("end line must be '!' optionally followed by four hex digits")]
    InvalidCrcField,
}
