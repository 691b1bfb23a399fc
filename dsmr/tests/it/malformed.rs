//! Telegrams that must be rejected, and how.

use cogrid_dsmr::{DsmrError, LineError, parse};

use crate::fixtures::{DSMR_2_2, DSMR_4_2, SPEC_5_0_2, with_crc, without_crc};

/// `DSMR_4_2` with `from` replaced by `to` and a CRC that matches the result, so the
/// line itself is what gets judged.
fn dsmr_4_2_with(from: &str, to: &str) -> Vec<u8> {
    assert!(DSMR_4_2.contains(from), "{from}");
    with_crc(&DSMR_4_2.replacen(from, to, 1))
}

fn line_error(frame: &[u8]) -> (usize, LineError, String) {
    match parse(frame) {
        Err(DsmrError::MalformedLine { line, text, reason }) => (line, reason, text),
        other => panic!("expected MalformedLine, got {other:?}"),
    }
}

#[test]
fn corrupted_byte_fails_the_crc() {
    let corrupted = SPEC_5_0_2.replace("1-0:1.8.1(123456.789", "1-0:1.8.1(123456.788");
    match parse(corrupted.as_bytes()) {
        Err(DsmrError::CrcMismatch { expected, computed }) => {
            assert_eq!(expected, 0xE47C);
            assert_ne!(computed, expected);
        }
        other => panic!("expected CrcMismatch, got {other:?}"),
    }
}

#[test]
fn crc_is_checked_before_the_lines() {
    // Garbled in transit: the CRC names the cause, not the damaged line.
    let corrupted = SPEC_5_0_2.replace("1-0:1.8.1(123456.789*kWh)", "1-0:1.8.1(123456.789*kWh");
    assert!(matches!(
        parse(corrupted.as_bytes()),
        Err(DsmrError::CrcMismatch { .. })
    ));
}

#[test]
fn missing_end_line() {
    let cut = &SPEC_5_0_2[..SPEC_5_0_2.find('!').unwrap()];
    assert_eq!(parse(cut.as_bytes()), Err(DsmrError::MissingEnd));
    // A `!` inside a line does not end the telegram.
    assert_eq!(
        parse(b"/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(1!*kWh)\r\n"),
        Err(DsmrError::MissingEnd)
    );
}

#[test]
fn missing_start() {
    assert_eq!(
        parse(&SPEC_5_0_2.as_bytes()[1..]),
        Err(DsmrError::MissingStart)
    );
    assert_eq!(parse(b""), Err(DsmrError::MissingStart));
    assert_eq!(
        parse(format!("\r\n{SPEC_5_0_2}").as_bytes()),
        Err(DsmrError::MissingStart)
    );
}

#[test]
fn unbalanced_parentheses_name_the_line() {
    let frame = dsmr_4_2_with("1-0:2.8.1(000512.250*kWh)", "1-0:2.8.1(000512.250*kWh");
    let (line, reason, text) = line_error(&frame);
    assert_eq!((line, reason), (8, LineError::UnbalancedParentheses));
    assert_eq!(text, "1-0:2.8.1(000512.250*kWh");
    let shown = parse(&frame).unwrap_err().to_string();
    assert!(shown.contains("line 8"), "{shown}");
    assert!(shown.contains("1-0:2.8.1(000512.250*kWh"), "{shown}");
}

#[test]
fn unbalanced_parentheses_in_an_ignored_line() {
    let frame = dsmr_4_2_with(
        "(0000001234*s)(000101000001W)",
        "(0000001234*s)000101000001W)",
    );
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (15, LineError::UnbalancedParentheses));
}

#[test]
fn bad_number() {
    let frame = dsmr_4_2_with("1-0:1.8.2(003210.993*kWh)", "1-0:1.8.2(0032I0.993*kWh)");
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (7, LineError::InvalidNumber));
}

#[test]
fn bad_unit() {
    let frame = dsmr_4_2_with("1-0:1.7.0(00.000*kW)", "1-0:1.7.0(00.000*kWh)");
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (11, LineError::UnexpectedUnit));
}

