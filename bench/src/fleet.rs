//! A fleet of node-like MQTT clients: each connects once (one attempt, a
//! 5 s timeout for the TCP connect and 5 s for the CONNACK), subscribes to
//! its command and event-ack topics, publishes its retained "online" state,
//! then holds the connection, answering QoS 1 deliveries and, when asked,
//! heartbeating.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use protocol::codec::encode;
use protocol::node::{DeviceState, EventKind, NodeEvent, Status};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::mqtt;

/// One device's credentials.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    /// Device id, also the client id and username.
    pub(crate) id: String,
    /// Its secret.
    pub(crate) secret: String,
}

/// The timeout of each step of the one connect attempt.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the fleet's clients report.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Clients holding a connection now.
    pub(crate) connected: AtomicUsize,
    /// Clients whose attempt failed (timeout, refused, error).
    pub(crate) failed: AtomicUsize,
    /// Connections that closed after their CONNACK.
    pub(crate) dropped: AtomicUsize,
    /// Messages published (heartbeats, telemetry).
    pub(crate) published: AtomicU64,
    /// Messages delivered to the clients.
    pub(crate) received: AtomicU64,
    /// Milliseconds from the storm's start to each CONNACK.
    pub(crate) connack_ms: Mutex<Vec<u32>>,
}

/// What the clients do once connected.
#[derive(Debug)]
pub(crate) struct Control {
    /// Heartbeat period; zero: none (PINGREQ at the keep-alive only).
    pub(crate) heartbeat: watch::Sender<Duration>,
    /// True: close every connection.
    pub(crate) stop: AtomicBool,
}

/// The running fleet.
#[derive(Debug)]
pub(crate) struct Fleet {
    /// Shared counters.
    pub(crate) stats: Arc<Stats>,
    /// Shared control.
    pub(crate) control: Arc<Control>,
    /// When the storm started.
    pub(crate) started: Instant,
    tasks: tokio::task::JoinSet<()>,
    stop_tx: watch::Sender<bool>,
}

/// Keep-alive the clients announce (s); the broker drops a client silent
/// for 1.5× this.
pub(crate) const KEEP_ALIVE_S: u16 = 60;

impl Fleet {
    /// Starts `devices` against `addr` all at once.
    pub(crate) fn storm(addr: std::net::SocketAddr, devices: &[Device]) -> Self {
        let stats = Arc::new(Stats::default());
        let (heartbeat, _) = watch::channel(Duration::ZERO);
        let control = Arc::new(Control {
            heartbeat,
            stop: AtomicBool::new(false),
        });
        let (stop_tx, _) = watch::channel(false);
        let started = Instant::now() + Duration::from_millis(200);
        let mut tasks = tokio::task::JoinSet::new();
        let n = devices.len().max(1);
        for (i, d) in devices.iter().enumerate() {
            let c = Client {
                addr,
                device: d.clone(),
                phase: Duration::from_secs_f64(i as f64 / n as f64),
                stats: stats.clone(),
                heartbeat: control.heartbeat.subscribe(),
                stop: stop_tx.subscribe(),
            };
            tasks.spawn(c.run(started));
        }
        Self {
            stats,
            control,
            started,
            tasks,
            stop_tx,
        }
    }

    /// Closes every connection and waits for the clients to end.
    pub(crate) async fn stop(mut self) {
        self.control.stop.store(true, Ordering::Relaxed);
        let _ = self.stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }

