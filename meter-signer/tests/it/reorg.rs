use std::time::Duration;

use alloy::{primitives::U256, providers::Provider};

use crate::harness::{Neighbourhood, free_port, wait_for_exit};

/// Readings counted in blocks that a reorg removes before they are final go back in line and are
/// counted again: the outbox keeps them until their transaction has its confirmations. The reorg
/// comes once the whole day is counted but not yet final (a reorg racing a send in flight can
/// reorder batches; the registry then folds the lost interval into the next reading's delta).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_dropped_by_a_reorg_are_sent_again() {
    let hood = Neighbourhood::start().await;
    let snapshot: U256 = hood
        .devnet
        .admin
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
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
    let reverted: bool = hood
        .devnet
        .admin
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    assert!(reverted);
    assert_eq!(
        hood.meter_state().await.seq,
        0,
        "the reorg removed what was counted"
    );

    wait_for_exit(&mut signer, Duration::from_secs(120)).await;
    hood.assert_day_counted_once().await;
}
