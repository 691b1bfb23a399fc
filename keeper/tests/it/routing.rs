//! Routing through the pool end to end on anvil: an interval whose neighbours export less than
//! the others import, a pool priced at 0.25 $/kWh, and a keeper daemon that buys the pool's
//! credits for the one short buyer whose order allows it and whose ceiling is above that price,
//! before it settles the interval; the settlement then covers that buyer's unbought import from
//! the credits, while the other short buyers' import goes to grid supply.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use cogrid_bindings::{EnergyAmm, EnergyCredit, EnergyMarket, MockStablecoin};
use cogrid_keeper::routing::PoolQuote;

use crate::{
    market::{confirm, wallet_provider},
    street::{DEPOSIT, HomeSpec, INTERVAL, Street, order},
};

/// 100 kWh against 25 $ in the pool: 0.25 $/kWh.
const POOL_CREDITS: u64 = 100_000;
const POOL_STABLE: u64 = 25_000_000;
/// Anvil accounts (of its ten) the homes do not use..
const LIQUIDITY_PROVIDER: usize = 8;
const KEEPER: usize = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_interval_buys_pool_credits_for_the_buyers_who_allow_it() {
    let spec = |order| HomeSpec {
        feeder: 1,
        kinds: 0,
        order,
    };
    let mut street = Street::start(&[
        // Sells at 0.10 $/kWh or more.
        spec(order(Some(100_000), None, false)),
        // Buys up to 0.40 $/kWh and covers unbought import from credits: the pool serves it.
        spec(order(None, Some(400_000), true)),
        // Covers from credits, but its 0.20 $/kWh ceiling is below the pool's price.
        spec(order(None, Some(200_000), true)),
        // Buys up to 0.40 $/kWh, but leaves unbought import to grid supply.
        spec(order(None, Some(400_000), false)),
    ])
    .await;
    let (seller, covered, low_ceiling, no_cover) = (0, 1, 2, 3);
    let imports = [0, 2_000, 1_000, 1_000];
    let pool = seed_pool(&street).await;
    let quote = PoolQuote {
        reserve_credits: POOL_CREDITS.into(),
        reserve_stable: POOL_STABLE.into(),
        fee_bps: pool.FEE_BPS().call().await.unwrap().to(),
    };

    let end = street.baseline_end + INTERVAL;
    let volumes: Vec<(u64, u64)> = imports
        .iter()
        .map(|&import| (import, if import == 0 { 1_000 } else { 0 }))
        .collect();
    street.submit_readings(end, &volumes).await;
    let t = street.interval(1);
    let (cancel, handle) = street.spawn_keeper(KEEPER).await;
    street.wait_for_settlement(t).await;
    cancel.cancel();
    handle.await.unwrap();

    assert!(
        street.record(seller, t).await.sold_wh() > 0,
        "the neighbours traded"
    );
    // The covered buyer: what the market did not sell it, the pool did, at its exact price.
    let bought = street.record(covered, t).await;
    let unbought = 2_000 - bought.bought_wh();
    assert!(unbought > 0, "the interval was short: {bought:?}");
    assert_eq!(bought.covered_wh, unbought, "{bought:?}");
    assert_eq!(bought.grid_supplied_wh, 0, "{bought:?}");
    let cost = quote.cost_of(u128::from(unbought)).unwrap();
    let events = shortfalls_covered(&street, *pool.address()).await;
    assert_eq!(events.len(), 1, "one purchase: {events:?}");
    assert_eq!(events[0].meter, street.homes[covered].meter.address());
    assert_eq!(events[0].owner, street.owner(covered));
    assert_eq!(events[0].t, t);
    assert_eq!(events[0].creditsWh, U256::from(unbought));
    assert_eq!(events[0].stablecoin, U256::from(cost));
    let reserves = pool.getReserves().call().await.unwrap();
    assert_eq!(
        reserves.reserveCredits,
        U256::from(POOL_CREDITS - u64::from(unbought))
    );
    assert_eq!(
        reserves.reserveStable,
        U256::from(u128::from(POOL_STABLE) + cost)
    );
    let vault = street
        .admin
        .balancesOf(street.owner(covered))
        .call()
        .await
        .unwrap();
    assert_eq!(
        vault.creditsWh,
        U256::ZERO,
        "the credits covered the import"
    );
    assert_eq!(
        vault.stablecoin,
        U256::from(u128::from(DEPOSIT) - bought.amount - cost),
        "it paid the seller and the pool"
    );

    // The others' unbought import went to grid supply.
    for home in [low_ceiling, no_cover] {
        let record = street.record(home, t).await;
        assert_eq!(record.covered_wh, 0, "{record:?}");
        assert_eq!(
            u64::from(record.grid_supplied_wh + record.bought_wh()),
            imports[home],
            "{record:?}"
        );
    }
}

/// A liquidity provider seeds the pool with credits the co-op minted for it.
async fn seed_pool(street: &Street) -> EnergyAmm::EnergyAmmInstance<alloy::providers::DynProvider> {
    let deployment = &street.deployment;
    let devnet = &street.devnet;
    let provider_key = devnet.funded_key(LIQUIDITY_PROVIDER);
    let lp = provider_key.address();
    confirm(street.admin.registerParticipant(lp).send().await).await;
    let credits = EnergyCredit::new(deployment.energy_credit, devnet.admin.clone());
    let minter = credits.MINTER_ROLE().call().await.unwrap();
    confirm(
        credits
            .grantRole(minter, devnet.admin_key.address())
            .send()
            .await,
    )
    .await;
    confirm(credits.mint(lp, U256::from(POOL_CREDITS)).send().await).await;
    let stablecoin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
    confirm(stablecoin.mint(lp, U256::from(POOL_STABLE)).send().await).await;
    let as_lp = wallet_provider(devnet, provider_key);
    let lp_credits = EnergyCredit::new(deployment.energy_credit, as_lp.clone());
    confirm(
        lp_credits
            .approve(deployment.market, U256::from(POOL_CREDITS))
            .send()
            .await,
    )
    .await;
    let lp_coin = MockStablecoin::new(deployment.stablecoin, as_lp.clone());
    confirm(
        lp_coin
            .approve(deployment.market, U256::from(POOL_STABLE))
            .send()
            .await,
    )
    .await;
    let lp_market = EnergyMarket::new(deployment.market, as_lp.clone());
    confirm(lp_market.deposit(1, U256::from(POOL_CREDITS)).send().await).await;
    confirm(lp_market.deposit(0, U256::from(POOL_STABLE)).send().await).await;
    let lp_pool = EnergyAmm::new(deployment.energy_amm, as_lp);
    confirm(
        lp_pool
            .addLiquidity(
                U256::from(POOL_CREDITS),
                U256::from(POOL_STABLE),
                U256::ZERO,
                U256::ZERO,
                U256::MAX,
            )
            .send()
            .await,
    )
    .await;
    EnergyAmm::new(deployment.energy_amm, devnet.admin.clone())
}

async fn shortfalls_covered(street: &Street, pool: Address) -> Vec<EnergyAmm::ShortfallCovered> {
    let filter = Filter::new()
        .address(pool)
        .event_signature(EnergyAmm::ShortfallCovered::SIGNATURE_HASH)
        .from_block(0);
    street
        .devnet
        .admin
        .get_logs(&filter)
        .await
        .unwrap()
        .iter()
        .map(|log| EnergyAmm::ShortfallCovered::decode_log_data(log.data()).unwrap())
        .collect()
}
