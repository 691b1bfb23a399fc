//! The keeper's store, on SQLite and on PostgreSQL alike.

use alloy::primitives::{Address, B256};
use cogrid_chain::SettlementRecord;
use cogrid_keeper::{
    config::Database,
    store::{
        AttemptStatus, BalanceChange, BalanceChangeKind, Event, IndexedBlock, IntervalStatus,
        LiveOrder, LogPosition, LoggedEvent, Meter, MeterSettlement, MeterVolume, Participant,
        SettlementAttempt, Store, StoreError,
    },
};

use crate::backends::{TestDb, on_both_backends};

const INTERVAL_SECONDS: u64 = 900;

on_both_backends!(
    migrations_apply_once,
    a_reopened_store_resumes_from_its_last_block,
    blocks_must_extend_the_indexed_chain,
    a_refused_block_leaves_nothing_behind,
    rewinding_removes_exactly_the_blocks_above,
    a_later_order_replaces_and_a_cancellation_removes,
    meters_and_participants_follow_their_latest_event,
    marketable_volumes_sum_the_readings_that_end_the_interval,
    settlements_by_interval_and_by_meter,
    settlement_attempts_survive_a_rewind,
    amounts_above_u64_round_trip,
    a_schema_from_a_newer_keeper_is_refused,
);

fn account(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// The hash of block `number` on fork `fork` (0 is the canonical chain).
fn hash_of(number: u64, fork: u8) -> B256 {
    let mut bytes = [0; 32];
    bytes[0] = 0xb0 | fork;
    bytes[24..].copy_from_slice(&number.to_be_bytes());
    B256::from(bytes)
}

/// Block `number` of the canonical chain, its events at odd log indices (as when other contracts'
/// logs sit between them).
fn block(number: u64, events: Vec<Event>) -> IndexedBlock {
    IndexedBlock {
        number,
        hash: hash_of(number, 0),
        parent_hash: hash_of(number.wrapping_sub(1), 0),
        timestamp: 1_700_000_000 + number * 2,
        events: events
            .into_iter()
            .zip(0..)
            .map(|(event, index)| LoggedEvent {
                log_index: 2 * index + 1,
                event,
            })
            .collect(),
    }
}

fn registered(account_byte: u8, id: u32) -> Event {
    Event::ParticipantRegistered {
        account: account(account_byte),
        id,
    }
}

fn meter_registered(meter: u8, owner: u8, feeder: u32) -> Event {
    Event::MeterRegistered {
        meter: account(meter),
        owner: account(owner),
        feeder,
        kinds: 0b101,
        capacity_w: 17_250,
    }
}

fn sell_order(meter: u8, owner: u8, floor: u64) -> Event {
    Event::OrderPlaced {
        meter: account(meter),
        owner: account(owner),
        sell_floor: Some(floor),
        buy_ceiling: None,
        cap_wh: Some(2_000),
        valid_from: 0,
        valid_until: None,
        cover_from_credits: false,
    }
}

fn buy_order(meter: u8, owner: u8, ceiling: u64) -> Event {
    Event::OrderPlaced {
        meter: account(meter),
        owner: account(owner),
        sell_floor: None,
        buy_ceiling: Some(ceiling),
        cap_wh: None,
        valid_from: 1_700_000_000,
        valid_until: Some(1_800_000_000),
        cover_from_credits: true,
    }
}

/// A reading closing interval `interval`.
fn reading(
    meter: u8,
    seq: u32,
    interval: u64,
    import: u64,
    export: u64,
    marketable: bool,
) -> Event {
    Event::ReadingAccepted {
        meter: account(meter),
        seq,
        interval_end: (interval + 1) * INTERVAL_SECONDS,
        import_delta_wh: import,
        export_delta_wh: export,
        marketable,
    }
}

fn interval_settled(interval: u64, traded_wh: u64, closing: bool, tx: u8) -> Event {
    Event::IntervalSettled {
        interval,
        keeper: account(0xee),
        price: 95_000,
        traded_wh,
        closing,
        tx_hash: B256::repeat_byte(tx),
    }
}

fn meter_settled(meter: u8, interval: u64, sold_wh: u32, amount: u128) -> Event {
    Event::MetersSettled {
        records: vec![SettlementRecord {
            meter: account(meter),
            interval,
            carbon_grams: 16,
            traded_wh: sold_wh,
            credited_wh: 40,
            covered_wh: 0,
            grid_supplied_wh: 0,
            amount,
            bought: false,
            unserved: false,
        }],
    }
}

/// Three blocks touching every event table, blocks 2 and 3 changing what block 1 set.
fn three_blocks() -> [IndexedBlock; 3] {
    [
        block(
            1,
            vec![
                registered(0xa1, 1),
                registered(0xa2, 2),
                registered(0xa3, 3),
                meter_registered(0x11, 0xa1, 1),
                meter_registered(0x12, 0xa2, 1),
                meter_registered(0x13, 0xa3, 2),
                Event::Deposited {
                    account: account(0xa2),
                    asset: 0,
                    amount: 50_000_000,
                },
                sell_order(0x11, 0xa1, 80_000),
                reading(0x11, 1, 9, 0, 700, true),
                interval_settled(9, 500, true, 0x91),
                meter_settled(0x11, 9, 500, 47_500),
            ],
        ),
        block(
            2,
            vec![
                Event::ParticipantDeactivated {
                    account: account(0xa3),
                },
                Event::MeterDeactivated {
                    meter: account(0x12),
                },
                sell_order(0x11, 0xa1, 85_000),
                buy_order(0x12, 0xa2, 120_000),
                buy_order(0x13, 0xa3, 110_000),
                Event::OrderCancelled {
                    meter: account(0x13),
                },
                reading(0x11, 2, 10, 10, 900, true),
                reading(0x12, 1, 10, 600, 0, true),
                Event::Withdrawn {
                    account: account(0xa2),
                    asset: 0,
                    amount: 1_000_000,
                },
                interval_settled(10, 300, false, 0xa0),
                meter_settled(0x11, 10, 300, 28_500),
            ],
        ),
        block(
            3,
            vec![
                Event::MeterReactivated {
                    meter: account(0x12),
                },
                registered(0xa4, 4),
                meter_registered(0x14, 0xa4, 2),
                reading(0x14, 1, 10, 0, 250, false),
                interval_settled(10, 200, true, 0xa1),
                meter_settled(0x11, 10, 200, 19_000),
            ],
        ),
    ]
}

/// Everything the store answers about the three blocks' accounts, meters and intervals.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tip: Option<u64>,
    hashes: Vec<Option<B256>>,
    participants: Vec<Participant>,
    meters: Vec<Meter>,
    orders: Vec<LiveOrder>,
    volumes: Vec<Vec<MeterVolume>>,
    statuses: Vec<Option<IntervalStatus>>,
    settlements: Vec<Vec<MeterSettlement>>,
    last_settled: Option<u64>,
    balance_changes: Vec<BalanceChange>,
}

