//! The market end to end on anvil: 50 homes with meter signers, two keepers racing (one on
//! SQLite, one on PostgreSQL), one of them killed and restarted mid-run; afterwards every vault
//! balance must equal an independent recomputation from the homes' metered volumes and orders.
//!
//! The chain's clock is driven by the test: anvil starts just before the first reading, and each
//! step moves the clock past the next interval end. A meter signer replays the 8 intervals at
//! once into its outbox, and the chain accepts each reading only once its interval has ended
//! (earlier it is refused as from the future and retried), so readings arrive interval by
//! interval, as from real meters, and the keepers settle each interval before the next reading.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use cogrid_bindings::{EnergyMarket, IEnergyMarket, MockStablecoin};
use cogrid_chain::{Deployment, Devnet, KeyConfig, SuiteParams, create_keystore, deploy_suite};
use cogrid_keeper::{
    clearing::{self, Book, Outcome, Side},
    config::{ChainConfig, Config, Database, DatabaseConfig, HttpConfig, SettlementConfig},
};
use cogrid_meter_signer::{
    config::{
        ChainConfig as SignerChain, Config as SignerConfig, DeliveryConfig,
        HttpConfig as SignerHttp, MeterConfig, OutboxConfig, SimulatedSource, SourceConfig,
    },
    daemon::{RunOptions, run as run_signer},
    profile::{HomeProfile, Shapes, SimulatedMeter},
};
use tokio_util::sync::CancellationToken;

const HOMES: usize = 50;
const INTERVALS: u64 = 8;
const INTERVAL: u64 = 900;
const INTENSITY: u16 = 400;
/// USD 0.02 per kWh to the grid operator, paid by buyers.
const NETWORK_FEE: u64 = 20_000;
/// 1 % of each sale to the settling keeper.
const KEEPER_FEE_BPS: u16 = 100;
/// Every buyer starts with USD 50 in its vault.
const DEPOSIT: u64 = 50_000_000;
const PASSWORD_ENV: &str = "COGRID_KEEPER_TEST_PASSWORD";

/// Account indices of anvil's funded keys (anvil runs with more accounts than homes).
const RELAYER: usize = HOMES + 1;
const KEEPER_A: usize = HOMES + 2;
const KEEPER_B: usize = HOMES + 3;
const OPERATOR: usize = HOMES + 4;

struct Home {
    owner: PrivateKeySigner,
    meter: Address,
    profile: HomeProfile,
    order: IEnergyMarket::OrderParams,
    critical: bool,
}

fn profile_path() -> PathBuf {
    cogrid_chain::workspace_root().join("data/ausgrid-customer12/data_2011-2012.csv")
}

/// The homes' shapes and orders: two in five with PV selling above a floor of 4-8 cents, all
/// buying below a ceiling of 22-30 cents (network fee included), one in ten a critical load. The
/// data's day starts at the simulation's start; a shift of 22-24 half hours puts the 8 intervals
/// around midday, when the PV homes export.
fn home_profile(index: usize) -> (HomeProfile, IEnergyMarket::OrderParams, bool) {
    let has_pv = index % 5 < 2;
    let profile = HomeProfile {
        pv_kwp: if has_pv {
            3.0 + (index % 4) as f64
        } else {
            0.0
        },
        load_factor: 0.6 + (index % 7) as f64 * 0.15,
        shift_half_hours: 22 + (index % 3) as u32,
        start_day: 170,
    };
    let order = IEnergyMarket::OrderParams {
        sells: has_pv,
        sellFloor: if has_pv {
            40_000 + (index as u64 % 5) * 10_000
        } else {
            0
        },
        buys: true,
        buyCeiling: 220_000 + (index as u64 % 9) * 10_000,
        capWh: if index % 11 == 3 { 150 } else { 0 },
        validFrom: Default::default(),
        validUntil: Default::default(),
        coverFromCredits: index % 4 == 1,
    };
    (profile, order, index % 10 == 7)
}

pub(crate) async fn confirm(
    sent: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) {
    let receipt = sent.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "setup transaction reverted");
}

pub(crate) fn wallet_provider(devnet: &Devnet, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(devnet.rpc_url().parse().unwrap())
        .erased()
}

struct Market {
    devnet: Devnet,
    deployment: Deployment,
    homes: Vec<Home>,
    start: u64,
    dir: tempfile::TempDir,
}

