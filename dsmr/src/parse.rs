//! Parsing of one complete telegram: end line and CRC, then the data lines.

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::{DsmrError, LineError, Telegram, crc16_arc};

/// Longest line excerpt kept in [`DsmrError::MalformedLine`]: errors are logged, up to
/// once a second per meter, and a corrupted stream can produce kilobyte-long "lines".
const MAX_ERROR_TEXT: usize = 128;

/// Parses one complete telegram, from its leading `/` to its end line.
///
/// The end line is `!` followed by the CRC as four hex digits (DSMR 4.0 and later) or a
/// bare `!` (DSMR 2.2 and 3.0); a line ending may follow it. Lines may end in CRLF, as
/// meters send them, or LF alone.
///
/// When a CRC is present it is checked first, so a corrupted telegram is reported as
/// [`DsmrError::CrcMismatch`] rather than as whatever its damaged lines look like. A
/// telegram that declares DSMR 4.0 or later but has lost its CRC is rejected with
/// [`DsmrError::MissingCrc`]. The readings:
///
/// - import: `1-0:1.8.0` if sent (Luxembourg), else the sum of `1-0:1.8.1`, `1-0:1.8.2`
///   and any further tariffs; export likewise with `1-0:2.8.x`. Both are required.
/// - power: `1-0:1.7.0` and `1-0:2.7.0`, 0 when absent.
/// - `kWh`/`kW` values are scaled to Wh/W exactly with integer arithmetic; digits
///   finer than 1 Wh (or 1 W) are truncated, never rounded up.
///
/// Values with an OBIS `F` group other than 255 (historical values such as `*01` for a
/// past billing period) are not the present reading and are ignored, as are all other
/// OBIS codes. Every line must still be well formed: `A-B:C.D.E(value)(value)...`, or a
/// continuation line of bare `(value)` groups (DSMR 2.2 gas).
///
/// # Errors
///
/// Any [`DsmrError`] except [`DsmrError::TooLong`], which only the
/// [`Framer`](crate::Framer) reports.
pub fn parse(frame: &[u8]) -> Result<Telegram, DsmrError> {
    let end = find_end_line(frame)?;
    let crc = read_crc(frame, end)?;
    if let Some(expected) = crc {
        let computed = crc16_arc(&frame[..=end]);
        if computed != expected {
            return Err(DsmrError::CrcMismatch { expected, computed });
        }
    }

    // `frame[1..end]` ends with the newline before `!`, so the last piece is empty.
    let mut lines = numbered_lines(&frame[1..end]);
    // There is always a first piece: the identification line.
    let (raw, number) = lines.next().unwrap_or_default();
    let header = match clean(raw, number)? {
        [] => return Err(malformed(number, raw, LineError::EmptyHeader)),
        header => ascii(header),
    };

    let mut readings = Readings::default();
    let mut previous = Previous::Nothing;
    for (raw, number) in lines {
        let line = clean(raw, number)?;
        if line.is_empty() {
            continue;
        }
        previous = readings
            .read_line(line, previous)
            .map_err(|reason| malformed(number, line, reason))?;
    }
    readings.finish(header, crc)
}

/// Index of the `!` that opens the end line.
fn find_end_line(frame: &[u8]) -> Result<usize, DsmrError> {
    if frame.first() != Some(&b'/') {
        return Err(DsmrError::MissingStart);
    }
    // Only a `!` at the start of a line ends the telegram; hop between `!`s till one is.
    let mut from = 1;
    while let Some(bang) = find(&frame[from..], |b| b == b'!').map(|i| from + i) {
        if frame[bang - 1] == b'\n' {
            return Ok(bang);
        }
        from = bang + 1;
    }
    Err(DsmrError::MissingEnd)
}

/// Index of the first byte that is a `hit`. Tests 16 bytes a step without early exit,
/// which compiles to SIMD; `Iterator::position` goes a byte at a time, and every parse
/// scans the whole telegram more than once.
fn find(haystack: &[u8], hit: impl Fn(u8) -> bool) -> Option<usize> {
    let (chunks, _) = haystack.as_chunks::<16>();
    let skip = 16
        * chunks
            .iter()
            .take_while(|chunk| !chunk.iter().fold(false, |any, &b| any | hit(b)))
            .count();
    haystack[skip..]
        .iter()
        .position(|&b| hit(b))
        .map(|i| skip + i)
}