async fn snapshot(store: &Store) -> Snapshot {
    let mut snapshot = Snapshot {
        tip: store.last_indexed_block().await.unwrap(),
        hashes: Vec::new(),
        participants: store.active_participants().await.unwrap(),
        meters: store.meters().await.unwrap(),
        orders: store.live_orders().await.unwrap(),
        volumes: Vec::new(),
        statuses: Vec::new(),
        settlements: Vec::new(),
        last_settled: store.last_settled_interval().await.unwrap(),
        balance_changes: store.balance_changes(account(0xa2)).await.unwrap(),
    };
    for number in 1..=3 {
        snapshot
            .hashes
            .push(store.block_hash(number).await.unwrap());
    }
    for interval in 9..=10 {
        snapshot.volumes.push(
            store
                .marketable_volumes(interval, INTERVAL_SECONDS)
                .await
                .unwrap(),
        );
        snapshot
            .statuses
            .push(store.interval_status(interval).await.unwrap());
        snapshot
            .settlements
            .push(store.meter_settlements(interval).await.unwrap());
    }
    snapshot
}

async fn migrations_apply_once(db: TestDb) {
    let store = db.open().await;
    let version = store.schema_version().await.unwrap();
    assert!(version >= 1, "no migration applied: version {version}");
    store.close().await;

    let store = db.open().await;
    assert_eq!(store.schema_version().await.unwrap(), version);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM schema_version").await,
        i64::try_from(version).unwrap(),
        "a reopen applied a migration again"
    );
    db.finish(store).await;
}

