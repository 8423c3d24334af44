//! A minimal gateway for tests: the gateway's embedded broker on
//! 127.0.0.1:0 with an allow-all authenticator, an in-process subscriber
//! that records what nodes publish, and acks for events by `seq`.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::bus::{Authenticator, Bus, MqttSection, Outgoing, Publisher, Role};
use protocol::codec::decode;
use protocol::{Command, DeviceChannel, DeviceId, EvtAck, NodeEvent, Topic};

struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _: &str, _: &str) -> Option<Role> {
        Some(Role::Admin)
    }
}

/// One message a node published.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Publishing device.
    pub device: String,
    /// Its channel.
    pub channel: DeviceChannel,
    /// Raw payload.
    pub payload: Vec<u8>,
    /// When the gateway got it.
    pub at: Instant,
}

impl Seen {
    /// The payload as an event, for `evt` messages.
    pub fn event(&self) -> Option<NodeEvent> {
        (self.channel == DeviceChannel::Evt)
            .then(|| decode::<NodeEvent>(&self.payload).ok())
            .flatten()
    }
}

/// The test gateway.
pub struct TestGateway {
    /// Where nodes connect.
    pub addr: SocketAddr,
    /// Everything received, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Whether events are acked (on by default).
    pub acking: Arc<AtomicBool>,
    publisher: Publisher,
}

impl TestGateway {
    /// Starts the broker on 127.0.0.1:0 and the recorder.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), 1_000)
    }

    /// Starts the broker on `listen` for up to `max_connections` clients.
    pub fn start_on(listen: SocketAddr, max_connections: usize) -> Self {
        let cfg = MqttSection {
            listen,
            max_connections,
            ..MqttSection::default()
        };
        let bus = Bus::new(&cfg, Arc::new(AllowAll), Arc::new(|_| {}));
        let mut sub = bus
            .subscribe("test-gw", &["gs/v1/dev/+/#"])
            .expect("subscribe");
        let publisher =
            Publisher::spawn(bus.link("test-gw-pub").expect("link")).expect("publisher");
        let addr = bus.start().expect("broker");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let acking = Arc::new(AtomicBool::new(true));
        let (s, a, p) = (seen.clone(), acking.clone(), publisher.clone());
        tokio::spawn(async move {
            while let Some((topic, payload)) = sub.next().await {
                record(&s, &a, &p, &topic, payload);
            }
        });
        Self {
            addr,
            seen,
            acking,
            publisher,
        }
    }

    /// Sends a command to a device.
    pub fn command(&self, device: &str, cmd: &Command) {
        let id = DeviceId::new(device).expect("id");
        self.publisher
            .urgent(Outgoing::device(&id, DeviceChannel::Cmd, cmd));
    }

    /// A copy of everything received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Events that need an ack, as `(device, event, when)`.
    pub fn acked_class(&self) -> Vec<(String, NodeEvent, Instant)> {
        self.seen()
            .into_iter()
            .filter_map(|s| s.event().map(|e| (s.device.clone(), e, s.at)))
            .filter(|(_, e, _)| e.kind.needs_ack())
            .collect()
    }

    /// Waits until `f` holds for what was received, or `limit` passes.
    pub async fn wait_for(&self, limit: Duration, f: impl Fn(&[Seen]) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if f(&self.seen.lock().expect("lock")) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

fn record(
    seen: &Mutex<Vec<Seen>>,
    acking: &AtomicBool,
    p: &Publisher,
    topic: &[u8],
    payload: Bytes,
) {
    let Ok(Topic::Device { device, channel }) = Topic::parse(&String::from_utf8_lossy(topic))
    else {
        return;
    };
    let s = Seen {
        device: device.to_string(),
        channel,
        payload: payload.to_vec(),
        at: Instant::now(),
    };
    if let Some(e) = s.event()
        && e.kind.needs_ack()
        && acking.load(Ordering::SeqCst)
    {
        p.urgent(Outgoing::device(
            &device,
            DeviceChannel::EvtAck,
            &EvtAck::of(&e),
        ));
    }
    seen.lock().expect("lock").push(s);
}
