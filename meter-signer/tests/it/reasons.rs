use alloy::signers::local::PrivateKeySigner;
use cogrid_bindings::{EnergyMarket, IMeterRegistry, RejectReason};
use cogrid_chain::{Reading, load_keystore, reading_domain, sign_reading};
use cogrid_meter_signer::delivery::to_contract_reading;

use crate::harness::Neighbourhood;

/// The registry's skip reasons, decoded by the Rust enum: a JSON ABI carries the enum only as a
/// `uint8`, so this is what keeps the Rust names in the contract's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_skip_reason_decodes_to_its_name() {
    let hood = Neighbourhood::start().await;
    let meter = load_keystore(&hood.dir.path().join("meter.json"), "meter-password").unwrap();
    let stranger = PrivateKeySigner::random();
    let domain = reading_domain(hood.deployment.chain_id, hood.deployment.market);
    let sign = |key: &PrivateKeySigner, meter, seq, end, import_wh, export_wh| {
        let reading = Reading::new(meter, seq, end, import_wh, export_wh).unwrap();
        to_contract_reading(&sign_reading(key, &domain, &reading).unwrap())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let boundary = now - now % 900 - 1_800;
    let address = meter.address();

    let baseline = sign(&meter, address, 1, boundary, 10_000, 2_000);
    let cases: Vec<(Vec<IMeterRegistry::Reading>, RejectReason)> = vec![
        (
            vec![sign(&stranger, stranger.address(), 1, boundary, 1, 1)],
            RejectReason::UnknownMeter,
        ),
        (
            vec![sign(&meter, address, 1, boundary + 7, 1, 1)],
            RejectReason::IntervalMisaligned,
        ),
        (
            vec![sign(&meter, address, 1, boundary + 3_600, 1, 1)],
            RejectReason::FromFuture,
        ),
        (
            vec![sign(&meter, address, 1, boundary - 3 * 86_400, 1, 1)],
            RejectReason::TooOld,
        ),
        (
            vec![baseline.clone(), baseline.clone()],
            RejectReason::DuplicateInBatch,
        ),
        (vec![baseline], RejectReason::AlreadyCounted),
        (
            vec![sign(&meter, address, 1, boundary + 900, 10_100, 2_100)],
            RejectReason::SeqNotIncreasing,
        ),
        (
            vec![sign(&stranger, address, 2, boundary + 900, 10_100, 2_100)],
            RejectReason::WrongSigner,
        ),
        (
            vec![sign(&meter, address, 2, boundary, 10_100, 2_100)],
            RejectReason::IntervalNotAfterPrevious,
        ),
        (
            vec![sign(&meter, address, 2, boundary + 900, 9_999, 2_100)],
            RejectReason::RegisterWentBackwards,
        ),
        // 5 kW for 900 s is at most 1,250 Wh.
        (
            vec![sign(
                &meter,
                address,
                2,
                boundary + 900,
                10_100,
                2_000 + 1_251,
            )],
            RejectReason::ImplausibleDelta,
        ),
    ];
    let registry = hood.registry();
    for (readings, expected) in cases {
        let receipt = registry
            .submitReadings(readings)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let reasons: Vec<RejectReason> = receipt
            .logs()
            .iter()
            .filter_map(|log| log.log_decode::<EnergyMarket::ReadingRejected>().ok())
            .map(|log| RejectReason::from_abi(log.inner.data.reason))
            .collect();
        assert_eq!(reasons, vec![expected]);
    }
    assert_eq!(
        hood.meter_state().await.seq,
        1,
        "only the baseline was counted"
    );
}
