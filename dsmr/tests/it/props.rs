//! Properties over arbitrary input: no panics, corruption caught, framing independent
//! of how the stream is chopped up.

use cogrid_dsmr::{Framer, Telegram, crc16_arc, parse};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::fixtures::{
    DSMR_2_2, DSMR_4_2, FLUVIUS, INTEGER_WH, SMARTY, SPEC_5_0_2, with_crc, without_crc,
};

fn frames() -> Vec<Vec<u8>> {
    vec![
        SPEC_5_0_2.as_bytes().to_vec(),
        with_crc(DSMR_4_2),
        without_crc(DSMR_2_2),
        with_crc(FLUVIUS),
        with_crc(SMARTY),
        without_crc(INTEGER_WH),
    ]
}

fn crc_protected() -> Vec<Vec<u8>> {
    vec![
        SPEC_5_0_2.as_bytes().to_vec(),
        with_crc(DSMR_4_2),
        with_crc(FLUVIUS),
    ]
}

/// Bit-by-bit CRC-16/ARC straight from its definition.
fn crc16_arc_reference(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

proptest! {
    #[test]
    fn crc_table_matches_the_definition(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert_eq!(crc16_arc(&data), crc16_arc_reference(&data));
    }

    #[test]
    fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&data);
        let _ = parse(&[b"/".as_slice(), &data, b"\r\n!"].concat());
    }

    #[test]
    fn parse_never_panics_on_damaged_telegrams(
        which in any::<Index>(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let all = frames();
        let mut frame = which.get(&all).clone();
        for (at, byte, kind) in edits {
            let i = at.index(frame.len() + 1);
            match kind {
                0 => frame.insert(i, byte),
                1 if i < frame.len() => frame[i] = byte,
                _ if i < frame.len() => { frame.remove(i); }
                _ => {}
            }
        }
        let _ = parse(&frame);
    }

    #[test]
    fn any_corrupted_byte_under_the_crc_is_caught(
        which in any::<Index>(),
        at in any::<Index>(),
        flip in 1u8..=255,
    ) {
        let all = crc_protected();
        let mut frame = which.get(&all).clone();
        let covered = frame.iter().rposition(|&b| b == b'!').unwrap() + 1;
        frame[at.index(covered)] ^= flip;
        prop_assert!(parse(&frame).is_err());
    }

    #[test]
    fn kwh_converts_to_wh_exactly(import_wh in 0u64..1_000_000_000_000, power_w in any::<u32>()) {
        let body = format!(
            "/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1({:06}.{:03}*kWh)\r\n1-0:2.8.1({:09}*Wh)\r\n1-0:1.7.0({:02}.{:03}*kW)\r\n!",
            import_wh / 1000, import_wh % 1000, import_wh, power_w / 1000, power_w % 1000,
        );
        let telegram = parse(&with_crc(&body)).unwrap();
        prop_assert_eq!(telegram.import_wh, import_wh);
        prop_assert_eq!(telegram.export_wh, import_wh);
        prop_assert_eq!(telegram.power_import_w, power_w);
    }

    #[test]
    fn framer_never_panics(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..512), 0..16),
        max_len in prop_oneof![Just(cogrid_dsmr::DEFAULT_MAX_TELEGRAM_LEN), 0usize..64],
    ) {
        let mut framer = Framer::with_max_len(max_len);
        let mut rejected = 0;
        for chunk in &chunks {
            rejected += framer.push(chunk).iter().filter(|r| r.is_err()).count();
        }
        prop_assert_eq!(framer.crc_errors() + framer.malformed(), rejected as u64);
    }

    #[test]
    fn stream_frames_the_same_however_it_is_split(
        picks in prop::collection::vec((any::<Index>(), prop::collection::vec(any::<u8>(), 0..64)), 1..5),
        leading in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let all = frames();
        let mut stream = leading;
        let mut expected: Vec<Telegram> = Vec::new();
        for (which, garbage) in &picks {
            let frame = which.get(&all);
            stream.extend_from_slice(frame);
            stream.extend_from_slice(garbage);
            expected.push(parse(frame).unwrap());
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();

        let mut framer = Framer::new();
        let got: Vec<Telegram> = cuts
            .windows(2)
            .flat_map(|w| framer.push(&stream[w[0]..w[1]]))
            .filter_map(Result::ok)
            .collect();
        prop_assert_eq!(got, expected);
    }
}
