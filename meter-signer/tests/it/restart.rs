use std::time::Duration;

use crate::harness::{Neighbourhood, free_port, wait_for_exit};

/// A day of simulated readings; the signer is killed (SIGKILL, no clean shutdown) halfway and
/// restarted on the same outbox. The chain ends with exactly the day's credits and carbon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_halfway_and_restarted_counts_every_reading_once() {
    let hood = Neighbourhood::start().await;
    // The day replays in about 12 s of wall time.
    let config = hood.write_config(&hood.devnet.rpc_url(), 7_200.0, free_port());
    let mut signer = hood.spawn_signer(&config, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seq = hood.meter_state().await.seq;
        if seq >= 30 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: seq {seq}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signer.kill().unwrap();
    signer.wait().unwrap();
    let counted_at_kill = hood.meter_state().await.seq;
    assert!(
        counted_at_kill < 97,
        "killed before the day was over ({counted_at_kill})"
    );

    let mut restarted = hood.spawn_signer(&config, true);
    wait_for_exit(&mut restarted, Duration::from_secs(120)).await;
    hood.assert_day_counted_once().await;
}
