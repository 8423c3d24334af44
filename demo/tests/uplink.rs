//! The uplink against real brokers on 127.0.0.1 and the upstream simulator:
//! exactly-once tickets across a kill, draining after an outage, alarm
//! orders overtaking a backlog.

mod upstream;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use demo::upstream_sim::{SimConfig, SimLog, run_with_log};
use gateway::uplink::{Class, Outbox, Uplink, UplinkConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use upstream::{Proxy, broker, fill, name, open_outbox, wait_until};

fn sim(addr: std::net::SocketAddr) -> (Arc<SimLog>, CancellationToken) {
    let cfg = SimConfig {
        receipt_only: true,
        credentials: Some(("district".into(), "secret".into())),
        ..SimConfig::new("127.0.0.1", addr.port())
    };
    let log = Arc::new(SimLog::default());
    let stop = CancellationToken::new();
    tokio::spawn(run_with_log(cfg, log.clone(), stop.clone()));
    (log, stop)
}

fn uplink_cfg(port: u16, max_inflight: usize) -> UplinkConfig {
    UplinkConfig {
        max_inflight,
        batch: max_inflight.min(200),
        resend_after_ms: 3_000,
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        username: Some("gw01".into()),
        password: Some("secret".into()),
        ..UplinkConfig::new("127.0.0.1", port)
    }
}

fn start(cfg: &UplinkConfig, _db: &Path, outbox: &Outbox) -> JoinHandle<()> {
    let up = Uplink::new(cfg, &name("gw01"), outbox.clone()).expect("uplink");
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    tokio::spawn(async move {
        up.run(tx, CancellationToken::new())
            .await
            .expect("uplink run");
    })
}

/// Rows in the outbox, read with a connection of the test's own.
fn queued(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("db");
    conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_makes_one_ticket_across_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let addr = broker("127.0.0.1:0");
    let (log, _stop) = sim(addr);
    let outbox = open_outbox(&db);
    fill(&outbox, 1, 3_001, Class::Order).await;
    let cfg = uplink_cfg(addr.port(), 100);
    let first = start(&cfg, &db, &outbox);
    wait_until(20, "a first part delivered", || log.revisions() >= 500).await;
    // The kill: no flush, no disconnect, the outbox handle and connection dropped.
    first.abort();
    let _ = first.await;
    drop(outbox);
    let left = queued(&db);
    assert!(left > 0 && left < 3_000, "killed mid-drain ({left} left)");
    let outbox = open_outbox(&db);
    let _second = start(&cfg, &db, &outbox);
    wait_until(30, "the outbox to empty", || queued(&db) == 0).await;
    let seen = log.seen();
    let ids: HashSet<_> = seen.iter().map(|s| s.order_id.clone()).collect();
    assert_eq!(
        (seen.len(), ids.len(), log.tickets()),
        (3_000, 3_000, 3_000)
    );
    println!(
        "redeliveries answered without a new ticket: {}",
        log.duplicates()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_holds_through_an_outage_and_drains_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let addr = broker("127.0.0.1:0");
    let (log, _stop) = sim(addr);
    let proxy = Proxy::start(addr, false).await;
    let outbox = open_outbox(&db);
    fill(&outbox, 1, 301, Class::Order).await;
    let _up = start(&uplink_cfg(proxy.addr.port(), 50), &db, &outbox);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (log.revisions(), queued(&db)),
        (0, 300),
        "nothing leaves while unreachable"
    );
    proxy.set(true);
    wait_until(20, "the backlog to drain", || queued(&db) == 0).await;
    let order: Vec<u64> = log
        .seen()
        .iter()
        .map(|s| s.order_id[5..].parse().expect("n"))
        .collect();
    assert_eq!(order, (1..=300).collect::<Vec<_>>(), "oldest first");
    fill(&outbox, 301, 2_301, Class::Order).await;
    wait_until(20, "the drain to start", || log.revisions() > 400).await;
    proxy.set(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = queued(&db);
    assert!(during > 0, "cut mid-drain");
    proxy.set(true);
    wait_until(30, "the rest to drain", || queued(&db) == 0).await;
    assert_eq!((log.revisions(), log.tickets()), (2_300, 2_300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_orders_overtake_a_backlog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let addr = broker("127.0.0.1:0");
    let (log, _stop) = sim(addr);
    let proxy = Proxy::start(addr, false).await;
    let outbox = open_outbox(&db);
    fill(&outbox, 1, 5_001, Class::Routine).await;
    fill(&outbox, 5_001, 8_001, Class::Order).await;
    fill(&outbox, 9_001, 9_002, Class::Alarm).await;
    let _up = start(&uplink_cfg(proxy.addr.port(), 20), &db, &outbox);
    proxy.set(true);
    wait_until(20, "the first order", || log.revisions() >= 1).await;
    assert_eq!(
        log.seen()[0].order_id,
        "gw01-9001",
        "the newest row, an alarm order, went first"
    );
    wait_until(20, "part of the backlog", || log.revisions() >= 500).await;
    fill(&outbox, 9_002, 9_003, Class::Alarm).await;
    wait_until(20, "the second alarm order", || {
        log.seen().iter().any(|s| s.order_id == "gw01-9002")
    })
    .await;
    let seen = log.seen();
    let at = seen
        .iter()
        .position(|s| s.order_id == "gw01-9002")
        .expect("seen");
    assert!(
        at < 3_000,
        "the alarm order came at {at}, ahead of the rest of the order backlog"
    );
    wait_until(30, "the order rows to drain", || log.revisions() >= 3_002).await;
}