async fn a_reopened_store_resumes_from_its_last_block(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.last_indexed_block().await.unwrap(), None);
    let [first, second, third] = three_blocks();
    store.apply_block(&first).await.unwrap();
    store.apply_block(&second).await.unwrap();
    let before = snapshot(&store).await;
    store.close().await;

    let store = db.open().await;
    assert_eq!(store.last_indexed_block().await.unwrap(), Some(2));
    assert_eq!(snapshot(&store).await, before);
    store.apply_block(&third).await.unwrap();
    assert_eq!(store.last_indexed_block().await.unwrap(), Some(3));
    db.finish(store).await;
}

async fn blocks_must_extend_the_indexed_chain(db: TestDb) {
    let store = db.open().await;
    // Indexing starts wherever the deployment is.
    store.apply_block(&block(100, vec![])).await.unwrap();

    let again = store.apply_block(&block(100, vec![])).await.unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::BlockNotAfterTip {
                number: 100,
                tip: 100
            }
        ),
        "{again}"
    );
    let older = store.apply_block(&block(99, vec![])).await.unwrap_err();
    assert!(
        matches!(older, StoreError::BlockNotAfterTip { .. }),
        "{older}"
    );

    let mut forked = block(101, vec![]);
    forked.parent_hash = hash_of(100, 1);
    let reorged = store.apply_block(&forked).await.unwrap_err();
    assert!(
        matches!(reorged, StoreError::ParentMismatch { number: 101, indexed, .. } if indexed == hash_of(100, 0)),
        "{reorged}"
    );
    assert!(reorged.to_string().contains("rewind"), "{reorged}");

    // Blocks without events may be skipped: the parent is checked only when it is indexed.
    let mut after_gap = block(105, vec![]);
    after_gap.parent_hash = hash_of(104, 1);
    store.apply_block(&after_gap).await.unwrap();
    store.apply_block(&block(106, vec![])).await.unwrap();
    assert_eq!(store.last_indexed_block().await.unwrap(), Some(106));
    db.finish(store).await;
}

