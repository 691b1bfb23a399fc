//! End-to-end tests of the `cogrid` binary against a local devnet (anvil).

use std::process::{Command, Output};

use alloy::signers::local::PrivateKeySigner;
use cogrid_chain::{Deployment, Devnet};

const KEY_ENV: &str = "COGRID_TEST_ADMIN_KEY";

fn cogrid(devnet_url: &str, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args(["--rpc-url", devnet_url, "--private-key-env", KEY_ENV])
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "cogrid failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn deploy_register_show_and_refuse_a_second_registration() {
    let devnet = Devnet::start().expect("anvil must be installed: run `make install`");
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary that sets it; read by the child processes.
    unsafe { std::env::set_var(KEY_ENV, devnet.admin_key.to_bytes().to_string()) };
    let url = devnet.rpc_url();

    stdout(&cogrid(
        &url,
        dir.path(),
        &["deploy", "--carbon-intensity", "350"],
    ));
    let deployment = Deployment::load(&dir.path().join("deployments/31337.json")).unwrap();
    assert_ne!(deployment.meter_registry, deployment.energy_credit);

    let owner = PrivateKeySigner::random().address().to_string();
    let meter = PrivateKeySigner::random().address().to_string();
    stdout(&cogrid(
        &url,
        dir.path(),
        &["participant", "register", &owner],
    ));
    let register = [
        "meter",
        "register",
        "--meter",
        &meter,
        "--owner",
        &owner,
        "--feeder",
        "12",
        "--kinds",
        "solar,battery",
        "--capacity-w",
        "7000",
    ];
    stdout(&cogrid(&url, dir.path(), &register));

    let shown = stdout(&cogrid(&url, dir.path(), &["meter", "show", &meter]));
    assert!(shown.contains(&format!("owner {owner}")), "{shown}");
    assert!(shown.contains("feeder 12"), "{shown}");
    assert!(shown.contains("kinds 0b0011"), "{shown}");
    assert!(shown.contains("status active"), "{shown}");

    let again = cogrid(&url, dir.path(), &register);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("MeterRegistryMeterAlreadyRegistered"),
        "the revert is decoded by name: {stderr}"
    );

    let unknown_owner = PrivateKeySigner::random().address().to_string();
    let refused = cogrid(
        &url,
        dir.path(),
        &[
            "meter",
            "register",
            "--meter",
            &unknown_owner,
            "--owner",
            &unknown_owner,
            "--feeder",
            "1",
            "--capacity-w",
            "1",
        ],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("MeterRegistryOwnerNotParticipant"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_rpc_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args([
            "--rpc-url",
            "http://127.0.0.1:9",
            "--private-key-env",
            "COGRID_TEST_UNUSED_KEY",
        ])
        .args([
            "meter",
            "show",
            "0x0000000000000000000000000000000000000001",
        ])
        .env(
            "COGRID_TEST_UNUSED_KEY",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("http://127.0.0.1:9 is unreachable"),
        "{stderr}"
    );
}

#[test]
fn a_missing_key_says_how_to_give_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args([
            "meter",
            "show",
            "0x0000000000000000000000000000000000000001",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--keystore"), "{stderr}");
}

#[test]
fn the_demo_mints_what_the_meters_measured() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args(["demo", "--out"])
        .arg(dir.path().join("demo"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let report = stdout(&output);
    assert_eq!(report.matches("| yes |").count(), 5, "{report}");
    assert!(!report.contains("| NO |"), "{report}");
    assert!(
        report.contains("CC BY 4.0"),
        "the data is attributed: {report}"
    );
}
