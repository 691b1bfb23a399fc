//! The keeper settles virtual power plant events on its own: once an event's settlement opens it
//! pays every enrolled battery the delivery its readings prove (a forged copy of a reading beside
//! the real one does not mislead it), leaves a battery whose end reading is missing for later, and
//! once the proof window is over it closes the event and refunds the rest of the budget to the
//! grid operator.

use alloy::{
    primitives::{U256, aliases::U40},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::{MockStablecoin, VppDispatch};
use cogrid_chain::{Reading, VppEnrolmentStatus, VppEventStatus, reading_domain, sign_reading};
use cogrid_meter_signer::delivery::to_contract_reading;

use crate::{
    market::{confirm, wait_until, wallet_provider},
    street::{HomeSpec, INTERVAL, Street, order},
};

const OPERATOR: usize = 8;
const KEEPER: usize = 9;
/// `MeterKinds.BATTERY`.
const BATTERY: u8 = 2;
/// 0.30 USD per kWh delivered.
const PRICE: u64 = 300_000;
/// 12 kW for one interval at 0.30 USD/kWh: 3 kWh, 0.90 USD.
const BUDGET: u64 = 900_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_pays_proven_delivery_and_closes_the_event() {
    // Batteries that sell only at 0.90 USD/kWh: nothing trades, every kWh is the VPP's.
    let battery = || HomeSpec {
        feeder: 1,
        kinds: BATTERY,
        order: order(Some(900_000), None, false),
    };
    let mut street = Street::start(&[battery(), battery(), battery()]).await;
    let baseline_start = street.baseline_end + INTERVAL;
    let start = baseline_start + INTERVAL;
    let end = start + INTERVAL;

    let operator = street.devnet.funded_key(OPERATOR);
    let role = street.admin.GRID_OPERATOR_ROLE().call().await.unwrap();
    confirm(
        street
            .admin
            .grantRole(role, operator.address())
            .send()
            .await,
    )
    .await;
    let as_operator = wallet_provider(&street.devnet, operator.clone());
    let coin = MockStablecoin::new(street.deployment.stablecoin, street.devnet.admin.clone());
    confirm(
        coin.mint(operator.address(), U256::from(BUDGET))
            .send()
            .await,
    )
    .await;
    let coin = MockStablecoin::new(street.deployment.stablecoin, as_operator.clone());
    confirm(
        coin.approve(street.deployment.vpp_dispatch, U256::from(BUDGET))
            .send()
            .await,
    )
    .await;
    let vpp = VppDispatch::new(street.deployment.vpp_dispatch, as_operator);
    confirm(
        vpp.create(
            1,
            U40::from(start),
            U40::from(end),
            12_000,
            PRICE,
            U256::from(BUDGET),
            0,
            "keeper-test".into(),
        )
        .send()
        .await,
    )
    .await;
    for home in &street.homes {
        let as_owner = VppDispatch::new(
            street.deployment.vpp_dispatch,
            wallet_provider(&street.devnet, home.owner.clone()),
        );
        confirm(
            as_owner
                .enroll(U256::from(1), home.meter.address(), 4_000)
                .send()
                .await,
        )
        .await;
    }

    // Battery 0 imports 200 Wh in the baseline window (a baseline counted as zero) and exports
    // 1,200 Wh in the event, paid up to its 1 kWh commitment. Battery 1 delivers 600 Wh; its end
    // reading shares its batch with a forged copy (same seq and boundary, another key's
    // signature) that the registry refuses: the proof must be built from the accepted one.
    // Battery 2's gateway never posts its reading at the end.
    street.submit_readings(baseline_start, &[(0, 0); 3]).await;
    street
        .submit_readings(start, &[(200, 0), (0, 0), (0, 0)])
        .await;
    street.clock_to(end).await;
    let readings = street.sign_readings(end, &[(0, 1_200), (0, 600)]);
    let forged = {
        let domain = reading_domain(street.deployment.chain_id, street.deployment.market);
        let real = &readings[1];
        let copy = Reading::new(
            real.meter,
            real.seq,
            real.intervalEnd.to(),
            real.importWh.to(),
            real.exportWh.to::<u64>() + 5_000,
        )
        .unwrap();
        to_contract_reading(&sign_reading(&PrivateKeySigner::random(), &domain, &copy).unwrap())
    };
    let batch = std::iter::once(forged).chain(readings).collect::<Vec<_>>();
    confirm(street.admin.submitReadings(batch).send().await).await;
    street.clock_to(end + 2 * INTERVAL).await;
    let (cancel, handle) = street.spawn_keeper(KEEPER).await;

    let enrolment = async |index: usize| {
        vpp.enrolmentOf(U256::from(1), street.homes[index].meter.address())
            .call()
            .await
            .unwrap()
    };
    wait_until("the keeper settles the proven enrolments", async || {
        enrolment(1).await.status == VppEnrolmentStatus::Settled as u8
    })
    .await;
    assert_eq!(enrolment(0).await.owed.to::<u64>(), 300_000);
    assert_eq!(enrolment(1).await.owed.to::<u64>(), 180_000);
    assert_eq!(
        enrolment(2).await.status,
        VppEnrolmentStatus::Enrolled as u8,
        "no reading at the end, nothing to prove"
    );

    street.clock_to(end + 2 * INTERVAL + 86_400).await;
    wait_until("the keeper closes the event", async || {
        vpp.eventOf(U256::from(1)).call().await.unwrap().status == VppEventStatus::Closed as u8
    })
    .await;
    let event = vpp.eventOf(U256::from(1)).call().await.unwrap();
    assert_eq!(event.paid, U256::from(480_000));
    assert_eq!(event.refunded, U256::from(BUDGET - 480_000));
    let coin = MockStablecoin::new(street.deployment.stablecoin, street.devnet.admin.clone());
    assert_eq!(
        coin.balanceOf(operator.address()).call().await.unwrap(),
        U256::from(BUDGET - 480_000)
    );
    cancel.cancel();
    handle.await.unwrap();
}