/// The lines of `text`, numbered from 1; like `split` on newlines, but using [`find`].
fn numbered_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        Some(match find(text, |b| b == b'\n') {
            Some(newline) => {
                rest = Some(&text[newline + 1..]);
                &text[..newline]
            }
            None => {
                rest = None;
                text
            }
        })
    })
    .zip(1..)
}

/// The CRC on the end line, if any; only line-ending whitespace may follow it.
fn read_crc(frame: &[u8], end: usize) -> Result<Option<u16>, DsmrError> {
    let after = &frame[end + 1..];
    let (field, rest) = after.split_at(
        after
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(after.len()),
    );
    let trailing = rest.trim_ascii();
    if !trailing.is_empty() {
        return Err(DsmrError::TrailingData {
            len: trailing.len(),
        });
    }
    match field.trim_ascii_end() {
        [] => Ok(None),
        hex @ [_, _, _, _] => hex
            .iter()
            .try_fold(0u16, |crc, &b| {
                char::from(b)
                    .to_digit(16)
                    .and_then(|digit| u16::try_from(digit).ok())
                    .map(|digit| crc << 4 | digit)
            })
            .map(Some)
            .ok_or_else(|| end_line_error(frame, end, field)),
        _ => Err(end_line_error(frame, end, field)),
    }
}

fn end_line_error(frame: &[u8], end: usize, field: &[u8]) -> DsmrError {
    let number = frame[..end].iter().filter(|&&b| b == b'\n').count() + 1;
    malformed(
        number,
        &frame[end..=end + field.len()],
        LineError::InvalidCrcField,
    )
}

/// The line without its line ending and surrounding blanks, if it is printable ASCII.
fn clean(raw: &[u8], number: usize) -> Result<&[u8], DsmrError> {
    let line = raw.trim_ascii();
    let printable = |b: u8| matches!(b, b' '..=b'~');
    // Without early exit the check compiles to SIMD; the search runs only on failure.
    if line.iter().fold(true, |ok, &b| ok & printable(b)) {
        return Ok(line);
    }
    match line.iter().copied().find(|&b| !printable(b)) {
        Some(bad) => Err(malformed(number, line, LineError::InvalidByte(bad))),
        None => Ok(line),
    }
}

fn malformed(line: usize, text: &[u8], reason: LineError) -> DsmrError {
    let mut shown = String::from_utf8_lossy(&text[..text.len().min(MAX_ERROR_TEXT)]).into_owned();
    if text.len() > MAX_ERROR_TEXT {
        shown.push('…');
    }
    DsmrError::MalformedLine {
        line,
        text: shown,
        reason,
    }
}

/// Lines reach here as printable ASCII, so every byte is one `char`.
fn ascii(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

/// What the last object line was, which decides whether a continuation line may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Previous {
    /// Only the identification line so far.
    Nothing,
    /// An object this crate does not read; its extra values are not our concern.
    Ignored,
    /// A register this crate reads, which must have exactly one value.
    Read,
}

/// The registers found so far, as slices of the frame until [`Readings::finish`].
#[derive(Debug, Default)]
struct Readings<'a> {
    version: Option<&'a [u8]>,
    belgian_version: Option<&'a [u8]>,
    equipment_id: Option<&'a [u8]>,
    device_id: Option<&'a [u8]>,
    logical_device_name: Option<&'a [u8]>,
    timestamp: Option<DateTime<FixedOffset>>,
    import: Energy,
    export: Energy,
    power_import: Option<u32>,
    power_export: Option<u32>,
}

impl<'a> Readings<'a> {
    fn read_line(&mut self, line: &'a [u8], previous: Previous) -> Result<Previous, LineError> {
        let cosem = Cosem::split(line)?;
        if cosem.reference.is_empty() {
            // DSMR 2.2 puts the gas reading on a line of its own after `0-1:24.3.0`.
            return match previous {
                Previous::Nothing => Err(LineError::OrphanContinuation),
                Previous::Read => Err(LineError::ValueCount),
                Previous::Ignored => Ok(Previous::Ignored),
            };
        }
        let (obis, billing) = parse_obis(cosem.reference).ok_or(LineError::InvalidObis)?;
        // F = 255 means "current"; other values select a stored historical value.
        if billing.is_some_and(|f| f != 255) {
            return Ok(Previous::Ignored);
        }
        match obis {
            [1, 0, 1, 8, tariff] => self.import.add(tariff, quantity(cosem.value()?, b"Wh")?)?,
            [1, 0, 2, 8, tariff] => self.export.add(tariff, quantity(cosem.value()?, b"Wh")?)?,
            [1, 0, 1, 7, 0] => set_once(&mut self.power_import, power(cosem.value()?)?)?,
            [1, 0, 2, 7, 0] => set_once(&mut self.power_export, power(cosem.value()?)?)?,
            [0, 0, 1, 0, 0] => set_once(&mut self.timestamp, timestamp(cosem.value()?)?)?,
            [1, 3, 0, 2, 8] => set_once(&mut self.version, cosem.value()?)?,
            [0, 0, 96, 1, 4] => set_once(&mut self.belgian_version, cosem.value()?)?,
            [0, 0, 96, 1, 1] => set_once(&mut self.equipment_id, cosem.value()?)?,
            [0, 0, 96, 1, 0] => set_once(&mut self.device_id, cosem.value()?)?,
            [0, 0, 42, 0, 0] => set_once(&mut self.logical_device_name, cosem.value()?)?,
            _ => return Ok(Previous::Ignored),
        }
        Ok(Previous::Read)
    }

