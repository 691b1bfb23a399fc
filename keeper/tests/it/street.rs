//! A few homes on anvil, each with one meter and a standing order, whose readings the test signs
//! and submits interval by interval, and a keeper daemon that settles them: the fixture of the
//! pool-routing and island tests.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use cogrid_bindings::{EnergyMarket, IEnergyMarket, IMeterRegistry, MockStablecoin};
use cogrid_chain::{
    Deployment, Devnet, KeyConfig, Reading, SettlementRecord, SuiteParams, deploy_suite,
    reading_domain, sign_reading,
};
use cogrid_keeper::config::{
    ChainConfig, Config, Database, DatabaseConfig, HttpConfig, SettlementConfig,
};
use cogrid_meter_signer::delivery::to_contract_reading;
use tokio_util::sync::CancellationToken;

use crate::market::{confirm, spawn_keeper, wait_until, wallet_provider};

pub(crate) const INTERVAL: u64 = 900;
/// Every home's vault starts with 50 $.
pub(crate) const DEPOSIT: u64 = 50_000_000;
const PASSWORD_ENV: &str = "COGRID_KEEPER_STREET_TEST_PASSWORD";
/// `MeterKinds.CRITICAL_LOAD`.
pub(crate) const CRITICAL_LOAD: u8 = 8;

/// What a home is: its feeder, what is behind its meter, its order.
pub(crate) struct HomeSpec {
    pub(crate) feeder: u32,
    pub(crate) kinds: u8,
    pub(crate) order: IEnergyMarket::OrderParams,
}

/// A registered home.
pub(crate) struct Home {
    pub(crate) owner: PrivateKeySigner,
    pub(crate) meter: PrivateKeySigner,
    /// Its cumulative registers (import, export) and the seq of its last reading.
    registers: (u64, u64, u32),
}

/// A standing order: sells at `sell_floor` or more, buys at `buy_ceiling` or less.
pub(crate) fn order(
    sell_floor: Option<u64>,
    buy_ceiling: Option<u64>,
    cover_from_credits: bool,
) -> IEnergyMarket::OrderParams {
    IEnergyMarket::OrderParams {
        sells: sell_floor.is_some(),
        sellFloor: sell_floor.unwrap_or(0),
        buys: buy_ceiling.is_some(),
        buyCeiling: buy_ceiling.unwrap_or(0),
        capWh: 0,
        validFrom: Default::default(),
        validUntil: Default::default(),
        coverFromCredits: cover_from_credits,
    }
}

pub(crate) struct Street {
    pub(crate) devnet: Devnet,
    pub(crate) deployment: Deployment,
    pub(crate) homes: Vec<Home>,
    /// The market as its admin.
    pub(crate) admin: EnergyMarket::EnergyMarketInstance<alloy::providers::DynProvider>,
    /// The interval boundary the homes' baseline readings are at.
    pub(crate) baseline_end: u64,
    dir: tempfile::TempDir,
}