async fn a_refused_block_leaves_nothing_behind(db: TestDb) {
    let store = db.open().await;
    let [first, ..] = three_blocks();
    store.apply_block(&first).await.unwrap();
    let before = snapshot(&store).await;

    // The last event cannot be stored: none of the block may be.
    let too_big = block(
        2,
        vec![
            registered(0xb1, 9),
            sell_order(0x11, 0xa1, 1),
            reading(0x11, 2, 10, 0, u64::MAX, true),
        ],
    );
    let error = store.apply_block(&too_big).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::OutOfRange {
                value: u64::MAX,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(snapshot(&store).await, before);

    let mut shuffled = block(2, vec![registered(0xb1, 9), sell_order(0x11, 0xa1, 1)]);
    shuffled.events[1].log_index = shuffled.events[0].log_index;
    let error = store.apply_block(&shuffled).await.unwrap_err();
    assert!(
        matches!(error, StoreError::LogsOutOfOrder { number: 2, .. }),
        "{error}"
    );
    assert_eq!(snapshot(&store).await, before);
    db.finish(store).await;
}

async fn rewinding_removes_exactly_the_blocks_above(db: TestDb) {
    let store = db.open().await;
    let blocks = three_blocks();
    store.apply_block(&blocks[0]).await.unwrap();
    let after_first = snapshot(&store).await;
    store.apply_block(&blocks[1]).await.unwrap();
    store.apply_block(&blocks[2]).await.unwrap();
    let after_third = snapshot(&store).await;
    assert_ne!(after_first, after_third);

    assert_eq!(store.rewind_to(3).await.unwrap(), 0);
    assert_eq!(store.rewind_to(u64::MAX).await.unwrap(), 0);
    assert_eq!(snapshot(&store).await, after_third);

    assert_eq!(store.rewind_to(1).await.unwrap(), 2);
    assert_eq!(snapshot(&store).await, after_first);
    assert_eq!(store.block_hash(2).await.unwrap(), None);

    // The chain goes on from block 1 again, and the same blocks give the same state.
    store.apply_block(&blocks[1]).await.unwrap();
    store.apply_block(&blocks[2]).await.unwrap();
    assert_eq!(snapshot(&store).await, after_third);

    assert_eq!(store.rewind_to(0).await.unwrap(), 3);
    assert_eq!(store.last_indexed_block().await.unwrap(), None);
    for table in [
        "blocks",
        "participant_registrations",
        "participant_deactivations",
        "meter_registrations",
        "meter_status_changes",
        "readings",
        "orders",
        "order_cancellations",
        "interval_settlements",
        "meter_settlements",
        "balance_changes",
    ] {
        let left = db.count(&format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(left, 0, "{table} kept rows of rewound blocks");
    }
    db.finish(store).await;
}

async fn a_later_order_replaces_and_a_cancellation_removes(db: TestDb) {
    let store = db.open().await;
    let [first, second, _] = three_blocks();
    store.apply_block(&first).await.unwrap();
    store.apply_block(&second).await.unwrap();

    let orders = store.live_orders().await.unwrap();
    // 0x11's first order was replaced (its priority is the replacement's), 0x13's cancelled.
    assert_eq!(
        orders,
        vec![
            LiveOrder {
                meter: account(0x11),
                owner: account(0xa1),
                sell_floor: Some(85_000),
                buy_ceiling: None,
                cap_wh: Some(2_000),
                valid_from: 0,
                valid_until: None,
                cover_from_credits: false,
                priority: LogPosition {
                    block_number: 2,
                    log_index: 5,
                },
            },
            LiveOrder {
                meter: account(0x12),
                owner: account(0xa2),
                sell_floor: None,
                buy_ceiling: Some(120_000),
                cap_wh: None,
                valid_from: 1_700_000_000,
                valid_until: Some(1_800_000_000),
                cover_from_credits: true,
                priority: LogPosition {
                    block_number: 2,
                    log_index: 7,
                },
            },
        ]
    );

    // Placing again after a cancellation makes a live order again, last in time priority.
    store
        .apply_block(&block(3, vec![sell_order(0x13, 0xa3, 70_000)]))
        .await
        .unwrap();
    let orders = store.live_orders().await.unwrap();
    let meters: Vec<_> = orders.iter().map(|order| order.meter).collect();
    assert_eq!(meters, [account(0x11), account(0x12), account(0x13)]);
    assert_eq!(orders[2].sell_floor, Some(70_000));

    // Cancelling then placing within one block: the later log wins.
    store
        .apply_block(&block(
            4,
            vec![
                buy_order(0x11, 0xa1, 99_000),
                Event::OrderCancelled {
                    meter: account(0x11),
                },
                Event::OrderCancelled {
                    meter: account(0x12),
                },
                sell_order(0x12, 0xa2, 60_000),
            ],
        ))
        .await
        .unwrap();
    let orders = store.live_orders().await.unwrap();
    let live: Vec<_> = orders
        .iter()
        .map(|order| (order.meter, order.sell_floor, order.priority.block_number))
        .collect();
    assert_eq!(
        live,
        [
            (account(0x13), Some(70_000), 3),
            (account(0x12), Some(60_000), 4)
        ]
    );
    db.finish(store).await;
}

async fn meters_and_participants_follow_their_latest_event(db: TestDb) {
    let store = db.open().await;
    let [first, second, third] = three_blocks();
    store.apply_block(&first).await.unwrap();
    store.apply_block(&second).await.unwrap();

    let ids: Vec<_> = store
        .active_participants()
        .await
        .unwrap()
        .iter()
        .map(|participant| (participant.account, participant.id))
        .collect();
    assert_eq!(ids, [(account(0xa1), 1), (account(0xa2), 2)]);

    let meters = store.meters().await.unwrap();
    assert_eq!(
        meters[1],
        Meter {
            meter: account(0x12),
            owner: account(0xa2),
            feeder: 1,
            kinds: 0b101,
            capacity_w: 17_250,
            active: false,
        }
    );
    let active: Vec<_> = meters
        .iter()
        .map(|meter| (meter.meter, meter.active))
        .collect();
    assert_eq!(
        active,
        [
            (account(0x11), true),
            (account(0x12), false),
            (account(0x13), true)
        ]
    );

    store.apply_block(&third).await.unwrap();
    let active: Vec<_> = store
        .meters()
        .await
        .unwrap()
        .iter()
        .map(|meter| (meter.meter, meter.feeder, meter.active))
        .collect();
    assert_eq!(
        active,
        [
            (account(0x11), 1, true),
            (account(0x12), 1, true),
            (account(0x13), 2, true),
            (account(0x14), 2, true)
        ]
    );

    // A participant registered again after a deactivation is active again, under its new id.
    store
        .apply_block(&block(4, vec![registered(0xa3, 7)]))
        .await
        .unwrap();
    let ids: Vec<_> = store
        .active_participants()
        .await
        .unwrap()
        .iter()
        .map(|participant| (participant.account, participant.id))
        .collect();
    assert_eq!(
        ids,
        [
            (account(0xa1), 1),
            (account(0xa2), 2),
            (account(0xa4), 4),
            (account(0xa3), 7)
        ]
    );
    db.finish(store).await;
}

async fn marketable_volumes_sum_the_readings_that_end_the_interval(db: TestDb) {
    let store = db.open().await;
    store
        .apply_block(&block(
            1,
            vec![
                reading(0x11, 1, 10, 5, 700, true),
                // After a gap: residual only.
                reading(0x12, 4, 10, 300, 900, false),
                reading(0x13, 1, 11, 0, 400, true),
            ],
        ))
        .await
        .unwrap();
    store
        .apply_block(&block(2, vec![reading(0x11, 2, 10, 1, 50, true)]))
        .await
        .unwrap();

    assert_eq!(
        store
            .marketable_volumes(10, INTERVAL_SECONDS)
            .await
            .unwrap(),
        [MeterVolume {
            meter: account(0x11),
            import_wh: 6,
            export_wh: 750,
        }]
    );
    assert_eq!(
        store
            .marketable_volumes(11, INTERVAL_SECONDS)
            .await
            .unwrap(),
        [MeterVolume {
            meter: account(0x13),
            import_wh: 0,
            export_wh: 400,
        }]
    );
    assert!(
        store
            .marketable_volumes(12, INTERVAL_SECONDS)
            .await
            .unwrap()
            .is_empty()
    );
    // The interval length decides which readings end interval t: with 300 s intervals, the
    // readings ending at 9,900 s end interval 32.
    assert_eq!(store.marketable_volumes(32, 300).await.unwrap().len(), 1);
    let overflow = store.marketable_volumes(u64::MAX, 900).await.unwrap_err();
    assert!(
        matches!(overflow, StoreError::IntervalOverflow { .. }),
        "{overflow}"
    );
    db.finish(store).await;
}

async fn settlements_by_interval_and_by_meter(db: TestDb) {
    let store = db.open().await;
    let [first, second, third] = three_blocks();
    store.apply_block(&first).await.unwrap();
    store.apply_block(&second).await.unwrap();
    assert_eq!(store.last_settled_interval().await.unwrap(), Some(9));
    let partial = store.interval_status(10).await.unwrap().unwrap();
    assert!(!partial.settled());
    assert_eq!(partial.traded_wh(), 300);
    assert_eq!(store.interval_status(11).await.unwrap(), None);

    store.apply_block(&third).await.unwrap();
    assert_eq!(store.last_settled_interval().await.unwrap(), Some(10));
    let status = store.interval_status(10).await.unwrap().unwrap();
    assert!(status.settled());
    assert_eq!(status.traded_wh(), 500);
    let batches: Vec<_> = status
        .batches
        .iter()
        .map(|batch| (batch.tx_hash, batch.closing, batch.keeper, batch.price))
        .collect();
    assert_eq!(
        batches,
        [
            (B256::repeat_byte(0xa0), false, account(0xee), 95_000),
            (B256::repeat_byte(0xa1), true, account(0xee), 95_000)
        ]
    );

    let of_interval = store.meter_settlements(10).await.unwrap();
    assert_eq!(
        of_interval[0],
        MeterSettlement {
            meter: account(0x11),
            interval: 10,
            sold_wh: 300,
            bought_wh: 0,
            credited_wh: 40,
            covered_wh: 0,
            grid_supplied_wh: 0,
            amount: 28_500,
            position: LogPosition {
                block_number: 2,
                log_index: 21,
            },
        }
    );
    assert_eq!(of_interval.len(), 2);

    let history = |intervals| store.meter_history(account(0x11), intervals);
    let amounts = |settlements: Vec<MeterSettlement>| -> Vec<(u64, u128)> {
        settlements
            .iter()
            .map(|settlement| (settlement.interval, settlement.amount))
            .collect()
    };
    assert_eq!(
        amounts(history(0..u64::MAX).await.unwrap()),
        [(9, 47_500), (10, 28_500), (10, 19_000)]
    );
    assert_eq!(
        amounts(history(10..11).await.unwrap()),
        [(10, 28_500), (10, 19_000)]
    );
    assert!(history(11..20).await.unwrap().is_empty());
    assert!(
        store
            .meter_history(account(0x12), 0..100)
            .await
            .unwrap()
            .is_empty()
    );
    db.finish(store).await;
}

async fn settlement_attempts_survive_a_rewind(db: TestDb) {
    let store = db.open().await;
    let [first, second, _] = three_blocks();
    store.apply_block(&first).await.unwrap();
    store.apply_block(&second).await.unwrap();

    let sent = SettlementAttempt {
        interval: 10,
        tx_hash: B256::repeat_byte(0x51),
        nonce: 7,
        sent_at: 1_700_009_930,
        status: AttemptStatus::Pending,
    };
    let bumped = SettlementAttempt {
        tx_hash: B256::repeat_byte(0x52),
        sent_at: sent.sent_at + 30,
        ..sent
    };
    store.record_attempt(&sent).await.unwrap();
    store.record_attempt(&bumped).await.unwrap();
    // Recording a transaction twice keeps the first record.
    store
        .record_attempt(&SettlementAttempt {
            status: AttemptStatus::Dropped,
            ..sent
        })
        .await
        .unwrap();
    store
        .mark_attempt(sent.tx_hash, AttemptStatus::Replaced)
        .await
        .unwrap();

    store.rewind_to(0).await.unwrap();
    store.close().await;
    let store = db.open().await;
    assert_eq!(
        store.attempts_for(10).await.unwrap(),
        [
            SettlementAttempt {
                status: AttemptStatus::Replaced,
                ..sent
            },
            bumped
        ]
    );
    assert!(store.attempts_for(11).await.unwrap().is_empty());

    let unknown = store
        .mark_attempt(B256::repeat_byte(0x99), AttemptStatus::Succeeded)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, StoreError::UnknownAttempt { .. }),
        "{unknown}"
    );
    db.finish(store).await;
}

