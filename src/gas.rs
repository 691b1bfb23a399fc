//! `cogrid bench-gas`: gas of real transactions on a local devnet, read from their receipts, so
//! the figures include the 21,000 intrinsic gas and calldata. anvil is deterministic, so the
//! figures repeat exactly.

use alloy::signers::local::PrivateKeySigner;
use cogrid_bindings::{EnergyMarket, IMeterRegistry};
use cogrid_chain::{Devnet, Reading, SuiteParams, deploy_suite, reading_domain, sign_reading};
use cogrid_meter_signer::delivery::to_contract_reading;

/// Readings in the batch measurement.
const BATCH: usize = 100;

/// Measured gas figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasFigures {
    /// Gas of a 100-reading `submitReadings` divided by 100.
    pub reading_in_batch_of_100: u64,
    /// Gas of a transaction carrying one reading.
    pub reading_single: u64,
}

/// Starts a devnet, measures, prints one `gas <operation> <value>` line per figure.
pub async fn run() -> eyre::Result<()> {
    let figures = measure().await?;
    println!(
        "gas reading_in_batch_of_100 {}",
        figures.reading_in_batch_of_100
    );
    println!("gas reading_single {}", figures.reading_single);
    Ok(())
}

/// Registers 101 meters that already have a baseline reading (so every measured reading updates
/// a warm-value slot, as in steady operation), then sends a batch of 100 and a single reading.
pub async fn measure() -> eyre::Result<GasFigures> {
    let devnet = Devnet::start()?;
    let admin = devnet.admin_key.address();
    let deployment = deploy_suite(&devnet.admin, admin, SuiteParams::default()).await?;
    let registry = EnergyMarket::new(deployment.market, devnet.admin.clone());
    let domain = reading_domain(deployment.chain_id, deployment.market);
    registry
        .registerParticipant(admin)
        .send()
        .await?
        .get_receipt()
        .await?;
    let meters: Vec<PrivateKeySigner> = (0..=BATCH).map(|_| PrivateKeySigner::random()).collect();
    for meter in &meters {
        registry
            .registerMeter(meter.address(), admin, 1, 1, 10_000)
            .send()
            .await?
            .get_receipt()
            .await?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let second = now - now % 900;
    let first = second - 900;
    let sign = |meter: &PrivateKeySigner,
                seq: u32,
                end: u64,
                wh: u64|
     -> eyre::Result<IMeterRegistry::Reading> {
        let reading = Reading::new(meter.address(), seq, end, 1_000_000 + wh, 500_000 + wh)?;
        Ok(to_contract_reading(&sign_reading(
            meter, &domain, &reading,
        )?))
    };
    let baselines = meters
        .iter()
        .map(|meter| sign(meter, 1, first, 0))
        .collect::<eyre::Result<Vec<_>>>()?;
    registry
        .submitReadings(baselines)
        .send()
        .await?
        .get_receipt()
        .await?;

    let batch = meters[..BATCH]
        .iter()
        .map(|meter| sign(meter, 2, second, 250))
        .collect::<eyre::Result<Vec<_>>>()?;
    let batch_receipt = registry
        .submitReadings(batch)
        .send()
        .await?
        .get_receipt()
        .await?;
    let single = vec![sign(&meters[BATCH], 2, second, 250)?];
    let single_receipt = registry
        .submitReadings(single)
        .send()
        .await?
        .get_receipt()
        .await?;
    for (receipt, expected) in [(&batch_receipt, BATCH), (&single_receipt, 1)] {
        let accepted = receipt
            .logs()
            .iter()
            .filter(|log| log.log_decode::<EnergyMarket::ReadingAccepted>().is_ok())
            .count();
        eyre::ensure!(
            accepted == expected,
            "expected {expected} readings accepted, got {accepted}"
        );
    }
    Ok(GasFigures {
        reading_in_batch_of_100: batch_receipt.gas_used / BATCH as u64,
        reading_single: single_receipt.gas_used,
    })
}
