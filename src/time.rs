//! Times typed on the command line, and the trading intervals they bound.
//!
//! A date names a whole UTC day: as the start of a period it means that day's first second, as
//! its end it means the next midnight, so `--from 2025-06-01 --to 2025-06-30` is all of June. An
//! RFC 3339 time or unix seconds name an instant, used as is on either side.

use std::ops::Range;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::TimeError;

/// The latest unix second the market stores (uint40).
pub(crate) const MAX_SECONDS: u64 = (1 << 40) - 1;

/// A day or an instant, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// `YYYY-MM-DD`: a whole UTC day.
    Day(NaiveDate),
    /// RFC 3339 or unix seconds: one instant, in unix seconds.
    Instant(u64),
}

impl Moment {
    /// Where a period starting at this moment begins, unix seconds.
    pub fn start(self) -> u64 {
        match self {
            Self::Day(day) => day_start(day),
            Self::Instant(seconds) => seconds,
        }
    }

    /// Where a period ending at this moment ends (exclusive), unix seconds: a day ends at the
    /// next midnight.
    pub fn end(self) -> u64 {
        match self {
            Self::Day(day) => day_start(day) + 86_400,
            Self::Instant(seconds) => seconds,
        }
    }
}

fn day_start(day: NaiveDate) -> u64 {
    let seconds = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    u64::try_from(seconds.timestamp()).expect("checked to be after 1970 when parsed")
}

/// Reads `YYYY-MM-DD` (UTC), an RFC 3339 time or unix seconds.
pub fn parse_moment(text: &str) -> Result<Moment, TimeError> {
    let text = text.trim();
    let moment = if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        Moment::Instant(text.parse().map_err(|_| TimeError::TooLate)?)
    } else if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let seconds = day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp();
        if seconds < 0 {
            return Err(TimeError::BeforeEpoch);
        }
        Moment::Day(day)
    } else {
        let time = DateTime::parse_from_rfc3339(text).map_err(|_| TimeError::Unreadable)?;
        Moment::Instant(u64::try_from(time.timestamp()).map_err(|_| TimeError::BeforeEpoch)?)
    };
    if moment.end() > MAX_SECONDS + 86_400 || moment.start() > MAX_SECONDS {
        return Err(TimeError::TooLate);
    }
    Ok(moment)
}

/// The trading intervals wholly inside `[from, to)`: those starting at or after `from` and ending
/// at or before `to`. Interval `t` covers `[t * len, (t + 1) * len)`.
pub fn intervals_within(from: u64, to: u64, interval_seconds: u32) -> Range<u64> {
    let len = u64::from(interval_seconds.max(1));
    from.div_ceil(len)..to / len
}

/// The UTC day (`YYYY-MM-DD`) of a unix second.
pub fn day_of(seconds: u64) -> String {
    utc(seconds).format("%Y-%m-%d").to_string()
}

/// A unix second as RFC 3339 in UTC (`2025-06-15T10:30:00Z`).
pub fn rfc3339(seconds: u64) -> String {
    utc(seconds).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn utc(seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-15T00:00:00Z.
    const JUNE_15: u64 = 1_749_945_600;

    #[test]
    fn a_date_is_a_whole_utc_day() {
        let day = parse_moment("2025-06-15").unwrap();
        assert_eq!(day.start(), JUNE_15);
        assert_eq!(day.end(), JUNE_15 + 86_400);
        assert_eq!(day_of(JUNE_15), "2025-06-15");
        assert_eq!(day_of(JUNE_15 + 86_399), "2025-06-15");
        assert_eq!(rfc3339(JUNE_15 + 37_800), "2025-06-15T10:30:00Z");
    }

    #[test]
    fn instants_are_taken_as_given() {
        let utc = parse_moment("2025-06-15T10:30:00Z").unwrap();
        assert_eq!(utc, Moment::Instant(JUNE_15 + 37_800));
        assert_eq!(utc.start(), utc.end());
        let offset = parse_moment("2025-06-15T12:30:00+02:00").unwrap();
        assert_eq!(offset, utc);
        assert_eq!(
            parse_moment("1749945600").unwrap(),
            Moment::Instant(JUNE_15)
        );
    }

    #[test]
    fn unreadable_or_out_of_range_times_are_refused() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-06-15 10:30",
            "15.06.2025",
            "-5",
        ] {
            assert_eq!(parse_moment(bad), Err(TimeError::Unreadable), "{bad}");
        }
        assert_eq!(parse_moment("1969-12-31"), Err(TimeError::BeforeEpoch));
        assert_eq!(
            parse_moment("1969-12-31T23:59:59Z"),
            Err(TimeError::BeforeEpoch)
        );
        assert_eq!(parse_moment("1099511627776"), Err(TimeError::TooLate));
        assert_eq!(
            parse_moment("99999999999999999999999"),
            Err(TimeError::TooLate)
        );
    }

    #[test]
    fn intervals_are_those_wholly_inside_the_period() {
        let day = JUNE_15 / 900;
        assert_eq!(
            intervals_within(JUNE_15, JUNE_15 + 86_400, 900),
            day..day + 96
        );
        // A period not on interval boundaries keeps only the whole intervals inside it.
        assert_eq!(
            intervals_within(JUNE_15 + 1, JUNE_15 + 1_799, 900),
            day + 1..day + 1
        );
        assert_eq!(
            intervals_within(JUNE_15 + 1, JUNE_15 + 2_700, 900),
            day + 1..day + 3
        );
    }
}
