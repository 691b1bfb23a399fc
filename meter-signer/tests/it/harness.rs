//! A devnet with the suite deployed and a registered meter, and a meter-signer process for it;
//! and an in-process signer for the tests that need no chain.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::{Eip712Domain, SolEvent},
};
use cogrid_bindings::{EnergyMarket, IMeterRegistry};
use cogrid_chain::{
    Deployment, Devnet, SuiteParams, connect_lazily, create_keystore, deploy_suite, load_keystore,
    reading_domain,
};
use cogrid_meter_signer::{
    config::DeliveryConfig,
    delivery::{ChainExpectations, Delivery},
    metrics::Metrics,
    outbox::{Outbox, OutboxCounts},
    pipeline::Pipeline,
    profile::{Accruals, HomeProfile, Shapes, SimulatedMeter},
    sampler::Sample,
    source::SampleMessage,
};
use tokio::{
    sync::{Notify, mpsc},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

pub(crate) const PASSWORD_ENV: &str = "COGRID_TEST_METER_PASSWORD";
pub(crate) const INTENSITY: u16 = 400;
pub(crate) const HOME: HomeProfile = HomeProfile {
    pv_kwp: 5.0,
    load_factor: 1.2,
    shift_half_hours: 1,
    start_day: 160,
};

pub(crate) struct Neighbourhood {
    pub(crate) devnet: Devnet,
    pub(crate) deployment: Deployment,
    pub(crate) meter: Address,
    pub(crate) owner: Address,
    pub(crate) dir: tempfile::TempDir,
    /// The simulated day: from `start` to `start + 86_400`.
    pub(crate) start: u64,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub(crate) fn profile_path() -> PathBuf {
    workspace().join("data/ausgrid-customer12/data_2011-2012.csv")
}

impl Neighbourhood {
    /// Starts anvil (a block every second, so confirmations accrue), deploys, and registers one
    /// meter whose key lives in a keystore.
    pub(crate) async fn start() -> Self {
        let devnet = Devnet::start_with_args(&["--block-time", "1"])
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
        // SAFETY of the environment: every test sets the same value.
        unsafe { std::env::set_var(PASSWORD_ENV, "meter-password") };
        let meter_key = create_keystore(&dir.path().join("meter.json"), "meter-password").unwrap();
        let owner = devnet.funded_key(1).address();
        let registry = EnergyMarket::new(deployment.market, devnet.admin.clone());
        registry
            .registerParticipant(owner)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        registry
            .registerMeter(meter_key.address(), owner, 7, 1, 5_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let start = (now - 86_400 - 3_600) / 1_800 * 1_800;
        Self {
            devnet,
            deployment,
            meter: meter_key.address(),
            owner,
            dir,
            start,
        }
    }

    /// Writes a meter-signer config replaying the day at `speed`; relays with funded key 2.
    pub(crate) fn write_config(&self, rpc_url: &str, speed: f64, http_port: u16) -> PathBuf {
        self.write_config_with(rpc_url, speed, http_port, 2)
    }

    /// Like [`Self::write_config`] with a given confirmation depth.
    pub(crate) fn write_config_with(
        &self,
        rpc_url: &str,
        speed: f64,
        http_port: u16,
        confirmations: u64,
    ) -> PathBuf {
        let relayer = self.devnet.funded_key(2);
        let relayer_path = self.dir.path().join("relayer.json");
        if !relayer_path.exists() {
            PrivateKeySigner::encrypt_keystore(
                self.dir.path(),
                &mut rand::thread_rng(),
                relayer.to_bytes(),
                "meter-password",
                Some("relayer.json"),
            )
            .unwrap();
        }
        let config = format!(
            r#"
[chain]
rpc_url = "{rpc_url}"
chain_id = 31337
registry = "{registry}"
confirmations = {confirmations}

[relayer]
keystore = "relayer.json"
password_env = "{PASSWORD_ENV}"

[outbox]
path = "outbox.db"

[delivery]
batch_size = 20
poll_interval = "500ms"
initial_backoff = "200ms"
max_backoff = "1s"
receipt_timeout = "10s"

[http]
listen = "127.0.0.1:{http_port}"

[[meters]]
keystore = "meter.json"
password_env = "{PASSWORD_ENV}"
[meters.source]
kind = "simulated"
profile = "{profile}"
pv_kwp = {pv_kwp}
load_factor = {load_factor}
shift_half_hours = {shift}
start_day = {start_day}
start = {start}
end = {end}
speed = {speed}
sample_seconds = 60
"#,
            registry = self.deployment.market,
            profile = profile_path().display(),
            pv_kwp = HOME.pv_kwp,
            load_factor = HOME.load_factor,
            shift = HOME.shift_half_hours,
            start_day = HOME.start_day,
            start = self.start,
            end = self.start + 86_400,
        );
        let path = self.dir.path().join("meter-signer.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    pub(crate) fn spawn_signer(&self, config: &Path, exit_when_idle: bool) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_meter-signer"));
        command
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        if exit_when_idle {
            command.arg("--exit-when-idle");
        }
        command.spawn().unwrap()
    }

    /// Takes a snapshot of the chain to go back to, as a reorg would.
    pub(crate) async fn snapshot(&self) -> U256 {
        self.devnet
            .admin
            .raw_request("evm_snapshot".into(), ())
            .await
            .unwrap()
    }

    /// Takes the chain back to `snapshot`: every block since is gone, as in a reorg.
    pub(crate) async fn revert_to(&self, snapshot: U256) {
        let reverted: bool = self
            .devnet
            .admin
            .raw_request("evm_revert".into(), (snapshot,))
            .await
            .unwrap();
        assert!(reverted, "evm_revert to {snapshot}");
    }

    pub(crate) fn registry(&self) -> EnergyMarket::EnergyMarketInstance<DynProvider> {
        EnergyMarket::new(self.deployment.market, self.devnet.admin.clone())
    }

    pub(crate) async fn meter_state(&self) -> IMeterRegistry::MeterState {
        self.registry().meterState(self.meter).call().await.unwrap()
    }

    /// What the chain must hold after the whole day: every boundary's reading counted once.
    pub(crate) fn expected_day(&self) -> ExpectedDay {
        let shapes = Shapes::from_csv(&profile_path()).unwrap();
        let meter = SimulatedMeter::new(&shapes, HOME, self.start, (0, 0));
        let boundaries: Vec<u64> = (0..=96).map(|index| self.start + index * 900).collect();
        ExpectedDay {
            readings: boundaries.len() as u64,
            final_registers: meter.registers_at(self.start + 86_400),
            accruals: meter.expected_residuals(&boundaries, INTENSITY),
        }
    }

    /// Settles the meter's pending volumes as residuals (no keeper trades them: the test waits
    /// out the acceptance window, after which anyone may) and returns the owner's (credits,
    /// carbon) vault balances.
    pub(crate) async fn finalize_and_balances(&self) -> (U256, U256) {
        self.devnet
            .advance_time(SuiteParams::default().acceptance_window + 900)
            .await
            .unwrap();
        self.registry()
            .finalize(vec![self.meter])
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let balances = self.registry().balancesOf(self.owner).call().await.unwrap();
        (balances.creditsWh, balances.carbonGrams)
    }

    /// Checks the chain against the expected day and the owner's settled balances, and that the
    /// outbox ended empty with nothing refused.
    pub(crate) async fn assert_day_counted_once(&self) {
        let expected = self.expected_day();
        let accepted_logs = self
            .devnet
            .admin
            .get_logs(
                &Filter::new()
                    .address(self.deployment.market)
                    .event_signature(EnergyMarket::ReadingAccepted::SIGNATURE_HASH)
                    .from_block(0),
            )
            .await
            .unwrap();
        let accepted_seqs: Vec<u64> = accepted_logs
            .iter()
            .map(|log| {
                log.log_decode::<EnergyMarket::ReadingAccepted>()
                    .unwrap()
                    .inner
                    .data
            })
            .filter(|event| event.meter == self.meter)
            .map(|event| u64::from(event.seq))
            .collect();
        assert_eq!(
            accepted_seqs,
            (1..=expected.readings).collect::<Vec<_>>(),
            "every reading accepted exactly once, in order"
        );
        let outbox = Outbox::open(&self.dir.path().join("outbox.db"))
            .await
            .unwrap();
        assert_eq!(
            outbox.counts().await.unwrap(),
            OutboxCounts::default(),
            "the outbox ends empty, with no reading refused"
        );
        let state = self.meter_state().await;
        assert_eq!(u64::from(state.seq), expected.readings);
        assert_eq!(state.lastIntervalEnd.to::<u64>(), self.start + 86_400);
        assert_eq!(
            (state.importWh.to::<u64>(), state.exportWh.to::<u64>()),
            expected.final_registers
        );
        assert!(
            expected.accruals.credits_wh > 3_000,
            "a sunny day exports several kWh: {expected:?}"
        );
        let (credits, carbon) = self.finalize_and_balances().await;
        assert_eq!(credits, U256::from(expected.accruals.credits_wh));
        assert_eq!(carbon, U256::from(expected.accruals.carbon_grams));
    }
}

/// The meter signer's pipeline and delivery in this process, for the hood's meter, relaying
/// with funded key 2 and waiting for `confirmations`.
pub(crate) struct InProcessDelivery {
    pub(crate) meter: PrivateKeySigner,
    pub(crate) outbox: Outbox,
    pub(crate) pipeline: Pipeline,
    pub(crate) delivery: Delivery,
    pub(crate) metrics: Arc<Metrics>,
}

impl InProcessDelivery {
    pub(crate) async fn start(
        hood: &Neighbourhood,
        config: DeliveryConfig,
        confirmations: u64,
    ) -> Self {
        let meter = load_keystore(&hood.dir.path().join("meter.json"), "meter-password").unwrap();
        let outbox = Outbox::open(&hood.dir.path().join("outbox.db"))
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let mut pipeline = Pipeline::new(
            outbox.clone(),
            reading_domain(hood.deployment.chain_id, hood.deployment.market),
            metrics.clone(),
            Arc::new(Notify::new()),
        );
        pipeline.add_meter(meter.clone(), 900, None);
        let provider = connect_lazily(&hood.devnet.rpc_url(), hood.devnet.funded_key(2)).unwrap();
        let delivery = Delivery::new(
            provider,
            hood.deployment.market,
            outbox.clone(),
            config,
            confirmations,
            metrics.clone(),
            ChainExpectations {
                rpc_url: hood.devnet.rpc_url(),
                chain_id: hood.deployment.chain_id,
                interval_seconds: 900,
                meters: vec![meter.address()],
            },
        );
        Self {
            meter,
            outbox,
            pipeline,
            delivery,
            metrics,
        }
    }

    /// Signs the meter's reading of `registers` at `boundary` into the outbox.
    pub(crate) async fn sign(&mut self, boundary: u64, registers: (u64, u64)) {
        let sample = Sample {
            at: boundary,
            import_wh: registers.0,
            export_wh: registers.1,
        };
        let signed = self
            .pipeline
            .accept(self.meter.address(), sample)
            .await
            .unwrap();
        assert!(signed.is_some(), "a reading at {boundary}");
    }
}

/// The latest interval boundary at least an interval ago.
pub(crate) fn past_boundary() -> u64 {
    let now = cogrid_meter_signer::sampler::unix_now();
    now - now % 900 - 900
}

#[derive(Debug)]
pub(crate) struct ExpectedDay {
    pub(crate) readings: u64,
    pub(crate) final_registers: (u64, u64),
    pub(crate) accruals: Accruals,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `child` to exit by itself within `limit`.
pub(crate) async fn wait_for_exit(child: &mut Child, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "meter-signer failed: {status}");
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("meter-signer did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A pipeline signing for one new meter into a fresh outbox, wired as the daemon wires it: for the
/// tests of the sources and the HTTP endpoint, which need no chain.
pub(crate) struct InProcessSigner {
    pub(crate) outbox: Outbox,
    pub(crate) meter: PrivateKeySigner,
    pub(crate) domain: Eip712Domain,
    pub(crate) metrics: Arc<Metrics>,
    /// Where samples go; the pipeline ends when every clone of it is dropped, or on `cancel`.
    pub(crate) samples: mpsc::Sender<SampleMessage>,
    pub(crate) pipeline: JoinHandle<()>,
    pub(crate) dir: tempfile::TempDir,
}

impl InProcessSigner {
    pub(crate) async fn start(cancel: CancellationToken) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("outbox.db")).await.unwrap();
        let meter = PrivateKeySigner::random();
        let domain = reading_domain(31_337, Address::repeat_byte(0x5f));
        let metrics = Arc::new(Metrics::default());
        let mut pipeline = Pipeline::new(
            outbox.clone(),
            domain.clone(),
            metrics.clone(),
            Arc::new(Notify::new()),
        );
        pipeline.add_meter(meter.clone(), 900, None);
        let (samples, samples_rx) = mpsc::channel(64);
        let pipeline = tokio::spawn(pipeline.run(samples_rx, cancel));
        Self {
            outbox,
            meter,
            domain,
            metrics,
            samples,
            pipeline,
            dir,
        }
    }
}
