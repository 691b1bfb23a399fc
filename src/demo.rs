//! `cogrid demo`: the metering path end to end on a local L2 devnet. A few homes shaped from a
//! real Sydney household's year (Ausgrid customer 12) get meter keys; a meter signer replays
//! yesterday for them, signing a reading at every 15-minute boundary into its outbox and posting
//! batches to the meter registry (the EnergyMarket contract). No keeper trades in this demo, so
//! it waits out the acceptance window on the devnet's clock and settles every home's volumes as
//! residuals (`finalize`); the report compares the credits and carbon in each owner's vault with
//! what the meters measured.

use std::{path::Path, time::Duration};

use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use cogrid_bindings::EnergyMarket;
use cogrid_chain::{Devnet, KeyConfig, SuiteParams, create_keystore, deploy_suite};
use cogrid_meter_signer::{
    config::{
        ChainConfig, Config, DeliveryConfig, HttpConfig, MeterConfig, OutboxConfig,
        SimulatedSource, SourceConfig,
    },
    daemon::{RunOptions, run as run_signer},
    profile::{HomeProfile, Shapes, SimulatedMeter},
};
use eyre::WrapErr;

/// The demo's keystores are throwaway: their password lives in this variable for the run.
const PASSWORD_ENV: &str = "COGRID_DEMO_PASSWORD";
const CARBON_INTENSITY: u16 = 400;
const PROFILE: &str = "data/ausgrid-customer12/data_2011-2012.csv";

struct Home {
    name: &'static str,
    kinds: u8,
    profile: HomeProfile,
}

fn homes() -> Vec<Home> {
    let home = |name, kinds, pv_kwp, load_factor, shift_half_hours| Home {
        name,
        kinds,
        profile: HomeProfile {
            pv_kwp,
            load_factor,
            shift_half_hours,
            start_day: 170,
        },
    };
    vec![
        home("PV 5 kWp", 1, 5.0, 1.0, 0),
        home("PV 3 kWp + battery", 1 | 2, 3.0, 0.9, 1),
        home("PV 4 kWp + EV", 1 | 4, 4.0, 1.6, 2),
        home("consumer only", 0, 0.0, 0.8, 3),
        home("critical load (medical)", 8, 0.0, 1.1, 1),
    ]
}

