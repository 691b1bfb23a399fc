//! The `vpp-gateway` daemon from its TOML config: it enrols on its own, and refuses to start with
//! a clear error when the node is unreachable or the key is not the meter's owner.

use std::{path::Path, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use cogrid_chain::ChainError;
use cogrid_gateway::{config, daemon, error::GatewayError};
use tokio_util::sync::CancellationToken;

use crate::grid::{FEEDER, Grid, Home};

const PASSWORD_ENV: &str = "COGRID_GATEWAY_TEST_PASSWORD";
const PASSWORD: &str = "gateway-test";

/// Writes the owner's keystore, the deployment file and a config into `dir`; returns the config.
fn write_config(
    dir: &Path,
    grid_rpc: &str,
    deployment: &cogrid_chain::Deployment,
    meter: &str,
    owner: &PrivateKeySigner,
) -> config::Config {
    // SAFETY of the environment: every test that sets this variable sets the same value.
    unsafe { std::env::set_var(PASSWORD_ENV, PASSWORD) };
    PrivateKeySigner::encrypt_keystore(
        dir,
        &mut rand::thread_rng(),
        owner.to_bytes(),
        PASSWORD,
        Some("owner.json"),
    )
    .unwrap();
    deployment.save(&dir.join("deployment.json")).unwrap();
    let path = dir.join("vpp-gateway.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[chain]
rpc_url = "{grid_rpc}"
deployment = "deployment.json"
confirmations = 0
poll_interval = "200ms"

[meter]
address = "{meter}"

[owner]
keystore = "owner.json"
password_env = "{PASSWORD_ENV}"

[policy]
min_price_per_kwh = "0.2"
max_w = 3000
reserve_percent = 10

[battery]
capacity_wh = 10000
stored_wh = 9000
max_charge_w = 5000
max_discharge_w = 5000
"#
        ),
    )
    .unwrap();
    config::load(&path).unwrap()
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_enrols_from_its_config_and_stops_on_cancel() {
    let grid = Grid::start().await;
    let home: Home = grid.home(4, FEEDER).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &grid.devnet.rpc_url(),
        &grid.deployment,
        &home.meter.to_string(),
        &home.owner,
    );
    let cancel = CancellationToken::new();
    let daemon = tokio::spawn(daemon::run(config, cancel.clone()));
    let start = grid.next_boundary().await;
    let id = grid.create_event(FEEDER, start, 1, 20_000, 250_000).await;
    // 3 kW by policy; 9,000 - 1,000 reserve = 8,000 Wh would sustain more.
    wait_until("the daemon's enrolment", async || {
        grid.enrolment(id, home.meter).await == (1, 3_000)
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops on cancel")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_does_not_own_the_meter_is_refused_at_start() {
    let grid = Grid::start().await;
    let home = grid.home(5, FEEDER).await;
    let dir = tempfile::tempdir().unwrap();
    let stranger = grid.devnet.funded_key(6);
    let config = write_config(
        dir.path(),
        &grid.devnet.rpc_url(),
        &grid.deployment,
        &home.meter.to_string(),
        &stranger,
    );
    let error = daemon::run(config, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, GatewayError::NotMeterOwner { owner, key, .. } if owner == home.owner.address() && key == stranger.address()),
        "{error}"
    );
    assert!(error.to_string().contains("owner.keystore"), "{error}");
}

#[tokio::test]
async fn an_unreachable_node_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = cogrid_chain::Deployment {
        chain_id: 31_337,
        market: alloy::primitives::Address::repeat_byte(1),
        energy_credit: alloy::primitives::Address::repeat_byte(2),
        carbon_credit: alloy::primitives::Address::repeat_byte(3),
        stablecoin: alloy::primitives::Address::repeat_byte(4),
        oracle_hub: alloy::primitives::Address::repeat_byte(5),
        oracle_feeds: [6, 7, 8, 9].map(alloy::primitives::Address::repeat_byte),
        energy_amm: alloy::primitives::Address::repeat_byte(10),
        vpp_dispatch: alloy::primitives::Address::repeat_byte(11),
        deployed_at_block: 1,
    };
    // Port 9 (discard) on loopback has no listener here: the connection is refused at once.
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &deployment,
        "0x0000000000000000000000000000000000000001",
        &PrivateKeySigner::random(),
    );
    let error = daemon::run(config, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            GatewayError::Chain(ChainError::RpcUnreachable { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("http://127.0.0.1:9"), "{error}");
}
