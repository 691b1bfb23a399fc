//! A reporter refuses to start against a chain where it could not report, naming what to fix.

use alloy::primitives::Address;
use cogrid_chain::{ChainError, Deployment, Devnet, SuiteParams, deploy_suite};
use cogrid_oracle::{daemon::Reporter, error::OracleError};

use crate::{
    anvil::devnet,
    replay::{config, every_fixture, serve, spot_feed},
};

async fn devnet_config(devnet: &Devnet) -> cogrid_oracle::config::Config {
    let base = serve(every_fixture()).await;
    let mut config = config(vec![spot_feed(&base)], vec![]);
    config.chain.rpc_url = devnet.rpc_url().parse().unwrap();
    config
}

#[tokio::test]
async fn a_hub_address_without_code_is_refused() {
    let devnet = devnet(&[]);
    let mut config = devnet_config(&devnet).await;
    config.chain.hub = Some(Address::repeat_byte(0x0b));
    let error = Reporter::connect(config, devnet.funded_key(1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, OracleError::NoHub { hub } if hub == Address::repeat_byte(0x0b)),
        "{error}"
    );
}

#[tokio::test]
async fn a_node_serving_another_chain_is_refused() {
    let devnet = devnet(&[]);
    let mut config = devnet_config(&devnet).await;
    config.chain.chain_id = 10;
    let error = Reporter::connect(config, devnet.funded_key(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            OracleError::Chain(ChainError::WrongChain {
                expected: 10,
                actual: 31337,
                ..
            })
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_deployment_file_without_a_hub_names_the_file() {
    let devnet = devnet(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("31337.json");
    // A deployment from before OracleHub was part of the suite.
    let one = Address::with_last_byte(1);
    std::fs::write(
        &path,
        format!(
            "{{\"chainId\": 31337, \"market\": \"{one}\", \"energyCredit\": \"{one}\", \
             \"carbonCredit\": \"{one}\", \"stablecoin\": \"{one}\", \"deployedAtBlock\": 1}}"
        ),
    )
    .unwrap();
    let mut config = devnet_config(&devnet).await;
    config.chain.hub = None;
    config.chain.deployment = Some(path.clone());
    let error = Reporter::connect(config, devnet.funded_key(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OracleError::BadDeployment { path: at, .. } if *at == path),
        "{error}"
    );
    for named in ["oracleHub", "chain.hub", "cogrid deploy"] {
        assert!(error.to_string().contains(named), "{error}");
    }
}

#[tokio::test]
async fn the_deployment_files_hub_is_the_one_checked() {
    let devnet = devnet(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("31337.json");
    Deployment {
        chain_id: 31337,
        market: Address::with_last_byte(1),
        energy_credit: Address::with_last_byte(2),
        carbon_credit: Address::with_last_byte(3),
        stablecoin: Address::with_last_byte(4),
        oracle_hub: Address::with_last_byte(0xcc),
        oracle_feeds: [Address::with_last_byte(5); 4],
        energy_amm: Address::with_last_byte(6),
        vpp_dispatch: Address::with_last_byte(7),
        deployed_at_block: 1,
    }
    .save(&path)
    .unwrap();
    let mut config = devnet_config(&devnet).await;
    config.chain.hub = None;
    config.chain.deployment = Some(path);
    let error = Reporter::connect(config, devnet.funded_key(1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, OracleError::NoHub { hub } if hub == Address::with_last_byte(0xcc)),
        "{error}"
    );
}

#[tokio::test]
async fn a_key_the_hub_does_not_list_is_refused() {
    let devnet = devnet(&[]);
    let deployment = deploy_suite(
        &devnet.admin,
        devnet.admin_key.address(),
        SuiteParams::default(),
    )
    .await
    .unwrap();
    let mut config = devnet_config(&devnet).await;
    config.chain.hub = Some(deployment.oracle_hub);
    let key = devnet.funded_key(1);
    // The domain and the probe digest match the deployed hub: only the role is missing.
    let error = Reporter::connect(config, key.clone()).await.unwrap_err();
    assert!(
        matches!(error, OracleError::NotReporter { reporter, hub }
            if reporter == key.address() && hub == deployment.oracle_hub),
        "{error}"
    );
}

#[test]
fn the_binary_names_a_bad_config_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oracle.toml");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/oracle.example.toml"))
            .unwrap();
    std::fs::write(
        &path,
        example.replace("deviation_bps = 100", "deviation_bps = 0"),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_oracle"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("key `feeds[0].deviation_bps`"), "{stderr}");
}