impl Market {
    async fn start() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // Synthetic intervals in the recent past of the wall clock, the chain's clock just before
        // them.
        let start = (now - 6 * 3_600) / 1_800 * 1_800;
        let genesis = (start - 300).to_string();
        let accounts = (HOMES + 10).to_string();
        // Mined on demand for a quick setup; a block a second once the homes run (below).
        let devnet = Devnet::start_with_args(&["--timestamp", &genesis, "--accounts", &accounts])
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams {
                carbon_intensity: INTENSITY,
                ..SuiteParams::default()
            },
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        deployment
            .save(&dir.path().join("deployment.json"))
            .unwrap();
        // SAFETY of the environment: every test in this binary sets the same value.
        unsafe { std::env::set_var(PASSWORD_ENV, "keeper-test") };

        let admin = EnergyMarket::new(deployment.market, devnet.admin.clone());
        let keeper_role = admin.KEEPER_ROLE().call().await.unwrap();
        let operator_role = admin.GRID_OPERATOR_ROLE().call().await.unwrap();
        for keeper in [KEEPER_A, KEEPER_B] {
            confirm(
                admin
                    .grantRole(keeper_role, devnet.funded_key(keeper).address())
                    .send()
                    .await,
            )
            .await;
        }
        let operator = devnet.funded_key(OPERATOR);
        confirm(
            admin
                .grantRole(operator_role, operator.address())
                .send()
                .await,
        )
        .await;
        let as_operator = EnergyMarket::new(deployment.market, wallet_provider(&devnet, operator));
        confirm(as_operator.setNetworkFee(NETWORK_FEE).send().await).await;
        confirm(admin.setKeeperFee(KEEPER_FEE_BPS).send().await).await;

