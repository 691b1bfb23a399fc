//! Runs the agent on a poll loop until shutdown.

use std::path::Path;

use cogrid_chain::{Deployment, check_chain, connect_lazily};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    agent::{Agent, AgentSettings},
    battery::SimulatedBattery,
    config::Config,
    error::GatewayError,
};

/// Runs the gateway described by `config` (paths resolved by [`crate::config::load`]) until
/// `cancel` fires. Errors at start (a bad key, an unreachable node, a meter the registry does not
/// know) end it; errors during a poll are logged and the next poll tries again.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), GatewayError> {
    let signer = config.owner.load_signer(Path::new(""))?;
    let owner = signer.address();
    let deployment = Deployment::load(&config.chain.deployment)?;
    let rpc_url = config.chain.rpc_url.to_string();
    let provider = connect_lazily(&rpc_url, signer)?;
    check_chain(&provider, &rpc_url, Some(deployment.chain_id)).await?;
    let settings = AgentSettings {
        market: deployment.market,
        dispatch: deployment.vpp_dispatch,
        meter: config.meter.address,
        owner,
        policy: config.policy.policy(),
        start_block: config
            .chain
            .start_block
            .unwrap_or(deployment.deployed_at_block),
        max_block_range: config.chain.max_block_range,
        confirmations: config.chain.confirmations,
    };
    let battery = SimulatedBattery::new(config.battery.params());
    let mut agent = Agent::start(provider, settings, battery).await?;
    info!(%owner, min_price_per_kwh = %config.policy.min_price_per_kwh, max_w = config.policy.max_w, reserve_percent = config.policy.reserve_percent, "gateway running");
    loop {
        match agent.step().await {
            Ok(report) => {
                let battery = agent.battery();
                debug!(
                    now = report.now,
                    mode = ?report.mode,
                    stored_wh = battery.stored_wh(),
                    exported_wh = battery.exported_wh(),
                    imported_wh = battery.imported_wh(),
                    "polled"
                );
            }
            Err(error) => warn!(%error, "poll failed; trying again at the next one"),
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(config.chain.poll_interval) => {}
        }
    }
    // The battery is left in its mode: a discharge command expires at its event's end by itself,
    // and a gateway restarted mid-window must not forfeit the delivery it committed to.
    info!("gateway stopped");
    Ok(())
}
