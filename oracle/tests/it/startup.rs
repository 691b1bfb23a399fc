//! A reporter refuses to start against a chain where it could not report, naming what to fix.

use alloy::primitives::Address;
use cogrid_chain::{ChainError, Devnet};
use cogrid_oracle::{daemon::Reporter, error::OracleError};

use crate::replay::{config, every_fixture, serve, spot_feed};

async fn devnet_config(devnet: &Devnet) -> cogrid_oracle::config::Config {
    let base = serve(every_fixture()).await;
    let mut config = config(vec![spot_feed(&base)], vec![]);
    config.chain.rpc_url = devnet.rpc_url().parse().unwrap();
    config
}

#[tokio::test]
async fn a_hub_address_without_code_is_refused() {
    let devnet = Devnet::start().unwrap();
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
    let devnet = Devnet::start().unwrap();
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
    let devnet = Devnet::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("31337.json");
    std::fs::write(
        &path,
        "{\"chainId\": 31337, \"market\": \"0x0000000000000000000000000000000000000001\"}",
    )
    .unwrap();
    let mut config = devnet_config(&devnet).await;
    config.chain.hub = None;
    config.chain.deployment = Some(path.clone());
    let error = Reporter::connect(config, devnet.funded_key(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OracleError::NoHubInDeployment { path: at, .. } if *at == path),
        "{error}"
    );
    assert!(error.to_string().contains("chain.hub"), "{error}");
}

#[tokio::test]
async fn the_deployment_files_hub_is_the_one_checked() {
    let devnet = Devnet::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("31337.json");
    std::fs::write(
        &path,
        "{\"chainId\": 31337, \"oracleHub\": \"0x00000000000000000000000000000000000000cc\"}",
    )
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
