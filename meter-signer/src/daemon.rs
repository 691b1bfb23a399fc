//! Wires the sources, the pipeline, the delivery and the HTTP endpoint together, and shuts them
//! down in order on Ctrl-C or SIGTERM.

use std::{collections::HashSet, path::Path, sync::Arc, time::Duration};

use cogrid_chain::{connect_lazily, reading_domain};
use tokio::sync::{Notify, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    config::{Config, SourceConfig},
    delivery::{ChainExpectations, Delivery},
    error::SignerError,
    http::{HttpState, router},
    metrics::Metrics,
    outbox::Outbox,
    pipeline::Pipeline,
    profile::{HomeProfile, Shapes, SimulatedMeter},
    source::{run_p1_serial, run_p1_tcp, run_simulated},
};

/// How long running tasks get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Options of `meter-signer run` beyond the config file.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Exit once every source has ended and the outbox is empty (replays, tests, the demo).
    pub exit_when_idle: bool,
}

/// Runs the signer described by `config` (relative paths resolve against `base`) until a
/// shutdown signal, or until idle when asked.
pub async fn run(config: Config, base: &Path, options: RunOptions) -> Result<(), SignerError> {
    let meter_keys = config
        .meters
        .iter()
        .map(|meter| meter.key.load_signer(base))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    for key in &meter_keys {
        if !seen.insert(key.address()) {
            return Err(SignerError::DuplicateMeter(key.address()));
        }
    }
    let relayer = match &config.relayer {
        Some(key) => key.load_signer(base)?,
        None => meter_keys.first().cloned().ok_or(SignerError::NoMeters)?,
    };
    let provider = connect_lazily(&config.chain.rpc_url, relayer)?;
    let outbox = Outbox::open(&base.join(&config.outbox.path)).await?;
    let metrics = Arc::new(Metrics::default());
    let delivery = Delivery::new(
        provider,
        config.chain.registry,
        outbox.clone(),
        config.delivery.clone(),
        config.chain.confirmations,
        metrics.clone(),
        ChainExpectations {
            rpc_url: config.chain.rpc_url.clone(),
            chain_id: config.chain.chain_id,
            interval_seconds: config.chain.interval_seconds,
            meters: meter_keys.iter().map(|key| key.address()).collect(),
        },
    );

    // Agree with the chain now if it answers: a config that contradicts it stops the signer
    // here. An unreachable chain does not (readings are stored, and delivery agrees later).
    if let Err(error) = delivery.sync().await {
        if error.is_config_mismatch() {
            return Err(error);
        }
        warn!(%error, "cannot check the chain at start; signing into the outbox and retrying delivery");
    }

    let wake_delivery = Arc::new(Notify::new());
    let domain = reading_domain(config.chain.chain_id, config.chain.registry);
    let mut pipeline = Pipeline::new(
        outbox.clone(),
        domain,
        metrics.clone(),
        wake_delivery.clone(),
    );
    let cancel = CancellationToken::new();
    let sources = TaskTracker::new();
    let (samples_tx, samples_rx) = mpsc::channel(1_024);
    let mut push_meters = HashSet::new();

    for (meter, key) in config.meters.iter().zip(&meter_keys) {
        let address = key.address();
        let last_reading = outbox.last_reading(address).await?;
        let last_boundary = last_reading.map(|reading| reading.interval_end);
        pipeline.add_meter(key.clone(), config.chain.interval_seconds, last_reading);
        let (samples, cancel) = (samples_tx.clone(), cancel.clone());
        match meter.source.clone() {
            SourceConfig::P1Tcp {
                address: target,
                read_timeout,
            } => {
                sources.spawn(run_p1_tcp(
                    address,
                    target,
                    read_timeout,
                    samples,
                    metrics.clone(),
                    cancel,
                ));
            }
            SourceConfig::P1Serial { device, baud } => {
                sources.spawn(run_p1_serial(
                    address,
                    device,
                    baud,
                    samples,
                    metrics.clone(),
                    cancel,
                ));
            }
            SourceConfig::Push => {
                push_meters.insert(address);
            }
            SourceConfig::Simulated(simulated) => {
                let shapes = Shapes::from_csv(&base.join(&simulated.profile))?;
                let home = HomeProfile {
                    pv_kwp: simulated.pv_kwp,
                    load_factor: simulated.load_factor,
                    shift_half_hours: simulated.shift_half_hours,
                    start_day: simulated.start_day,
                };
                let meter_model = SimulatedMeter::new(&shapes, home, simulated.start, (0, 0));
                sources.spawn(run_simulated(
                    address,
                    meter_model,
                    simulated,
                    last_boundary,
                    samples,
                    cancel,
                ));
            }
        }
    }
    sources.close();

    let services = TaskTracker::new();
    // Only a gateway with push meters keeps a sender for HTTP: without one, the pipeline ends
    // (after taking every queued sample) as soon as the sources have ended.
    let push_samples = (!push_meters.is_empty()).then(|| samples_tx.clone());
    let http_state = Arc::new(HttpState::new(
        push_samples,
        push_meters.clone(),
        config.http.push_min_interval,
        metrics.clone(),
        outbox.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| SignerError::Listen {
            address: config.http.listen.to_string(),
            source,
        })?;
    info!(listen = %config.http.listen, "HTTP endpoint up");
    let http_cancel = cancel.clone();
    services.spawn(async move {
        let shutdown = async move { http_cancel.cancelled().await };
        if let Err(error) = axum::serve(listener, router(http_state))
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!(%error, "HTTP endpoint stopped");
        }
    });
    // The pipeline ends when every sender is gone: the sources' and, with pushes, the HTTP one.
    drop(samples_tx);
    let (pipeline_done, pipeline_ended) = tokio::sync::oneshot::channel::<()>();
    let pipeline_cancel = cancel.clone();
    services.spawn(async move {
        pipeline.run(samples_rx, pipeline_cancel).await;
        let _ = pipeline_done.send(());
    });
    services.spawn(delivery.run(wake_delivery.clone(), cancel.clone()));

    let idle = async {
        if !options.exit_when_idle || !push_meters.is_empty() {
            return std::future::pending::<()>().await;
        }
        // Every sample taken and every reading stored, then wait for delivery to empty the outbox.
        sources.wait().await;
        let _ = pipeline_ended.await;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match outbox.counts().await {
                Ok(counts) if counts.pending == 0 && counts.included == 0 => return,
                _ => wake_delivery.notify_one(),
            }
        }
    };
    tokio::select! {
        () = cogrid_chain::shutdown_signal() => info!("shutdown signal: finishing"),
        () = idle => info!("every source ended and the outbox is empty"),
    }
    cancel.cancel();
    services.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        sources.wait().await;
        services.wait().await;
    })
    .await
    .is_err()
    {
        warn!("tasks did not finish within {SHUTDOWN_GRACE:?}; stored readings are kept");
    }
    Ok(())
}