#[test]
fn power_beyond_u32_watts() {
    let frame = dsmr_4_2_with("1-0:2.7.0(02.345*kW)", "1-0:2.7.0(4294968.000*kW)");
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (12, LineError::OutOfRange));
}

#[test]
fn bad_timestamps() {
    for bad in [
        "171312093045S",
        "170612093045",
        "170612093045X",
        "170631093045S",
    ] {
        let frame = dsmr_4_2_with("170612093045S", bad);
        let (line, reason, text) = line_error(&frame);
        assert_eq!((line, reason), (4, LineError::InvalidTimestamp), "{bad}");
        assert_eq!(text, format!("0-0:1.0.0({bad})"));
    }
}

#[test]
fn missing_import_registers() {
    let body = DSMR_4_2
        .replace("1-0:1.8.1(004321.007*kWh)\r\n", "")
        .replace("1-0:1.8.2(003210.993*kWh)\r\n", "");
    assert_eq!(
        parse(&with_crc(&body)),
        Err(DsmrError::MissingRegister {
            register: "1-0:1.8"
        })
    );
}

#[test]
fn missing_export_registers() {
    let body = DSMR_2_2
        .replace("1-0:2.8.1(00000.000*kWh)\r\n", "")
        .replace("1-0:2.8.2(00001.250*kWh)\r\n", "");
    assert_eq!(
        parse(&without_crc(&body)),
        Err(DsmrError::MissingRegister {
            register: "1-0:2.8"
        })
    );
}

#[test]
fn duplicate_register() {
    let frame = dsmr_4_2_with(
        "1-0:1.8.2(003210.993*kWh)\r\n",
        "1-0:1.8.2(003210.993*kWh)\r\n1-0:1.8.2(000000.001*kWh)\r\n",
    );
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (8, LineError::DuplicateRegister));
}

#[test]
fn register_with_two_values() {
    let frame = dsmr_4_2_with("1-0:1.7.0(00.000*kW)", "1-0:1.7.0(00.000*kW)(00.001*kW)");
    assert_eq!(line_error(&frame).1, LineError::ValueCount);
}

#[test]
fn invalid_obis_reference() {
    let frame = dsmr_4_2_with("1-0:99.97.0(2)", "1-0:99:97.0(2)");
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (15, LineError::InvalidObis));
}

#[test]
fn continuation_line_needs_an_object_before_it() {
    let body = DSMR_2_2.replacen("\r\n\r\n", "\r\n(00123.456)\r\n", 1);
    let (line, reason, _) = line_error(&without_crc(&body));
    assert_eq!((line, reason), (2, LineError::OrphanContinuation));
}

#[test]
fn non_ascii_byte() {
    let mut frame = without_crc(DSMR_2_2);
    let at = frame.windows(9).position(|w| w == b"12345.678").unwrap();
    frame[at] = 0xB3;
    let (line, reason, _) = line_error(&frame);
    assert_eq!((line, reason), (4, LineError::InvalidByte(0xB3)));
}

#[test]
fn invalid_crc_field() {
    let base = DSMR_4_2.as_bytes();
    for end in ["!EF2\r\n", "!EF2FF\r\n", "!XYZW\r\n", "! EF2F\r\n"] {
        let frame = [base.strip_suffix(b"!").unwrap(), end.as_bytes()].concat();
        let (line, reason, text) = line_error(&frame);
        assert_eq!((line, reason), (36, LineError::InvalidCrcField), "{end:?}");
        assert_eq!(text, end.trim_end());
    }
}

#[test]
fn dsmr_4_without_its_crc() {
    assert_eq!(
        parse(&without_crc(DSMR_4_2)),
        Err(DsmrError::MissingCrc {
            version: "42".into()
        })
    );
}

#[test]
fn data_after_the_end_line() {
    let mut frame = SPEC_5_0_2.as_bytes().to_vec();
    frame.extend_from_slice(b"/ISk5");
    assert_eq!(parse(&frame), Err(DsmrError::TrailingData { len: 5 }));
}

#[test]
fn empty_header() {
    let (line, reason, _) = line_error(&with_crc("/\r\n\r\n1-0:1.8.1(1*kWh)\r\n!"));
    assert_eq!((line, reason), (1, LineError::EmptyHeader));
}
