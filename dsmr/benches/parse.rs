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
criterion_main!(benches);
