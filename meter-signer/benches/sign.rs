//! Cost of the signer's hot path: signing one EIP-712 reading with the meter's key (target: at
//! least 10,000 readings a second per core, i.e. at most 100 µs a signature, so one gateway can
//! sign for a whole neighbourhood at every boundary), and feeding a register sample to the
//! boundary detection. Throughput is reported in elements per second on one core: readings
//! signed, samples taken.

use std::hint::black_box;

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use cogrid_chain::{Reading, reading_domain, sign_reading};
use cogrid_meter_signer::sampler::{IntervalSampler, Sample};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn sign_reading_eip712(c: &mut Criterion) {
    let signer = PrivateKeySigner::random();
    let domain = reading_domain(31_337, Address::repeat_byte(0x5f));
    let reading = Reading::new(signer.address(), 42, 1_705_310_100, 3_236_461, 11_647).unwrap();
    let mut group = c.benchmark_group("meter_signer");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_reading_eip712", |b| {
        b.iter(|| sign_reading(&signer, black_box(&domain), black_box(&reading)).unwrap())
    });
    group.finish();
}

fn sampler_push(c: &mut Criterion) {
    // A DSMR 5 meter's stream: one sample a second, one reading every 900.
    let mut sampler = IntervalSampler::new(900, None);
    let mut at = 1_705_309_200;
    let mut group = c.benchmark_group("meter_signer");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sampler_push", |b| {
        b.iter(|| {
            at += 1;
            sampler.push(black_box(Sample {
                at,
                import_wh: at * 2,
                export_wh: at,
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, sign_reading_eip712, sampler_push);
criterion_main!(benches);
