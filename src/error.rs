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
