//! Island mode end to end on anvil: the grid operator islands feeder 1 for one interval. In it
//! the keeper clears the island on its own, at the interval's one price, serving the critical
//! load first, and the market records the island's import that nobody served as unserved; feeder
//! 2 trades as ever and its cheap energy cannot reach the island. In the next interval, after the
//! island is lifted, everyone clears together again.

use cogrid_bindings::EnergyMarket;

use crate::{
    market::{confirm, wallet_provider},
    street::{CRITICAL_LOAD, HomeSpec, INTERVAL, Street, order},
};

const OPERATOR: usize = 8;
const KEEPER: usize = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_islanded_feeder_serves_critical_loads_first_and_records_unserved_energy() {
    let home = |feeder, kinds, order| HomeSpec {
        feeder,
        kinds,
        order,
    };
    let mut street = Street::start(&[
        // Feeder 1, the island: PV selling at 0.10 $/kWh or more, a critical load buying up to
        // 0.20 $/kWh, a home buying up to 0.40 $/kWh.
        home(1, 1, order(Some(100_000), None, false)),
        home(1, CRITICAL_LOAD, order(None, Some(200_000), false)),
        home(1, 0, order(None, Some(400_000), false)),
        // Feeder 2: cheap PV at 0.05 $/kWh or more, a home buying up to 0.30 $/kWh.
        home(2, 1, order(Some(50_000), None, false)),
        home(2, 0, order(None, Some(300_000), false)),
    ])
    .await;
    let (island_pv, critical, island_home, far_pv, far_home) = (0, 1, 2, 3, 4);
    // (import, export) Wh of each home in both intervals.
    let volumes = [(0, 500), (400, 0), (400, 0), (0, 2_000), (300, 0)];

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
    let as_operator = EnergyMarket::new(
        street.deployment.market,
        wallet_provider(&street.devnet, operator),
    );
    let start = street.baseline_end;
    street.clock_to(start + 60).await;
    confirm(as_operator.setIslanded(1, true).send().await).await;
    // Lifted before the interval ends: the next interval is connected.
    street.clock_to(start + INTERVAL - 60).await;
    confirm(as_operator.setIslanded(1, false).send().await).await;
    street.submit_readings(start + INTERVAL, &volumes).await;
    let (cancel, handle) = street.spawn_keeper(KEEPER).await;
    let (islanded, connected) = (street.interval(1), street.interval(2));
    // Each interval settles before the next reading, as meters report every 15 minutes.
    street.wait_for_settlement(islanded).await;
    street.submit_readings(start + 2 * INTERVAL, &volumes).await;
    street.wait_for_settlement(connected).await;
    cancel.cancel();
    handle.await.unwrap();

    // The islanded interval trades at feeder 2's price: 0.05 and 0.30 $/kWh make 0.175.
    let price = street.admin.interval(islanded).call().await.unwrap().price;
    assert_eq!(price.to::<u64>(), 175_000);
    // The island's 500 Wh go to the critical load first (all its 400), the rest to the home,
    // whose other 300 Wh nobody could serve.
    let record = street.record(critical, islanded).await;
    assert_eq!((record.bought_wh(), record.grid_supplied_wh), (400, 0));
    let record = street.record(island_home, islanded).await;
    assert_eq!(record.bought_wh(), 100, "{record:?}");
    assert_eq!(record.grid_supplied_wh, 300, "{record:?}");
    assert!(record.unserved, "no grid supply in the island: {record:?}");
    assert_eq!(street.record(island_pv, islanded).await.sold_wh(), 500);
    // Feeder 2's energy stays on feeder 2.
    let record = street.record(far_pv, islanded).await;
    assert_eq!((record.sold_wh(), record.credited_wh), (300, 1_700));
    let record = street.record(far_home, islanded).await;
    assert_eq!(record.bought_wh(), 300);

    // Connected again: one market, the cheapest energy first, nothing unserved.
    for (index, (import, _)) in volumes.iter().enumerate() {
        let record = street.record(index, connected).await;
        assert!(!record.unserved, "{record:?}");
        assert_eq!(u64::from(record.bought_wh()), *import, "{record:?}");
    }
    let record = street.record(far_pv, connected).await;
    assert_eq!(
        record.sold_wh(),
        1_100,
        "feeder 2's PV serves all 1.1 kWh of demand"
    );
}
