//! The keeper against a real node: what it says when it cannot start, how its indexer rewinds a
//! reorg, and how its sender gets a stuck transaction mined.

use std::{sync::Arc, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use cogrid_bindings::EnergyMarket;
use cogrid_chain::{Deployment, Devnet, KeyConfig, SuiteParams, deploy_suite};
use cogrid_keeper::{
    config::{ChainConfig, Config, Database, DatabaseConfig, HttpConfig, SettlementConfig},
    error::KeeperError,
    indexer::Indexer,
    metrics::Metrics,
    settlement::Sender,
    store::{AttemptStatus, Store},
};
use tokio_util::sync::CancellationToken;

const PASSWORD_ENV: &str = "COGRID_KEEPER_DAEMON_TEST_PASSWORD";

struct Fixture {
    devnet: Devnet,
    deployment: Deployment,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(extra: &[&str]) -> Self {
        let devnet = Devnet::start_with_args(extra)
            .expect("anvil must be installed: run `make install` (npm ci in contracts/)");
        let deployment = deploy_suite(
            &devnet.admin,
            devnet.admin_key.address(),
            SuiteParams::default(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        deployment
            .save(&dir.path().join("deployment.json"))
            .unwrap();
        // SAFETY of the environment: every test in this binary sets the same value.
        unsafe { std::env::set_var(PASSWORD_ENV, "daemon-test") };
        Self {
            devnet,
            deployment,
            dir,
        }
    }

    /// A keystore for `key`, and a config for it against `rpc_url`.
    fn config(&self, key: &PrivateKeySigner, rpc_url: &str, chain_id: u64) -> Config {
        let file = format!("{}.json", key.address());
        PrivateKeySigner::encrypt_keystore(
            self.dir.path(),
            &mut rand::thread_rng(),
            key.to_bytes(),
            "daemon-test",
            Some(file.as_str()),
        )
        .unwrap();
        Config {
            chain: ChainConfig {
                rpc_url: rpc_url.parse().unwrap(),
                chain_id,
                deployment: self.dir.path().join("deployment.json"),
                confirmations: 0,
                poll_interval: Duration::from_millis(100),
            },
            keeper: KeyConfig {
                keystore: self.dir.path().join(file),
                password_env: PASSWORD_ENV.into(),
            },
            database: DatabaseConfig {
                url: Database::Sqlite(self.dir.path().join("keeper.sqlite")),
            },
            http: HttpConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
            },
            settlement: SettlementConfig::default(),
        }
    }

    async fn store(&self) -> Store {
        Store::open(&Database::Sqlite(self.dir.path().join("index.sqlite")))
            .await
            .unwrap()
    }
}

async fn start_error(config: Config) -> KeeperError {
    tokio::time::timeout(
        Duration::from_secs(30),
        cogrid_keeper::daemon::run(config, CancellationToken::new()),
    )
    .await
    .expect("a keeper that cannot start says so at once")
    .expect_err("the keeper must refuse to start")
}

#[tokio::test]
async fn the_keeper_names_what_keeps_it_from_starting() {
    let fixture = Fixture::start(&[]).await;
    let keeper = fixture.devnet.funded_key(1);
    let rpc = fixture.devnet.rpc_url();

    let unreachable = start_error(fixture.config(&keeper, "http://127.0.0.1:9", 31_337)).await;
    let message = unreachable.to_string();
    assert!(message.contains("http://127.0.0.1:9"), "{message}");

    let wrong_chain = start_error(fixture.config(&keeper, &rpc, 10)).await;
    let message = wrong_chain.to_string();
    assert!(
        message.contains("31337") && message.contains("10"),
        "{message}"
    );

    let not_keeper = start_error(fixture.config(&keeper, &rpc, 31_337)).await;
    assert!(
        matches!(not_keeper, KeeperError::NotKeeper { .. }),
        "{not_keeper}"
    );
    let message = not_keeper.to_string();
    assert!(
        message.contains("KEEPER_ROLE") && message.contains(&keeper.address().to_string()),
        "{message}"
    );

    // A deployment file from another chain: nothing lives at its market address here.
    let mut elsewhere = fixture.deployment;
    elsewhere.market = Address::repeat_byte(0x42);
    elsewhere
        .save(&fixture.dir.path().join("deployment.json"))
        .unwrap();
    let no_market = start_error(fixture.config(&keeper, &rpc, 31_337)).await;
    assert!(
        matches!(no_market, KeeperError::NoMarket { .. }),
        "{no_market}"
    );
}

#[tokio::test]
async fn the_indexer_rewinds_a_reorg() {
    let fixture = Fixture::start(&[]).await;
    let store = fixture.store().await;
    let indexer = Indexer::new(
        fixture.devnet.admin.clone(),
        store.clone(),
        fixture.deployment.market,
        fixture.deployment.deployed_at_block,
        0,
    );
    // A new provider per transaction: one that cached the admin's nonce before the revert would
    // send the replacement with a nonce the reverted chain is not at yet. Receipts are polled by
    // hash: a provider's block watcher would wait for heights it already saw before the revert.
    let register = async |account: Address| {
        let admin = ProviderBuilder::new()
            .wallet(EthereumWallet::from(fixture.devnet.admin_key.clone()))
            .connect_http(fixture.devnet.rpc_url().parse().unwrap());
        let market = EnergyMarket::new(fixture.deployment.market, admin);
        let hash = *market
            .registerParticipant(account)
            .send()
            .await
            .unwrap()
            .tx_hash();
        while fixture
            .devnet
            .admin
            .get_transaction_receipt(hash)
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let participants = async || -> Vec<Address> {
        store
            .active_participants()
            .await
            .unwrap()
            .iter()
            .map(|participant| participant.account)
            .collect()
    };
    let (first, lost, replacement) = (
        Address::repeat_byte(1),
        Address::repeat_byte(2),
        Address::repeat_byte(3),
    );
    register(first).await;
    indexer.catch_up().await.unwrap();
    let snapshot: String = fixture
        .devnet
        .admin
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
    register(lost).await;
    indexer.catch_up().await.unwrap();
    // The deployment registered the pool first.
    let pool = fixture.deployment.energy_amm;
    assert_eq!(participants().await, [pool, first, lost]);

    // The block that registered `lost` is replaced by another at the same height.
    let reverted: bool = fixture
        .devnet
        .admin
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    assert!(reverted);
    register(replacement).await;
    let outcome = indexer.catch_up().await.unwrap();
    assert!(outcome.rewound >= 1, "{outcome:?}");
    assert_eq!(participants().await, [pool, first, replacement]);
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_with_bumped_fees() {
    let fixture = Fixture::start(&[]).await;
    let store = fixture.store().await;
    let metrics = Arc::new(Metrics::default());
    let key = fixture.devnet.funded_key(1);
    let sender = Sender::new(
        fixture.devnet.admin.clone(),
        EthereumWallet::from(key.clone()),
        key.address(),
        31_337,
        store.clone(),
        metrics.clone(),
        12,
        Duration::from_secs(1),
    );
    // Nothing is mined until the test says so: the first send gets stuck.
    let provider = fixture.devnet.admin.clone();
    provider
        .raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (false,))
        .await
        .unwrap();
    let miner = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        provider
            .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await
            .unwrap();
    });
    let mined = sender
        .send(7, Address::repeat_byte(9), Bytes::new(), 50_000)
        .await
        .unwrap();
    miner.await.unwrap();
    assert!(mined.success);
    assert!(
        metrics.fee_bumps.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the stuck send was bumped"
    );
    let attempts = store.attempts_for(7).await.unwrap();
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .all(|attempt| attempt.nonce == attempts[0].nonce)
    );
    let succeeded: Vec<_> = attempts
        .iter()
        .filter(|attempt| attempt.status == AttemptStatus::Succeeded)
        .collect();
    assert_eq!(succeeded.len(), 1, "{attempts:?}");
    assert_eq!(succeeded[0].tx_hash, mined.tx_hash);
    assert!(
        attempts
            .iter()
            .filter(|attempt| attempt.tx_hash != mined.tx_hash)
            .all(|attempt| attempt.status == AttemptStatus::Replaced),
        "{attempts:?}"
    );
}
