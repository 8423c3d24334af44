//! Benchmark: drain a backlog of order rows from the SQLite outbox to a real
//! broker on 127.0.0.1, with the upstream simulator answering `received` for
//! each, until the outbox is empty.
//!
//! `cargo run --release -p gridsense-demo --example outbox_drain [ROWS]`
//! (default 1,000,000 rows; target ≥ 20,000 rows/s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use demo::upstream_sim::{SimConfig, SimLog, run_with_log};
use gateway::bus::MqttSection;
use gateway::bus::{Authenticator, Bus, Role};
use gateway::uplink::{Class, OutMsg, Outbox, Uplink, UplinkConfig};
use protocol::{AlarmKind, GridPath, Name, OrderState, OrderUp, Severity, Tier, Urgency};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _: &str, _: &str) -> Option<Role> {
        Some(Role::Admin)
    }
}

fn name(s: &str) -> Name {
    Name::new(s).expect("name")
}

fn order(n: u64) -> OrderUp {
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
            cell: name(&format!("g{:02}", n % 12)),
        },
        tier: Tier::Grid,
        alarm_id: protocol::AlarmId::new(&format!("gw01-a{n}")).expect("id"),
        kind: AlarmKind::DeviceOffline,
        severity: Severity::Minor,
        urgency: Urgency::Routine,
        device: protocol::DeviceId::new("smoke-b3-0702").expect("id"),
        location: "Building 3, unit 2, floor 7, room 702".into(),
        summary: "minor device-offline alarm: 1 device(s)".into(),
        raised_at: 1_763_900_000_000,
        ack_by: 1_763_914_400_000,
        close_by: 1_764_159_200_000,
        state: OrderState::New,
        local: None,
    }
}

async fn fill(db: &std::path::Path, rows: u64) -> Outbox {
    let store = gateway::store::Store::open(db).expect("db");
    let cfg = gateway::store::StoreConfig {
        outbox_max_bytes: 4 << 30,
        ..gateway::store::StoreConfig::default()
    };
    let clock = Arc::new(gateway::clock::SystemClock);
    let (handle, _join) = gateway::store::spawn_writer(store, cfg, clock).expect("writer");
    let outbox = handle.outbox();
    let started = Instant::now();
    let msgs = (1..=rows)
        .map(|n| OutMsg::order(&order(n), Class::Order))
        .collect();
    outbox.enqueue(0, msgs).await.expect("enqueue");
    let s = outbox.stats();
    let file = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0);
    println!(
        "filled {} rows ({} MiB counted, file {} MiB) in {:.1} s",
        s.rows,
        s.bytes >> 20,
        file >> 20,
        started.elapsed().as_secs_f64()
    );
    outbox
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    let outbox = fill(&db, rows).await;
    let cfg = MqttSection {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..MqttSection::default()
    };
    let addr = Bus::new(&cfg, Arc::new(AllowAll), Arc::new(|_| {}))
        .start()
        .expect("broker");
    let stop = CancellationToken::new();
    let log = Arc::new(SimLog::default());
    let sim = SimConfig {
        receipt_only: true,
        credentials: Some(("district".into(), "x".into())),
        ..SimConfig::new("127.0.0.1", addr.port())
    };
    tokio::spawn(run_with_log(sim, log.clone(), stop.clone()));
    let up_cfg = UplinkConfig {
        username: Some("gw01".into()),
        password: Some("x".into()),
        max_inflight: 4_000,
        batch: 1_000,
        ..UplinkConfig::new("127.0.0.1", addr.port())
    };
    let uplink = Uplink::new(&up_cfg, &name("gw01"), outbox.clone()).expect("uplink");
    let stats = uplink.stats();
    let (tx, mut rx) = mpsc::channel(4096);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let started = Instant::now();
    tokio::spawn(uplink.run(tx, stop.clone()));
    let mut last = (Instant::now(), rows);
    while outbox.stats().rows > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last.0.elapsed() >= Duration::from_secs(5) {
            let left = outbox.stats().rows;
            let rate = (last.1 - left) as f64 / last.0.elapsed().as_secs_f64();
            println!("  {left:>8} rows left, {rate:>8.0} rows/s");
            last = (Instant::now(), left);
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "drain did not finish in 10 minutes"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let published = stats.published.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "drained {rows} rows in {secs:.1} s: {:.0} rows/s (published {published}, resent {}, tickets {}, redeliveries {})",
        rows as f64 / secs,
        stats.resent.load(std::sync::atomic::Ordering::Relaxed),
        log.tickets(),
        log.duplicates()
    );
    stop.cancel();
}
