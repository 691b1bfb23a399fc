//! Framing of byte streams: noise, splits, corruption, cut-off and runaway telegrams.

use cogrid_dsmr::{DsmrError, Framer, Telegram, parse};

use crate::fixtures::{DSMR_2_2, DSMR_4_2, FLUVIUS, SPEC_5_0_2, with_crc, without_crc};

fn parsed(frame: &[u8]) -> Telegram {
    parse(frame).unwrap()
}

fn noisy_stream() -> (Vec<u8>, Vec<Telegram>) {
    let frames = [
        SPEC_5_0_2.as_bytes().to_vec(),
        without_crc(DSMR_2_2),
        with_crc(FLUVIUS),
    ];
    // Joined halfway through a telegram, then line noise between telegrams.
    let mut stream = b"0-1:24.2.1(101209112500W)(12785.123*m3)\r\n!E47C\r\n".to_vec();
    for frame in &frames {
        stream.extend_from_slice(frame);
        stream.extend_from_slice(b"\x00\xff\r\n!!(*)");
    }
    (stream, frames.iter().map(|f| parsed(f)).collect())
}

#[test]
fn frames_every_telegram_of_a_noisy_stream() {
    let (stream, expected) = noisy_stream();
    let mut framer = Framer::new();
    let got: Vec<_> = framer
        .push(&stream)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, expected);
    assert_eq!((framer.crc_errors(), framer.malformed()), (0, 0));
}

#[test]
fn one_byte_at_a_time() {
    let (stream, expected) = noisy_stream();
    let mut framer = Framer::new();
    let got: Vec<_> = stream
        .iter()
        .flat_map(|byte| framer.push(std::slice::from_ref(byte)))
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn bad_crc_is_counted_and_never_returned() {
    let corrupted = SPEC_5_0_2.replace("(01.193*kW)", "(01.198*kW)");
    let mut framer = Framer::new();
    let got = framer.push(&[corrupted.as_bytes(), SPEC_5_0_2.as_bytes()].concat());
    assert!(matches!(
        got[0],
        Err(DsmrError::CrcMismatch {
            expected: 0xE47C,
            ..
        })
    ));
    assert_eq!(got[1], Ok(parsed(SPEC_5_0_2.as_bytes())));
    assert_eq!(got.len(), 2);
    assert_eq!((framer.crc_errors(), framer.malformed()), (1, 0));
}

#[test]
fn cut_off_telegram_is_reported_and_the_next_one_framed() {
    let next = with_crc(DSMR_4_2);
    let stream = [&SPEC_5_0_2.as_bytes()[..300], &next].concat();
    let mut framer = Framer::new();
    assert_eq!(
        framer.push(&stream),
        vec![Err(DsmrError::MissingEnd), Ok(parsed(&next))]
    );
    assert_eq!((framer.crc_errors(), framer.malformed()), (0, 1));
}

#[test]
fn malformed_telegram_is_counted() {
    let broken = with_crc(&DSMR_4_2.replace("(00.000*kW)", "(00.000*kW"));
    let mut framer = Framer::new();
    let got = framer.push(&broken);
    assert!(matches!(
        got[..],
        [Err(DsmrError::MalformedLine { line: 11, .. })]
    ));
    assert_eq!((framer.crc_errors(), framer.malformed()), (0, 1));
}

#[test]
fn over_long_telegram_is_dropped_without_growing() {
    let mut framer = Framer::with_max_len(512);
    // A runaway "telegram" megabytes long yields one error, not a megabyte buffer.
    let mut runaway = b"/ISk5\\2MT382-1000\r\n\r\n".to_vec();
    runaway.extend(b"1-0:32.7.0(220.1*V)\r\n".repeat(50_000));
    assert_eq!(
        framer.push(&runaway),
        vec![Err(DsmrError::TooLong { limit: 512 })]
    );
    // Real telegrams longer than the limit are dropped too.
    assert_eq!(
        framer.push(SPEC_5_0_2.as_bytes()),
        vec![Err(DsmrError::TooLong { limit: 512 })]
    );
    let small = without_crc(DSMR_2_2);
    assert_eq!(framer.push(&small), vec![Ok(parsed(&small))]);
    assert_eq!((framer.crc_errors(), framer.malformed()), (0, 2));
}

#[test]
fn noise_holding_a_slash_just_before_a_telegram() {
    let mut framer = Framer::new();
    let stream = [&b"\x12/#\x7f"[..], SPEC_5_0_2.as_bytes()].concat();
    assert_eq!(
        framer.push(&stream),
        vec![Ok(parsed(SPEC_5_0_2.as_bytes()))]
    );
    assert_eq!((framer.crc_errors(), framer.malformed()), (0, 0));
}

#[test]
fn noise_line_holding_a_slash_before_a_telegram() {
    let mut framer = Framer::new();
    let stream = [&b"/#\r\n"[..], SPEC_5_0_2.as_bytes()].concat();
    assert_eq!(
        framer.push(&stream),
        vec![
            Err(DsmrError::MissingEnd),
            Ok(parsed(SPEC_5_0_2.as_bytes()))
        ]
    );
}

#[test]
fn identification_containing_a_slash() {
    // IEC 62056-21 forbids it, but a meter that does it still gets its telegrams through.
    let frame = with_crc(&DSMR_4_2.replacen("KFM5KAIFA-METER", "HLY5/D545-METER", 1));
    let mut framer = Framer::new();
    let got = framer.push(&frame);
    assert_eq!(got, vec![Ok(parsed(&frame))]);
    assert_eq!(got[0].as_ref().unwrap().header, "HLY5/D545-METER");
}

#[test]
fn end_line_without_its_line_ending() {
    let first = with_crc(DSMR_4_2);
    let first = first.strip_suffix(b"\r\n").unwrap();
    let second = without_crc(DSMR_2_2);
    let second_bare = second.strip_suffix(b"\r\n").unwrap();
    let stream = [first, second_bare, SPEC_5_0_2.as_bytes()].concat();
    let mut framer = Framer::new();
    assert_eq!(
        framer.push(&stream),
        vec![
            Ok(parsed(first)),
            Ok(parsed(&second)),
            Ok(parsed(SPEC_5_0_2.as_bytes()))
        ]
    );
}

#[test]
fn short_crc_is_malformed() {
    let frame = with_crc(DSMR_4_2);
    let cut = [&frame[..frame.len() - 4], b"\r\n"].concat();
    let mut framer = Framer::new();
    let got = framer.push(&cut);
    assert!(
        matches!(got[..], [Err(DsmrError::MalformedLine { line: 36, .. })]),
        "{got:?}"
    );
    assert_eq!(framer.malformed(), 1);
}
