//! The `meter-signer` binary's commands that need no chain: `dsmr-parse`, `keygen`, and `run`
//! refusing a bad config.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use alloy::primitives::Address;
use serde_json::{Value, json};

use crate::p1::{dsmr5_body, with_crc};

const PASSWORD_ENV: &str = "COGRID_CLI_TEST_PASSWORD";

/// Runs `meter-signer` with `args` and waits for it, killing it after 30 s.
fn meter_signer(args: &[&str], configure: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meter-signer"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove(PASSWORD_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("meter-signer {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `dsmr-parse` prints what settlement takes from a DSMR 5 telegram: registers summed over the
/// tariffs in Wh, power in W, and the meter's time with its offset.
#[test]
fn dsmr_parse_prints_the_telegram_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("telegram.txt");
    let body = dsmr5_body(
        "240115101458W",
        [1_234_567, 2_000_100],
        [10_500, 250],
        [1_193, 2_345],
    );
    std::fs::write(&file, with_crc(&body)).unwrap();

    let output = meter_signer(&["dsmr-parse", path_arg(&file)], |_| {});
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)));
    for (field, expected) in [
        ("equipment_id", json!("4B384547303034303436333935353037")),
        ("timestamp", json!("2024-01-15T10:14:58+01:00")),
        ("import_wh", json!(3_234_667)),
        ("export_wh", json!(10_750)),
        ("power_import_w", json!(1_193)),
        ("power_export_w", json!(2_345)),
    ] {
        assert_eq!(printed[field], expected, "{field} in {printed}");
    }
}

/// A telegram with a bad line (its CRC intact) fails, and the error says which line.
#[test]
fn dsmr_parse_names_the_malformed_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("telegram.txt");
    let body = dsmr5_body(
        "240115101458W",
        [1_234_567, 2_000_100],
        [10_500, 250],
        [1_193, 0],
    )
    .replace("1-0:2.8.1(000010.500*kWh)", "1-0:2.8.1(000010,500*kWh)");
    let line = body
        .lines()
        .position(|line| line.starts_with("1-0:2.8.1"))
        .unwrap()
        + 1;
    std::fs::write(&file, with_crc(&body)).unwrap();

    let output = meter_signer(&["dsmr-parse", path_arg(&file)], |_| {});
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output.stdout));
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(stderr.contains(&format!("line {line}:")), "{stderr}");
    assert!(stderr.contains("000010,500"), "{stderr}");
}

/// `keygen` prints the address of the key it stored (the keystore decrypts to it), and never
/// overwrites an existing keystore.
#[test]
fn keygen_prints_the_stored_address_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keys/meter.json");
    let args = [
        "keygen",
        "--out",
        path_arg(&keystore),
        "--password-env",
        PASSWORD_ENV,
    ];
    let with_password = |command: &mut Command| {
        command.env(PASSWORD_ENV, "meter password");
    };

    let output = meter_signer(&args, with_password);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout).trim().to_owned();
    assert!(
        printed.starts_with("0x") && printed.len() == 42,
        "{printed}"
    );
    let stored = cogrid_chain::load_keystore(&keystore, "meter password").unwrap();
    assert_eq!(printed.parse::<Address>().unwrap(), stored.address());
    let written = std::fs::read(&keystore).unwrap();

    let again = meter_signer(&args, with_password);
    assert!(!again.status.success(), "a second keygen must fail");
    assert!(again.stdout.is_empty(), "{}", text(&again.stdout));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read(&keystore).unwrap(),
        written,
        "key overwritten"
    );
}

/// Without the password variable `keygen` fails naming it, and writes no key.
#[test]
fn keygen_without_a_password_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("meter.json");
    let output = meter_signer(
        &[
            "keygen",
            "--out",
            path_arg(&keystore),
            "--password-env",
            PASSWORD_ENV,
        ],
        |_| {},
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains(PASSWORD_ENV),
        "{}",
        text(&output.stderr)
    );
    assert!(!keystore.exists());
}

/// A config whose only fault is `confirmations` and the source `kind` given.
fn config(confirmations: &str, kind: &str) -> String {
    format!(
        r#"
[chain]
rpc_url = "http://127.0.0.1:9"
chain_id = 31337
registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
confirmations = {confirmations}

[outbox]
path = "outbox.db"

[[meters]]
keystore = "meter.json"
password_env = "{PASSWORD_ENV}"
[meters.source]
kind = "{kind}"
address = "127.0.0.1:2001"
"#
    )
}

fn run_with_config(text: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meter-signer.toml");
    std::fs::write(&path, text).unwrap();
    meter_signer(&["run", "--config", path_arg(&path)], |_| {})
}

/// `run` refuses a config with a bad value before doing anything, naming the key; the same config
/// with good values gets past the config (and stops at the missing password instead).
#[test]
fn run_refuses_a_bad_config_naming_the_key() {
    let good = run_with_config(&config("2", "p1-tcp"));
    let stderr = text(&good.stderr);
    assert!(!good.status.success());
    assert!(!stderr.contains("bad config"), "{stderr}");
    assert!(stderr.contains(PASSWORD_ENV), "{stderr}");

    let negative = run_with_config(&config("-1", "p1-tcp"));
    let stderr = text(&negative.stderr);
    assert!(!negative.status.success());
    assert!(stderr.contains("key `chain.confirmations`"), "{stderr}");
    assert!(stderr.contains("meter-signer.toml"), "{stderr}");

    let unknown_kind = run_with_config(&config("2", "p2"));
    let stderr = text(&unknown_kind.stderr);
    assert!(!unknown_kind.status.success());
    assert!(stderr.contains("key `meters[0].source.kind`"), "{stderr}");
    assert!(stderr.contains("unknown variant `p2`"), "{stderr}");
}
