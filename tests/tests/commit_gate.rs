//! The commit gate across a crash: an event committed and acknowledged to
//! its node, whose alarm was not yet committed when the process died, is
//! replayed at the next start. Its fire alarm is raised exactly once, the
//! work order made exactly once, the doors released again, and nothing is
//! replayed a second time.
//!
//! The crash is reproduced exactly: the gateway is stopped, and the store is
//! left as a kill between the event's commit and its alarm's commit leaves
//! it (the event stored, unevaluated, with no alarm).

use std::sync::Arc;

use gateway::clock::SystemClock;
use gateway::store::{Commit, EventRecord, Store, StoreConfig, spawn_writer};
use gridsense_tests::{Compound, T0, WAIT};
use protocol::{Cause, DeviceId, EventKind};

/// The smoke detector's alarm, as the node sent it (an independent wire vector).
const PAYLOAD: &str = r#"{"seq":1,"type":"alarm","cause":"smoke"}"#;

/// Commits the event the way ingest does, and stops there.
async fn commit_only(db: &std::path::Path) {
    let (store, join) = spawn_writer(
        Store::open(db).expect("db"),
        StoreConfig::default(),
        Arc::new(SystemClock),
    )
    .expect("writer");
    let commit = store
        .commit_event(EventRecord {
            device: DeviceId::new("smoke-b2-101a").expect("id"),
            boot: None,
            seq: 1,
            kind: EventKind::Alarm,
            cause: Some(Cause::Smoke),
            value: None,
            node_ts: None,
            received_ms: T0,
            payload: PAYLOAD.as_bytes().to_vec(),
        })
        .await
        .expect("commit");
    assert!(matches!(commit, Commit::New(_)));
    store.close().await.expect("close");
    tokio::task::spawn_blocking(move || join.join())
        .await
        .expect("join")
        .expect("writer exits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acked_fire_whose_alarm_was_not_committed_is_raised_once_after_the_restart() {
    // One detector is enough on this floor; no uplink: orders wait in the outbox.
    let mut c = Compound::start("[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\n").await;
    c.down().await;
    commit_only(&c.cfg.store.path).await;
    let s = c.store();
    assert_eq!(s.unevaluated_events().expect("read").len(), 1);
    assert!(
        s.all_alarms().expect("alarms").is_empty(),
        "the crash state"
    );
    drop(s);

    c.up().await;
    let alarms = tokio::time::timeout(WAIT, async {
        loop {
            let a = c.store().all_alarms().expect("alarms");
            let queued = c.store().outbox_fetch((-1, 0), 10).expect("outbox");
            if !a.is_empty() && !queued.is_empty() {
                return (a, queued);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the replayed event raised its alarm and its order");
    let (a, queued) = alarms;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, protocol::AlarmKind::Fire);
    assert_eq!(a[0].devices[0].as_str(), "smoke-b2-101a");
    assert_eq!(queued.len(), 1, "one order");
    assert!(c.store().unevaluated_events().expect("read").is_empty());
    // The release went out at once, and is repeated until the lock answers.
    let mut lock = c.node("lock-b2-stair").await;
    // Linkage repeats by the gateway's clock, which this test moves by hand.
    let clock = c.clock.clone();
    let mover = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            clock.advance(1_000);
        }
    });
    let (_, cmd) = lock
        .wait_for("unlock after the restart", |t, _| t.ends_with("/cmd"))
        .await;
    assert_eq!(cmd["cmd"], "unlock");
    mover.abort();

    // Another restart replays nothing and makes nothing new.
    c.down().await;
    c.up().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let s = c.store();
    assert_eq!(s.all_alarms().expect("alarms").len(), 1);
    assert_eq!(s.outbox_fetch((-1, 0), 10).expect("outbox").len(), 1);
    assert_eq!(
        s.verify_audit().expect("read").map(|v| v.records).ok(),
        Some(2)
    );
}