async fn amounts_above_u64_round_trip(db: TestDb) {
    let store = db.open().await;
    let huge = u128::from(u64::MAX) + 1;
    store
        .apply_block(&block(
            1,
            vec![
                Event::Deposited {
                    account: account(0xa2),
                    asset: 1,
                    amount: u128::MAX,
                },
                Event::Withdrawn {
                    account: account(0xa2),
                    asset: 1,
                    amount: huge,
                },
                meter_settled(0x11, 3, 1, huge + 12_345),
            ],
        ))
        .await
        .unwrap();

    let changes: Vec<_> = store
        .balance_changes(account(0xa2))
        .await
        .unwrap()
        .iter()
        .map(|change| (change.kind, change.asset, change.amount))
        .collect();
    assert_eq!(
        changes,
        [
            (BalanceChangeKind::Deposit, 1, u128::MAX),
            (BalanceChangeKind::Withdrawal, 1, huge)
        ]
    );
    assert_eq!(
        store.meter_settlements(3).await.unwrap()[0].amount,
        huge + 12_345
    );
    db.finish(store).await;
}

async fn a_schema_from_a_newer_keeper_is_refused(db: TestDb) {
    let store = db.open().await;
    let version = store.schema_version().await.unwrap();
    store.close().await;
    db.execute(&format!(
        "INSERT INTO schema_version (version, name) VALUES ({}, 'from the future')",
        version + 1
    ))
    .await;

    let error = Store::open(&db.database).await.unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, known } if found == version + 1 && known == version),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade the keeper"), "{error}");
    db.execute(&format!(
        "DELETE FROM schema_version WHERE version = {}",
        version + 1
    ))
    .await;
    let store = db.open().await;
    db.finish(store).await;
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_named_with_what_to_do() {
    // Nothing listens on port 1.
    let url = "postgres://keeper:s3cret@127.0.0.1:1/cogrid"
        .parse()
        .unwrap();
    let error = Store::open(&Database::Postgres(url)).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StoreError::PostgresConnect { .. }),
        "{message}"
    );
    assert!(message.contains("127.0.0.1:1/cogrid"), "{message}");
    assert!(message.contains("database.url"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("keeper.sqlite");
    let error = Store::open(&Database::Sqlite(path.clone()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::SqliteOpen { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("directory exists"), "{message}");
}

#[tokio::test]
async fn a_missing_sqlite_file_is_created() {
    let db = TestDb::sqlite();
    let path = db.sqlite_file().expect("a SQLite test database");
    assert!(!path.exists());
    let store = db.open().await;
    assert!(path.exists());
    db.finish(store).await;
}
