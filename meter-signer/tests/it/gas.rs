use std::sync::{Arc, atomic::Ordering};

use cogrid_chain::{connect_lazily, load_keystore, reading_domain};
use cogrid_meter_signer::{
    config::DeliveryConfig,
    delivery::{ChainExpectations, Delivery, Progress},
    error::SignerError,
    metrics::Metrics,
    outbox::Outbox,
    pipeline::Pipeline,
    sampler::Sample,
};
use tokio::sync::Notify;

use crate::harness::Neighbourhood;

/// A batch sent with too little gas per reading runs out, stays in the outbox, and goes again
/// with the node's estimate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_runs_out_of_gas_goes_again_with_the_nodes_estimate() {
    let hood = Neighbourhood::start().await;
    let meter = load_keystore(&hood.dir.path().join("meter.json"), "meter-password").unwrap();
    let outbox = Outbox::open(&hood.dir.path().join("outbox.db"))
        .await
        .unwrap();
    let metrics = Arc::new(Metrics::default());
    let mut pipeline = Pipeline::new(
        outbox.clone(),
        reading_domain(hood.deployment.chain_id, hood.deployment.market),
        metrics.clone(),
        Arc::new(Notify::new()),
    );
    pipeline.add_meter(meter.clone(), 900, None);
    let provider = connect_lazily(&hood.devnet.rpc_url(), hood.devnet.funded_key(2)).unwrap();
    let delivery = Delivery::new(
        provider,
        hood.deployment.market,
        outbox.clone(),
        DeliveryConfig {
            gas_per_reading: 100,
            ..DeliveryConfig::default()
        },
        1,
        metrics.clone(),
        ChainExpectations {
            rpc_url: hood.devnet.rpc_url(),
            chain_id: hood.deployment.chain_id,
            interval_seconds: 900,
            meters: vec![meter.address()],
        },
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let boundary = now - now % 900 - 900;
    let sample = Sample {
        at: boundary,
        import_wh: 1_000,
        export_wh: 200,
    };
    assert!(
        pipeline
            .accept(meter.address(), sample)
            .await
            .unwrap()
            .is_some()
    );

    let error = delivery.pass().await.unwrap_err();
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
        outbox.counts().await.unwrap().pending,
        1,
        "the reading waits"
    );

    let progress = delivery.pass().await.unwrap();
    assert_eq!(
        progress,
        Progress {
            delivered: 1,
            finalized: 0
        }
    );
    assert_eq!(hood.meter_state().await.seq, 1);
    assert_eq!(metrics.batches_sent.load(Ordering::Relaxed), 2);
}