    /// Waits until every client has an outcome or `window` has passed since
    /// the start; returns (connected by then, ms to the last CONNACK when all
    /// connected).
    pub(crate) async fn settle(&self, total: usize, window: Duration) -> (usize, Option<u32>) {
        let deadline = self.started + window;
        loop {
            let done = self.stats.connected.load(Ordering::Relaxed)
                + self.stats.failed.load(Ordering::Relaxed)
                + self.stats.dropped.load(Ordering::Relaxed);
            if done >= total || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let window_ms = u32::try_from(window.as_millis()).unwrap_or(u32::MAX);
        let acks = self
            .stats
            .connack_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let within = acks.iter().filter(|&&ms| ms <= window_ms).count();
        let all = (acks.len() >= total).then(|| acks.iter().copied().max().unwrap_or(0));
        (within, all)
    }
}

struct Client {
    addr: std::net::SocketAddr,
    device: Device,
    /// Where in the heartbeat period this client's heartbeat falls (0..1 s
    /// scaled by the period).
    phase: Duration,
    stats: Arc<Stats>,
    heartbeat: watch::Receiver<Duration>,
    stop: watch::Receiver<bool>,
}

impl Client {
    async fn run(mut self, at: Instant) {
        tokio::time::sleep_until(at.into()).await;
        let stream = match self.attempt(at).await {
            Ok(s) => s,
            Err(_) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.stats.connected.fetch_add(1, Ordering::Relaxed);
        let closed = self.hold(stream).await;
        self.stats.connected.fetch_sub(1, Ordering::Relaxed);
        if closed {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn attempt(&self, at: Instant) -> std::io::Result<TcpStream> {
        let timeout = |e| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
        let mut s = tokio::time::timeout(ATTEMPT_TIMEOUT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| timeout("tcp connect"))??;
        s.set_nodelay(true)?;
        let id = self.device.id.as_str();
        let will_topic = format!("gs/v1/dev/{id}/state");
        let offline = encode(&DeviceState {
            status: Status::Offline,
            fw: None,
            heartbeat_s: None,
            boot: None,
        });
        let will = mqtt::Will {
            topic: &will_topic,
            payload: &offline,
        };
        s.write_all(&mqtt::connect(
            id,
            id,
            &self.device.secret,
            KEEP_ALIVE_S,
            Some(will),
        ))
        .await?;
        let ack = tokio::time::timeout(ATTEMPT_TIMEOUT, mqtt::read(&mut s))
            .await
            .map_err(|_| timeout("connack"))??;
        if ack.header >> 4 != 2 || ack.body.get(1) != Some(&0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            ));
        }
        let ms = u32::try_from(at.elapsed().as_millis()).unwrap_or(u32::MAX);
        self.stats
            .connack_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ms);
        Ok(s)
    }

    /// Holds the connection; true if it was closed by the broker.
    async fn hold(&mut self, stream: TcpStream) -> bool {
        let id = self.device.id.clone();
        let (mut rd, mut wr) = stream.into_split();
        let cmd = format!("gs/v1/dev/{id}/cmd");
        let ack = format!("gs/v1/dev/{id}/evt/ack");
        let online = encode(&DeviceState {
            status: Status::Online,
            fw: None,
            heartbeat_s: Some(30),
            boot: Some(1),
        });
        let mut first = mqtt::subscribe(1, &[&cmd, &ack]);
        first.extend(mqtt::publish(
            &format!("gs/v1/dev/{id}/state"),
            &online,
            Some(2),
            true,
        ));
        if wr.write_all(&first).await.is_err() {
            return true;
        }
        let evt = format!("gs/v1/dev/{id}/evt");
        let mut seq = 0u32;
        let mut pkid = 2u16;
        let ping = Duration::from_secs(u64::from(KEEP_ALIVE_S));
        let mut next = tokio::time::Instant::now() + ping;
        loop {
            let period = *self.heartbeat.borrow_and_update();
            tokio::select! {
                f = mqtt::read(&mut rd) => {
                    let Ok(f) = f else { return !*self.stop.borrow() };
                    if let Some((_, _, Some(id))) = f.publish() {
                        self.stats.received.fetch_add(1, Ordering::Relaxed);
                        if wr.write_all(&mqtt::puback(id)).await.is_err() {
                            return true;
                        }
                    } else if f.publish().is_some() {
                        self.stats.received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ = self.heartbeat.changed() => {
                    let p = *self.heartbeat.borrow();
                    next = tokio::time::Instant::now() + if p.is_zero() { ping } else { self.phase.mul_f64(p.as_secs_f64()) };
                }
                _ = self.stop.changed() => return false,
                () = tokio::time::sleep_until(next) => {
                    let out = if period.is_zero() {
                        mqtt::PINGREQ.to_vec()
                    } else {
                        seq += 1;
                        pkid = pkid.wrapping_add(1).max(3);
                        let hb = NodeEvent {
                            boot: Some(1),
                            seq,
                            ts: None,
                            kind: EventKind::Heartbeat,
                            cause: None,
                            value: None,
                            battery: Some(90),
                            snapshot: None,
                        };
                        self.stats.published.fetch_add(1, Ordering::Relaxed);
                        mqtt::publish(&evt, &encode(&hb), Some(pkid), false)
                    };
                    if wr.write_all(&out).await.is_err() {
                        return true;
                    }
                    next += if period.is_zero() { ping } else { period };
                }
            }
        }
    }
}