/// Runs the demo, writing keys, config and the outbox under `out`.
pub async fn run(out: &Path) -> eyre::Result<()> {
    let root = cogrid_chain::workspace_root();
    if out.exists() {
        std::fs::remove_dir_all(out).wrap_err_with(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var(PASSWORD_ENV, "demo") };

    println!(
        "starting a local L2 devnet (anvil --network optimism) and deploying the contracts..."
    );
    let devnet = Devnet::start()?;
    let admin = devnet.admin_key.address();
    let params = SuiteParams {
        carbon_intensity: CARBON_INTENSITY,
        ..SuiteParams::default()
    };
    let deployment = deploy_suite(&devnet.admin, admin, params).await?;
    println!(
        "  EnergyMarket  {}\n  EnergyCredit  {}\n  CarbonCredit  {}",
        deployment.market, deployment.energy_credit, deployment.carbon_credit
    );
    let registry = EnergyMarket::new(deployment.market, devnet.admin.clone());

    let homes = homes();
    let mut meters = Vec::new();
    for (index, home) in homes.iter().enumerate() {
        let key = create_keystore(&out.join(format!("keys/meter-{index}.json")), "demo")?;
        let owner = PrivateKeySigner::random().address();
        registry
            .registerParticipant(owner)
            .send()
            .await?
            .get_receipt()
            .await?;
        registry
            .registerMeter(key.address(), owner, 1, home.kinds, 10_000)
            .send()
            .await?
            .get_receipt()
            .await?;
        meters.push((key.address(), owner));
    }
    println!(
        "registered {} homes, each with its own meter key (keystores in {}/keys)",
        homes.len(),
        out.display()
    );

    let relayer = devnet.funded_key(1);
    PrivateKeySigner::encrypt_keystore(
        out.join("keys"),
        &mut rand::thread_rng(),
        relayer.to_bytes(),
        "demo",
        Some("relayer.json"),
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let start = (now - 86_400 - 1_800) / 1_800 * 1_800;
    let end = start + 86_400;
    let key = |file: String| KeyConfig {
        keystore: file.into(),
        password_env: PASSWORD_ENV.into(),
    };
    let config = Config {
        chain: ChainConfig {
            rpc_url: devnet.rpc_url(),
            chain_id: deployment.chain_id,
            registry: deployment.market,
            confirmations: 1,
            interval_seconds: 900,
        },
        relayer: Some(key("keys/relayer.json".into())),
        outbox: OutboxConfig {
            path: "outbox.db".into(),
        },
        delivery: DeliveryConfig {
            batch_size: 100,
            poll_interval: Duration::from_millis(200),
            ..DeliveryConfig::default()
        },
        http: HttpConfig {
            listen: "127.0.0.1:0".parse()?,
            ..HttpConfig::default()
        },
        meters: homes
            .iter()
            .enumerate()
            .map(|(index, home)| MeterConfig {
                key: key(format!("keys/meter-{index}.json")),
                source: SourceConfig::Simulated(SimulatedSource {
                    profile: root.join(PROFILE),
                    pv_kwp: home.profile.pv_kwp,
                    load_factor: home.profile.load_factor,
                    shift_half_hours: home.profile.shift_half_hours,
                    start_day: home.profile.start_day,
                    start,
                    end: Some(end),
                    speed: 0.0,
                    sample_seconds: 60,
                }),
            })
            .collect(),
    };
    println!(
        "meter signer: replaying the last day (96 intervals) for every home, signing each reading..."
    );
    let started = std::time::Instant::now();
    run_signer(
        config,
        out,
        RunOptions {
            exit_when_idle: true,
        },
    )
    .await?;
    println!(
        "  all readings signed, stored, sent and final in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    devnet
        .advance_time(params.acceptance_window + u64::from(params.interval_seconds))
        .await?;
    let finalize = registry
        .finalize(meters.iter().map(|(meter, _)| *meter).collect())
        .send()
        .await?
        .get_receipt()
        .await?;
    let shapes = Shapes::from_csv(&root.join(PROFILE))?;

    println!(
        "\nWhat the chain attested and credited (finalize tx gas {}):\n",
        finalize.gas_used
    );
    println!(
        "| home | readings | imported kWh | exported kWh | energy credits (kWh) | carbon (g CO2e) | matches meter |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    let (mut all_ok, mut total_credits, mut total_carbon) = (true, U256::ZERO, U256::ZERO);
    for (home, (meter, owner)) in homes.iter().zip(&meters) {
        let state = registry.meterState(*meter).call().await?;
        let balances = registry.balancesOf(*owner).call().await?;
        let (minted_credits, minted_carbon) = (balances.creditsWh, balances.carbonGrams);
        let model = SimulatedMeter::new(&shapes, home.profile, start, (0, 0));
        let boundaries: Vec<u64> = (0..=96).map(|index| start + index * 900).collect();
        let expected = model.expected_residuals(&boundaries, CARBON_INTENSITY);
        let matches = state.seq == 97
            && minted_credits == U256::from(expected.credits_wh)
            && minted_carbon == U256::from(expected.carbon_grams)
            && state.exportWh.to::<u64>() == model.registers_at(end).1;
        all_ok &= matches;
        total_credits += minted_credits;
        total_carbon += minted_carbon;
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
            home.name,
            state.seq,
            state.importWh.to::<u64>() as f64 / 1_000.0,
            state.exportWh.to::<u64>() as f64 / 1_000.0,
            minted_credits.to::<u64>() as f64 / 1_000.0,
            minted_carbon,
            if matches { "yes" } else { "NO" },
        );
    }
    println!(
        "\ntotal: {:.3} kWh of energy credits, {} g CO2e avoided (at {CARBON_INTENSITY} g/kWh)",
        total_credits.to::<u64>() as f64 / 1_000.0,
        total_carbon
    );
    println!(
        "Load and PV shapes: Ausgrid Solar home electricity data; extraction by Pierre Haessig (CC BY 4.0)."
    );
    eyre::ensure!(
        all_ok,
        "what the chain minted differs from what the meters measured"
    );
    Ok(())
}
