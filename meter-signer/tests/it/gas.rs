use std::sync::atomic::Ordering;

use cogrid_meter_signer::{config::DeliveryConfig, delivery::Progress, error::SignerError};

use crate::harness::{InProcessDelivery, Neighbourhood, past_boundary};

/// A batch sent with too little gas per reading runs out, stays in the outbox, and goes again
/// with the node's estimate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_runs_out_of_gas_goes_again_with_the_nodes_estimate() {
    let hood = Neighbourhood::start().await;
    let config = DeliveryConfig {
        gas_per_reading: 100,
        ..DeliveryConfig::default()
    };
    let mut signer = InProcessDelivery::start(&hood, config, 1).await;
    signer.sign(past_boundary(), (1_000, 200)).await;

    let error = signer.delivery.pass().await.unwrap_err();
    assert!(
        matches!(
            error,
            SignerError::Contract {
                what: "submitReadings",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("reverted"), "{error}");
    assert_eq!(hood.meter_state().await.seq, 0, "nothing counted");
    assert_eq!(
        signer.outbox.counts().await.unwrap().pending,
        1,
        "the reading waits"
    );

    let progress = signer.delivery.pass().await.unwrap();
    assert_eq!(
        progress,
        Progress {
            delivered: 1,
            ..Progress::default()
        }
    );
    assert_eq!(hood.meter_state().await.seq, 1);
    assert_eq!(signer.metrics.batches_sent.load(Ordering::Relaxed), 2);
}