    fn finish(self, header: String, crc: Option<u16>) -> Result<Telegram, DsmrError> {
        let version = self.version.or(self.belgian_version);
        // DSMR 4.0+ and e-MUCS always send a CRC; a telegram claiming to be one without a
        // CRC lost it in transit and nothing vouches for its content.
        let needs_crc = self.belgian_version.is_some()
            || self
                .version
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u32>().ok())
                .is_some_and(|v| v >= 40);
        if crc.is_none() && needs_crc {
            return Err(DsmrError::MissingCrc {
                version: version.map(ascii).unwrap_or_default(),
            });
        }
        Ok(Telegram {
            header,
            version: version.map(ascii),
            equipment_id: self
                .equipment_id
                .or(self.device_id)
                .or(self.logical_device_name)
                .map(ascii),
            timestamp: self.timestamp,
            import_wh: self.import.total().ok_or(DsmrError::MissingRegister {
                register: "1-0:1.8",
            })?,
            export_wh: self.export.total().ok_or(DsmrError::MissingRegister {
                register: "1-0:2.8",
            })?,
            power_import_w: self.power_import.unwrap_or(0),
            power_export_w: self.power_export.unwrap_or(0),
            crc,
        })
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), LineError> {
    match slot.replace(value) {
        Some(_) => Err(LineError::DuplicateRegister),
        None => Ok(()),
    }
}

/// One energy direction: the total register and the tariff registers.
#[derive(Debug, Default)]
struct Energy {
    total: Option<u64>,
    tariff_sum: u64,
    /// Which tariffs (OBIS `E` group, 1..=255) were seen, to reject duplicates.
    tariffs: [u64; 4],
}

impl Energy {
    fn add(&mut self, tariff: u8, wh: u64) -> Result<(), LineError> {
        if tariff == 0 {
            return set_once(&mut self.total, wh);
        }
        let (word, bit) = (usize::from(tariff / 64), 1u64 << (tariff % 64));
        if self.tariffs[word] & bit != 0 {
            return Err(LineError::DuplicateRegister);
        }
        self.tariffs[word] |= bit;
        self.tariff_sum = self
            .tariff_sum
            .checked_add(wh)
            .ok_or(LineError::OutOfRange)?;
        Ok(())
    }

    /// The meter's own total wins: summing tariffs rounded to 1 Wh each can be off by a
    /// few Wh from it.
    fn total(&self) -> Option<u64> {
        self.total.or_else(|| {
            self.tariffs
                .iter()
                .any(|&w| w != 0)
                .then_some(self.tariff_sum)
        })
    }
}

/// A data line split into its OBIS reference and its `(value)` groups.
#[derive(Debug)]
struct Cosem<'a> {
    /// Empty for a continuation line.
    reference: &'a [u8],
    /// `(v1)(v2)...`, at least one group, parentheses known to pair up.
    groups: &'a [u8],
}

impl<'a> Cosem<'a> {
    fn split(line: &'a [u8]) -> Result<Self, LineError> {
        let Some(open) = find(line, |b| b == b'(') else {
            return Err(if line.contains(&b')') {
                LineError::UnbalancedParentheses
            } else {
                LineError::Syntax
            });
        };
        let (reference, groups) = line.split_at(open);
        if reference.contains(&b')') {
            return Err(LineError::UnbalancedParentheses);
        }
        let mut rest = groups;
        while let [b'(', inner @ ..] = rest {
            match find(inner, |b| b == b'(' || b == b')') {
                Some(close) if inner[close] == b')' => rest = &inner[close + 1..],
                _ => return Err(LineError::UnbalancedParentheses),
            }
        }
        match rest {
            [] => Ok(Self { reference, groups }),
            _ if rest.contains(&b')') => Err(LineError::UnbalancedParentheses),
            _ => Err(LineError::Syntax),
        }
    }

