//! Simulating one settlement batch of 500 fills on a revm fork of anvil's latest block, with the
//! fork's cache warm (target: at most 50 ms, so that an interval is cleared, simulated and sent
//! within 1 s of its last reading). The first, cold simulation is printed once: it asks the node
//! which slots the batch reads (`eth_createAccessList`), fetches them 16 at a time, and fetches
//! the accounts and anything else it touches one JSON-RPC call at a time.
//!
//! Setup (about half a minute): anvil with the suite deployed, 500 homes, each a participant with
//! one meter and a standing order: 250 sellers that exported 1,000 Wh and 250 buyers, with a
//! deposit, that imported 1,000 Wh in the interval just closed. Transactions are sent in bulk with
//! explicit nonces and gas, and their receipts checked afterwards.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockNumberOrTag,
    network::{EthereumWallet, TransactionBuilder},
    primitives::{
        Address, TxHash, U256,
        aliases::{U40, U48},
    },
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::{EnergyMarket, IEnergyMarket, IMeterRegistry, MockStablecoin};
use cogrid_chain::{
    Devnet, Fill, Reading, SuiteParams, deploy_suite, reading_domain, sign_reading,
};
use cogrid_keeper::simulate::{SettleSimulation, Simulator, TX_GAS_CAP};
use criterion::Criterion;

const HOMES: usize = 500;
const INTERVAL: u64 = 900;
const WH: u32 = 1_000;
const PRICE: u64 = 100_000;
const DEPOSIT: u64 = 1_000_000;
/// Enough for any single setup transaction; explicit, so nothing is estimated.
const GAS: u64 = 400_000;
const READINGS_PER_TX: usize = 100;

/// The deployed market, ready to settle one interval of 500 fills.
struct Neighbourhood {
    devnet: Devnet,
    market: Address,
    settle: EnergyMarket::settleCall,
}

/// Sends `requests` without waiting for them to be mined: each sender's nonce is counted in
/// `nonces` (from 0 for a sender not in it), and fees and gas (`GAS` unless the request has its
/// own) are explicit so that no filler asks the node.
async fn send_all(
    provider: &DynProvider,
    requests: Vec<TransactionRequest>,
    nonces: &mut HashMap<Address, u64>,
) -> Vec<TxHash> {
    let mut hashes = Vec::with_capacity(requests.len());
    for request in requests {
        let from = request.from.expect("every request names its sender");
        let nonce = nonces.entry(from).or_insert(0);
        let gas = request.gas.unwrap_or(GAS);
        let request = request
            .with_nonce(*nonce)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(50_000_000_000)
            .with_max_priority_fee_per_gas(1_000_000_000);
        *nonce += 1;
        hashes.push(*provider.send_transaction(request).await.unwrap().tx_hash());
    }
    hashes
}

