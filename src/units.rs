//! Human amounts on the command line and exact integers on chain.
//!
//! A person types `25.50` USD, `0.12` USD per kWh or `3.2` kWh; the chain counts stablecoin base
//! units (6 decimals), base units per kWh and Wh. The conversion is decimal string to integer and
//! back, digit by digit, never through a float, so `0.1` is exactly 100000 base units and what is
//! printed is exactly what is held.

use alloy::primitives::U256;

use crate::error::AmountError;

/// A unit an amount is typed or shown in, with the number of decimals its base unit resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Stablecoin, in dollars; the base unit is 10^-6 USD.
    Usd,
    /// A price or fee in dollars per kWh; the base unit is one stablecoin base unit per kWh.
    UsdPerKwh,
    /// Energy in kWh; the base unit is 1 Wh (also one energy credit base unit).
    Kwh,
    /// Power in kW; the base unit is 1 W.
    Kw,
    /// Carbon credits in grams CO2e; the base unit is 1 g.
    Grams,
    /// Native gas token; the base unit is 1 wei.
    Eth,
    /// The pool's LP shares, counted in the share token's base units: a share's worth is a
    /// part of the reserves, so a whole number reads better than 18 decimals of tiny parts.
    Shares,
    /// A part of a whole in percent; the base unit is a basis point (0.01 %).
    Percent,
}

impl Unit {
    /// Decimals between the unit and its base unit.
    pub const fn decimals(self) -> usize {
        match self {
            Self::Usd | Self::UsdPerKwh => 6,
            Self::Kwh | Self::Kw => 3,
            Self::Grams | Self::Shares => 0,
            Self::Eth => 18,
            Self::Percent => 2,
        }
    }

    /// The fewest decimals shown, so that money reads as money (`25.50`, not `25.5`).
    const fn min_shown(self) -> usize {
        match self {
            Self::Usd | Self::UsdPerKwh => 2,
            Self::Kwh | Self::Kw | Self::Grams | Self::Eth | Self::Shares | Self::Percent => 0,
        }
    }

    /// The symbol printed after an amount.
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::UsdPerKwh => "USD/kWh",
            Self::Kwh => "kWh",
            Self::Kw => "kW",
            Self::Grams => "g",
            Self::Eth => "ETH",
            Self::Shares => "shares",
            Self::Percent => "%",
        }
    }

    /// The unit's name in sentences.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::UsdPerKwh => "USD per kWh",
            Self::Kwh => "kWh",
            Self::Kw => "kW",
            Self::Grams => "grams",
            Self::Eth => "ETH",
            Self::Shares => "shares",
            Self::Percent => "percent",
        }
    }

    /// A well-formed value, for error messages.
    pub const fn example(self) -> &'static str {
        match self {
            Self::Usd => "25.50",
            Self::UsdPerKwh => "0.12",
            Self::Kwh => "3.2",
            Self::Kw => "2.5",
            Self::Grams => "250",
            Self::Eth => "0.01",
            Self::Shares => "1000",
            Self::Percent => "50",
        }
    }
}

/// Parses a non-negative decimal amount of `unit` into base units.
///
/// Takes `digits` or `digits.digits` (surrounding whitespace ignored) with at most
/// [`Unit::decimals`] decimals; refuses an empty string, a sign, a comma, exponents and anything
/// above `u128::MAX` base units.
pub fn parse(text: &str, unit: Unit) -> Result<u128, AmountError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AmountError::Empty { unit });
    }
    if text.starts_with('-') {
        return Err(AmountError::Negative { unit });
    }
    if text.contains(',') {
        return Err(AmountError::Comma { unit });
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let dangling_point = text.contains('.') && fraction.is_empty();
    if whole.is_empty() || dangling_point || !all_digits(whole) || !all_digits(fraction) {
        return Err(AmountError::NotANumber { unit });
    }
    if fraction.len() > unit.decimals() {
        return Err(AmountError::TooManyDecimals {
            unit,
            given: fraction.len(),
        });
    }
    let padding = unit.decimals() - fraction.len();
    whole
        .bytes()
        .chain(fraction.bytes())
        .map(|byte| u128::from(byte - b'0'))
        .chain(std::iter::repeat_n(0, padding))
        .try_fold(0u128, |value, digit| {
            value.checked_mul(10)?.checked_add(digit)
        })
        .ok_or_else(|| AmountError::TooLarge {
            unit,
            max: format(u128::MAX, unit),
        })
}

/// Parses like [`parse`] and checks `1 <= value <= max` (or `0 <= value` when `allow_zero`).
pub fn parse_bounded(
    text: &str,
    unit: Unit,
    allow_zero: bool,
    max: u128,
) -> Result<u128, AmountError> {
    let value = parse(text, unit)?;
    if value == 0 && !allow_zero {
        return Err(AmountError::Zero { unit });
    }
    if value > max {
        return Err(AmountError::TooLarge {
            unit,
            max: format(max, unit),
        });
    }
    Ok(value)
}

