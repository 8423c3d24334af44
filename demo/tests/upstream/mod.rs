//! Shared by the governance tests: an allow-all broker standing in for the
//! district's, a TCP proxy that can be cut, order fixtures, polling.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gateway::bus::MqttSection;
use gateway::bus::{Authenticator, Bus, Role};
use gateway::uplink::{Class, OutMsg, Outbox};
use protocol::{AlarmKind, GridPath, Name, OrderState, OrderUp, Severity, Tier, Urgency};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _: &str, _: &str) -> Option<Role> {
        Some(Role::Admin)
    }
}

/// Starts a broker on `listen` (`127.0.0.1:0` for any port); it lives until the process ends.
pub fn broker(listen: &str) -> SocketAddr {
    let cfg = MqttSection {
        listen: listen.parse().expect("addr"),
        ..MqttSection::default()
    };
    Bus::new(&cfg, Arc::new(AllowAll), Arc::new(|_| {}))
        .start()
        .expect("broker")
}

/// A TCP proxy in front of a broker; `set(false)` cuts every connection and
/// refuses new ones until `set(true)`.
pub struct Proxy {
    pub addr: SocketAddr,
    on: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr, on: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = watch::channel(on);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                if !*rx.borrow() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut out) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        _ = rx.wait_for(|on| !*on) => {}
                    }
                });
            }
        });
        Self { addr, on: tx }
    }

    pub fn set(&self, on: bool) {
        self.on.send_replace(on);
    }
}

pub fn name(s: &str) -> Name {
    Name::new(s).expect("name")
}

/// Order `gw01-{n}`, revision 1.
pub fn order(n: u64, severity: Severity) -> OrderUp {
    OrderUp {
        order_id: protocol::OrderId::new(&format!("gw01-{n}")).expect("id"),
        revision: 1,
        gateway: name("gw01"),
        site: name("lianhua-garden"),
        grid: GridPath {
            city: name("foshan"),
            district: name("chancheng"),
            street: name("zumiao"),
            community: name("lianhua"),
            cell: name("g07"),
        },
        tier: Tier::Grid,
        alarm_id: protocol::AlarmId::new(&format!("gw01-a{n}")).expect("id"),
        kind: if severity == Severity::Critical {
            AlarmKind::Fire
        } else {
            AlarmKind::DeviceOffline
        },
        severity,
        urgency: if severity == Severity::Critical {
            Urgency::Immediate
        } else {
            Urgency::Routine
        },
        device: protocol::DeviceId::new("smoke-b3-0702").expect("id"),
        location: "Building 3, unit 2, floor 7, room 702".into(),
        summary: "minor device-offline alarm: 1 device(s)".into(),
        raised_at: 1_763_900_000_000,
        ack_by: 1_763_900_060_000,
        close_by: 1_763_903_600_000,
        state: OrderState::New,
        local: None,
    }
}

/// Queues orders `from..to` of `class` into `outbox` in one transaction.
pub async fn fill(outbox: &Outbox, from: u64, to: u64, class: Class) {
    let sev = if class == Class::Alarm {
        Severity::Critical
    } else {
        Severity::Minor
    };
    let msgs = (from..to)
        .map(|n| OutMsg::order(&order(n, sev), class))
        .collect();
    outbox.enqueue(0, msgs).await.expect("enqueue");
}

/// The outbox of the store at `db`, through a store writer of its own
/// (it stops when the last handle is dropped).
pub fn open_outbox(db: &Path) -> Outbox {
    let store = gateway::store::Store::open(db).expect("db");
    let clock = Arc::new(gateway::clock::SystemClock);
    let cfg = gateway::store::StoreConfig {
        outbox_max_bytes: 1 << 30,
        ..gateway::store::StoreConfig::default()
    };
    let (handle, _join) = gateway::store::spawn_writer(store, cfg, clock).expect("writer");
    handle.outbox()
}

/// Polls `cond` every 10 ms until it holds or `secs` pass.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
