//! The P1 TCP source against a local listener that behaves like ser2net: DSMR 5 telegrams cut
//! into odd pieces, line noise, a telegram corrupted in transit, and a dropped connection.

use std::{sync::Arc, sync::atomic::Ordering::Relaxed, time::Duration};

use alloy::{
    primitives::{Address, Signature},
    sol_types::{Eip712Domain, SolStruct},
};
use cogrid_chain::SignedReading;
use cogrid_dsmr::crc16_arc;
use cogrid_meter_signer::{
    metrics::Metrics,
    sampler::Sample,
    source::SampleMessage,
    source::{run_p1_serial, run_p1_tcp},
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::harness::InProcessSigner;

/// 2024-01-15T10:00:00+01:00 (`0-0:1.0.0(240115100000W)`) as unix time: 09:00:00 UTC.
const TEN_O_CLOCK_CET: u64 = 1_705_309_200;
/// How long a test waits for something the source should do within milliseconds (a reconnect
/// takes the source's one-second back-off).
const PATIENCE: Duration = Duration::from_secs(10);

/// A DSMR 5.0.2 telegram body up to and including the `!` of its end line: the meter's
/// identification, `timestamp` (`YYMMDDhhmmssW`), the two tariff registers each way in kWh with
/// three decimals, power drawn and fed in, and the lines a real meter adds (failure log, voltages,
/// gas) that the signer must skip.
pub(crate) fn dsmr5_body(
    timestamp: &str,
    import_wh: [u64; 2],
    export_wh: [u64; 2],
    power_w: [u32; 2],
) -> String {
    let kwh = |wh: u64| format!("{:06}.{:03}*kWh", wh / 1_000, wh % 1_000);
    let kw = |w: u32| format!("{:02}.{:03}*kW", w / 1_000, w % 1_000);
    [
        "/ISk5\\2MT382-1000".to_owned(),
        String::new(),
        "1-3:0.2.8(50)".to_owned(),
        format!("0-0:1.0.0({timestamp})"),
        "0-0:96.1.1(4B384547303034303436333935353037)".to_owned(),
        format!("1-0:1.8.1({})", kwh(import_wh[0])),
        format!("1-0:1.8.2({})", kwh(import_wh[1])),
        format!("1-0:2.8.1({})", kwh(export_wh[0])),
        format!("1-0:2.8.2({})", kwh(export_wh[1])),
        "0-0:96.14.0(0002)".to_owned(),
        format!("1-0:1.7.0({})", kw(power_w[0])),
        format!("1-0:2.7.0({})", kw(power_w[1])),
        "0-0:96.7.21(00004)".to_owned(),
        "1-0:99.97.0(2)(0-0:96.7.19)(231208152415W)(0000000240*s)(231208151004W)(0000000301*s)"
            .to_owned(),
        "1-0:32.7.0(230.1*V)".to_owned(),
        "1-0:31.7.0(001*A)".to_owned(),
        "0-1:24.1.0(003)".to_owned(),
        "0-1:96.1.0(3232323241424344313233343536373839)".to_owned(),
        "0-1:24.2.1(240115100000W)(02785.123*m3)".to_owned(),
        "!".to_owned(),
    ]
    .join("\r\n")
}

/// The body with its CRC-16/ARC and line ending, as the meter sends it.
pub(crate) fn with_crc(body: &str) -> String {
    format!("{body}{:04X}\r\n", crc16_arc(body.as_bytes()))
}

/// `0-0:1.0.0` of the telegram sent `offset` seconds after 10:00:00 CET on 2024-01-15.
fn cet_timestamp(offset: u64) -> String {
    let (hour, minute, second) = (10 + offset / 3_600, offset % 3_600 / 60, offset % 60);
    format!("240115{hour:02}{minute:02}{second:02}W")
}

/// The tariff registers of the test meter `offset` seconds after 10:00 (both tariffs non-zero,
/// so a sum of one tariff alone shows).
fn registers(offset: u64) -> ([u64; 2], [u64; 2]) {
    ([1_234_567 + 2 * offset, 2_000_100], [10_500, 250 + offset])
}

/// The sample a correct source makes of the telegram at `offset`.
fn expected_sample(offset: u64) -> Sample {
    let (import, export) = registers(offset);
    Sample {
        at: TEN_O_CLOCK_CET + offset,
        import_wh: import[0] + import[1],
        export_wh: export[0] + export[1],
    }
}

/// The telegram the meter sends `offset` seconds after 10:00.
fn telegram_at(offset: u64) -> String {
    let (import, export) = registers(offset);
    with_crc(&dsmr5_body(
        &cet_timestamp(offset),
        import,
        export,
        [1_193, 0],
    ))
}

/// The telegram at `offset` with one register digit changed on the wire after the meter
/// computed its CRC: had it been believed, it would claim 900 kWh more import.
fn corrupted_telegram_at(offset: u64) -> String {
    let good = telegram_at(offset);
    let bad = good.replacen("1-0:1.8.1(00", "1-0:1.8.1(90", 1);
    assert_ne!(good, bad);
    bad
}

/// Cuts a telegram inside its identification line, inside a register value, right after the
/// `!` and between the CRC digits, the places a reader that expects whole lines gets wrong.
fn odd_pieces(telegram: &str) -> Vec<&[u8]> {
    let bytes = telegram.as_bytes();
    let register = telegram.find("1-0:1.8.2(").unwrap() + 13;
    let bang = telegram.rfind('!').unwrap();
    let mut pieces = Vec::new();
    let mut from = 0;
    for cut in [3, register, bang + 1, bang + 3] {
        pieces.push(&bytes[from..cut]);
        from = cut;
    }
    pieces.push(&bytes[from..]);
    pieces
}

/// Writes each piece separately, pausing so that the source reads them one by one.
async fn write_pieces(stream: &mut TcpStream, pieces: &[&[u8]]) {
    for piece in pieces {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// A loopback stand-in for ser2net: the P1 source connects to it, the test writes the bytes a
/// meter would.
pub(crate) struct FakeSer2net {
    listener: TcpListener,
    pub(crate) address: String,
}

impl FakeSer2net {
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        Self { listener, address }
    }

    /// The source's next connection.
    pub(crate) async fn accept(&self) -> TcpStream {
        let (stream, _) = tokio::time::timeout(PATIENCE, self.listener.accept())
            .await
            .expect("the P1 source did not connect")
            .unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }
}

/// A running `run_p1_tcp` for `meter` feeding `samples`.
fn spawn_source(
    meter: Address,
    gateway: &FakeSer2net,
    samples: mpsc::Sender<SampleMessage>,
    metrics: Arc<Metrics>,
    cancel: &CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run_p1_tcp(
        meter,
        gateway.address.clone(),
        Duration::from_secs(30),
        samples,
        metrics,
        cancel.clone(),
    ))
}

async fn next_sample(meter: Address, samples: &mut mpsc::Receiver<SampleMessage>) -> Sample {
    let message = tokio::time::timeout(PATIENCE, samples.recv())
        .await
        .expect("no sample arrived")
        .expect("the P1 source stopped");
    assert_eq!(message.meter, meter);
    assert!(message.reply.is_none(), "nobody waits on a P1 sample");
    message.sample
}

/// The address whose key made `reading`'s signature, over the reading's own fields.
pub(crate) fn signer_of(reading: &SignedReading, domain: &Eip712Domain) -> Address {
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(reading.r.as_slice());
    compact[32..].copy_from_slice(reading.vs.as_slice());
    Signature::from_erc2098(&compact)
        .recover_address_from_prehash(&reading.reading().eip712_signing_hash(domain))
        .unwrap()
}

/// Telegrams arriving in odd pieces between line noise become samples with the meter's own time
/// (CET, `W` = +01:00) and the tariff registers summed; a telegram with a bad CRC is counted and
/// never becomes a sample.
#[tokio::test]
async fn p1_tcp_samples_whole_telegrams_and_drops_a_bad_crc() {
    let meter = Address::repeat_byte(0x11);
    let gateway = FakeSer2net::bind().await;
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let (samples_tx, mut samples) = mpsc::channel(64);
    let source = spawn_source(meter, &gateway, samples_tx, metrics.clone(), &cancel);
    let mut stream = gateway.accept().await;

    // ser2net hands over the port mid-telegram: the tail of one, then noise.
    write_pieces(
        &mut stream,
        &[b"1-0:2.7.0(00.000*kW)\r\n!1A2B\r\n", b"\x00\xff\xfe\r\n"],
    )
    .await;
    let (first, second, fourth) = (telegram_at(898), telegram_at(899), telegram_at(901));
    let corrupted = corrupted_telegram_at(900);
    for telegram in [&first, &second, &corrupted] {
        write_pieces(&mut stream, &odd_pieces(telegram)).await;
    }
    write_pieces(&mut stream, &[b"\x13\x00\r\n"]).await;
    write_pieces(&mut stream, &odd_pieces(&fourth)).await;

    assert_eq!(
        next_sample(meter, &mut samples).await,
        Sample {
            // 10:14:58+01:00
            at: 1_705_310_098,
            import_wh: 1_236_363 + 2_000_100,
            export_wh: 10_500 + 1_148,
        }
    );
    assert_eq!(next_sample(meter, &mut samples).await, expected_sample(899));
    // The 10:15:00 telegram was corrupted: the next sample is the one from 10:15:01.
    assert_eq!(next_sample(meter, &mut samples).await, expected_sample(901));
    assert_eq!(metrics.telegrams_crc_errors.load(Relaxed), 1);
    assert_eq!(metrics.telegrams_ok.load(Relaxed), 3);
    assert_eq!(
        metrics.telegrams_malformed.load(Relaxed),
        0,
        "noise between telegrams is not a telegram"
    );
    assert!(samples.try_recv().is_err(), "nothing else was sent");

    cancel.cancel();
    tokio::time::timeout(PATIENCE, source)
        .await
        .expect("the source ignored cancellation")
        .unwrap();
}

/// When ser2net drops the connection (here halfway through a telegram) the source connects
/// again and goes on sampling; the half telegram is never taken.
#[tokio::test]
async fn p1_tcp_reconnects_after_the_gateway_drops_the_connection() {
    let meter = Address::repeat_byte(0x22);
    let gateway = FakeSer2net::bind().await;
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let (samples_tx, mut samples) = mpsc::channel(64);
    let source = spawn_source(meter, &gateway, samples_tx, metrics.clone(), &cancel);

    let mut stream = gateway.accept().await;
    write_pieces(&mut stream, &odd_pieces(&telegram_at(10))).await;
    assert_eq!(next_sample(meter, &mut samples).await, expected_sample(10));
    let cut_short = telegram_at(11);
    write_pieces(&mut stream, &[&cut_short.as_bytes()[..200]]).await;
    drop(stream);

    let mut stream = gateway.accept().await;
    for offset in [12, 13] {
        write_pieces(&mut stream, &odd_pieces(&telegram_at(offset))).await;
    }
    assert_eq!(next_sample(meter, &mut samples).await, expected_sample(12));
    assert_eq!(next_sample(meter, &mut samples).await, expected_sample(13));
    assert_eq!(metrics.telegrams_ok.load(Relaxed), 3);

    cancel.cancel();
    tokio::time::timeout(PATIENCE, source)
        .await
        .expect("the source ignored cancellation")
        .unwrap();
}

/// The whole in-process path: P1 telegrams across two 15-minute boundaries become exactly one
/// signed reading per boundary crossed in the outbox (the first telegram, mid-interval, signs
/// nothing), with consecutive seqs and signatures by the meter's key.
#[tokio::test]
async fn p1_telegrams_become_one_signed_reading_per_boundary() {
    let InProcessSigner {
        outbox,
        meter,
        domain,
        metrics,
        samples: samples_tx,
        pipeline,
        dir: _dir,
    } = InProcessSigner::start(CancellationToken::new()).await;
    // The pipeline ends once the source, the only sender, is gone.
    let gateway = FakeSer2net::bind().await;
    let cancel = CancellationToken::new();
    let source = spawn_source(
        meter.address(),
        &gateway,
        samples_tx,
        metrics.clone(),
        &cancel,
    );

    let mut stream = gateway.accept().await;
    let good = [897, 898, 899, 901, 902, 1_799, 1_800, 1_801];
    for offset in [897, 898, 899, 900, 901, 902, 1_799, 1_800, 1_801] {
        let telegram = if good.contains(&offset) {
            telegram_at(offset)
        } else {
            corrupted_telegram_at(offset)
        };
        write_pieces(&mut stream, &odd_pieces(&telegram)).await;
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metrics.telegrams_ok.load(Relaxed) < good.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the source took {} telegrams",
            metrics.telegrams_ok.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    source.await.unwrap();
    tokio::time::timeout(PATIENCE, pipeline)
        .await
        .expect("the pipeline did not finish its samples")
        .unwrap();

    let readings = outbox.pending(100).await.unwrap();
    let summary: Vec<_> = readings
        .iter()
        .map(|r| (r.seq, r.interval_end, r.import_wh, r.export_wh))
        .collect();
    let row = |seq: u32, boundary: u64, offset: u64| {
        let sample = expected_sample(offset);
        (seq, boundary, sample.import_wh, sample.export_wh)
    };
    assert_eq!(
        summary,
        vec![
            // 10:14:57 is the first telegram: no crossing seen, nothing signed. 10:15:00 arrived
            // corrupted: 10:15:01 is the first good telegram at or after it.
            row(1, TEN_O_CLOCK_CET + 900, 901),
            row(2, TEN_O_CLOCK_CET + 1_800, 1_800),
        ]
    );
    for reading in &readings {
        assert_eq!(reading.meter, meter.address());
        assert_eq!(signer_of(reading, &domain), meter.address());
    }
    assert_eq!(metrics.readings_signed.load(Relaxed), 2);
    assert_eq!(metrics.telegrams_crc_errors.load(Relaxed), 1);
}

/// The serial source on a tty: one end of a pseudo-terminal pair plays the meter's P1 cable.
/// Whole telegrams become samples; the one with a bad CRC is dropped and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_serial_samples_whole_telegrams_from_a_tty() {
    use std::io::Write;

    use serialport::SerialPort;

    let (mut cable, port) = serialport::TTYPort::pair().expect("a pseudo-terminal pair");
    let device = port.name().expect("the pty has a device name");
    let (samples_tx, mut samples_rx) = mpsc::channel(16);
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let meter = Address::repeat_byte(0x11);
    let source = tokio::spawn(run_p1_serial(
        meter,
        device.into(),
        115_200,
        samples_tx,
        metrics.clone(),
        cancel.clone(),
    ));
    // Let the source open the device (in raw mode) before the meter starts talking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for telegram in [
        telegram_at(901),
        corrupted_telegram_at(902),
        telegram_at(903),
    ] {
        cable.write_all(telegram.as_bytes()).unwrap();
    }
    cable.flush().unwrap();

    let mut received = Vec::new();
    while received.len() < 2 {
        let message = tokio::time::timeout(PATIENCE, samples_rx.recv())
            .await
            .expect("no sample from the serial port")
            .expect("the source ended");
        assert_eq!(message.meter, meter);
        received.push(message.sample);
    }
    assert_eq!(received, vec![expected_sample(901), expected_sample(903)]);
    assert_eq!(metrics.telegrams_crc_errors.load(Relaxed), 1);
    cancel.cancel();
    tokio::time::timeout(PATIENCE, source)
        .await
        .expect("the serial source stops on cancel")
        .unwrap();
    drop(port);
}