    /// The content of the only value group.
    fn value(&self) -> Result<&'a [u8], LineError> {
        let inner = &self.groups[1..self.groups.len() - 1];
        if inner.contains(&b'(') {
            Err(LineError::ValueCount)
        } else {
            Ok(inner)
        }
    }
}

/// `A-B:C.D.E` with an optional `*F`, every group 0..=255.
fn parse_obis(reference: &[u8]) -> Option<([u8; 5], Option<u8>)> {
    const SEPARATORS: &[u8; 5] = b"-:..*";
    let mut groups = [0u8; 6];
    let mut count = 0;
    let mut rest = reference;
    loop {
        let digits = rest
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=3).contains(&digits) {
            return None;
        }
        let value = rest[..digits]
            .iter()
            .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
        groups[count] = u8::try_from(value).ok()?;
        count += 1;
        match rest[digits..].split_first() {
            None => break,
            Some((&separator, tail)) if count < 6 && separator == SEPARATORS[count - 1] => {
                rest = tail;
            }
            Some(_) => return None,
        }
    }
    let [a, b, c, d, e, f] = groups;
    match count {
        5 => Some(([a, b, c, d, e], None)),
        6 => Some(([a, b, c, d, e], Some(f))),
        _ => None,
    }
}

/// `digits[.digits]*unit` in whole units of `base` (`Wh` or `W`); a `k` prefix scales
/// by 1000 and consumes up to three decimals, further decimals are truncated.
fn quantity(value: &[u8], base: &[u8]) -> Result<u64, LineError> {
    let (number, unit) = match value.iter().position(|&b| b == b'*') {
        Some(star) => (&value[..star], Some(&value[star + 1..])),
        None => (value, None),
    };
    let (integer, fraction) = match number.iter().position(|&b| b == b'.') {
        Some(dot) if dot + 1 < number.len() => (&number[..dot], &number[dot + 1..]),
        Some(_) => return Err(LineError::InvalidNumber),
        None => (number, &[][..]),
    };
    if integer.is_empty()
        || !integer.iter().all(u8::is_ascii_digit)
        || !fraction.iter().all(u8::is_ascii_digit)
    {
        return Err(LineError::InvalidNumber);
    }
    let decimals = match unit {
        Some(unit) if unit.eq_ignore_ascii_case(base) => 0,
        Some([b'k' | b'K', unit @ ..]) if unit.eq_ignore_ascii_case(base) => 3,
        _ => return Err(LineError::UnexpectedUnit),
    };
    integer
        .iter()
        .chain(
            fraction
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(decimals),
        )
        .try_fold(0u64, |acc, &digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
        .ok_or(LineError::OutOfRange)
}

fn power(value: &[u8]) -> Result<u32, LineError> {
    u32::try_from(quantity(value, b"W")?).map_err(|_| LineError::OutOfRange)
}

/// `YYMMDDhhmmssX`: local time in 20YY, `X` = `W` (CET, +01:00) or `S` (CEST, +02:00).
fn timestamp(value: &[u8]) -> Result<DateTime<FixedOffset>, LineError> {
    let [digits @ .., flag] = value else {
        return Err(LineError::InvalidTimestamp);
    };
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(LineError::InvalidTimestamp);
    }
    let pair = |i: usize| u32::from(digits[i] - b'0') * 10 + u32::from(digits[i + 1] - b'0');
    let offset_hours = match flag {
        b'W' => 1,
        b'S' => 2,
        _ => return Err(LineError::InvalidTimestamp),
    };
    FixedOffset::east_opt(offset_hours * 3600)
        .zip(NaiveDate::from_ymd_opt(
            2000 + i32::from(digits[0] - b'0') * 10 + i32::from(digits[1] - b'0'),
            pair(2),
            pair(4),
        ))
        .and_then(|(offset, date)| {
            date.and_hms_opt(pair(6), pair(8), pair(10))?
                .and_local_timezone(offset)
                .single()
        })
        .ok_or(LineError::InvalidTimestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obis_references() {
        assert_eq!(parse_obis(b"1-0:1.8.1"), Some(([1, 0, 1, 8, 1], None)));
        assert_eq!(
            parse_obis(b"0-0:96.1.255*255"),
            Some(([0, 0, 96, 1, 255], Some(255)))
        );
        for bad in [
            &b""[..],
            b"1-0:1.8",
            b"1-0:99:97.0",
            b"1-0:1.8.256",
            b"1-0:1.8.0001",
            b"1-0:1.8.1*",
            b"1-0:1.8.1*1*1",
            b"1,0:2.7.0",
            b"1-0:1.8.1 ",
        ] {
            assert_eq!(parse_obis(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn quantities_scale_exactly() {
        assert_eq!(quantity(b"001234.567*kWh", b"Wh"), Ok(1_234_567));
        assert_eq!(quantity(b"000123456*Wh", b"Wh"), Ok(123_456));
        assert_eq!(quantity(b"00.193*kW", b"W"), Ok(193));
        assert_eq!(quantity(b"0000.59*kW", b"W"), Ok(590));
        assert_eq!(quantity(b"12*KWH", b"Wh"), Ok(12_000));
        // Finer than 1 Wh: truncated, never rounded up.
        assert_eq!(quantity(b"00066982.7369255*kWh", b"Wh"), Ok(66_982_736));
        assert_eq!(quantity(b"000580.75*W", b"W"), Ok(580));
    }

    #[test]
    fn quantity_rejections() {
        for (value, reason) in [
            (&b""[..], LineError::InvalidNumber),
            (b"*kWh", LineError::InvalidNumber),
            (b"12.*kWh", LineError::InvalidNumber),
            (b".5*kWh", LineError::InvalidNumber),
            (b"1.2.3*kWh", LineError::InvalidNumber),
            (b"-1*kWh", LineError::InvalidNumber),
            (b"12a4.5*kWh", LineError::InvalidNumber),
            (b"12.5", LineError::UnexpectedUnit),
            (b"12.5*", LineError::UnexpectedUnit),
            (b"12.5*MWh", LineError::UnexpectedUnit),
            (b"12.5*kW", LineError::UnexpectedUnit),
            (b"99999999999999999999*Wh", LineError::OutOfRange),
        ] {
            assert_eq!(
                quantity(value, b"Wh"),
                Err(reason),
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        assert_eq!(power(b"4294967.296*kW"), Err(LineError::OutOfRange));
        assert_eq!(power(b"4294967.295*kW"), Ok(u32::MAX));
    }

    #[test]
    fn timestamps_carry_the_dst_flag_as_offset() {
        let winter = timestamp(b"101209113020W").unwrap();
        assert_eq!(winter.to_rfc3339(), "2010-12-09T11:30:20+01:00");
        let summer = timestamp(b"190720235959S").unwrap();
        assert_eq!(summer.to_rfc3339(), "2019-07-20T23:59:59+02:00");
        for bad in [
            &b""[..],
            b"101209113020",
            b"101209113020X",
            b"1012091130201W",
            b"101309113020W",
            b"100230113020W",
            b"101209243020W",
            b"10120911302AW",
        ] {
            assert_eq!(
                timestamp(bad),
                Err(LineError::InvalidTimestamp),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn line_grammar() {
        let gas = Cosem::split(b"0-1:24.2.1(101209112500W)(12785.123*m3)").unwrap();
        assert_eq!(gas.reference, b"0-1:24.2.1");
        assert_eq!(gas.value(), Err(LineError::ValueCount));
        let empty = Cosem::split(b"0-0:96.13.0()").unwrap();
        assert_eq!(empty.value(), Ok(&b""[..]));
        let continuation = Cosem::split(b"(13376.292)").unwrap();
        assert_eq!(continuation.reference, b"");
        for (line, reason) in [
            (&b"1-0:1.8.1(1*kWh"[..], LineError::UnbalancedParentheses),
            (b"1-0:1.8.1(1*kWh))", LineError::UnbalancedParentheses),
            (b"1-0:1.8.1((1*kWh)", LineError::UnbalancedParentheses),
            (b"1-0:1.8.1)1*kWh(", LineError::UnbalancedParentheses),
            (b"1-0:1.8.1 1*kWh)", LineError::UnbalancedParentheses),
            (b"1-0:1.8.1(1*kWh) x", LineError::Syntax),
            (b"1-0:1.8.1", LineError::Syntax),
        ] {
            assert_eq!(
                Cosem::split(line).map(|c| c.reference),
                Err(reason),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
