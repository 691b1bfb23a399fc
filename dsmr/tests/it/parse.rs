//! Well-formed telegrams of every supported variant.

use chrono::{DateTime, FixedOffset};
use cogrid_dsmr::{DsmrError, Telegram, parse};

use crate::fixtures::{
    DSMR_2_2, DSMR_4_2, FLUVIUS, INTEGER_WH, SMARTY, SPEC_5_0_2, with_crc, without_crc,
};

fn at(rfc3339: &str) -> Option<DateTime<FixedOffset>> {
    Some(DateTime::parse_from_rfc3339(rfc3339).unwrap())
}

#[test]
fn spec_5_0_2_example() {
    let telegram = parse(SPEC_5_0_2.as_bytes()).unwrap();
    assert_eq!(
        telegram,
        Telegram {
            header: r"ISk5\2MT382-1000".into(),
            version: Some("50".into()),
            equipment_id: Some("4B384547303034303436333935353037".into()),
            timestamp: at("2010-12-09T11:30:20+01:00"),
            import_wh: 246_913_578,
            export_wh: 246_913_578,
            power_import_w: 1_193,
            power_export_w: 0,
            crc: Some(0xE47C),
        }
    );
}

#[test]
fn published_5_0_2_crc_is_an_erratum() {
    let as_printed = SPEC_5_0_2.replace("!E47C", "!EF2F");
    assert_eq!(
        parse(as_printed.as_bytes()),
        Err(DsmrError::CrcMismatch {
            expected: 0xEF2F,
            computed: 0xE47C,
        })
    );
}

#[test]
fn dsmr_4_2_in_summer_time() {
    let frame = with_crc(DSMR_4_2);
    let telegram = parse(&frame).unwrap();
    assert_eq!(telegram.header, "KFM5KAIFA-METER");
    assert_eq!(telegram.version.as_deref(), Some("42"));
    assert_eq!(telegram.timestamp, at("2017-06-12T09:30:45+02:00"));
    assert_eq!(telegram.import_wh, 4_321_007 + 3_210_993);
    assert_eq!(telegram.export_wh, 512_250 + 1_024_750);
    assert_eq!(
        (telegram.power_import_w, telegram.power_export_w),
        (0, 2_345)
    );
    assert_eq!(
        telegram.crc,
        Some(cogrid_dsmr::crc16_arc(DSMR_4_2.as_bytes()))
    );
}

#[test]
fn dsmr_2_2_without_crc_and_with_gas_continuation_line() {
    let telegram = parse(&without_crc(DSMR_2_2)).unwrap();
    assert_eq!(
        telegram,
        Telegram {
            header: r"ISk5\2ME382-1003".into(),
            version: None,
            equipment_id: Some("4B413650303035313533383234373132".into()),
            timestamp: None,
            import_wh: 12_345_678 + 23_456_789,
            export_wh: 1_250,
            power_import_w: 1_220,
            power_export_w: 0,
            crc: None,
        }
    );
}

#[test]
fn dsmr_2_2_with_bare_lf_line_endings() {
    let lf_only = DSMR_2_2.replace("\r\n", "\n");
    assert_eq!(
        parse(lf_only.as_bytes()).unwrap(),
        parse(&without_crc(DSMR_2_2)).unwrap(),
    );
}

#[test]
fn belgian_fluvius_e_mucs() {
    let telegram = parse(&with_crc(FLUVIUS)).unwrap();
    assert_eq!(telegram.header, r"FLU5\253769484_A");
    assert_eq!(telegram.version.as_deref(), Some("50217"));
    assert_eq!(
        telegram.equipment_id.as_deref(),
        Some("3153414123456789303132333435")
    );
    assert_eq!(telegram.timestamp, at("2023-01-17T22:45:15+01:00"));
    assert_eq!(telegram.import_wh, 123_456 + 234_567);
    assert_eq!(telegram.export_wh, 345_678 + 12_345);
    assert_eq!(telegram.power_import_w, 412);
}

#[test]
fn luxembourg_smarty_totals() {
    let telegram = parse(&with_crc(SMARTY)).unwrap();
    assert_eq!(telegram.version.as_deref(), Some("42"));
    assert_eq!(
        telegram.equipment_id.as_deref(),
        Some("53414731303330373030303131323334")
    );
    assert_eq!(telegram.timestamp, at("2022-07-04T12:00:05+02:00"));
    assert_eq!(telegram.import_wh, 4_567_891);
    assert_eq!(telegram.export_wh, 1_234_002);
    assert_eq!(telegram.power_export_w, 3_210);
}

