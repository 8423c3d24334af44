//! Ingest: publishers sending telemetry flat out, at QoS 0 and at QoS 1,
//! against the gateway (what it committed to SQLite and what it shed, read
//! from its `/metrics` afterwards) and against bare rumqttd (the same
//! vendored broker with the gateway's connection and router settings,
//! messages counted on an in-process local link, as the gateway's ingest
//! reads them). Same clients, same payloads, one after the other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::fleet::Device;
use crate::mqtt;

/// Unacknowledged QoS 1 publishes per client: the broker's `max_inflight_count`.
const WINDOW: usize = 100;
/// QoS 0 publishes written per syscall.
const BATCH: usize = 32;

/// What one run at one QoS measured.
#[derive(Debug, Default, Clone)]
pub(crate) struct IngestRun {
    /// Messages the clients wrote (QoS 1: acknowledged).
    pub(crate) sent: u64,
    /// Messages the broker side took in: rows committed (gateway) or
    /// messages on the local link (bare rumqttd).
    pub(crate) taken: u64,
    /// Telemetry the gateway's ingest accepted and did not commit: shed
    /// because the store's queue was full (none for bare rumqttd).
    pub(crate) shed: u64,
    /// Messages the broker took from the clients and its subscriber (the
    /// gateway's telemetry lane) never read: dropped from the broker's log
    /// when the subscriber fell behind (`gridsense_drops_total{reason="broker_subscriber_behind"}`).
    pub(crate) skipped: u64,
    /// Seconds from the first publish to the last message taken in (the
    /// backlog drained).
    pub(crate) secs: f64,
}

impl IngestRun {
    /// Messages taken in per second.
    pub(crate) fn rate(&self) -> f64 {
        self.taken as f64 / self.secs.max(0.001)
    }
}

/// The ingest rows of the report: QoS 0 and QoS 1, gateway and bare rumqttd.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ingest {
    /// Publishing clients.
    pub(crate) clients: usize,
    /// `[qos0, qos1]` against the gateway.
    pub(crate) gateway: [IngestRun; 2],
    /// `[qos0, qos1]` against bare rumqttd.
    pub(crate) bare: [IngestRun; 2],
}

/// The `n`th telemetry message: one reading (one stored row) that moves
/// beyond the smoke profile's deadband every time, so none is filtered as
/// unchanged.
fn payload(n: u64) -> Vec<u8> {
    let obscuration = if n.is_multiple_of(2) { 1.0 } else { 2.0 };
    format!(r#"{{"seq":{n},"r":{{"obscuration":{obscuration}}}}}"#).into_bytes()
}

/// Connects `d` and waits for its CONNACK.
async fn connect(addr: SocketAddr, d: &Device) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(&mqtt::connect(&d.id, &d.id, &d.secret, 60, None))
        .await?;
    let f = tokio::time::timeout(Duration::from_secs(10), mqtt::read(&mut s))
        .await
        .map_err(|_| std::io::Error::other("no CONNACK"))??;
    if f.header >> 4 != 2 || f.body.get(1) != Some(&0) {
        return Err(std::io::Error::other(format!("{} refused", d.id)));
    }
    Ok(s)
}

