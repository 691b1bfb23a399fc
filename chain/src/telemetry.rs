use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG`, else by `default` (`info` for a daemon, `warn` for a
/// command whose output is its report).
pub fn init_tracing(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second call (tests in one process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: when a daemon should finish its work and stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Runs a daemon on a multi-threaded runtime until it returns: `daemon` gets a token that is
/// cancelled on Ctrl-C or SIGTERM ([`shutdown_signal`]), so it can finish its work and stop. The
/// outer error is the runtime failing to start; the inner one is the daemon's.
pub fn run_until_shutdown<F, Fut, E>(daemon: F) -> std::io::Result<Result<(), E>>
where
    F: FnOnce(tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            on_signal.cancel();
        });
        daemon(cancel).await
    }))
}
