//! End-to-end tests of the `cogrid` binary against a local devnet (anvil).

use std::{
    path::Path,
    process::{Command, Output},
};

use alloy::{
    primitives::{Address, U256, aliases::U40},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use cogrid::units::{self, Unit};
use cogrid_bindings::{
    CarbonCredit, EnergyAmm, EnergyCredit, EnergyMarket, IEnergyMarket, IMeterRegistry,
    MockStablecoin, VppDispatch,
};
use cogrid_chain::{
    Deployment, Devnet, Fill, Reading, connect_lazily, reading_domain, sign_reading,
};

/// The variable the binary reads its key from; set on each child process, never on this one.
const KEY_ENV: &str = "COGRID_TEST_KEY";

/// 2099-06-15T00:00:00Z: the bill test's first day, far enough ahead of any wall clock.
const JUNE_15_2099: u64 = 4_085_164_800;

/// Runs `cogrid` in `dir` against `url`, signing with `key` when given.
fn cogrid(url: &str, dir: &Path, key: Option<&PrivateKeySigner>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cogrid"));
    command
        .args(["--rpc-url", url])
        .current_dir(dir)
        .env("RUST_LOG", "warn");
    if let Some(key) = key {
        command
            .args(["--private-key-env", KEY_ENV])
            .env(KEY_ENV, key.to_bytes().to_string());
    }
    command.args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "cogrid failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "cogrid should have failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The words of the line starting with `label` (after it), e.g. a balance or bill row.
fn row(text: &str, label: &str) -> Vec<String> {
    let line = text
        .lines()
        .map(str::trim_start)
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no line starts with {label:?}:\n{text}"));
    line[label.len()..]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A devnet with the suite deployed by `cogrid deploy` into a scratch directory.
struct Chain {
    devnet: Devnet,
    dir: tempfile::TempDir,
    url: String,
    deployment: Deployment,
}

impl Chain {
    fn start() -> Self {
        let devnet = Devnet::start().expect("anvil must be installed: run `make install`");
        let dir = tempfile::tempdir().unwrap();
        let url = devnet.rpc_url();
        stdout(&cogrid(
            &url,
            dir.path(),
            Some(&devnet.admin_key),
            &["deploy"],
        ));
        let deployment = Deployment::load(&dir.path().join("deployments/31337.json")).unwrap();
        Self {
            devnet,
            dir,
            url,
            deployment,
        }
    }

    fn run(&self, key: &PrivateKeySigner, args: &[&str]) -> Output {
        cogrid(&self.url, self.dir.path(), Some(key), args)
    }

    fn run_without_key(&self, args: &[&str]) -> Output {
        cogrid(&self.url, self.dir.path(), None, args)
    }

    fn admin(&self) -> &PrivateKeySigner {
        &self.devnet.admin_key
    }

    /// The market, sending as the admin.
    fn market(&self) -> EnergyMarket::EnergyMarketInstance<DynProvider> {
        EnergyMarket::new(self.deployment.market, self.provider_of(self.admin()))
    }

    /// The stablecoin, sending as the admin (its minter).
    fn stablecoin(&self) -> MockStablecoin::MockStablecoinInstance<DynProvider> {
        MockStablecoin::new(self.deployment.stablecoin, self.provider_of(self.admin()))
    }

    /// A provider signing as `key` that asks the node for every nonce: the binary sends from
    /// the same accounts in between.
    fn provider_of(&self, key: &PrivateKeySigner) -> DynProvider {
        connect_lazily(&self.url, key.clone()).unwrap()
    }

    /// A funded dev account registered as a participant and given `usd` stablecoin base units.
    async fn prosumer(&self, index: usize, usd: u64) -> PrivateKeySigner {
        let key = self.devnet.funded_key(index);
        let account = key.address().to_string();
        stdout(&self.run(self.admin(), &["admin", "register-participant", &account]));
        if usd > 0 {
            self.stablecoin()
                .mint(key.address(), U256::from(usd))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
        key
    }

    /// A new solar meter registered to `owner`.
    fn meter(&self, owner: &PrivateKeySigner) -> PrivateKeySigner {
        self.meter_of_kind(owner, "solar")
    }

    /// A new meter of `kind` on feeder 1 registered to `owner`.
    fn meter_of_kind(&self, owner: &PrivateKeySigner, kind: &str) -> PrivateKeySigner {
        let meter = PrivateKeySigner::random();
        stdout(&self.run(
            self.admin(),
            &[
                "admin",
                "register-meter",
                "--address",
                &meter.address().to_string(),
                "--owner",
                &owner.address().to_string(),
                "--feeder",
                "1",
                "--kind",
                kind,
                "--capacity-w",
                "10000",
            ],
        ));
        meter
    }

    async fn nonce(&self, account: Address) -> u64 {
        self.devnet
            .admin
            .get_transaction_count(account)
            .await
            .unwrap()
    }

    async fn vault(&self, account: Address) -> IEnergyMarket::Balances {
        self.market().balancesOf(account).call().await.unwrap()
    }

    async fn wallet_usd(&self, account: Address) -> U256 {
        self.stablecoin().balanceOf(account).call().await.unwrap()
    }
}

#[test]
fn deploy_register_show_and_refuse_a_second_registration() {
    let chain = Chain::start();
    assert_ne!(chain.deployment.market, chain.deployment.energy_credit);

    let owner = PrivateKeySigner::random().address().to_string();
    let meter = PrivateKeySigner::random().address().to_string();
    stdout(&chain.run(chain.admin(), &["admin", "register-participant", &owner]));
    let register = [
        "admin",
        "register-meter",
        "--address",
        &meter,
        "--owner",
        &owner,
        "--feeder",
        "12",
        "--kind",
        "solar,battery",
        "--critical",
        "--capacity-w",
        "7000",
    ];
    stdout(&chain.run(chain.admin(), &register));

    let shown = stdout(&chain.run(chain.admin(), &["meter", "show", &meter]));
    assert!(shown.contains(&format!("owner {owner}")), "{shown}");
    assert!(shown.contains("feeder 12"), "{shown}");
    assert!(shown.contains("kinds 0b1011"), "{shown}");
    assert!(shown.contains("status active"), "{shown}");

    let again = stderr(&chain.run(chain.admin(), &register));
    assert!(
        again.contains("MeterRegistryMeterAlreadyRegistered"),
        "the revert is decoded by name: {again}"
    );

    let unknown_owner = PrivateKeySigner::random().address().to_string();
    let refused = stderr(&chain.run(
        chain.admin(),
        &[
            "admin",
            "register-meter",
            "--address",
            &unknown_owner,
            "--owner",
            &unknown_owner,
            "--feeder",
            "1",
            "--kind",
            "battery",
            "--capacity-w",
            "1",
        ],
    ));
    assert!(
        refused.contains("MeterRegistryOwnerNotParticipant"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_and_withdraw_round_trip_to_the_base_unit() {
    let chain = Chain::start();
    let prosumer = chain.prosumer(1, 100_000_000).await;
    let account = prosumer.address();

    let deposited = stdout(&chain.run(&prosumer, &["deposit", "25.50"]));
    assert!(
        deposited.contains("approved the market to take 25.50 USD of stablecoin"),
        "the first deposit approves: {deposited}"
    );
    assert!(
        deposited.contains("deposited 25.50 USD of stablecoin"),
        "{deposited}"
    );
    assert!(
        deposited.contains("the vault now holds 25.50 USD"),
        "{deposited}"
    );
    assert_eq!(
        chain.vault(account).await.stablecoin,
        U256::from(25_500_000)
    );
    assert_eq!(chain.wallet_usd(account).await, U256::from(74_500_000));
    assert_eq!(chain.nonce(account).await, 2, "one approve and one deposit");

    // With an allowance already in place the deposit goes alone.
    MockStablecoin::new(chain.deployment.stablecoin, chain.provider_of(&prosumer))
        .approve(chain.deployment.market, U256::from(1_000_000))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let nonce = chain.nonce(account).await;
    let deposited = stdout(&chain.run(&prosumer, &["deposit", "0.000001"]));
    assert!(!deposited.contains("approved"), "{deposited}");
    assert_eq!(chain.nonce(account).await, nonce + 1);
    assert_eq!(
        chain.vault(account).await.stablecoin,
        U256::from(25_500_001)
    );

    let balance = stdout(&chain.run(&prosumer, &["balance"]));
    assert!(
        // The pool is participant #1 (`deploy` registers it).
        balance.contains(&format!("account {account}: participant #2, active")),
        "{balance}"
    );
    assert_eq!(
        row(&balance, "stablecoin"),
        ["74.499999", "USD", "25.500001", "USD"]
    );
    assert_eq!(row(&balance, "energy credits"), ["0", "kWh", "0", "kWh"]);
    assert_eq!(row(&balance, "carbon credits"), ["0", "g", "0", "g"]);
    let gas = row(&balance, "gas");
    assert_eq!(gas[1], "ETH", "{balance}");
    assert!(gas[0].starts_with("9999.99"), "{balance}");
    // Anyone may look at a named account without a key.
    let by_name = stdout(&chain.run_without_key(&["balance", "--account", &account.to_string()]));
    assert_eq!(
        row(&by_name, "stablecoin"),
        ["74.499999", "USD", "25.500001", "USD"]
    );

    let withdrawn = stdout(&chain.run(&prosumer, &["withdraw", "0.500001"]));
    assert!(
        withdrawn.contains("withdrew 0.500001 USD of stablecoin"),
        "{withdrawn}"
    );
    assert_eq!(
        chain.vault(account).await.stablecoin,
        U256::from(25_000_000)
    );
    assert_eq!(chain.wallet_usd(account).await, U256::from(75_000_000));

    let all = stdout(&chain.run(&prosumer, &["withdraw", "--all"]));
    assert!(all.contains("withdrew 25.00 USD"), "{all}");
    assert_eq!(chain.vault(account).await.stablecoin, U256::ZERO);
    assert_eq!(chain.wallet_usd(account).await, U256::from(100_000_000));

    // The market refuses, and says why by name, before anything is sent.
    let nonce = chain.nonce(account).await;
    let refused = stderr(&chain.run(&prosumer, &["withdraw", "1"]));
    assert!(
        refused.contains("MarketInsufficientVaultBalance"),
        "the revert is decoded by name: {refused}"
    );
    assert!(
        refused.contains("hint: your vault holds 0.00 USD of stablecoin, less than the 1.00 USD"),
        "{refused}"
    );
    assert_eq!(chain.nonce(account).await, nonce);

    // A wallet that cannot cover a deposit is told so before an approval is spent.
    let short = stderr(&chain.run(&prosumer, &["deposit", "100.000001"]));
    assert!(
        short.contains("holds 100.00 USD of stablecoin, less than the 100.000001 USD to deposit"),
        "{short}"
    );
    assert_eq!(chain.nonce(account).await, nonce);

    // An account the co-op never registered has no vault.
    let stranger = chain.devnet.funded_key(5);
    let refused = stderr(&chain.run(&stranger, &["deposit", "1"]));
    assert!(refused.contains("MarketUnknownParticipant"), "{refused}");
    assert!(
        refused.contains(&format!(
            "cogrid admin register-participant {}",
            stranger.address()
        )),
        "{refused}"
    );
    assert_eq!(chain.nonce(stranger.address()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_amounts_and_prices_are_refused_before_any_transaction() {
    let chain = Chain::start();
    let prosumer = chain.prosumer(1, 100_000_000).await;
    chain.meter(&prosumer);
    let block = chain.devnet.admin.get_block_number().await.unwrap();

    let cases: &[(&[&str], &str)] = &[
        (
            &["deposit", "-5"],
            "invalid value '-5' for '<AMOUNT>' (--asset usd, in USD): negative amounts are not allowed",
        ),
        (&["deposit", "0,5"], "use a dot as the decimal separator"),
        (
            &["deposit", "1.1234567"],
            "USD takes at most 6 decimals (got 7), e.g. 25.50",
        ),
        (&["deposit", ""], "the amount is empty"),
        (&["deposit", "0"], "the amount must be more than zero"),
        (&["deposit", "1e3"], "not a decimal number of USD"),
        (
            &["deposit", "--asset", "credits", "3.2555"],
            "for '<AMOUNT>' (--asset credits, in kWh): kWh takes at most 3 decimals (got 4), e.g. 3.2",
        ),
        (
            &["withdraw", "--asset", "carbon", "1.5"],
            "grams take whole numbers only (got 1 decimal), e.g. 250",
        ),
        (
            &["deposit", "340282366920938463463374607431768.211456"],
            "the amount is above the most allowed here",
        ),
        (
            &["order", "set", "--sell-floor", "0.1234567"],
            "invalid value '0.1234567' for '--sell-floor <USD_PER_KWH>': USD per kWh takes at most 6 decimals",
        ),
        (
            &["order", "set", "--buy-ceiling", "-0.08"],
            "invalid value '-0.08' for '--buy-ceiling <USD_PER_KWH>': negative amounts are not allowed",
        ),
        (
            &["order", "set", "--sell-floor", "281474977"],
            "above the most allowed here, 281474976.710655 USD per kWh",
        ),
        (
            &["order", "set", "--sell-floor", "0.12", "--cap-kwh", "0"],
            "leave --cap-kwh out for no cap",
        ),
        (
            &["order", "set", "--cover-from-credits"],
            "<--sell-floor <USD_PER_KWH>|--buy-ceiling <USD_PER_KWH>>",
        ),
        (
            &[
                "order",
                "set",
                "--sell-floor",
                "0.12",
                "--valid-from",
                "2099-02-01T00:00:01Z",
                "--valid-until",
                "2099-01-31",
            ],
            "--valid-until (ending 2099-02-01T00:00:00Z) is before --valid-from (starting 2099-02-01T00:00:01Z)",
        ),
        (
            &["bill", "--from", "last week", "--to", "2099-01-01"],
            "invalid value 'last week' for '--from <DATE>': expected a date (2025-06-15, UTC)",
        ),
    ];
    for (args, expected) in cases {
        let refused = stderr(&chain.run(&prosumer, args));
        assert!(refused.contains(expected), "{args:?}: {refused}");
    }
    assert_eq!(chain.nonce(prosumer.address()).await, 0);
    assert_eq!(chain.devnet.admin.get_block_number().await.unwrap(), block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbon_is_retired_from_wallet_and_vault_with_a_verified_certificate() {
    let chain = Chain::start();
    let prosumer = chain.prosumer(1, 0).await;
    let account = prosumer.address();
    // The admin mints as the market would: 1,000 g, of which the prosumer keeps 600 in its vault.
    let carbon = CarbonCredit::new(
        chain.deployment.carbon_credit,
        chain.provider_of(chain.admin()),
    );
    let minter = carbon.MINTER_ROLE().call().await.unwrap();
    carbon
        .grantRole(minter, chain.admin().address())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    carbon
        .mint(account, U256::from(1_000))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    stdout(&chain.run(&prosumer, &["deposit", "--asset", "carbon", "600"]));

    let too_much = stderr(&chain.run(
        &prosumer,
        &[
            "carbon",
            "retire",
            "--grams",
            "1001",
            "--purpose",
            "too much",
        ],
    ));
    assert!(
        too_much.contains("holds 400 g of carbon credits in its wallet and 600 g in its vault, less than the 1001 g to retire"),
        "{too_much}"
    );
    let nonce = chain.nonce(account).await;
    let long_name = "x".repeat(129);
    let refused = stderr(&chain.run(
        &prosumer,
        &[
            "carbon",
            "retire",
            "--grams",
            "10",
            "--beneficiary",
            &long_name,
            "--purpose",
            "p",
        ],
    ));
    assert!(
        refused
            .contains("--beneficiary is 129 bytes long; the certificate holds at most 128 bytes"),
        "{refused}"
    );
    let refused = stderr(&chain.run(
        &prosumer,
        &[
            "carbon",
            "retire",
            "--grams",
            "10",
            "--purpose",
            "p",
            "--from",
            "2026-03-31",
            "--to",
            "2026-01-01",
        ],
    ));
    assert!(refused.contains("--to must be after --from"), "{refused}");
    assert_eq!(chain.nonce(account).await, nonce, "nothing was sent");

    let retired = stdout(&chain.run(
        &prosumer,
        &[
            "carbon",
            "retire",
            "--grams",
            "800",
            "--beneficiary",
            "Sunny Lane Primary School",
            "--purpose",
            "Offset the school's 2026 heating",
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-31",
        ],
    ));
    assert!(
        retired.contains("withdrew 400 g of carbon credits"),
        "the wallet's shortfall comes from the vault: {retired}"
    );
    assert!(retired.contains("certificate #1"), "{retired}");
    assert_eq!(row(&retired, "amount"), ["800", "g"]);
    assert_eq!(
        row(&retired, "beneficiary")[..3],
        ["Sunny", "Lane", "Primary"]
    );
    assert_eq!(
        row(&retired, "period"),
        ["2026-01-01T00:00:00Z", "to", "2026-04-01T00:00:00Z"]
    );
    assert_eq!(row(&retired, "verified")[0], "yes:");
    assert_eq!(
        carbon.retiredBy(account).call().await.unwrap(),
        U256::from(800)
    );
    assert_eq!(carbon.balanceOf(account).call().await.unwrap(), U256::ZERO);
    assert_eq!(chain.vault(account).await.carbonGrams, U256::from(200));

    // Anyone may look a certificate up, by account or by id, without a key.
    let listed =
        stdout(&chain.run_without_key(&["carbon", "show", "--account", &account.to_string()]));
    assert!(
        listed.contains(&format!("{account} retired 800 g (all accounts: 800 g)")),
        "{listed}"
    );
    assert!(listed.contains("certificate #1"), "{listed}");
    assert_eq!(
        row(&listed, "purpose"),
        ["Offset", "the", "school's", "2026", "heating"]
    );
    let by_id = stdout(&chain.run_without_key(&["carbon", "show", "1"]));
    assert_eq!(row(&by_id, "retired by"), [account.to_string()]);
    assert_eq!(row(&by_id, "verified")[0], "yes:");
    let unknown = stderr(&chain.run_without_key(&["carbon", "show", "7"]));
    assert!(
        unknown.contains("there is no retirement 7: the chain holds retirements 1 to 1"),
        "{unknown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_set_shown_and_cancelled() {
    let chain = Chain::start();
    let prosumer = chain.prosumer(1, 0).await;
    let meter = chain.meter(&prosumer).address();
    let meter_arg = meter.to_string();

    // The prosumer's only meter is found without --meter.
    let placed = stdout(&chain.run(
        &prosumer,
        &[
            "order",
            "set",
            "--sell-floor",
            "0.12",
            "--buy-ceiling",
            "0.08",
            "--cap-kwh",
            "2.5",
            "--valid-from",
            "2099-01-01",
            "--valid-until",
            "2099-12-31",
            "--cover-from-credits",
        ],
    ));
    assert!(placed.contains("order placed"), "{placed}");
    assert_eq!(
        chain.market().orderOf(meter).call().await.unwrap(),
        IEnergyMarket::OrderParams {
            sells: true,
            sellFloor: 120_000,
            buys: true,
            buyCeiling: 80_000,
            capWh: 2_500,
            validFrom: U40::from(4_070_908_800u64),
            validUntil: U40::from(4_102_444_800u64),
            coverFromCredits: true,
        }
    );

    let shown = stdout(&chain.run_without_key(&["order", "show", "--meter", &meter_arg]));
    for expected in [
        format!("standing order of meter {meter}"),
        "sells its export at a clearing price of at least 0.12 USD/kWh".to_owned(),
        "network fee (now 0.00 USD/kWh) is at most 0.08 USD/kWh".to_owned(),
        "trades at most 2.5 kWh per interval".to_owned(),
        "valid from 2099-01-01T00:00:00Z until 2100-01-01T00:00:00Z".to_owned(),
        "covered from energy credits first".to_owned(),
    ] {
        assert!(shown.contains(&expected), "{expected:?} in {shown}");
    }

    // Replacing it with a sell-only order drops the buy side.
    stdout(&chain.run(
        &prosumer,
        &["order", "set", "--meter", &meter_arg, "--sell-floor", "0.1"],
    ));
    let shown = stdout(&chain.run(&prosumer, &["order", "show"]));
    assert!(shown.contains("at least 0.10 USD/kWh"), "{shown}");
    assert!(shown.contains("does not buy"), "{shown}");
    assert!(shown.contains("valid from now until cancelled"), "{shown}");

    // Someone else's meter: refused by name, with what to do.
    let neighbour = chain.prosumer(2, 0).await;
    let refused = stderr(&chain.run(
        &neighbour,
        &[
            "order",
            "set",
            "--meter",
            &meter_arg,
            "--sell-floor",
            "0.01",
        ],
    ));
    assert!(refused.contains("MarketNotMeterOwner"), "{refused}");
    assert!(
        refused.contains("send from the key of the meter's owner"),
        "{refused}"
    );
    let none = stderr(&chain.run(&neighbour, &["order", "show"]));
    assert!(none.contains("owns no meter"), "{none}");

    let cancelled = stdout(&chain.run(&prosumer, &["order", "cancel"]));
    assert!(
        cancelled.contains(&format!("order of meter {meter} cancelled")),
        "{cancelled}"
    );
    let shown = stdout(&chain.run(&prosumer, &["order", "show"]));
    assert!(shown.contains("has no standing order"), "{shown}");
    let again = stderr(&chain.run(&prosumer, &["order", "cancel"]));
    assert!(again.contains("MarketNoOrder"), "{again}");

    // With two meters the command asks which.
    let second = chain.meter(&prosumer).address();
    let which = stderr(&chain.run(&prosumer, &["order", "show"]));
    assert!(which.contains("owns 2 meters"), "{which}");
    assert!(which.contains(&second.to_string()), "{which}");
}

/// Signs readings of `meter` with its key and submits them through the admin.
async fn submit(chain: &Chain, readings: &[(&PrivateKeySigner, u32, u64, u64, u64)]) {
    let domain = reading_domain(chain.deployment.chain_id, chain.deployment.market);
    let batch = readings
        .iter()
        .map(|(meter, seq, end, import, export)| {
            let reading = Reading::new(meter.address(), *seq, *end, *import, *export).unwrap();
            let signed = sign_reading(*meter, &domain, &reading).unwrap();
            IMeterRegistry::Reading {
                meter: signed.meter,
                seq: signed.seq,
                intervalEnd: reading.intervalEnd,
                importWh: reading.importWh,
                exportWh: reading.exportWh,
                r: signed.r,
                vs: signed.vs,
            }
        })
        .collect::<Vec<_>>();
    let receipt = chain
        .market()
        .submitReadings(batch)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let accepted = receipt
        .logs()
        .iter()
        .filter(|log| log.log_decode::<EnergyMarket::ReadingAccepted>().is_ok())
        .count();
    assert_eq!(accepted, readings.len(), "every reading is accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_adds_up_what_the_readings_and_settlements_recorded() {
    let chain = Chain::start();
    let market = chain.market();
    let admin = chain.admin().address();
    let seller = chain.prosumer(1, 0).await;
    let buyer = chain.prosumer(2, 10_000_000).await;
    let solar = chain.meter(&seller);
    let home = chain.meter(&buyer);

    // The admin keeps and operates the grid here: 0.02 USD/kWh network fee, 1 % keeper fee.
    for role in [
        market.KEEPER_ROLE().call().await.unwrap(),
        market.GRID_OPERATOR_ROLE().call().await.unwrap(),
    ] {
        market
            .grantRole(role, admin)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    market
        .setNetworkFee(20_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    market
        .setKeeperFee(100)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    stdout(&chain.run(&buyer, &["deposit", "10"]));
    stdout(&chain.run(&seller, &["order", "set", "--sell-floor", "0.10"]));
    stdout(&chain.run(
        &buyer,
        &[
            "order",
            "set",
            "--buy-ceiling",
            "0.20",
            "--cover-from-credits",
        ],
    ));

    // 2099-06-15, 10:00 UTC: both meters' baselines; 10:15: 1.5 kWh exported, 1.2 kWh imported.
    let ten = JUNE_15_2099 + 10 * 3_600;
    chain
        .devnet
        .admin
        .raw_request::<_, serde_json::Value>("evm_setNextBlockTimestamp".into(), (ten + 30,))
        .await
        .unwrap();
    chain
        .devnet
        .admin
        .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
        .await
        .unwrap();
    submit(
        &chain,
        &[(&solar, 1, ten, 5_000, 10_000), (&home, 1, ten, 20_000, 0)],
    )
    .await;
    chain.devnet.advance_time(900).await.unwrap();
    submit(
        &chain,
        &[
            (&solar, 2, ten + 900, 5_000, 11_500),
            (&home, 2, ten + 900, 21_200, 0),
        ],
    )
    .await;

    // The keeper matches 1 kWh at 0.12 USD/kWh.
    let mut fills = [
        Fill {
            meter: solar.address(),
            buy: false,
            wh: 1_000,
        },
        Fill {
            meter: home.address(),
            buy: true,
            wh: 1_000,
        },
    ];
    fills.sort_by_key(|fill| fill.meter);
    market
        .settle(
            ten / 900,
            120_000,
            fills.iter().map(Fill::pack).collect(),
            true,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // The next day, after a gap: the home exported 0.15 kWh and imported 0.3 kWh, settled as
    // residuals: 0.15 kWh credited, then used to cover half the import; the grid supplies the rest.
    chain.devnet.advance_time(86_400).await.unwrap();
    submit(&chain, &[(&home, 3, ten + 900 + 86_400, 21_500, 150)]).await;
    stdout(&chain.run(chain.admin(), &["finalize", &home.address().to_string()]));

    let home_arg = home.address().to_string();
    let bill = stdout(&chain.run_without_key(&[
        "bill",
        "--from",
        "2099-06-15",
        "--to",
        "2099-06-16",
        "--meter",
        &home_arg,
    ]));
    assert!(
        bill.contains(&format!(
            "bill of meter {home_arg} (owner {})",
            buyer.address()
        )),
        "{bill}"
    );
    assert!(
        bill.contains(
            "period 2099-06-15T00:00:00Z to 2099-06-17T00:00:00Z (192 intervals of 900 s)"
        ),
        "{bill}"
    );
    // exported, imported, sold, bought, earned, paid, credited, credits used, grid, unserved,
    // carbon.
    assert_eq!(
        row(&bill, "2099-06-15"),
        [
            "0.000", "1.200", "0.000", "1.000", "0.000000", "0.140000", "0.000", "0.000", "0.200",
            "0.000", "0"
        ]
    );
    assert_eq!(
        row(&bill, "2099-06-16"),
        [
            "0.150", "0.300", "0.000", "0.000", "0.000000", "0.000000", "0.150", "0.150", "0.150",
            "0.000", "60"
        ]
    );
    assert_eq!(
        row(&bill, "total"),
        [
            "0.150", "1.500", "0.000", "1.000", "0.000000", "0.140000", "0.150", "0.150", "0.350",
            "0.000", "60"
        ]
    );
    assert!(!bill.contains("not settled yet"), "{bill}");

    // The seller's bill for the first day, found from its only meter; exact in JSON too.
    let sold = stdout(&chain.run(
        &seller,
        &["bill", "--from", "2099-06-15", "--to", "2099-06-15"],
    ));
    assert_eq!(
        row(&sold, "total"),
        [
            "1.500", "0.000", "1.000", "0.000", "0.118800", "0.000000", "0.500", "0.000", "0.000",
            "0.000", "600"
        ]
    );
    let json = stdout(&chain.run(
        &seller,
        &[
            "bill",
            "--from",
            "2099-06-15",
            "--to",
            "2099-06-15",
            "--json",
        ],
    ));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["total"]["earned"], 118_800);
    assert_eq!(json["total"]["sold_wh"], 1_000);
    assert_eq!(json["total"]["credited_wh"], 500);
    assert_eq!(json["total"]["carbon_grams"], 600);

    // Only the second day; an empty period is refused.
    let second = stdout(&chain.run_without_key(&[
        "bill",
        "--from",
        "2099-06-16",
        "--to",
        "2099-06-16",
        "--meter",
        &home_arg,
    ]));
    assert!(!second.contains("2099-06-15 "), "{second}");
    assert_eq!(row(&second, "total")[1], "0.300");
    let empty = stderr(&chain.run_without_key(&[
        "bill",
        "--from",
        "2099-06-16",
        "--to",
        "2099-06-15T00:00:00Z",
        "--meter",
        &home_arg,
    ]));
    assert!(empty.contains("--to must be after --from"), "{empty}");

    // Credits and carbon go out of the vault and back, in kWh and grams.
    let withdrawn = stdout(&chain.run(&seller, &["withdraw", "--asset", "credits", "0.5"]));
    assert!(
        withdrawn.contains("withdrew 0.5 kWh of energy credits"),
        "{withdrawn}"
    );
    let deposited = stdout(&chain.run(&seller, &["deposit", "--asset", "credits", "0.2"]));
    assert!(deposited.contains("approved the market"), "{deposited}");
    stdout(&chain.run(&seller, &["withdraw", "--asset", "carbon", "--all"]));
    let vault = chain.vault(seller.address()).await;
    assert_eq!(vault.stablecoin, U256::from(118_800));
    assert_eq!(vault.creditsWh, U256::from(200));
    assert_eq!(vault.carbonGrams, U256::ZERO);
    let credits = EnergyCredit::new(chain.deployment.energy_credit, chain.devnet.admin.clone());
    let carbon = CarbonCredit::new(chain.deployment.carbon_credit, chain.devnet.admin.clone());
    assert_eq!(
        credits.balanceOf(seller.address()).call().await.unwrap(),
        U256::from(300)
    );
    assert_eq!(
        carbon.balanceOf(seller.address()).call().await.unwrap(),
        U256::from(600)
    );
    let balance = stdout(&chain.run(&seller, &["balance"]));
    assert_eq!(
        row(&balance, "stablecoin"),
        ["0.00", "USD", "0.1188", "USD"]
    );
    assert_eq!(
        row(&balance, "energy credits"),
        ["0.3", "kWh", "0.2", "kWh"]
    );
    assert_eq!(row(&balance, "carbon credits"), ["600", "g", "0", "g"]);
}

/// The pool's fee as `deploy` sets it by default, in basis points.
const FEE_BPS: u128 = 30;

/// The constant product with the fee taken from the amount in: what the pool pays for
/// `amount_in`, rounded down.
fn pays(amount_in: u128, reserve_in: u128, reserve_out: u128) -> u128 {
    let after_fee = amount_in * (10_000 - FEE_BPS);
    after_fee * reserve_out / (reserve_in * 10_000 + after_fee)
}

/// What the pool takes for `amount_out`, rounded up.
fn takes(amount_out: u128, reserve_in: u128, reserve_out: u128) -> u128 {
    (reserve_in * amount_out * 10_000).div_ceil((reserve_out - amount_out) * (10_000 - FEE_BPS))
}

/// The pool's reserves (credits Wh, stablecoin base units) and LP share supply, as the test
/// tracks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pool {
    credits: u128,
    stable: u128,
    supply: u128,
}

impl Chain {
    fn pool(&self) -> EnergyAmm::EnergyAmmInstance<DynProvider> {
        EnergyAmm::new(self.deployment.energy_amm, self.devnet.admin.clone())
    }

    async fn pool_state(&self) -> Pool {
        let reserves = self.pool().getReserves().call().await.unwrap();
        Pool {
            credits: reserves.reserveCredits.to(),
            stable: reserves.reserveStable.to(),
            supply: self.pool().totalSupply().call().await.unwrap().to(),
        }
    }

    /// The timestamp of the pool's last change.
    async fn changed_at(&self) -> u64 {
        self.pool()
            .getReserves()
            .call()
            .await
            .unwrap()
            .blockTimestampLast
            .into()
    }

    async fn latest_time(&self) -> u64 {
        self.devnet
            .admin
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    async fn shares(&self, account: Address) -> u128 {
        self.pool().balanceOf(account).call().await.unwrap().to()
    }

    /// `(stablecoin, credits)` in `account`'s vault.
    async fn vault_pair(&self, account: Address) -> (u128, u128) {
        let vault = self.vault(account).await;
        (vault.stablecoin.to(), vault.creditsWh.to())
    }
}

fn usd(value: u128) -> String {
    units::show(value, Unit::Usd)
}

fn kwh(value: u128) -> String {
    units::show(value, Unit::Kwh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_trades_vault_balances_at_the_constant_product_price() {
    let chain = Chain::start();
    let pool_address = chain.deployment.energy_amm;
    assert_eq!(chain.market().amm().call().await.unwrap(), pool_address);
    assert_eq!(
        chain
            .market()
            .participantId(pool_address)
            .call()
            .await
            .unwrap(),
        1
    );
    assert_eq!(chain.pool().FEE_BPS().call().await.unwrap(), U256::from(30));

    let lp = chain.prosumer(1, 3_000_000).await;
    let buyer = chain.prosumer(2, 1_000_000).await;
    let (lp_account, buyer_account) = (lp.address(), buyer.address());
    // The admin mints credits as the market would, 12 kWh to the liquidity provider.
    let credits = EnergyCredit::new(
        chain.deployment.energy_credit,
        chain.provider_of(chain.admin()),
    );
    let minter = credits.MINTER_ROLE().call().await.unwrap();
    credits
        .grantRole(minter, chain.admin().address())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    credits
        .mint(lp_account, U256::from(12_000))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    stdout(&chain.run(&lp, &["deposit", "--asset", "credits", "12"]));
    stdout(&chain.run(&lp, &["deposit", "3"]));
    stdout(&chain.run(&buyer, &["deposit", "1"]));

    // An empty pool: shown as such, and a swap is refused before anything is sent.
    let shown = stdout(&chain.run_without_key(&["pool", "--account", &lp_account.to_string()]));
    assert!(
        shown.contains("reserves     none: the pool holds no liquidity yet"),
        "{shown}"
    );
    assert!(
        shown.contains("fee          0.3 % of the amount in"),
        "{shown}"
    );
    let nonce = chain.nonce(buyer_account).await;
    let empty = stderr(&chain.run(&buyer, &["swap", "--spend", "0.5"]));
    assert!(
        empty.contains(
            "the pool holds no liquidity yet: add some from your vault with `cogrid liquidity add"
        ),
        "{empty}"
    );
    assert_eq!(chain.nonce(buyer_account).await, nonce);

    // The first deposit sets the price, 0.20 USD/kWh, and mints sqrt(10,000 Wh x 2,000,000) less
    // the 1,000 shares locked forever.
    let added = stdout(&chain.run(&lp, &["liquidity", "add", "--kwh", "10", "--amount", "2"]));
    assert!(
        added.contains("the pool is empty: this first deposit sets its price, 0.20 USD/kWh"),
        "{added}"
    );
    assert!(
        added.contains(
            "added 10 kWh of energy credits and 2.00 USD of stablecoin to the pool for 140421 shares"
        ),
        "{added}"
    );
    assert!(
        added.contains("you hold 140421 shares, 99.29 % of the pool"),
        "{added}"
    );
    let mut pool = Pool {
        credits: 10_000,
        stable: 2_000_000,
        supply: 141_421,
    };
    assert_eq!(chain.pool_state().await, pool);
    assert_eq!(chain.vault_pair(lp_account).await, (1_000_000, 2_000));

    let shown = stdout(&chain.run_without_key(&["pool", "--account", &lp_account.to_string()]));
    for expected in [
        format!("pool {pool_address}"),
        "reserves     10 kWh of energy credits, 2.00 USD of stablecoin".to_owned(),
        "spot price   0.20 USD/kWh".to_owned(),
        "LP shares    141421 shares (1000 locked forever".to_owned(),
        format!("account {lp_account}: 140421 shares, 99.29 % of the pool"),
        // 140421/141421 of each reserve, rounded down.
        "its part     9.929 kWh of energy credits, 1.985857 USD of stablecoin".to_owned(),
        "TWAP         none over the last 3600 s: the pool had no liquidity then".to_owned(),
    ] {
        assert!(shown.contains(&expected), "{expected:?} in {shown}");
    }

    // A registered account with an empty vault is told to deposit, before anything is sent.
    let stranger = chain.prosumer(3, 0).await;
    let short = stderr(&chain.run(&stranger, &["swap", "--buy-kwh", "1"]));
    let cost = takes(1_000, pool.stable, pool.credits);
    assert_eq!(cost, 222_891);
    assert!(
        short.contains(&format!(
            "your vault holds 0.00 USD of stablecoin, less than the {} the swap takes: deposit \
             first with `cogrid deposit {}`",
            usd(cost),
            units::format(cost, Unit::Usd)
        )),
        "{short}"
    );
    assert_eq!(chain.nonce(stranger.address()).await, 0);

    // Exact out, quoted: 1 kWh for what the pool takes, paying at most the quote plus 0.5 %.
    let bought = stdout(&chain.run(&buyer, &["swap", "--buy-kwh", "1"]));
    assert!(
        bought.contains(&format!(
            "quote: 1 kWh of energy credits costs {} of stablecoin; paying at most {} (0.5 % \
             slippage)",
            usd(cost),
            usd((cost * 10_050).div_ceil(10_000))
        )),
        "{bought}"
    );
    assert!(
        bought.contains(&format!(
            "bought 1 kWh of energy credits for {} of stablecoin ({}, fee included)",
            usd(cost),
            units::show(cost, Unit::UsdPerKwh)
        )),
        "{bought}"
    );
    let mut wallet = (1_000_000 - cost, 1_000);
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    let k = pool.credits * pool.stable;
    pool.credits -= 1_000;
    pool.stable += cost;
    assert_eq!(chain.pool_state().await, pool);
    assert!(pool.credits * pool.stable >= k, "k never decreases");

    // Limits too tight for the price: refused by name with what to do; nothing moves.
    let nonce = chain.nonce(buyer_account).await;
    let tight = stderr(&chain.run(&buyer, &["swap", "--buy-kwh", "0.1", "--max-pay", "0.01"]));
    assert!(tight.contains("EnergyAmmExcessiveInput"), "{tight}");
    assert!(
        tight.contains(&format!(
            "hint: the swap would take {}, more than the 0.01 USD you allowed at most",
            usd(takes(100, pool.stable, pool.credits))
        )),
        "{tight}"
    );
    let tight = stderr(&chain.run(&buyer, &["swap", "--sell-kwh", "0.5", "--min-receive", "1"]));
    assert!(tight.contains("EnergyAmmInsufficientOutput"), "{tight}");
    assert!(
        tight.contains(&format!(
            "hint: the swap would pay {}, less than the 1.00 USD you asked for at least",
            usd(pays(500, pool.credits, pool.stable))
        )),
        "{tight}"
    );
    assert_eq!(chain.nonce(buyer_account).await, nonce);
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    assert_eq!(chain.pool_state().await, pool);

    // Exact in: 0.5 kWh sold.
    let paid = pays(500, pool.credits, pool.stable);
    let sold = stdout(&chain.run(&buyer, &["swap", "--sell-kwh", "0.5"]));
    assert!(
        sold.contains(&format!(
            "sold 0.5 kWh of energy credits for {} of stablecoin",
            usd(paid)
        )),
        "{sold}"
    );
    wallet = (wallet.0 + paid, wallet.1 - 500);
    pool.credits += 500;
    pool.stable -= paid;
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    assert_eq!(chain.pool_state().await, pool);

    // Exact in the other way: 0.10 USD spent, with a limit met.
    let got = pays(100_000, pool.stable, pool.credits);
    let spent = stdout(&chain.run(&buyer, &["swap", "--spend", "0.10", "--min-kwh", "0.4"]));
    assert!(
        spent.contains(&format!(
            "bought {} of energy credits for 0.10 USD of stablecoin",
            kwh(got)
        )),
        "{spent}"
    );
    wallet = (wallet.0 - 100_000, wallet.1 + got);
    pool.credits -= got;
    pool.stable += 100_000;
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    assert_eq!(chain.pool_state().await, pool);

    // Exact out the other way: exactly 0.05 USD received for credits.
    let given = takes(50_000, pool.credits, pool.stable);
    let received = stdout(&chain.run(&buyer, &["swap", "--receive", "0.05"]));
    assert!(
        received.contains(&format!(
            "sold {} of energy credits for 0.05 USD of stablecoin",
            kwh(given)
        )),
        "{received}"
    );
    wallet = (wallet.0 + 50_000, wallet.1 - given);
    pool.credits += given;
    pool.stable -= 50_000;
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    assert_eq!(chain.pool_state().await, pool);
    assert!(pool.credits * pool.stable >= k, "k never decreases");

    // A second provider offering more stablecoin than its credits are worth: the pool takes the
    // credits and their worth, rounded up; the rest stays in the vault.
    let stable_in = (100 * pool.stable).div_ceil(pool.credits);
    let minted = (100 * pool.supply / pool.credits).min(stable_in * pool.supply / pool.stable);
    let added = stdout(&chain.run(
        &buyer,
        &["liquidity", "add", "--kwh", "0.1", "--amount", "0.5"],
    ));
    assert!(
        added.contains(&format!(
            "added 0.1 kWh of energy credits and {} of stablecoin to the pool for {minted} shares",
            usd(stable_in)
        )),
        "{added}"
    );
    assert!(added.contains("the rest stays in your vault"), "{added}");
    wallet = (wallet.0 - stable_in, wallet.1 - 100);
    pool.credits += 100;
    pool.stable += stable_in;
    pool.supply += minted;
    assert_eq!(chain.vault_pair(buyer_account).await, wallet);
    assert_eq!(chain.pool_state().await, pool);
    assert_eq!(chain.shares(buyer_account).await, minted);

    // Half the first provider's shares, then the rest, each for its part of both reserves.
    let lp_vault = chain.vault_pair(lp_account).await;
    let half = 140_421 / 2;
    let (credits_out, stable_out) = (
        half * pool.credits / pool.supply,
        half * pool.stable / pool.supply,
    );
    let removed = stdout(&chain.run(&lp, &["liquidity", "remove", "--percent", "50"]));
    assert!(
        removed.contains(&format!(
            "removed {half} shares for {} of energy credits and {} of stablecoin, paid into your vault",
            kwh(credits_out),
            usd(stable_out)
        )),
        "{removed}"
    );
    pool.credits -= credits_out;
    pool.stable -= stable_out;
    pool.supply -= half;
    assert_eq!(chain.pool_state().await, pool);
    assert_eq!(
        chain.vault_pair(lp_account).await,
        (lp_vault.0 + stable_out, lp_vault.1 + credits_out)
    );
    let rest = 140_421 - half;
    let too_many = stderr(&chain.run(&lp, &["liquidity", "remove", "--shares", "99999999"]));
    assert!(
        too_many.contains(&format!(
            "you hold {rest} shares, fewer than the 99999999 to burn"
        )),
        "{too_many}"
    );
    let removed = stdout(&chain.run(&lp, &["liquidity", "remove", "--shares", &rest.to_string()]));
    assert!(
        removed.contains(&format!("removed {rest} shares")),
        "{removed}"
    );
    assert!(
        removed.contains("you hold 0 shares, 0.00 % of the pool"),
        "{removed}"
    );
    assert_eq!(chain.shares(lp_account).await, 0);
    let none = stderr(&chain.run(&lp, &["liquidity", "remove", "--percent", "100"]));
    assert!(none.contains("holds no LP shares of the pool"), "{none}");

    // What is left belongs to the second provider and the locked shares.
    let state = chain.pool_state().await;
    assert_eq!(state.supply, 1_000 + minted);
    let shown = stdout(&chain.run(&buyer, &["pool"]));
    assert!(
        shown.contains(&format!(
            "LP shares    {} shares (1000 locked forever",
            1_000 + minted
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("account {buyer_account}: {minted} shares")),
        "{shown}"
    );

    // The time-weighted mean price over a window holding three prices: the one before a swap,
    // between two swaps 1,000 s apart, and after them. Each held for the seconds between the
    // blocks that changed it, in Q64.64 base units per Wh.
    let q64 = |pool: Pool| (U256::from(pool.stable) << 64_usize) / U256::from(pool.credits);
    chain.devnet.advance_time(1_000).await.unwrap();
    let start = chain.latest_time().await;
    let before = chain.pool_state().await;
    stdout(&chain.run(&buyer, &["swap", "--spend", "0.05"]));
    let (between, first) = (chain.pool_state().await, chain.changed_at().await);
    chain.devnet.advance_time(1_000).await.unwrap();
    stdout(&chain.run(&buyer, &["swap", "--sell-kwh", "0.1"]));
    let (after, second) = (chain.pool_state().await, chain.changed_at().await);
    chain.devnet.advance_time(1_000).await.unwrap();
    let end = chain.latest_time().await;
    let window = end - start;
    let sum = q64(before) * U256::from(first - start)
        + q64(between) * U256::from(second - first)
        + q64(after) * U256::from(end - second);
    let mean: u128 = (sum * U256::from(1_000) / (U256::from(window) << 64_usize)).to();
    let shown = stdout(&chain.run_without_key(&[
        "pool",
        "--account",
        &buyer_account.to_string(),
        "--twap-seconds",
        &window.to_string(),
    ]));
    assert!(
        shown.contains(&format!(
            "TWAP         {} over the last {window} s",
            units::show(mean, Unit::UsdPerKwh)
        )),
        "{shown}"
    );
}

#[test]
fn an_unreachable_rpc_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKeySigner::random();
    for args in [
        &[
            "meter",
            "show",
            "0x0000000000000000000000000000000000000001",
        ][..],
        &["balance"],
        &["deposit", "1"],
        &["vpp", "status"],
        &["island", "on", "--feeder", "1"],
    ] {
        let refused = stderr(&cogrid("http://127.0.0.1:9", dir.path(), Some(&key), args));
        assert!(
            refused.contains("RPC http://127.0.0.1:9 is unreachable"),
            "{args:?}: {refused}"
        );
    }
}

#[test]
fn a_missing_key_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "admin",
            "register-participant",
            "0x0000000000000000000000000000000000000001",
        ][..],
        &["deposit", "1"],
        &["balance"],
        &["vpp", "claim"],
    ] {
        let refused = stderr(&cogrid("http://127.0.0.1:9", dir.path(), None, args));
        assert!(refused.contains("--keystore"), "{args:?}: {refused}");
    }
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

impl Chain {
    /// The VPP contract, sending as `key`.
    fn vpp(&self, key: &PrivateKeySigner) -> VppDispatch::VppDispatchInstance<DynProvider> {
        VppDispatch::new(self.deployment.vpp_dispatch, self.provider_of(key))
    }

    /// Moves the chain's clock to just after `time`.
    async fn advance_to(&self, time: u64) {
        let now = self.latest_time().await;
        if now <= time {
            self.devnet.advance_time(time + 1 - now).await.unwrap();
        }
    }
}

/// One home battery of the VPP test: its meter, its owner and its registers.
struct Battery {
    meter: PrivateKeySigner,
    owner: PrivateKeySigner,
    seq: u32,
    import_wh: u64,
    export_wh: u64,
}

impl Battery {
    /// The next reading at `end`, after the registers grew by `import` and `export` Wh.
    fn read(
        &mut self,
        end: u64,
        import: u64,
        export: u64,
    ) -> (&PrivateKeySigner, u32, u64, u64, u64) {
        self.seq += 1;
        self.import_wh += import;
        self.export_wh += export;
        (&self.meter, self.seq, end, self.import_wh, self.export_wh)
    }
}

/// A grid operator calls a 100 kW hour on feeder 1 and 20 batteries enrol 5 kW each: 15 deliver
/// fully, 3 partly and 2 not at all (one exports only its baseline, one's gateway never posts the
/// reading at the end). Settling pays each exactly what its readings prove, closing refunds the
/// rest to the operator, and the owners' claims empty the contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpp_event_pays_twenty_batteries_exactly_what_their_readings_prove() {
    let chain = Chain::start();
    let operator = chain.devnet.funded_key(1);
    let operator_account = operator.address().to_string();
    const BUDGET: u64 = 30_000_000;
    chain
        .stablecoin()
        .mint(operator.address(), U256::from(BUDGET))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // Four owners with five batteries each.
    let mut batteries = Vec::new();
    for index in 2..6 {
        let owner = chain.prosumer(index, 0).await;
        for _ in 0..5 {
            let meter = chain.meter_of_kind(&owner, "battery");
            batteries.push(Battery {
                meter,
                owner: owner.clone(),
                seq: 0,
                import_wh: 10_000,
                export_wh: 20_000,
            });
        }
    }

    let now = chain.latest_time().await;
    let start = (now + 2 * 3_600).div_ceil(900) * 900;
    let end = start + 3_600;
    let baseline_start = start - 3_600;
    let call = [
        "vpp",
        "call",
        "--feeder",
        "1",
        "--start",
        &start.to_string(),
        "--duration",
        "1h",
        "--kw",
        "100",
        "--price",
        "0.30",
        "--program",
        "evening-peak",
    ];

    // Without the role nothing is sent, and the message names the role and who grants it.
    let nonce = chain.nonce(operator.address()).await;
    let refused = stderr(&chain.run(&operator, &call));
    assert!(
        refused.contains("lacks GRID_OPERATOR_ROLE of the market"),
        "{refused}"
    );
    assert!(
        refused.contains(&format!(
            "cogrid admin grant grid-operator {operator_account}"
        )),
        "{refused}"
    );
    assert_eq!(chain.nonce(operator.address()).await, nonce);
    let granted = stdout(&chain.run(
        chain.admin(),
        &["admin", "grant", "grid-operator", &operator_account],
    ));
    assert!(
        granted.contains("now holds GRID_OPERATOR_ROLE"),
        "{granted}"
    );

    let called = stdout(&chain.run(&operator, &call));
    assert!(called.contains("called event 1 on feeder 1"), "{called}");
    assert!(called.contains("30.00 USD escrowed"), "{called}");
    assert_eq!(chain.wallet_usd(operator.address()).await, U256::ZERO);

    // A second event overlapping the first on the same feeder, a window off the interval grid and
    // one longer than a day are refused before anything is sent, the budget's approval included.
    let nonce = chain.nonce(operator.address()).await;
    let overlapping = stderr(&chain.run(&operator, &call));
    assert!(overlapping.contains("VppFeederBusy"), "{overlapping}");
    assert!(overlapping.contains("one event at a time"), "{overlapping}");
    let mut misaligned = call;
    let late = (end + 60).to_string();
    misaligned[5] = &late;
    let refused = stderr(&chain.run(&operator, &misaligned));
    assert!(refused.contains("VppWindowMisaligned"), "{refused}");
    let mut too_long = call;
    let later = end.to_string();
    too_long[5] = &later;
    too_long[7] = "25h";
    let refused = stderr(&chain.run(&operator, &too_long));
    assert!(refused.contains("VppWindowTooLong"), "{refused}");
    assert!(refused.contains("longer than a day"), "{refused}");
    assert_eq!(chain.nonce(operator.address()).await, nonce);

    for battery in &batteries {
        let enrolled = stdout(&chain.run(
            &battery.owner,
            &[
                "vpp",
                "enroll",
                "1",
                "--meter",
                &battery.meter.address().to_string(),
                "--kw",
                "5",
            ],
        ));
        assert!(
            enrolled.contains("enrolled in event 1 with 5 kW"),
            "{enrolled}"
        );
    }
    // The target is fully committed: another battery's kilowatt is refused with what is left,
    // and an enrolled battery cannot enrol twice.
    let spare = chain.meter_of_kind(&batteries[0].owner, "battery");
    for (meter, error) in [
        (&spare, "VppTargetExceeded"),
        (&batteries[0].meter, "VppAlreadyEnrolled"),
    ] {
        let refused = stderr(&chain.run(
            &batteries[0].owner,
            &[
                "vpp",
                "enroll",
                "1",
                "--meter",
                &meter.address().to_string(),
                "--kw",
                "1",
            ],
        ));
        assert!(refused.contains(error), "{refused}");
    }

    // What each battery's registers do over the baseline hour and the event hour, in Wh:
    // (baseline import, baseline export, event import, event export).
    let mut plan: Vec<(u64, u64, u64, u64)> = vec![(500, 0, 0, 5_000); 12];
    plan.extend([(0, 0, 0, 5_000), (0, 1_000, 0, 6_000), (200, 0, 100, 5_100)]);
    plan.extend([(0, 0, 0, 2_000), (300, 0, 0, 3_033), (0, 0, 1, 5_000)]);
    plan.extend([(0, 1_000, 0, 1_000), (0, 0, 0, 5_000)]);
    // Delivered = event net export - baseline net export, the baseline counted as zero when it
    // imported on balance; pay = min(delivered, 5 kWh) x 0.30 USD/kWh, rounded down.
    let delivered: Vec<u64> = plan
        .iter()
        .map(|(bi, be, ei, ee)| {
            ee.saturating_sub(*ei)
                .saturating_sub(be.saturating_sub(*bi))
        })
        .collect();
    let mut owed: Vec<u64> = delivered
        .iter()
        .map(|wh| (*wh).min(5_000) * 300_000 / 1_000)
        .collect();
    // The last battery delivers, but its gateway never posts the reading at the end: it cannot
    // prove anything and is paid nothing.
    owed[19] = 0;
    assert_eq!(owed.iter().filter(|pay| **pay == 1_500_000).count(), 15);
    assert_eq!(&owed[15..18], &[600_000, 909_900, 1_499_700]);

    chain.advance_to(baseline_start).await;
    let readings: Vec<_> = batteries
        .iter_mut()
        .map(|battery| battery.read(baseline_start, 0, 0))
        .collect();
    submit(&chain, &readings).await;
    chain.advance_to(start).await;
    let readings: Vec<_> = batteries
        .iter_mut()
        .zip(&plan)
        .map(|(battery, (import, export, _, _))| battery.read(start, *import, *export))
        .collect();
    submit(&chain, &readings).await;
    chain.advance_to(end).await;
    // The last battery's gateway is offline: no reading at the end.
    let readings: Vec<_> = batteries[..19]
        .iter_mut()
        .zip(&plan)
        .map(|(battery, (_, _, import, export))| battery.read(end, *import, *export))
        .collect();
    submit(&chain, &readings).await;

    // Anyone settles, from two intervals after the end.
    let settler = chain.devnet.funded_key(6);
    let early = stderr(&chain.run(&settler, &["vpp", "settle", "1"]));
    assert!(early.contains("VppSettlementNotOpen"), "{early}");
    chain.advance_to(end + 1_800).await;
    let settled = stdout(&chain.run(&settler, &["vpp", "settle", "1"]));
    assert!(settled.contains("19 enrolments settled"), "{settled}");
    assert!(
        settled.contains(&format!(
            "meter {}: no accepted reading at {}",
            batteries[19].meter.address(),
            cogrid::time::rfc3339(end)
        )),
        "{settled}"
    );
    let vpp = chain.vpp(&settler);
    for (battery, pay) in batteries.iter().zip(&owed) {
        let enrolment = vpp
            .enrolmentOf(U256::from(1), battery.meter.address())
            .call()
            .await
            .unwrap();
        assert_eq!(
            enrolment.owed.to::<u64>(),
            *pay,
            "{}",
            battery.meter.address()
        );
    }
    let paid: u64 = owed.iter().sum();
    assert_eq!(paid, 25_509_600);

    // Closing waits for the proof window, then refunds the rest to the operator.
    let early = stderr(&chain.run(&settler, &["vpp", "settle", "1", "--close"]));
    assert!(early.contains("VppClosingTooEarly"), "{early}");
    chain.advance_to(end + 1_800 + 86_400).await;
    let closed = stdout(&chain.run(&settler, &["vpp", "settle", "1", "--close"]));
    assert!(
        closed.contains("25.5096 USD paid in all, 4.4904 USD refunded"),
        "{closed}"
    );
    let event = vpp.eventOf(U256::from(1)).call().await.unwrap();
    assert_eq!(event.paid, U256::from(paid));
    assert_eq!(event.refunded, U256::from(BUDGET - paid));
    assert_eq!(event.escrowed, U256::ZERO);
    assert_eq!(
        chain.wallet_usd(operator.address()).await,
        U256::from(BUDGET - paid)
    );
    let status = stdout(&chain.run_without_key(&["vpp", "status", "1"]));
    assert!(status.contains("event 1: closed"), "{status}");
    assert!(status.contains("committed 100 kW"), "{status}");

    // Each owner claims its five batteries' pay in one transfer; the contract is left empty.
    for index in 2..6 {
        let owner = chain.devnet.funded_key(index);
        let expected: u64 = batteries
            .iter()
            .zip(&owed)
            .filter(|(battery, _)| battery.owner.address() == owner.address())
            .map(|(_, pay)| pay)
            .sum();
        // The battery without a reading at the end was never settled, so it has nothing to claim.
        let settled = batteries[..19]
            .iter()
            .filter(|battery| battery.owner.address() == owner.address())
            .count();
        let claimed = stdout(&chain.run(&owner, &["vpp", "claim"]));
        assert!(
            claimed.contains(&format!("for {settled} enrolments")),
            "{claimed}"
        );
        assert_eq!(
            chain.wallet_usd(owner.address()).await,
            U256::from(expected)
        );
        let again = stdout(&chain.run(&owner, &["vpp", "claim"]));
        assert!(again.contains("nothing to claim"), "{again}");
    }
    assert_eq!(
        chain.wallet_usd(chain.deployment.vpp_dispatch).await,
        U256::ZERO
    );
}

/// The grid operator's and the co-op admin's commands check the sender's role first and name the
/// missing one; with it they island a feeder and set the fees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_operator_and_admin_commands_name_a_missing_role() {
    let chain = Chain::start();
    let operator = chain.devnet.funded_key(1);
    let account = operator.address().to_string();

    for args in [
        &["island", "on", "--feeder", "2"][..],
        &["fee", "set", "--network", "0.04"],
    ] {
        let refused = stderr(&chain.run(&operator, args));
        assert!(
            refused.contains("lacks GRID_OPERATOR_ROLE of the market"),
            "{args:?}: {refused}"
        );
    }
    for (args, role) in [
        (
            &["admin", "grant", "keeper", &account][..],
            "DEFAULT_ADMIN_ROLE",
        ),
        (
            &["admin", "register-participant", &account],
            "REGISTRAR_ROLE",
        ),
    ] {
        let refused = stderr(&chain.run(&operator, args));
        assert!(
            refused.contains(&format!("lacks {role} of the market")),
            "{args:?}: {refused}"
        );
    }
    assert_eq!(chain.nonce(operator.address()).await, 0);

    stdout(&chain.run(
        chain.admin(),
        &["admin", "grant", "grid-operator", &account],
    ));
    let islanded = stdout(&chain.run(&operator, &["island", "on", "--feeder", "2"]));
    assert!(islanded.contains("feeder 2 islanded"), "{islanded}");
    let again = stderr(&chain.run(&operator, &["island", "on", "--feeder", "2"]));
    assert!(again.contains("MarketIslandUnchanged"), "{again}");
    let back = stdout(&chain.run(&operator, &["island", "off", "--feeder", "2"]));
    assert!(back.contains("feeder 2 back on the grid"), "{back}");
    let islands = chain
        .devnet
        .admin
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(chain.deployment.market)
                .event_signature(EnergyMarket::FeederIslanded::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let switches: Vec<(u32, bool)> = islands
        .iter()
        .map(|log| {
            let data = log
                .log_decode::<EnergyMarket::FeederIslanded>()
                .unwrap()
                .inner
                .data;
            (data.feeder, data.islanded)
        })
        .collect();
    assert_eq!(switches, [(2, true), (2, false)]);

    // The operator sets the network fee; the keeper fee needs the admin.
    stdout(&chain.run(&operator, &["fee", "set", "--network", "0.04"]));
    let refused = stderr(&chain.run(&operator, &["fee", "set", "--keeper-bps", "50"]));
    assert!(
        refused.contains("lacks DEFAULT_ADMIN_ROLE of the market"),
        "{refused}"
    );
    stdout(&chain.run(chain.admin(), &["fee", "set", "--keeper-bps", "50"]));
    let fees = stdout(&chain.run_without_key(&["fee", "show"]));
    assert!(
        fees.contains(&format!(
            "network fee 0.04 USD/kWh bought, paid to {account}"
        )),
        "{fees}"
    );
    assert!(
        fees.contains("keeper fee 0.5 % of each sale's value"),
        "{fees}"
    );

    // Granting the oracle role goes to the OracleHub; a keeper and a second grant are reported.
    let reporter = PrivateKeySigner::random().address().to_string();
    let granted = stdout(&chain.run(chain.admin(), &["admin", "grant", "oracle", &reporter]));
    assert!(
        granted.contains("now holds REPORTER_ROLE of the OracleHub"),
        "{granted}"
    );
    let again = stdout(&chain.run(chain.admin(), &["admin", "grant", "oracle", &reporter]));
    assert!(again.contains("already holds REPORTER_ROLE"), "{again}");
    stdout(&chain.run(chain.admin(), &["admin", "grant", "keeper", &reporter]));

    // Deactivating finds out whether the address is a meter or a participant.
    let owner = chain.prosumer(3, 0).await;
    let meter = chain.meter_of_kind(&owner, "battery");
    let meter_account = meter.address().to_string();
    let owner_account = owner.address().to_string();
    let deactivated = stdout(&chain.run(chain.admin(), &["admin", "deactivate", &meter_account]));
    assert!(
        deactivated.contains(&format!("meter {meter_account} deactivated")),
        "{deactivated}"
    );
    let deactivated = stdout(&chain.run(chain.admin(), &["admin", "deactivate", &owner_account]));
    assert!(
        deactivated.contains(&format!("participant {owner_account} deactivated")),
        "{deactivated}"
    );
    let stranger = PrivateKeySigner::random().address().to_string();
    let refused = stderr(&chain.run(chain.admin(), &["admin", "deactivate", &stranger]));
    assert!(
        refused.contains("neither a registered meter nor an active participant"),
        "{refused}"
    );
}

/// An event exported as OpenADR 3 JSON and imported again (after the first is cancelled, freeing
/// its feeder's window) is the same event; a file with a payload cogrid does not understand, or a
/// malformed duration, is refused naming the file and what is wrong, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_round_trips_through_openadr_3() {
    let chain = Chain::start();
    let operator = chain.devnet.funded_key(1);
    let account = operator.address().to_string();
    stdout(&chain.run(
        chain.admin(),
        &["admin", "grant", "grid-operator", &account],
    ));
    chain
        .stablecoin()
        .mint(operator.address(), U256::from(100_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let start = (chain.latest_time().await + 3_600).div_ceil(900) * 900;
    stdout(&chain.run(
        &operator,
        &[
            "vpp",
            "call",
            "--feeder",
            "7",
            "--start",
            &start.to_string(),
            "--duration",
            "PT1H30M",
            "--kw",
            "42.5",
            "--price",
            "0.275",
            "--budget",
            "20",
            "--priority",
            "2",
            "--program",
            "winter-peak",
        ],
    ));
    let exported = stdout(&chain.run_without_key(&["vpp", "openadr-export", "1"]));
    let json: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(json["programID"], "winter-peak");
    assert_eq!(json["eventName"], "cogrid-vpp-1");
    assert_eq!(json["intervalPeriod"]["duration"], "PT1H30M");
    assert_eq!(
        json["intervalPeriod"]["start"],
        cogrid::time::rfc3339(start)
    );
    assert_eq!(json["targets"][0]["values"][0], "7");
    let file = chain.dir.path().join("event.json");
    std::fs::write(&file, &exported).unwrap();

    stdout(&chain.run(&operator, &["vpp", "cancel", "1"]));
    let file_arg = file.to_str().unwrap();
    let imported = stdout(&chain.run(
        &operator,
        &["vpp", "openadr-import", file_arg, "--budget", "20"],
    ));
    assert!(
        imported.contains("called event 2 on feeder 7"),
        "{imported}"
    );
    let vpp = chain.vpp(&operator);
    let (first, second) = (
        vpp.eventOf(U256::from(1)).call().await.unwrap(),
        vpp.eventOf(U256::from(2)).call().await.unwrap(),
    );
    assert_eq!(
        (
            second.feeder,
            second.start,
            second.end,
            second.targetW,
            second.pricePerKwh,
            second.priority,
            second.budget
        ),
        (
            first.feeder,
            first.start,
            first.end,
            first.targetW,
            first.pricePerKwh,
            first.priority,
            first.budget
        )
    );
    let again = stdout(&chain.run_without_key(&["vpp", "openadr-export", "2"]));
    let mut again: serde_json::Value = serde_json::from_str(&again).unwrap();
    again["eventName"] = json["eventName"].clone();
    assert_eq!(again, json, "the same event, but for its name");

    let nonce = chain.nonce(operator.address()).await;
    let mut unknown = json.clone();
    unknown["intervals"][0]["payloads"][0]["type"] = "EXPORT_CAPACITY_LIMIT".into();
    let mut malformed = json.clone();
    malformed["intervalPeriod"]["duration"] = "PT1X".into();
    for (bad, expected) in [(unknown, "EXPORT_CAPACITY_LIMIT"), (malformed, "PT1X")] {
        std::fs::write(&file, bad.to_string()).unwrap();
        let refused = stderr(&chain.run(&operator, &["vpp", "openadr-import", file_arg]));
        assert!(
            refused.contains("event.json is not an OpenADR 3 event"),
            "{refused}"
        );
        assert!(refused.contains(expected), "{refused}");
    }
    assert_eq!(chain.nonce(operator.address()).await, nonce);
}

/// `cogrid simulate` runs 20 homes for 3 hours on its own anvil, with the keeper, the meter signer
/// and a VPP event in the last hour, and writes a report whose conservation checks all pass.
#[test]
fn simulate_writes_a_report_whose_conservation_checks_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let output = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args([
            "simulate", "--homes", "20", "--hours", "3", "--seed", "7", "--out",
        ])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let printed = stdout(&output);
    assert!(
        printed.contains("Conservation checks: **PASS**"),
        "{printed}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], cogrid_sim::report::SCHEMA);
    assert_eq!(report["checks_passed"], true);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 10, "{checks:?}");
    assert!(
        checks.iter().all(|check| check["passed"] == true),
        "{checks:?}"
    );
    for key in [
        "run",
        "energy",
        "prices",
        "bills",
        "carbon",
        "vpp",
        "oracle",
        "gas",
        "throughput",
        "cost",
        "timings",
        "assumptions",
        "attribution",
    ] {
        assert!(!report[key].is_null(), "report.json has `{key}`");
    }
    // Three hours: the reporters relayed the four feeds each hour, the day's intensity each time.
    let oracle = &report["oracle"];
    assert!(oracle["rounds"].as_u64().unwrap() >= 12, "{oracle}");
    assert_eq!(oracle["failed_polls"], 0, "{oracle}");
    assert_eq!(
        oracle["carbon_mismatches"],
        serde_json::json!([]),
        "{oracle}"
    );
    let svg = std::fs::read_to_string(out.join("chart.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..40]
    );
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("## VPP"), "{markdown}");
}

/// A bad flag or an unknown day is refused before anything starts, saying what is accepted.
#[test]
fn simulate_refuses_a_bad_interval_and_an_unknown_day() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cogrid"))
            .arg("simulate")
            .args(args)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let refused = stderr(&run(&["--interval", "700"]));
    assert!(refused.contains("divides an hour"), "{refused}");
    let refused = stderr(&run(&["--homes", "0"]));
    assert!(refused.contains("--homes"), "{refused}");
    let refused = stderr(&run(&["--day", "rainy-tuesday"]));
    assert!(refused.contains("sunny-spring"), "{refused}");
    assert!(refused.contains("cloudy-winter"), "{refused}");
}

/// `cogrid simulate --rpc-url` runs on a node the user started, with the contracts `cogrid deploy`
/// put there, and names what is missing: a node that does not answer, or contracts that are not
/// on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_on_a_given_node_runs_there_or_names_what_is_missing() {
    let chain = Chain::start();
    let simulate = ["simulate", "--homes", "4", "--hours", "2", "--out", "sim"];

    let key = PrivateKeySigner::random();
    let refused = stderr(&cogrid(
        "http://127.0.0.1:9",
        chain.dir.path(),
        Some(&key),
        &simulate,
    ));
    assert!(
        refused.contains("RPC http://127.0.0.1:9 is unreachable"),
        "{refused}"
    );

    // Another anvil, the same chain id, none of the deployment file's contracts.
    let bare = Devnet::start().unwrap();
    let refused = stderr(&cogrid(
        &bare.rpc_url(),
        chain.dir.path(),
        Some(&bare.admin_key),
        &simulate,
    ));
    assert!(refused.contains("no contracts on"), "{refused}");
    assert!(refused.contains("cogrid deploy"), "{refused}");

    let ran = stdout(&chain.run(chain.admin(), &simulate));
    assert!(ran.contains("Conservation checks: **PASS**"), "{ran}");
}

/// A running `cogrid devnet`: interrupted (then killed, if it will not stop) when dropped, so a
/// failing test leaves neither it nor its anvil behind.
struct DevnetProcess {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl DevnetProcess {
    /// Sends SIGINT, as Ctrl-C does.
    fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Its exit status, once it exits within `limit`.
    fn wait(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for DevnetProcess {
    fn drop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            self.interrupt();
            if self.wait(std::time::Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// `cogrid devnet` prints an RPC URL and a prosumer's keystore that other `cogrid` commands use
/// from the same directory (its deployment file found), the prosumer's minted stablecoin in its
/// wallet; the keeper settles intervals from the meters' posted readings; SIGINT stops it all,
/// anvil included, with success.
#[test]
fn devnet_serves_a_funded_prosumer_settles_intervals_and_stops_on_ctrl_c() {
    use std::io::{BufRead, Read};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args([
            "devnet", "--homes", "3", "--speed", "900", "--port", "0", "--out", "out",
        ])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, printed) = std::sync::mpsc::channel();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while out.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = lines.send(std::mem::take(&mut line));
        }
    });
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let collected = stderr.clone();
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(read @ 1..) = err.read(&mut buffer) {
            collected
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    let mut devnet = DevnetProcess { child, stderr };

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = String::new();
    while !banner.contains("Ctrl-C stops the devnet") {
        let left = deadline.saturating_duration_since(Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => banner.push_str(&line),
            Err(_) => panic!(
                "no banner within 60 s:\n{banner}\nstderr:\n{}",
                devnet.stderr()
            ),
        }
    }
    let url = row(&banner, "RPC URL")[0].clone();
    let keystore = row(&banner, "keystore")[0].clone();
    let password = row(&banner, "password")[0].clone();
    let meter = row(&banner, "meter")[0].clone();
    assert!(dir.path().join(&keystore).is_file(), "{banner}");

    let balance = Command::new(env!("CARGO_BIN_EXE_cogrid"))
        .args(["--rpc-url", &url, "--keystore", &keystore, "balance"])
        .current_dir(dir.path())
        .env("COGRID_PASSWORD", &password)
        .output()
        .unwrap();
    let balance = stdout(&balance);
    assert!(balance.contains("active"), "{balance}");
    assert_eq!(
        row(&balance, "stablecoin")[..2],
        [units::format(100_000_000, Unit::Usd), "USD".to_owned()],
        "{balance}"
    );

    // The keeper settles an interval, and the prosumer's meter's readings are in.
    let deployment = Deployment::load(&dir.path().join("deployments/31337.json")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let provider = alloy::providers::ProviderBuilder::new().connect_http(url.parse().unwrap());
    let settled = alloy::rpc::types::Filter::new()
        .address(deployment.market)
        .event_signature(EnergyMarket::IntervalSettled::SIGNATURE_HASH)
        .from_block(deployment.deployed_at_block);
    let deadline = Instant::now() + Duration::from_secs(60);
    while runtime
        .block_on(provider.get_logs(&settled))
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no interval settled within 60 s:\n{}",
            devnet.stderr()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let shown = stdout(&cogrid(&url, dir.path(), None, &["meter", "show", &meter]));
    assert_eq!(row(&shown, "status"), ["active"], "{shown}");
    assert_ne!(row(&shown, "seq"), ["0"], "{shown}");

    devnet.interrupt();
    let status = devnet
        .wait(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("still running 30 s after SIGINT:\n{}", devnet.stderr()));
    let said = devnet.stderr();
    assert!(status.success(), "{status}:\n{said}");
    assert!(said.contains("devnet stopped"), "{said}");
    let port = url.rsplit(':').next().unwrap().trim_end_matches('/');
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "anvil still listens at {url}"
    );
}
