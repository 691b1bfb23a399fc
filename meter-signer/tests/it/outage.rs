use std::{net::SocketAddr, time::Duration};

use tokio::{
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
};

use crate::harness::{Neighbourhood, free_port, wait_for_exit};

/// A loopback TCP proxy in front of the node; stopping it is a network outage.
struct Proxy {
    listen: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    fn new(upstream: SocketAddr) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], free_port())),
            upstream,
            task: None,
        }
    }

    fn up(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.listen).unwrap();
        let listener = socket.listen(64).unwrap();
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Closes the listener and every open connection (dropping the JoinSet aborts them).
    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn metric(port: u16, name: &str) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

/// The chain is unreachable while the meter signs; readings wait in the outbox and all arrive,
/// once each, when it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_outage_loses_nothing() {
    let hood = Neighbourhood::start().await;
    let upstream: SocketAddr = hood
        .devnet
        .rpc_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let mut proxy = Proxy::new(upstream);
    let http_port = free_port();
    let config = hood.write_config(&format!("http://{}", proxy.listen), 0.0, http_port);

    // Down from the start: the signer must still start, sign and store.
    let mut signer = hood.spawn_signer(&config, true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(response) = reqwest::get(format!("http://127.0.0.1:{http_port}/metrics")).await
        else {
            continue;
        };
        if response.status().is_success()
            && metric(http_port, "meter_signer_outbox_readings{state=\"pending\"}").await == 97
            && metric(http_port, "meter_signer_send_failures_total").await >= 2
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox did not fill during the outage"
        );
    }
    assert_eq!(
        hood.meter_state().await.seq,
        0,
        "nothing reached the chain during the outage"
    );

    proxy.up();
    wait_for_exit(&mut signer, Duration::from_secs(120)).await;
    proxy.down();
    hood.assert_day_counted_once().await;
}
