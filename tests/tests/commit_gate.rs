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
        .wait_for("unlock after the restart", |t, v| {
            t.ends_with("/cmd") && v.get("cmd").is_some()
        })
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
        Some(2 + gridsense_tests::SETUP_AUDIT_RECORDS)
    );
}

/// An alarm as the alarm engine stores it: a sensor fault of one detector.
fn sensor_fault(state: protocol::feed::AlarmState) -> protocol::feed::AlarmFeed {
    use protocol::feed::AlarmState;
    let name = |s: &str| protocol::Name::new(s).expect("name");
    protocol::feed::AlarmFeed {
        id: protocol::AlarmId::new("gw01-a7").expect("id"),
        kind: protocol::AlarmKind::SensorFault,
        severity: protocol::AlarmKind::SensorFault.default_severity(),
        state,
        condition: state != AlarmState::Cleared,
        test: false,
        devices: vec![DeviceId::new("smoke-b2-101a").expect("id")],
        zone: None,
        location: "Building 2, unit 1, floor 1, room 101".into(),
        grid: protocol::GridPath {
            city: name("foshan"),
            district: name("chancheng"),
            street: name("zumiao"),
            community: name("lianhua"),
            cell: name("g01"),
        },
        raised_at: T0,
        confirmed_at: Some(T0),
        confirmed_by: Some("single-stage".into()),
        ended_at: (state == AlarmState::Cleared).then_some(T0 + 40),
        snapshot: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_raised_and_cleared_just_before_a_crash_still_gets_its_order() {
    use gateway::store::Write;
    use protocol::feed::AlarmState;
    let mut c = Compound::start("").await;
    c.down().await;
    // The crash state: both changes of the alarm committed (as the commit
    // gate stores them), the order engine never saw either.
    let (store, join) = spawn_writer(
        Store::open(&c.cfg.store.path).expect("db"),
        StoreConfig::default(),
        Arc::new(SystemClock),
    )
    .expect("writer");
    for (state, at) in [(AlarmState::Active, T0), (AlarmState::Cleared, T0 + 40)] {
        store
            .write(Write::Alarm(Box::new(sensor_fault(state)), at))
            .await
            .expect("alarm stored");
    }
    store.close().await.expect("close");
    tokio::task::spawn_blocking(move || join.join())
        .await
        .expect("join")
        .expect("writer exits");
    assert_eq!(c.store().unhanded_alarms().expect("read").len(), 1);

    c.up().await;
    let order = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(id) = c.store().order_for_alarm("gw01-a7").expect("read")
                && c.store().unhanded_alarms().expect("read").is_empty()
            {
                return id;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the alarm got its order after the restart");
    let body: serde_json::Value =
        serde_json::from_str(&c.store().order(&order).expect("read").expect("stored"))
            .expect("order json");
    // As without the crash: a fault that cleared by itself still wants its
    // visit, so the order stays open for the district.
    assert_eq!(body["state"], "new", "{body}");
    assert_eq!(body["up"]["alarm_id"], "gw01-a7");
    let queued = c.store().outbox_fetch((-1, 0), 10).expect("outbox");
    assert_eq!(queued.len(), 1, "one order upstream");

    // Another restart hands nothing again and makes nothing new.
    c.down().await;
    c.up().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let s = c.store();
    assert!(s.unhanded_alarms().expect("read").is_empty());
    assert_eq!(s.order_for_alarm("gw01-a7").expect("read"), Some(order));
    assert_eq!(s.outbox_fetch((-1, 0), 10).expect("outbox").len(), 1);
}
