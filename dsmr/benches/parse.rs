//! Parse time of a full DSMR 5.0.2 telegram, CRC check included (target: at most 5 µs;
//! a meter sends one telegram a second, a concentrator may handle thousands).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code, reason = "the bench needs one of the shared test telegrams")]
#[path = "../tests/it/fixtures.rs"]
mod fixtures;

fn dsmr_parse_5_0_2(c: &mut Criterion) {
    let frame = fixtures::SPEC_5_0_2.as_bytes();
    assert!(cogrid_dsmr::parse(frame).is_ok());
    c.bench_function("dsmr_parse_5_0_2", |b| {
        b.iter(|| cogrid_dsmr::parse(black_box(frame)))
    });
}

criterion_group!(benches, dsmr_parse_5_0_2);
criterion_main!(benches, tmp);

fn tmp_parts(c: &mut Criterion) {
    let frame = fixtures::SPEC_5_0_2.as_bytes();
    c.bench_function("tmp_crc", |b| {
        b.iter(|| cogrid_dsmr::crc16_arc(black_box(frame)))
    });
    c.bench_function("tmp_find", |b| {
        b.iter(|| black_box(frame).windows(2).position(|p| p == b"\n!"))
    });
    c.bench_function("tmp_2_2_nocrc", |b| {
        let f = fixtures::without_crc(fixtures::DSMR_4_2.replace("1-3:0.2.8(42)\r\n", "").as_str());
        b.iter(|| cogrid_dsmr::parse(black_box(&f)))
    });
}
criterion_group!(tmp, tmp_parts);