impl Street {
    /// Deploys the suite, registers the homes (anvil accounts 1, 2, ...), funds their vaults,
    /// places their orders, and signs every meter's baseline reading at the last boundary.
    pub(crate) async fn start(specs: &[HomeSpec]) -> Self {
        // The chain starts one second after a boundary an hour ago: the setup, which takes
        // seconds, stays early in the baseline's interval, so a test can act within it.
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let genesis = (wall / INTERVAL - 4) * INTERVAL + 1;
        let devnet = Devnet::start_with_args(&["--timestamp", &genesis.to_string()])
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let admin = EnergyMarket::new(deployment.market, devnet.admin.clone());
        let stablecoin = MockStablecoin::new(deployment.stablecoin, devnet.admin.clone());
        let mut homes = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let home = Home {
                owner: devnet.funded_key(index + 1),
                meter: PrivateKeySigner::random(),
                registers: (0, 0, 0),
            };
            let owner = home.owner.address();
            confirm(admin.registerParticipant(owner).send().await).await;
            confirm(
                admin
                    .registerMeter(home.meter.address(), owner, spec.feeder, spec.kinds, 10_000)
                    .send()
                    .await,
            )
            .await;
            confirm(stablecoin.mint(owner, U256::from(DEPOSIT)).send().await).await;
            let as_owner = wallet_provider(&devnet, home.owner.clone());
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
                    .placeOrder(home.meter.address(), spec.order.clone())
                    .send()
                    .await,
            )
            .await;
            homes.push(home);
        }
        let dir = tempfile::tempdir().unwrap();
        deployment
            .save(&dir.path().join("deployment.json"))
            .unwrap();
        let now = chain_time(&devnet).await;
        let mut street = Self {
            devnet,
            deployment,
            homes,
            admin,
            baseline_end: now / INTERVAL * INTERVAL,
            dir,
        };
        let volumes = vec![(0, 0); specs.len()];
        street.submit_readings(street.baseline_end, &volumes).await;
        street
    }

    /// The interval that ends `n` intervals after the baseline.
    pub(crate) fn interval(&self, n: u64) -> u64 {
        self.baseline_end / INTERVAL + n - 1
    }

    /// Moves the chain's clock to `at` (unix s), unless it is already past.
    pub(crate) async fn clock_to(&self, at: u64) {
        let now = chain_time(&self.devnet).await;
        if at > now {
            self.devnet.advance_time(at - now).await.unwrap();
        }
    }

    /// Signs and submits every home's reading at the boundary `end`, its registers grown by
    /// `volumes[i]` = (import, export) Wh; moves the clock to `end` first.
    pub(crate) async fn submit_readings(&mut self, end: u64, volumes: &[(u64, u64)]) {
        self.clock_to(end).await;
        let readings = self.sign_readings(end, volumes);
        confirm(self.admin.submitReadings(readings).send().await).await;
    }

    /// Every home's reading at the boundary `end`, its registers grown by `volumes[i]` =
    /// (import, export) Wh, signed by its meter (homes past `volumes` get none).
    pub(crate) fn sign_readings(
        &mut self,
        end: u64,
        volumes: &[(u64, u64)],
    ) -> Vec<IMeterRegistry::Reading> {
        let domain = reading_domain(self.deployment.chain_id, self.deployment.market);
        let mut readings = Vec::new();
        for (home, &(import_wh, export_wh)) in self.homes.iter_mut().zip(volumes) {
            let (import, export, seq) = &mut home.registers;
            *import += import_wh;
            *export += export_wh;
            *seq += 1;
            let reading = Reading::new(home.meter.address(), *seq, end, *import, *export).unwrap();
            readings.push(to_contract_reading(
                &sign_reading(&home.meter, &domain, &reading).unwrap(),
            ));
        }
        readings
    }

    /// Starts a keeper daemon with anvil account `account` as its key (granted `KEEPER_ROLE`).
    pub(crate) async fn spawn_keeper(
        &self,
        account: usize,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let keeper = self.devnet.funded_key(account);
        let role = self.admin.KEEPER_ROLE().call().await.unwrap();
        confirm(self.admin.grantRole(role, keeper.address()).send().await).await;
        // SAFETY of the environment: every test that sets this variable sets the same value.
        unsafe { std::env::set_var(PASSWORD_ENV, "street-test") };
        PrivateKeySigner::encrypt_keystore(
            self.dir.path(),
            &mut rand::thread_rng(),
            keeper.to_bytes(),
            "street-test",
            Some("keeper.json"),
        )
        .unwrap();
        spawn_keeper(Config {
            chain: ChainConfig {
                rpc_url: self.devnet.rpc_url().parse().unwrap(),
                chain_id: self.deployment.chain_id,
                deployment: self.dir.path().join("deployment.json"),
                confirmations: 0,
                poll_interval: Duration::from_millis(200),
            },
            keeper: KeyConfig {
                keystore: self.dir.path().join("keeper.json"),
                password_env: PASSWORD_ENV.into(),
            },
            database: DatabaseConfig {
                url: Database::Sqlite(self.dir.path().join("keeper.sqlite")),
            },
            http: HttpConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
            },
            settlement: SettlementConfig::default(),
        })
    }

    /// Waits until interval `t` is settled and no home has volumes of it pending.
    pub(crate) async fn wait_for_settlement(&self, t: u64) {
        wait_until(&format!("interval {t} settled and finalized"), async || {
            if self.admin.interval(t).call().await.unwrap().status != 2 {
                return false;
            }
            for home in &self.homes {
                let state = self.admin.meterState(home.meter.address()).call().await;
                if state.unwrap().pending != 0 {
                    return false;
                }
            }
            true
        })
        .await;
    }

    /// The settlement record of home `index` for interval `t`.
    pub(crate) async fn record(&self, index: usize, t: u64) -> SettlementRecord {
        let meter = self.homes[index].meter.address();
        let filter = Filter::new()
            .address(self.deployment.market)
            .event_signature(EnergyMarket::MetersSettled::SIGNATURE_HASH)
            .from_block(0);
        let logs = self.devnet.admin.get_logs(&filter).await.unwrap();
        let records: Vec<SettlementRecord> = logs
            .iter()
            .flat_map(|log| {
                let event = EnergyMarket::MetersSettled::decode_log_data(log.data()).unwrap();
                let words: Vec<B256> = event.records.to_vec();
                SettlementRecord::decode_all(&words)
            })
            .filter(|record| record.meter == meter && record.interval == t)
            .collect();
        assert_eq!(
            records.len(),
            1,
            "one record of home {index} in interval {t}"
        );
        records[0]
    }

    /// The owner of home `index`.
    pub(crate) fn owner(&self, index: usize) -> Address {
        self.homes[index].owner.address()
    }
}

pub(crate) async fn chain_time(devnet: &Devnet) -> u64 {
    devnet
        .admin
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}
