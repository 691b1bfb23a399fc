use std::{io::Read, path::PathBuf, sync::Arc, time::Duration};

use alloy::primitives::Address;
use cogrid_dsmr::{DsmrError, Framer, Telegram};
use tokio::{io::AsyncReadExt, net::TcpStream, sync::mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::SampleMessage;
use crate::{
    metrics::Metrics,
    sampler::{Sample, unix_now},
};

/// The sample a telegram carries: the meter's own clock when it sends one (DSMR 4+), else now.
pub fn telegram_sample(telegram: &Telegram, now: u64) -> Sample {
    let at = telegram
        .timestamp
        .map_or(now, |timestamp| timestamp.timestamp().max(0) as u64);
    Sample {
        at,
        import_wh: telegram.import_wh,
        export_wh: telegram.export_wh,
    }
}

/// Feeds framed telegrams to the pipeline; bad ones are counted and dropped, never signed.
/// Returns false when the pipeline is gone.
async fn forward(
    meter: Address,
    frames: Vec<Result<Telegram, DsmrError>>,
    samples: &mpsc::Sender<SampleMessage>,
    metrics: &Metrics,
) -> bool {
    for frame in frames {
        match frame {
            Ok(telegram) => {
                Metrics::bump(&metrics.telegrams_ok);
                let sample = telegram_sample(&telegram, unix_now());
                if samples
                    .send(SampleMessage {
                        meter,
                        sample,
                        reply: None,
                    })
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            Err(error @ DsmrError::CrcMismatch { .. }) => {
                Metrics::bump(&metrics.telegrams_crc_errors);
                warn!(%meter, %error, "telegram dropped");
            }
            Err(error) => {
                Metrics::bump(&metrics.telegrams_malformed);
                warn!(%meter, %error, "telegram dropped");
            }
        }
    }
    true
}

/// Reads a P1 port exposed over TCP (ser2net, ESP-Link); reconnects with a back-off when the
/// connection drops or stays silent for `read_timeout`.
pub async fn run_p1_tcp(
    meter: Address,
    address: String,
    read_timeout: Duration,
    samples: mpsc::Sender<SampleMessage>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let connected = tokio::select! {
            () = cancel.cancelled() => return,
            connected = TcpStream::connect(&address) => connected,
        };
        match connected {
            Ok(mut stream) => {
                info!(%meter, %address, "P1 connected");
                backoff = Duration::from_secs(1);
                let mut framer = Framer::new();
                let mut buffer = [0u8; 2048];
                loop {
                    let read = tokio::select! {
                        () = cancel.cancelled() => return,
                        read = tokio::time::timeout(read_timeout, stream.read(&mut buffer)) => read,
                    };
                    match read {
                        Ok(Ok(0)) => {
                            warn!(%meter, %address, "P1 connection closed by the gateway");
                            break;
                        }
                        Ok(Ok(count)) => {
                            if !forward(meter, framer.push(&buffer[..count]), &samples, &metrics)
                                .await
                            {
                                return;
                            }
                        }
                        Ok(Err(error)) => {
                            warn!(%meter, %address, %error, "P1 read failed");
                            break;
                        }
                        Err(_) => {
                            warn!(%meter, %address, ?read_timeout, "P1 silent; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => warn!(%meter, %address, %error, retry_in = ?backoff, "P1 connect failed"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// Reads a P1 port on a serial device (8N1 at `baud`) on a blocking thread; reopens it after
/// an error.
pub async fn run_p1_serial(
    meter: Address,
    device: PathBuf,
    baud: u32,
    samples: mpsc::Sender<SampleMessage>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let (bytes_tx, mut bytes_rx) = mpsc::channel::<Vec<u8>>(64);
    // The reader thread's own token: ending this source must not stop the whole signer.
    let reader_cancel = cancel.child_token();
    let stop_reader = reader_cancel.clone();
    let reader =
        tokio::task::spawn_blocking(move || read_serial(&device, baud, &bytes_tx, &reader_cancel));
    let mut framer = Framer::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            bytes = bytes_rx.recv() => match bytes {
                Some(bytes) => {
                    if !forward(meter, framer.push(&bytes), &samples, &metrics).await {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    stop_reader.cancel();
    let _ = reader.await;
}

fn read_serial(
    device: &std::path::Path,
    baud: u32,
    bytes: &mpsc::Sender<Vec<u8>>,
    cancel: &CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    while !cancel.is_cancelled() {
        let port = serialport::new(device.to_string_lossy(), baud)
            .timeout(Duration::from_millis(500))
            .open();
        let mut port = match port {
            Ok(port) => {
                info!(device = %device.display(), baud, "P1 serial port open");
                backoff = Duration::from_secs(1);
                port
            }
            Err(error) => {
                warn!(device = %device.display(), %error, retry_in = ?backoff, "cannot open P1 serial port");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        let mut buffer = [0u8; 1024];
        while !cancel.is_cancelled() {
            match port.read(&mut buffer) {
                Ok(0) => {}
                Ok(count) => {
                    if bytes.blocking_send(buffer[..count].to_vec()).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
                Err(error) => {
                    warn!(device = %device.display(), %error, "P1 serial read failed; reopening");
                    break;
                }
            }
        }
    }
}