/// `value` base units in `unit`, without trailing zeros beyond the unit's usual precision:
/// `25500000` USD is `25.50`, `3200` Wh is `3.2` kWh. Exact: [`parse`] gives `value` back.
pub fn format(value: u128, unit: Unit) -> String {
    place_point(&value.to_string(), unit.decimals(), unit.min_shown())
}

/// `value` base units in `unit` with all of the unit's decimals (`0.120000`), for columns.
pub fn format_fixed(value: u128, unit: Unit) -> String {
    place_point(&value.to_string(), unit.decimals(), unit.decimals())
}

/// [`format`] for a 256-bit on-chain amount.
pub fn format_u256(value: U256, unit: Unit) -> String {
    place_point(&value.to_string(), unit.decimals(), unit.min_shown())
}

/// [`format`] followed by the unit's symbol: `25.50 USD`.
pub fn show(value: u128, unit: Unit) -> String {
    format!("{} {}", format(value, unit), unit.symbol())
}

/// Puts the decimal point `decimals` digits from the right of `digits` and keeps at least
/// `min_shown` decimals.
fn place_point(digits: &str, decimals: usize, min_shown: usize) -> String {
    if decimals == 0 {
        return digits.to_owned();
    }
    let padded = if digits.len() <= decimals {
        format!("{}{digits}", "0".repeat(decimals + 1 - digits.len()))
    } else {
        digits.to_owned()
    };
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let significant = fraction.trim_end_matches('0').len().max(min_shown);
    match &fraction[..significant] {
        "" => whole.to_owned(),
        shown => format!("{whole}.{shown}"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const UNITS: [Unit; 7] = [
        Unit::Usd,
        Unit::UsdPerKwh,
        Unit::Kwh,
        Unit::Grams,
        Unit::Eth,
        Unit::Shares,
        Unit::Percent,
    ];

    #[test]
    fn human_amounts_become_exact_base_units() {
        assert_eq!(parse("25.50", Unit::Usd), Ok(25_500_000));
        assert_eq!(parse("0.12", Unit::UsdPerKwh), Ok(120_000));
        assert_eq!(parse("3.2", Unit::Kwh), Ok(3_200));
        assert_eq!(parse("0.001", Unit::Kwh), Ok(1));
        assert_eq!(parse("250", Unit::Grams), Ok(250));
        assert_eq!(parse("0", Unit::Usd), Ok(0));
        assert_eq!(parse(" 7 ", Unit::Usd), Ok(7_000_000));
        assert_eq!(parse("1", Unit::Eth), Ok(10u128.pow(18)));
        assert_eq!(parse("12.5", Unit::Percent), Ok(1_250));
        assert_eq!(parse("140421", Unit::Shares), Ok(140_421));
        // A float would make this 0.30000000000000004.
        assert_eq!(parse("0.3", Unit::Usd), Ok(300_000));
    }

    #[test]
    fn malformed_amounts_are_refused_with_the_reason() {
        let usd = Unit::Usd;
        assert_eq!(parse("", usd), Err(AmountError::Empty { unit: usd }));
        assert_eq!(parse("  ", usd), Err(AmountError::Empty { unit: usd }));
        assert_eq!(parse("-1", usd), Err(AmountError::Negative { unit: usd }));
        assert_eq!(parse("0,12", usd), Err(AmountError::Comma { unit: usd }));
        assert_eq!(parse("1,000", usd), Err(AmountError::Comma { unit: usd }));
        for bad in [
            "+1", "1e3", "1.", ".5", "1.2.3", "abc", "1 000", "0x10", "1_000",
        ] {
            assert_eq!(
                parse(bad, usd),
                Err(AmountError::NotANumber { unit: usd }),
                "{bad}"
            );
        }
        assert_eq!(
            parse("0.1234567", usd),
            Err(AmountError::TooManyDecimals {
                unit: usd,
                given: 7
            })
        );
        assert_eq!(
            parse("3.2001", Unit::Kwh),
            Err(AmountError::TooManyDecimals {
                unit: Unit::Kwh,
                given: 4
            })
        );
        assert!(matches!(
            parse("1.5", Unit::Grams),
            Err(AmountError::TooManyDecimals { given: 1, .. })
        ));
        assert!(matches!(
            parse("340282366920938463463374607431768.211456", usd),
            Err(AmountError::TooLarge { .. })
        ));
        assert_eq!(
            parse("340282366920938463463374607431768.211455", usd),
            Ok(u128::MAX)
        );
    }

    #[test]
    fn messages_give_an_example() {
        let message = parse("0.1234567", Unit::UsdPerKwh).unwrap_err().to_string();
        assert_eq!(
            message,
            "USD per kWh takes at most 6 decimals (got 7), e.g. 0.12"
        );
        let message = parse("1.5", Unit::Grams).unwrap_err().to_string();
        assert_eq!(
            message,
            "grams take whole numbers only (got 1 decimal), e.g. 250"
        );
        let message = parse("-3", Unit::Kwh).unwrap_err().to_string();
        assert!(message.contains("e.g. 3.2"), "{message}");
    }

    #[test]
    fn bounds_are_checked_after_parsing() {
        assert_eq!(
            parse_bounded("0", Unit::Usd, false, u128::MAX),
            Err(AmountError::Zero { unit: Unit::Usd })
        );
        assert_eq!(parse_bounded("0", Unit::UsdPerKwh, true, 10), Ok(0));
        let error = parse_bounded("4294967.296", Unit::Kwh, false, u32::MAX.into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the amount is above the most allowed here, 4294967.295 kWh"
        );
        assert_eq!(
            parse_bounded("4294967.295", Unit::Kwh, false, u32::MAX.into()),
            Ok(u128::from(u32::MAX))
        );
    }

    #[test]
    fn formatting_keeps_every_unit_and_reads_as_money() {
        assert_eq!(format(25_500_000, Unit::Usd), "25.50");
        assert_eq!(format(120_000, Unit::UsdPerKwh), "0.12");
        assert_eq!(format(118_800, Unit::Usd), "0.1188");
        assert_eq!(format(1, Unit::Usd), "0.000001");
        assert_eq!(format(0, Unit::Usd), "0.00");
        assert_eq!(format(3_200, Unit::Kwh), "3.2");
        assert_eq!(format(3_000, Unit::Kwh), "3");
        assert_eq!(format(0, Unit::Kwh), "0");
        assert_eq!(format(250, Unit::Grams), "250");
        assert_eq!(format_fixed(140_000, Unit::Usd), "0.140000");
        assert_eq!(format_fixed(1_500, Unit::Kwh), "1.500");
        assert_eq!(format_fixed(60, Unit::Grams), "60");
        assert_eq!(format(30, Unit::Percent), "0.3");
        assert_eq!(format_fixed(9_929, Unit::Percent), "99.29");
        assert_eq!(show(140_421, Unit::Shares), "140421 shares");
        assert_eq!(show(25_500_000, Unit::Usd), "25.50 USD");
        assert_eq!(
            format_u256(U256::from(10u128.pow(22)) + U256::from(1), Unit::Eth),
            "10000.000000000000000001"
        );
    }

    /// The canonical form of a well-formed amount: trailing zeros beyond the shown minimum
    /// dropped, missing ones up to it added, leading zeros of the whole part dropped.
    fn canonical(whole: &str, fraction: &str, unit: Unit) -> String {
        let whole = match whole.trim_start_matches('0') {
            "" => "0",
            rest => rest,
        };
        let mut fraction = fraction.trim_end_matches('0').to_owned();
        while fraction.len() < unit.min_shown() {
            fraction.push('0');
        }
        if fraction.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{fraction}")
        }
    }

    fn unit() -> impl Strategy<Value = Unit> {
        proptest::sample::select(UNITS.to_vec())
    }

    proptest! {
        #[test]
        fn parsing_a_formatted_amount_gives_it_back(value: u128, unit in unit()) {
            prop_assert_eq!(parse(&format(value, unit), unit), Ok(value));
            prop_assert_eq!(parse(&format_fixed(value, unit), unit), Ok(value));
            prop_assert_eq!(format_u256(U256::from(value), unit), format(value, unit));
        }

        #[test]
        fn formatting_a_parsed_amount_gives_its_canonical_form(
            unit in unit(),
            whole in "[0-9]{1,18}",
            fraction in "[0-9]{0,18}",
        ) {
            let fraction = &fraction[..fraction.len().min(unit.decimals())];
            let text = if fraction.is_empty() { whole.clone() } else { format!("{whole}.{fraction}") };
            let value = parse(&text, unit).unwrap();
            prop_assert_eq!(format(value, unit), canonical(&whole, fraction, unit));
        }

        #[test]
        fn more_decimals_than_the_unit_has_are_refused(
            unit in unit(),
            whole in "[0-9]{1,5}",
            extra in "[0-9]{1,3}",
        ) {
            let fraction = format!("{}{extra}", "0".repeat(unit.decimals()));
            let text = format!("{whole}.{fraction}");
            let refused = matches!(parse(&text, unit), Err(AmountError::TooManyDecimals { .. }));
            prop_assert!(refused);
        }
    }
}