        let stablecoin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
        let mut homes = Vec::new();
        for index in 0..HOMES {
            let owner = devnet.funded_key(index + 1);
            let meter_key = create_keystore(
                &dir.path().join(format!("meter-{index}.json")),
                "keeper-test",
            )
            .unwrap();
            let (profile, order, critical) = home_profile(index);
            confirm(admin.registerParticipant(owner.address()).send().await).await;
            let kinds = u8::from(profile.pv_kwp > 0.0) | if critical { 8 } else { 0 };
            confirm(
                admin
                    .registerMeter(meter_key.address(), owner.address(), 1, kinds, 10_000)
                    .send()
                    .await,
            )
            .await;
            confirm(
                stablecoin
                    .mint(owner.address(), U256::from(DEPOSIT))
                    .send()
                    .await,
            )
            .await;
            let as_owner = wallet_provider(&devnet, owner.clone());
            let coin = MockStablecoin::new(deployment.stablecoin, as_owner.clone());
            confirm(
                coin.approve(deployment.market, U256::from(DEPOSIT))
                    .send()
                    .await,
            )
            .await;
            let market = EnergyMarket::new(deployment.market, as_owner);
            confirm(market.deposit(0, U256::from(DEPOSIT)).send().await).await;
            confirm(
                market
                    .placeOrder(meter_key.address(), order.clone())
                    .send()
                    .await,
            )
            .await;
            homes.push(Home {
                owner,
                meter: meter_key.address(),
                profile,
                order,
                critical,
            });
        }
        let relayer = devnet.funded_key(RELAYER);
        PrivateKeySigner::encrypt_keystore(
            dir.path(),
            &mut rand::thread_rng(),
            relayer.to_bytes(),
            "keeper-test",
            Some("relayer.json"),
        )
        .unwrap();
        devnet
            .admin
            .raw_request::<_, serde_json::Value>("evm_setIntervalMining".into(), (1,))
            .await
            .unwrap();
        for keeper in [KEEPER_A, KEEPER_B] {
            PrivateKeySigner::encrypt_keystore(
                dir.path(),
                &mut rand::thread_rng(),
                devnet.funded_key(keeper).to_bytes(),
                "keeper-test",
                Some(format!("keeper-{keeper}.json").as_str()),
            )
            .unwrap();
        }
        Self {
            devnet,
            deployment,
            homes,
            start,
            dir,
        }
    }

    fn key(&self, file: &str) -> KeyConfig {
        KeyConfig {
            keystore: self.dir.path().join(file),
            password_env: PASSWORD_ENV.into(),
        }
    }

    fn signer_config(&self) -> SignerConfig {
        SignerConfig {
            chain: SignerChain {
                rpc_url: self.devnet.rpc_url(),
                chain_id: self.deployment.chain_id,
                registry: self.deployment.market,
                confirmations: 1,
                interval_seconds: INTERVAL,
            },
            relayer: Some(self.key("relayer.json")),
            outbox: OutboxConfig {
                path: "outbox.db".into(),
            },
            delivery: DeliveryConfig {
                batch_size: 100,
                poll_interval: Duration::from_millis(200),
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_millis(500),
                ..DeliveryConfig::default()
            },
            http: SignerHttp {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..SignerHttp::default()
            },
            meters: self
                .homes
                .iter()
                .enumerate()
                .map(|(index, home)| MeterConfig {
                    key: self.key(&format!("meter-{index}.json")),
                    source: SourceConfig::Simulated(SimulatedSource {
                        profile: profile_path(),
                        pv_kwp: home.profile.pv_kwp,
                        load_factor: home.profile.load_factor,
                        shift_half_hours: home.profile.shift_half_hours,
                        start_day: home.profile.start_day,
                        start: self.start,
                        end: Some(self.start + INTERVALS * INTERVAL),
                        speed: 0.0,
                        sample_seconds: 60,
                    }),
                })
                .collect(),
        }
    }

    fn keeper_config(&self, keeper: usize, database: Database, listen: u16) -> Config {
        Config {
            chain: ChainConfig {
                rpc_url: self.devnet.rpc_url().parse().unwrap(),
                chain_id: self.deployment.chain_id,
                deployment: self.dir.path().join("deployment.json"),
                confirmations: 1,
                poll_interval: Duration::from_millis(200),
            },
            keeper: self.key(&format!("keeper-{keeper}.json")),
            database: DatabaseConfig { url: database },
            http: HttpConfig {
                listen: ([127, 0, 0, 1], listen).into(),
            },
            settlement: SettlementConfig {
                stuck_timeout: Duration::from_secs(10),
                // Every meter reports each interval: the keepers clear as soon as all are in.
                readings_grace: Duration::from_secs(3_600),
                ..SettlementConfig::default()
            },
        }
    }

    fn market(&self) -> EnergyMarket::EnergyMarketInstance<DynProvider> {
        EnergyMarket::new(self.deployment.market, self.devnet.admin.clone())
    }

    /// Moves the chain's clock to `at` (or leaves it when it is already past).
    async fn clock_to(&self, at: u64) {
        let now = self.chain_time().await;
        if at > now {
            self.devnet.advance_time(at - now).await.unwrap();
        }
    }

    async fn chain_time(&self) -> u64 {
        self.devnet
            .admin
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// Waits until every meter's reading for the boundary `end` is counted.
    async fn wait_for_readings(&self, end: u64) {
        let market = self.market();
        wait_until(&format!("every reading ending at {end}"), async || {
            for home in &self.homes {
                let state = market.meterState(home.meter).call().await.unwrap();
                if state.lastIntervalEnd.to::<u64>() < end {
                    return false;
                }
            }
            true
        })
        .await;
    }

    /// Waits until interval `t` is settled and no meter has volumes of it pending.
    async fn wait_for_settlement(&self, t: u64) {
        let market = self.market();
        wait_until(&format!("interval {t} settled and finalized"), async || {
            if market.interval(t).call().await.unwrap().status != 2 {
                return false;
            }
            for home in &self.homes {
                if market.meterState(home.meter).call().await.unwrap().pending != 0 {
                    return false;
                }
            }
            true
        })
        .await;
    }
}