/// Waits until every transaction is mined and checks that none reverted.
async fn confirm_all(provider: &DynProvider, hashes: &[TxHash]) -> Vec<TransactionReceipt> {
    let mut receipts = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let receipt = loop {
            if let Some(receipt) = provider.get_transaction_receipt(*hash).await.unwrap() {
                break receipt;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert!(receipt.status(), "setup transaction {hash} reverted");
        receipts.push(receipt);
    }
    receipts
}

/// Submits `readings` in batches from `admin` and checks that each one was accepted.
async fn submit_readings(
    market: &EnergyMarket::EnergyMarketInstance<DynProvider>,
    admin: Address,
    readings: Vec<IMeterRegistry::Reading>,
    nonces: &mut HashMap<Address, u64>,
) {
    let mut requests = Vec::new();
    for chunk in readings.chunks(READINGS_PER_TX) {
        let call = market.submitReadings(chunk.to_vec()).from(admin);
        let gas = call.estimate_gas().await.unwrap();
        requests.push(call.into_transaction_request().with_gas_limit(gas * 6 / 5));
    }
    let hashes = send_all(market.provider(), requests, nonces).await;
    let accepted: usize = confirm_all(market.provider(), &hashes)
        .await
        .iter()
        .flat_map(|receipt| receipt.logs())
        .filter(|log| log.log_decode::<EnergyMarket::ReadingAccepted>().is_ok())
        .count();
    assert_eq!(accepted, readings.len(), "every reading is accepted");
}

async fn latest_timestamp(provider: &DynProvider) -> u64 {
    provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

impl Neighbourhood {
    async fn start() -> Self {
        let devnet = Devnet::start()
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let admin = devnet.admin_key.address();
        let deployment = deploy_suite(&devnet.admin, admin, SuiteParams::default())
            .await
            .unwrap();
        let market = EnergyMarket::new(deployment.market, devnet.admin.clone());
        let stablecoin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());

        // Home i sells when i is even, buys when odd.
        let owners: Vec<PrivateKeySigner> =
            (0..HOMES).map(|_| PrivateKeySigner::random()).collect();
        let meters: Vec<PrivateKeySigner> =
            (0..HOMES).map(|_| PrivateKeySigner::random()).collect();
        let sells = |home: usize| home.is_multiple_of(2);
        let mut wallet = EthereumWallet::from(owners[0].clone());
        for owner in &owners[1..] {
            wallet.register_signer(owner.clone());
        }
        let as_owners = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(devnet.anvil.endpoint_url())
            .erased();
        for owner in &owners {
            let _: serde_json::Value = devnet
                .admin
                .raw_request(
                    "anvil_setBalance".into(),
                    (owner.address(), U256::from(10u64).pow(U256::from(20u64))),
                )
                .await
                .unwrap();
        }

        let mut nonces = HashMap::new();
        nonces.insert(
            admin,
            devnet.admin.get_transaction_count(admin).await.unwrap(),
        );
        let mut requests = Vec::new();
        for (home, (owner, meter)) in owners.iter().zip(&meters).enumerate() {
            requests.push(
                market
                    .registerParticipant(owner.address())
                    .into_transaction_request(),
            );
            requests.push(
                market
                    .registerMeter(meter.address(), owner.address(), 1, 0, 5_000)
                    .into_transaction_request(),
            );
            if !sells(home) {
                requests.push(
                    stablecoin
                        .mint(owner.address(), U256::from(DEPOSIT))
                        .into_transaction_request(),
                );
            }
        }
        let requests = requests.into_iter().map(|r| r.with_from(admin)).collect();
        let hashes = send_all(&devnet.admin, requests, &mut nonces).await;
        confirm_all(&devnet.admin, &hashes).await;

        let owner_market = EnergyMarket::new(deployment.market, as_owners.clone());
        let owner_stablecoin = MockStablecoin::new(deployment.stablecoin, as_owners.clone());
        let mut requests = Vec::new();
        for (home, (owner, meter)) in owners.iter().zip(&meters).enumerate() {
            let params = IEnergyMarket::OrderParams {
                sells: sells(home),
                sellFloor: if sells(home) { 50_000 } else { 0 },
                buys: !sells(home),
                buyCeiling: if sells(home) { 0 } else { 200_000 },
                capWh: 0,
                validFrom: U40::ZERO,
                validUntil: U40::ZERO,
                coverFromCredits: false,
            };
            let from = owner.address();
            requests.push(
                owner_market
                    .placeOrder(meter.address(), params)
                    .into_transaction_request()
                    .with_from(from),
            );
            if !sells(home) {
                requests.push(
                    owner_stablecoin
                        .approve(deployment.market, U256::from(DEPOSIT))
                        .into_transaction_request()
                        .with_from(from),
                );
                requests.push(
                    owner_market
                        .deposit(0, U256::from(DEPOSIT))
                        .into_transaction_request()
                        .with_from(from),
                );
            }
        }
        let hashes = send_all(&as_owners, requests, &mut nonces).await;
        confirm_all(&as_owners, &hashes).await;

        // A baseline at the start of the open interval; once it has closed, the readings at its
        // end make 1,000 Wh of export (sellers) or import (buyers) marketable in it.
        let domain = reading_domain(deployment.chain_id, deployment.market);
        let now = latest_timestamp(&devnet.admin).await;
        let end = (now / INTERVAL + 1) * INTERVAL;
        let readings = |seq: u32, interval_end: u64, delta: u64| {
            let mut readings = Vec::with_capacity(HOMES);
            for (home, meter) in meters.iter().enumerate() {
                let (import_wh, export_wh) = if sells(home) { (0, delta) } else { (delta, 0) };
                let reading =
                    Reading::new(meter.address(), seq, interval_end, import_wh, export_wh).unwrap();
                let signed = sign_reading(meter, &domain, &reading).unwrap();
                readings.push(IMeterRegistry::Reading {
                    meter: signed.meter,
                    seq: signed.seq,
                    intervalEnd: U40::from(signed.interval_end),
                    importWh: U48::from(signed.import_wh),
                    exportWh: U48::from(signed.export_wh),
                    r: signed.r,
                    vs: signed.vs,
                });
            }
            readings
        };
        submit_readings(&market, admin, readings(1, end - INTERVAL, 0), &mut nonces).await;
        devnet.advance_time(end - now + 1).await.unwrap();
        submit_readings(&market, admin, readings(2, end, u64::from(WH)), &mut nonces).await;

        let keeper_role = market.KEEPER_ROLE().call().await.unwrap();
        let grant = market
            .grantRole(keeper_role, admin)
            .into_transaction_request()
            .with_from(admin);
        let hashes = send_all(&devnet.admin, vec![grant], &mut nonces).await;
        confirm_all(&devnet.admin, &hashes).await;

        let mut fills: Vec<Fill> = meters
            .iter()
            .enumerate()
            .map(|(home, meter)| Fill {
                meter: meter.address(),
                buy: !sells(home),
                wh: WH,
            })
            .collect();
        fills.sort_by_key(|fill| fill.meter);
        let fills = fills.iter().map(Fill::pack).collect();
        Self {
            devnet,
            market: deployment.market,
            settle: EnergyMarket::settleCall {
                t: end / INTERVAL - 1,
                clearingPrice: PRICE,
                fills,
                closing: true,
            },
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let setup_started = Instant::now();
    let hood = runtime.block_on(Neighbourhood::start());
    let keeper = hood.devnet.admin_key.address();
    println!(
        "setup: {HOMES} homes on anvil in {:.1} s",
        setup_started.elapsed().as_secs_f64()
    );

    let mut simulator = runtime
        .block_on(Simulator::fork_latest(hood.devnet.admin.clone()))
        .unwrap();
    let started = Instant::now();
    let cold = runtime
        .block_on(simulator.simulate_settle(keeper, hood.market, &hood.settle))
        .unwrap();
    let cold_time = started.elapsed();
    let SettleSimulation::Ok { gas_used } = cold else {
        panic!("the 500-fill batch must settle: {cold:?}");
    };
    println!(
        "simulate_500_fills cold (first simulation, its state fetched over JSON-RPC from anvil on \
         loopback, the access list's slots 16 at a time): {:.1} ms; {gas_used} gas ({:.1} % of the {TX_GAS_CAP} cap)",
        cold_time.as_secs_f64() * 1e3,
        gas_used as f64 * 100.0 / TX_GAS_CAP as f64,
    );

    let mut criterion = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    criterion.bench_function("simulate_500_fills", |bench| {
        bench.iter(|| {
            let simulated = runtime
                .block_on(simulator.simulate_settle(keeper, hood.market, &hood.settle))
                .unwrap();
            assert_eq!(simulated, SettleSimulation::Ok { gas_used });
        })
    });
    criterion.final_summary();
}