#[test]
fn total_register_wins_over_tariffs() {
    // Meters sending both round each register on its own; the meter's total is the
    // reading, not the sum of rounded parts.
    let body = "/AUX5\\1234567890\r\n\r\n\
                1-0:1.8.0(000812.422*kWh)\r\n\
                1-0:1.8.1(000470.111*kWh)\r\n\
                1-0:1.8.2(000342.310*kWh)\r\n\
                1-0:1.8.3(000000.000*kWh)\r\n\
                1-0:1.8.4(000000.000*kWh)\r\n\
                1-0:2.8.1(000001.000*kWh)\r\n\
                1-0:2.8.0(000001.001*kWh)\r\n\
                !";
    let telegram = parse(&with_crc(body)).unwrap();
    assert_eq!((telegram.import_wh, telegram.export_wh), (812_422, 1_001));
}

#[test]
fn all_tariffs_are_summed() {
    let body = "/XMX5\\TEST\r\n\r\n\
                1-0:1.8.1(000001.000*kWh)\r\n\
                1-0:1.8.2(000002.000*kWh)\r\n\
                1-0:1.8.3(000004.000*kWh)\r\n\
                1-0:1.8.4(000008.000*kWh)\r\n\
                1-0:2.8.1(000000.001*kWh)\r\n\
                1-0:2.8.2(000000.002*kWh)\r\n\
                1-0:2.8.3(000000.004*kWh)\r\n\
                !";
    let telegram = parse(&with_crc(body)).unwrap();
    assert_eq!((telegram.import_wh, telegram.export_wh), (15_000, 7));
}

#[test]
fn integer_wh_and_w_registers() {
    let telegram = parse(&without_crc(INTEGER_WH)).unwrap();
    assert_eq!(telegram.header, "ESY5Q3DB1024 V3.04");
    assert_eq!(telegram.import_wh, 66_982_736);
    assert_eq!(telegram.export_wh, 25_261_597);
    // 580.75 W: fractions of a watt are truncated.
    assert_eq!(telegram.power_import_w, 580);
    assert_eq!(telegram.equipment_id, None);
}

#[test]
fn historical_values_are_not_the_reading() {
    // `*01` selects the previous billing period's value.
    let body = "/ISk5\\2MT382-1000\r\n\r\n\
                1-0:1.8.1(000010.000*kWh)\r\n\
                1-0:1.8.1*01(000009.000*kWh)\r\n\
                1-0:2.8.1*255(000001.000*kWh)\r\n\
                1-0:2.8.1*02(000000.500*kWh)\r\n\
                !";
    let telegram = parse(&with_crc(body)).unwrap();
    assert_eq!((telegram.import_wh, telegram.export_wh), (10_000, 1_000));
}

#[test]
fn belgian_device_id_is_the_fallback_identifier() {
    let body = "/FLU5\\253769484_A\r\n\r\n\
                0-0:96.1.4(50213)\r\n\
                0-0:96.1.0(1SAG1100012345)\r\n\
                0-1:96.1.0(37464C4F32313233343536373839)\r\n\
                1-0:1.8.1(000001.000*kWh)\r\n\
                1-0:2.8.1(000000.000*kWh)\r\n\
                !";
    let telegram = parse(&with_crc(body)).unwrap();
    assert_eq!(telegram.equipment_id.as_deref(), Some("1SAG1100012345"));
}

#[test]
fn crc_may_be_lower_case_and_the_line_ending_absent() {
    let body =
        "/KFM5KAIFA-METER\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n1-0:2.8.1(000002.000*kWh)\r\n!";
    let frame = format!("{body}{:04x}", cogrid_dsmr::crc16_arc(body.as_bytes()));
    let telegram = parse(frame.as_bytes()).unwrap();
    assert_eq!((telegram.import_wh, telegram.export_wh), (1_000, 2_000));
}

#[test]
fn serializes_timestamp_as_rfc3339_with_offset() {
    let telegram = parse(SPEC_5_0_2.as_bytes()).unwrap();
    let json: serde_json::Value = serde_json::to_value(&telegram).unwrap();
    assert_eq!(json["timestamp"], "2010-12-09T11:30:20+01:00");
    assert_eq!(json["equipment_id"], "4B384547303034303436333935353037");
    assert_eq!(json["import_wh"], 246_913_578);
    assert_eq!(json["export_wh"], 246_913_578);
    assert_eq!(json["power_import_w"], 1_193);
    assert_eq!(json["power_export_w"], 0);

    let without_clock = parse(&without_crc(DSMR_2_2)).unwrap();
    assert!(serde_json::to_value(&without_clock).unwrap()["timestamp"].is_null());
}
