//! Clearing time of one interval (targets: a 500-home neighbourhood in at most 100 µs, 10,000
//! orders in at most 1 ms; the keeper must clear, simulate and send an interval within 1 s).

use std::hint::black_box;

use alloy::primitives::{Address, U160};
use criterion::{Criterion, criterion_group, criterion_main};

use cogrid_keeper::clearing::{Book, Order, Outcome, Volumes, clear};

/// A midday interval of `homes` homes on 10 feeders, one meter and one order each: 30 % PV
/// sellers, 10 % PV with a battery that may sell or buy, 45 % consumers, 10 % EV chargers, 5 %
/// critical loads; prices around 0.10 USD/kWh (100,000 base units), network fee 0.03 USD/kWh.
fn neighbourhood(homes: u64) -> Book {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |below: u64| {
        // xorshift64: a fixed stream, so every run benches the same book.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut book = Book {
        network_fee: 30_000,
        ..Book::default()
    };
    for home in 0..homes {
        let meter = Address::from(U160::from(1_000_000 + home));
        let participant = Address::from(U160::from(home + 1));
        let kind = next(100);
        let mut order = Order {
            id: home + 1,
            participant,
            meter,
            sell_floor: None,
            buy_ceiling: None,
            cap_wh: None,
            placed_at: next(10_000),
            critical: false,
            feeder: (home % 10) as u32,
        };
        let mut volumes = Volumes::default();
        match kind {
            0..30 => {
                order.sell_floor = Some(40_000 + next(80_000));
                volumes.export_wh = 200 + next(1_300);
            }
            30..40 => {
                order.sell_floor = Some(90_000 + next(60_000));
                order.buy_ceiling = Some(80_000 + next(80_000));
                order.cap_wh = Some(500 + next(1_000));
                volumes.export_wh = next(800);
                volumes.import_wh = next(300);
            }
            40..85 => {
                order.buy_ceiling = Some(100_000 + next(150_000));
                volumes.import_wh = 100 + next(700);
            }
            85..95 => {
                order.buy_ceiling = Some(120_000 + next(100_000));
                order.cap_wh = Some(2_500);
                volumes.import_wh = 2_000 + next(1_000);
            }
            _ => {
                order.buy_ceiling = Some(200_000 + next(100_000));
                order.critical = true;
                volumes.import_wh = 100 + next(300);
            }
        }
        book.volumes.insert(meter, volumes);
        book.balances
            .insert(participant, u128::from(next(5_000_000)));
        book.orders.push(order);
    }
    book
}

fn clearing(c: &mut Criterion) {
    for (name, homes) in [("clear_500_homes", 500), ("clear_10000_orders", 10_000)] {
        let book = neighbourhood(homes);
        let cleared = clear(&book);
        assert!(
            matches!(cleared.grid, Outcome::Traded(_)),
            "{name}: the bench book must trade"
        );
        c.bench_function(name, |b| b.iter(|| clear(black_box(&book))));
    }
    let mut islanded = neighbourhood(500);
    islanded.islanded.insert(3);
    assert!(matches!(clear(&islanded).islands[&3], Outcome::Traded(_)));
    c.bench_function("clear_500_homes_one_feeder_islanded", |b| {
        b.iter(|| clear(black_box(&islanded)))
    });
}

criterion_group!(benches, clearing);
criterion_main!(benches);