/// Every device publishes flat out for `secs`; returns messages sent
/// (acknowledged, at QoS 1) and when publishing started.
pub(crate) async fn publish(
    addr: SocketAddr,
    devices: &[Device],
    secs: u64,
    qos1: bool,
) -> (u64, Instant) {
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    let mut streams = Vec::new();
    for d in devices {
        match connect(addr, d).await {
            Ok(s) => streams.push((d.id.clone(), s)),
            Err(e) => eprintln!("ingest: {}: {e}", d.id),
        }
    }
    let start = Instant::now();
    for (id, s) in streams {
        let (sent, stop) = (sent.clone(), stop.clone());
        tasks.spawn(async move {
            let topic = format!("gs/v1/dev/{id}/tel");
            if qos1 {
                let _ = one_qos1(s, &topic, &sent, &stop).await;
            } else {
                let _ = one_qos0(s, &topic, &sent, &stop).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    (sent.load(Ordering::Relaxed), start)
}

async fn one_qos0(
    mut s: TcpStream,
    topic: &str,
    sent: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut n = 0u64;
    let mut buf = Vec::with_capacity(BATCH * 96);
    while !stop.load(Ordering::Relaxed) {
        buf.clear();
        for _ in 0..BATCH {
            n += 1;
            buf.extend(mqtt::publish(topic, &payload(n), None, false));
        }
        s.write_all(&buf).await?;
        sent.fetch_add(BATCH as u64, Ordering::Relaxed);
    }
    s.write_all(&[0xE0, 0]).await
}

async fn one_qos1(
    s: TcpStream,
    topic: &str,
    sent: &AtomicU64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let (mut r, mut w) = s.into_split();
    let window = Arc::new(Semaphore::new(WINDOW));
    let acks = window.clone();
    // PUBACKs free the window; counted as sent once acknowledged.
    let reader = async {
        loop {
            let f = mqtt::read(&mut r).await?;
            if f.header >> 4 == 4 {
                acks.add_permits(1);
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    let writer = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Ok(p) = window.acquire().await else { break };
            p.forget();
            n += 1;
            let pkid = u16::try_from(n % 65_535 + 1).unwrap_or(1);
            w.write_all(&mqtt::publish(topic, &payload(n), Some(pkid), false))
                .await?;
        }
        // Let the last acknowledgements in.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        r = reader => r,
        w = writer => w,
    }
}

/// Bare rumqttd on a free port, with the gateway's default connection and
/// router settings and no authentication; a local link subscribed to every
/// device's telemetry counts what it takes in.
pub(crate) fn bare_rumqttd() -> std::io::Result<(SocketAddr, Arc<AtomicU64>)> {
    use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
    let port = crate::peers::free_port()?;
    let listen: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = ServerSettings {
        name: "bare".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 5_000,
            max_payload_size: 65_536,
            max_inflight_count: WINDOW,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
            topic_acl: None,
            peer_gate: None,
        },
        on_bound: None,
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_016,
            max_outgoing_packet_count: 100,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(std::collections::HashMap::from([(
            "bare".to_string(),
            server,
        )])),
        ..Config::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    // The gateway's in-process subscriptions' capacity.
    let (mut tx, mut rx) = broker
        .link_with_capacity("bench-ingest", gateway::bus::broker::LINK_CAPACITY)
        .map_err(std::io::Error::other)?;
    tx.subscribe("gs/v1/dev/+/tel")
        .map_err(std::io::Error::other)?;
    let taken = Arc::new(AtomicU64::new(0));
    let t = taken.clone();
    std::thread::Builder::new()
        .name("bare-rumqttd".into())
        .spawn(move || {
            let _ = broker.start();
        })?;
    std::thread::Builder::new()
        .name("bare-link".into())
        .spawn(move || {
            let _tx = tx;
            // As the gateway's subscriptions read: a link the router
            // unscheduled (its buffer filled) asks to be scheduled again.
            while let Ok(n) = rx.recv() {
                match n {
                    Some(rumqttd::Notification::Forward(_)) => {
                        t.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(rumqttd::Notification::Unschedule) if rx.ready().is_err() => return,
                    _ => {}
                }
            }
        })?;
    crate::peers::wait_listening(listen, Duration::from_secs(10))?;
    Ok((listen, taken))
}

/// `name value` of the first sample of `metric` (with its labels) in a
/// Prometheus text exposition.
fn sample(text: &str, metric: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(metric))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// `GET /metrics` with a bearer token.
pub(crate) async fn metrics(api: SocketAddr, token: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(api).await?;
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// The gateway's telemetry rows committed, telemetry messages accepted by
/// ingest (one reading per message: one row each) and messages its broker's
/// subscribers lost to falling behind, so far.
pub(crate) async fn gateway_counts(
    api: SocketAddr,
    token: &str,
) -> std::io::Result<(u64, u64, u64)> {
    let m = metrics(api, token).await?;
    let committed = sample(&m, "gridsense_store_telemetry_rows_total");
    let accepted = sample(&m, "gridsense_ingest_telemetry_total");
    let skipped = sample(
        &m,
        r#"gridsense_drops_total{reason="broker_subscriber_behind"}"#,
    );
    Ok((committed, accepted, skipped))
}
