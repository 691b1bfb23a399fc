use std::{sync::atomic::Ordering, time::Duration};

use cogrid_meter_signer::{config::DeliveryConfig, delivery::Progress};

use crate::harness::{InProcessDelivery, Neighbourhood, free_port, past_boundary, wait_for_exit};

/// Readings counted in blocks that a reorg removes before they are final go back in line and are
/// counted again: the outbox keeps them until their transaction has its confirmations. The reorg
/// comes once the whole day is counted but not yet final (a reorg racing a send in flight can
/// reorder batches; the registry then folds the lost interval into the next reading's delta).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_dropped_by_a_reorg_are_sent_again() {
    let hood = Neighbourhood::start().await;
    let snapshot = hood.snapshot().await;
    let http_port = free_port();
    // Fifteen confirmations: a counted reading waits about fifteen seconds before it may leave.
    let config = hood.write_config_with(&hood.devnet.rpc_url(), 0.0, http_port, 15);
    let mut signer = hood.spawn_signer(&config, true);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while hood.meter_state().await.seq < 97 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reading was counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hood.revert_to(snapshot).await;
    assert_eq!(
        hood.meter_state().await.seq,
        0,
        "the reorg removed what was counted"
    );

    wait_for_exit(&mut signer, Duration::from_secs(120)).await;
    hood.assert_day_counted_once().await;
}

/// A pass that finds a transaction gone sends nothing: transactions it looked up before may be
/// gone as well, and a reading sent ahead of them would count before theirs. The next pass,
/// which sees every waiting transaction on the same chain, sends again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_that_finds_a_reorg_sends_nothing_until_the_next() {
    let hood = Neighbourhood::start().await;
    let mut signer = InProcessDelivery::start(&hood, DeliveryConfig::default(), 100).await;
    let boundary = past_boundary() - 900;
    signer.sign(boundary, (1_000, 0)).await;
    assert_eq!(signer.delivery.pass().await.unwrap().delivered, 1);
    let snapshot = hood.snapshot().await;
    signer.sign(boundary + 900, (1_100, 0)).await;
    assert_eq!(signer.delivery.pass().await.unwrap().delivered, 1);
    hood.revert_to(snapshot).await;

    let sent = signer.metrics.batches_sent.load(Ordering::Relaxed);
    assert_eq!(
        signer.delivery.pass().await.unwrap(),
        Progress {
            requeued: 1,
            ..Progress::default()
        }
    );
    assert_eq!(signer.metrics.batches_sent.load(Ordering::Relaxed), sent);
    assert_eq!(hood.meter_state().await.seq, 1);

    // The resent transaction is byte for byte the one the reorg removed (same nonce, calldata
    // and gas), which the provider's block watcher saw mined before: waiting for its receipt
    // may fail once, and a later pass finds the reading counted.
    let mut passes = 0;
    while hood.meter_state().await.seq < 2 {
        passes += 1;
        assert!(passes <= 5, "the requeued reading was not counted again");
        if let Err(error) = signer.delivery.pass().await {
            eprintln!("pass {passes}: {error}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
