use std::time::Duration;

use alloy::primitives::Address;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::SampleMessage;
use crate::{config::SimulatedSource, profile::SimulatedMeter, sampler::Sample};

/// Samples a simulated meter every `sample_seconds` of simulated time, from the boundary after
/// `resume_after` (the last one already signed) or the configured start, until the configured end
/// or cancellation. At `speed` simulated seconds per wall second; speed 0 goes as fast as the
/// pipeline takes samples.
pub async fn run_simulated(
    meter: Address,
    simulated: SimulatedMeter,
    config: SimulatedSource,
    resume_after: Option<u64>,
    samples: mpsc::Sender<SampleMessage>,
    cancel: CancellationToken,
) {
    let step = config.sample_seconds.max(1);
    let first = match resume_after {
        Some(last) if last >= config.start => last + step,
        _ => config.start,
    };
    info!(%meter, from = first, until = ?config.end, "simulated meter running");
    let wall_start = tokio::time::Instant::now();
    let mut at = first;
    while config.end.is_none_or(|end| at <= end) {
        if config.speed > 0.0 {
            let due = wall_start + Duration::from_secs_f64((at - first) as f64 / config.speed);
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(due) => {}
            }
        }
        let (import_wh, export_wh) = simulated.registers_at(at);
        let message = SampleMessage {
            meter,
            sample: Sample {
                at,
                import_wh,
                export_wh,
            },
            reply: None,
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            sent = samples.send(message) => if sent.is_err() { return },
        }
        at += step;
    }
    info!(%meter, "simulated meter reached its end");
}