pub(crate) async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) fn spawn_keeper(config: Config) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let handle = tokio::spawn(async move {
        cogrid_keeper::daemon::run(config, token).await.unwrap();
    });
    (cancel, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_homes_trade_for_eight_intervals_with_two_racing_keepers() {
    let postgres = crate::backends::TestDb::postgres().await;
    let market = Market::start().await;
    let signer_dir = market.dir.path().to_owned();
    let signer_config = market.signer_config();
    let signer = tokio::spawn(async move {
        run_signer(
            signer_config,
            &signer_dir,
            RunOptions {
                exit_when_idle: true,
            },
        )
        .await
    });
    let sqlite = Database::Sqlite(market.dir.path().join("keeper-a.sqlite"));
    let http_a = free_port();
    let (mut cancel_a, mut keeper_a) =
        spawn_keeper(market.keeper_config(KEEPER_A, sqlite.clone(), http_a));
    let (cancel_b, keeper_b) =
        spawn_keeper(market.keeper_config(KEEPER_B, postgres.database.clone(), 0));

    let first = market.start / INTERVAL;
    for step in 0..=INTERVALS {
        let end = market.start + step * INTERVAL;
        market.clock_to(end + 5).await;
        market.wait_for_readings(end).await;
        if step > 0 {
            market.wait_for_settlement(first + step - 1).await;
        }
        if step == INTERVALS / 2 {
            // Keeper A dies mid-run and comes back on the same database.
            cancel_a.cancel();
            keeper_a.await.unwrap();
            (cancel_a, keeper_a) =
                spawn_keeper(market.keeper_config(KEEPER_A, sqlite.clone(), http_a));
        }
    }
    signer.await.unwrap().unwrap();
    assert_keeper_serves_its_index(http_a, first).await;
    cancel_a.cancel();
    cancel_b.cancel();
    keeper_a.await.unwrap();
    keeper_b.await.unwrap();

    assert_each_interval_settled_once(&market, first).await;
    assert_balances_match_recomputation(&market).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `/health`, `/metrics`, `/intervals/{t}` and `/orders` of a keeper that indexed the run.
async fn assert_keeper_serves_its_index(port: u16, first: u64) {
    let client = alloy::transports::http::reqwest::Client::new();
    let get = async |path: &str| {
        let response = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (status, health) = get("/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (_, metrics) = get("/metrics").await;
    assert!(metrics.contains("cogrid_keeper_lag_blocks"), "{metrics}");
    // The index lags the chain by its confirmation depth: wait for the last interval's batches.
    let last = first + INTERVALS - 1;
    wait_until(
        "the keeper's index to show the last settlement",
        async || {
            let (_, body) = get(&format!("/intervals/{last}")).await;
            body.contains("\"settled\":true")
        },
    )
    .await;
    let (status, interval) = get(&format!("/intervals/{first}")).await;
    assert_eq!(status, 200, "{interval}");
    let interval: serde_json::Value = serde_json::from_str(&interval).unwrap();
    assert_eq!(interval["settled"], true, "{interval}");
    assert_eq!(
        interval["meters"].as_array().unwrap().len(),
        HOMES,
        "{interval}"
    );
    let (status, missing) = get("/intervals/7").await;
    assert_eq!(status, 404, "{missing}");
    let (_, orders) = get("/orders").await;
    let orders: serde_json::Value = serde_json::from_str(&orders).unwrap();
    assert_eq!(
        orders["orders"].as_array().unwrap().len(),
        HOMES,
        "{orders}"
    );
}

async fn assert_each_interval_settled_once(market: &Market, first: u64) {
    let logs = market
        .devnet
        .admin
        .get_logs(
            &Filter::new()
                .address(market.deployment.market)
                .event_signature(EnergyMarket::IntervalSettled::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let mut closings: BTreeMap<u64, usize> = BTreeMap::new();
    for log in &logs {
        let event = log
            .log_decode::<EnergyMarket::IntervalSettled>()
            .unwrap()
            .inner
            .data;
        if event.closing {
            *closings.entry(event.t).or_default() += 1;
        }
    }
    let expected: BTreeMap<u64, usize> = (first..first + INTERVALS).map(|t| (t, 1)).collect();
    assert_eq!(closings, expected, "every interval closed exactly once");
}

/// Replays the 8 intervals from the homes' metered volumes and orders with the clearing function
/// and the contract's money rules, and compares every vault with the chain.
async fn assert_balances_match_recomputation(market: &Market) {
    let shapes = Shapes::from_csv(&profile_path()).unwrap();
    let models: Vec<SimulatedMeter> = market
        .homes
        .iter()
        .map(|home| SimulatedMeter::new(&shapes, home.profile, market.start, (0, 0)))
        .collect();
    let mut stable: BTreeMap<Address, u128> = market
        .homes
        .iter()
        .map(|home| (home.owner.address(), u128::from(DEPOSIT)))
        .collect();
    let mut credits: BTreeMap<Address, u128> = BTreeMap::new();
    let mut carbon: BTreeMap<Address, u128> = BTreeMap::new();
    let mut traded_any = false;
    for step in 1..=INTERVALS {
        let (from, to) = (
            market.start + (step - 1) * INTERVAL,
            market.start + step * INTERVAL,
        );
        let volumes: BTreeMap<Address, clearing::Volumes> = market
            .homes
            .iter()
            .zip(&models)
            .map(|(home, model)| {
                let (import_from, export_from) = model.registers_at(from);
                let (import_to, export_to) = model.registers_at(to);
                (
                    home.meter,
                    clearing::Volumes {
                        import_wh: import_to - import_from,
                        export_wh: export_to - export_from,
                    },
                )
            })
            .collect();
        let orders = market
            .homes
            .iter()
            .enumerate()
            .map(|(index, home)| clearing::Order {
                id: index as u64,
                participant: home.owner.address(),
                meter: home.meter,
                sell_floor: home.order.sells.then_some(home.order.sellFloor),
                buy_ceiling: home.order.buys.then_some(home.order.buyCeiling),
                cap_wh: (home.order.capWh != 0).then_some(u64::from(home.order.capWh)),
                placed_at: index as u64,
                critical: home.critical,
                feeder: 1,
            })
            .collect();
        let book = Book {
            orders,
            volumes: volumes.clone(),
            balances: stable.clone(),
            network_fee: NETWORK_FEE,
            islanded: BTreeSet::new(),
        };
        let mut sold: BTreeMap<Address, u64> = BTreeMap::new();
        let mut bought: BTreeMap<Address, u64> = BTreeMap::new();
        if let Outcome::Traded(trade) = clearing::clear(&book).grid {
            traded_any = true;
            for fill in &trade.fills {
                let owner = market
                    .homes
                    .iter()
                    .find(|home| home.meter == fill.meter)
                    .unwrap()
                    .owner
                    .address();
                match fill.side {
                    Side::Sell => {
                        let value = u128::from(fill.wh) * u128::from(trade.price) / 1_000;
                        let earned = value - value * u128::from(KEEPER_FEE_BPS) / 10_000;
                        *stable.get_mut(&owner).unwrap() += earned;
                        sold.insert(fill.meter, fill.wh);
                    }
                    Side::Buy => {
                        let cost = (u128::from(fill.wh) * u128::from(trade.price + NETWORK_FEE))
                            .div_ceil(1_000);
                        *stable.get_mut(&owner).unwrap() -= cost;
                        bought.insert(fill.meter, fill.wh);
                    }
                }
            }
        }
        for home in &market.homes {
            let owner = home.owner.address();
            let volume = volumes[&home.meter];
            let credited = volume.export_wh - sold.get(&home.meter).copied().unwrap_or(0);
            let unbought = volume.import_wh - bought.get(&home.meter).copied().unwrap_or(0);
            let mut balance = credits.get(&owner).copied().unwrap_or(0) + u128::from(credited);
            if home.order.coverFromCredits {
                balance -= balance.min(u128::from(unbought));
            }
            credits.insert(owner, balance);
            *carbon.entry(owner).or_default() +=
                u128::from(volume.export_wh) * u128::from(INTENSITY) / 1_000;
        }
    }
    assert!(
        traded_any,
        "the neighbourhood traded in at least one interval"
    );
    let chain = market.market();
    for home in &market.homes {
        let owner = home.owner.address();
        let vault = chain.balancesOf(owner).call().await.unwrap();
        assert_eq!(
            vault.stablecoin,
            U256::from(stable[&owner]),
            "stablecoin of {owner}"
        );
        assert_eq!(
            vault.creditsWh,
            U256::from(credits.get(&owner).copied().unwrap_or(0)),
            "credits of {owner}"
        );
        assert_eq!(
            vault.carbonGrams,
            U256::from(carbon.get(&owner).copied().unwrap_or(0)),
            "carbon of {owner}"
        );
    }
    let held = MockStablecoin::new(market.deployment.stablecoin, market.devnet.admin.clone())
        .balanceOf(market.deployment.market)
        .call()
        .await
        .unwrap();
    let owed: u128 = stable.values().sum();
    assert_eq!(
        held,
        U256::from(owed),
        "the market holds exactly what its vaults owe"
    );
}
