//! Store tests on real SQLite files in a temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use protocol::{Cause, DeviceId, EventKind, FieldName, Status};

use super::*;
use crate::clock::{ManualClock, SharedClock, SystemClock};

const DAY: u64 = 86_400_000;

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gs.db");
    (dir, path)
}

fn dev(id: &str) -> DeviceId {
    DeviceId::new(id).expect("valid id")
}

fn event(device: &str, seq: u32) -> EventRecord {
    EventRecord {
        device: dev(device),
        boot: None,
        seq,
        kind: EventKind::Alarm,
        cause: Some(Cause::Smoke),
        value: Some(4.5),
        node_ts: None,
        received_ms: 1_000 + u64::from(seq),
        payload: br#"{"seq":1}"#.to_vec(),
    }
}

fn telemetry(device: &str, seq: u32, at: u64) -> TelemetryRecord {
    TelemetryRecord {
        device: dev(device),
        seq,
        received_ms: at,
        readings: vec![(FieldName::new("temp").expect("field"), 21.5)],
    }
}

fn writer(
    path: &std::path::Path,
    cfg: StoreConfig,
    clock: SharedClock,
) -> (StoreHandle, std::thread::JoinHandle<()>) {
    spawn_writer(Store::open(path).expect("open"), cfg, clock).expect("writer")
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).expect("first open");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    drop(store);
    let store = Store::open(&path).expect("second open");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.telemetry_count().expect("count"), 0);
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).expect("open");
    store
        .conn()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(store);
    assert!(matches!(Store::open(&path), Err(StoreError::TooNew { .. })));
}

#[tokio::test]
async fn commit_event_resolves_only_after_commit() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    let reader = Store::open_read_only(&path).expect("second connection");
    for seq in 1..=20 {
        let commit = h.commit_event(event("smoke-1", seq)).await.expect("commit");
        assert!(matches!(commit, Commit::New(_)));
        // Another connection sees the row the moment the future resolves.
        let rows = reader.events_for("smoke-1").expect("read");
        assert_eq!(rows.len(), seq as usize);
        assert_eq!(rows.last().map(|r| r.seq), Some(seq));
    }
    drop(h);
    join.join().expect("writer exits");
}

#[tokio::test]
async fn duplicate_device_seq_is_stored_once() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    let first = h.commit_event(event("smoke-1", 7)).await.expect("first");
    let again = h.commit_event(event("smoke-1", 7)).await.expect("repeat");
    let other = h
        .commit_event(event("smoke-2", 7))
        .await
        .expect("other device");
    assert!(matches!(first, Commit::New(_)));
    assert_eq!(again, Commit::Duplicate);
    assert!(matches!(other, Commit::New(_)));
    assert_eq!((h.stats().events, h.stats().duplicates), (2, 1));
    drop(h);
    join.join().expect("writer exits");
    let store = Store::open(&path).expect("reopen");
    let rows = store.events_for("smoke-1").expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cause.as_deref(), Some("smoke"));
    assert_eq!(rows[0].value, Some(4.5));
}

#[tokio::test]
async fn telemetry_is_shed_when_full_while_events_still_commit() {
    let (_dir, path) = temp_db();
    let cfg = StoreConfig {
        telemetry_queue: 4,
        ..StoreConfig::default()
    };
    let (h, join) = writer(&path, cfg, Arc::new(SystemClock));
    // Another connection holds the write lock, so the writer stalls in its
    // first transaction and the telemetry queue fills up.
    let blocker = rusqlite::Connection::open(&path).expect("blocker");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    h.try_telemetry(telemetry("th-1", 1, 1))
        .expect("first is taken");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut shed = 0;
    for seq in 2..20 {
        if h.try_telemetry(telemetry("th-1", seq, 1)).is_err() {
            shed += 1;
        }
    }
    assert!(shed >= 14, "only {shed} shed");
    let pending = tokio::spawn({
        let h = h.clone();
        async move { h.commit_event(event("gas-1", 1)).await }
    });
    blocker.execute_batch("COMMIT").expect("unlock");
    let commit = pending.await.expect("task").expect("event committed");
    assert!(matches!(commit, Commit::New(_)));
    h.flush().await.expect("flush");
    let stats = h.stats();
    assert_eq!(stats.shed, shed);
    assert_eq!(stats.telemetry_rows, 19 - shed);
    drop(h);
    join.join().expect("writer exits");
}

#[tokio::test]
async fn retention_deletes_old_rows_by_the_clock() {
    let (_dir, path) = temp_db();
    let clock = Arc::new(ManualClock::new(10 * DAY));
    let cfg = StoreConfig {
        telemetry_retention_days: 2,
        max_telemetry_rows: 0,
        ..StoreConfig::default()
    };
    let (h, join) = writer(&path, cfg, clock.clone());
    for (seq, at) in [
        (1, 5 * DAY),
        (2, 7 * DAY),
        (3, 8 * DAY + 1),
        (4, 9 * DAY),
        (5, 10 * DAY),
    ] {
        h.try_telemetry(telemetry("th-1", seq, at)).expect("queued");
    }
    h.flush().await.expect("flush");
    assert_eq!(h.run_retention().await.expect("retention"), 2);
    clock.advance(DAY);
    assert_eq!(h.run_retention().await.expect("retention"), 1);
    assert_eq!(h.stats().retention_deleted, 3);
    let reader = Store::open_read_only(&path).expect("reader");
    assert_eq!(reader.telemetry_count().expect("count"), 2);
    // With nothing asked, it runs by itself once a period has passed.
    clock.advance(2 * DAY);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(reader.telemetry_count().expect("count"), 0);
    drop(h);
    join.join().expect("writer exits");
}

#[tokio::test]
async fn retention_keeps_at_most_max_rows_newest_first() {
    let (_dir, path) = temp_db();
    let cfg = StoreConfig {
        telemetry_retention_days: 0,
        max_telemetry_rows: 5,
        ..StoreConfig::default()
    };
    let (h, join) = writer(&path, cfg, Arc::new(ManualClock::new(DAY)));
    for seq in 1..=8 {
        h.try_telemetry(telemetry("th-1", seq, DAY))
            .expect("queued");
    }
    h.flush().await.expect("flush");
    assert_eq!(h.run_retention().await.expect("retention"), 3);
    drop(h);
    join.join().expect("writer exits");
    let store = Store::open(&path).expect("reopen");
    let oldest: u32 = store
        .conn()
        .query_row("SELECT min(seq) FROM telemetry", [], |r| r.get(0))
        .expect("min");
    assert_eq!((store.telemetry_count().expect("count"), oldest), (5, 4));
}

#[tokio::test]
async fn presence_survives_reopen_and_ignores_stale_updates() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    h.set_presence(dev("lock-1"), Status::Online, 100)
        .await
        .expect("online");
    h.set_presence(dev("lock-1"), Status::Offline, 200)
        .await
        .expect("offline");
    h.set_presence(dev("lock-1"), Status::Online, 150)
        .await
        .expect("stale");
    h.set_presence(dev("smoke-1"), Status::Online, 300)
        .await
        .expect("online");
    h.close().await.expect("close");
    join.join().expect("writer exits");
    let store = Store::open(&path).expect("reopen");
    let list = store.presence_list().expect("presence");
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].device.as_str(), list[0].status, list[0].at_ms),
        ("lock-1", Status::Offline, 200)
    );
    assert_eq!(store.last_seen("smoke-1").expect("seen"), Some(300));
}

#[tokio::test]
async fn dropping_the_last_handle_drains_and_commits_everything() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    for seq in 1..=500 {
        h.try_telemetry(telemetry("th-1", seq, 5)).expect("queued");
    }
    for i in 0..3 {
        h.quarantine(QuarantineRecord {
            at_ms: 10 + i,
            source: "?".into(),
            reason: "bad-payload",
            // An independent wire string, written by hand on purpose.
            topic: "gs/v1/dev/x/evt".into(),
            detail: "x".repeat(1000),
        });
    }
    drop(h);
    join.join().expect("writer exits");
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.telemetry_count().expect("count"), 500);
    let q = store.quarantine_list().expect("quarantine");
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].count, q[0].first_seen_ms, q[0].last_seen_ms),
        (3, 10, 12)
    );
    assert_eq!(q[0].last_detail.len(), 256);
}

#[tokio::test]
async fn an_event_stays_unevaluated_until_its_consequences_are_stored_with_its_mark() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    let Commit::New(first) = h.commit_event(event("smoke-1", 1)).await.expect("commit") else {
        panic!("new event");
    };
    let Commit::New(second) = h.commit_event(event("smoke-1", 2)).await.expect("commit") else {
        panic!("new event");
    };
    let reader = Store::open_read_only(&path).expect("reader");
    let ids = |s: &Store| -> Vec<i64> {
        s.unevaluated_events()
            .expect("read")
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids(&reader), [first, second], "stored, not yet evaluated");
    let link = crate::store::LinkageRecord {
        alarm: "gw01-a1".into(),
        device: protocol::DeviceId::new("door-1").expect("id"),
        cmd: protocol::CommandKind::Unlock,
        sent_ms: 1,
        acked_ms: 2,
        attempts: 1,
        ok: true,
    };
    h.write(crate::store::Write::Evaluated {
        event: first,
        writes: vec![crate::store::Write::Linkage(link.clone())],
    })
    .await
    .expect("evaluated");
    assert_eq!(ids(&reader), [second], "marked with its consequences");
    assert_eq!(reader.linkage_for("gw01-a1").expect("linkage").len(), 1);
    // A backlog of reports in one transaction: each applied, in order.
    h.write(crate::store::Write::Many(vec![
        crate::store::Write::Linkage(link.clone()),
        crate::store::Write::Evaluated {
            event: second,
            writes: vec![crate::store::Write::Linkage(link)],
        },
    ]))
    .await
    .expect("many");
    assert!(ids(&reader).is_empty(), "the second marked too");
    assert_eq!(reader.linkage_for("gw01-a1").expect("linkage").len(), 3);
    drop(h);
    join.join().expect("writer exits");
}

/// Another connection (the access stage's, an API import) holding the
/// write lock makes the writer wait its busy timeout, not fail the batch:
/// a batch that read before it wrote used to get `database is locked` at
/// once (SQLite invokes no busy handler for a read transaction's upgrade),
/// and a fire alarm in it went unacknowledged until the node repeated it.
#[tokio::test]
async fn a_batch_waits_for_another_connections_write_lock() {
    let (_dir, path) = temp_db();
    let (h, join) = writer(&path, StoreConfig::default(), Arc::new(SystemClock));
    let other = rusqlite::Connection::open(&path).expect("other connection");
    other.execute_batch("BEGIN IMMEDIATE").expect("write lock");
    let commit = tokio::spawn({
        let h = h.clone();
        async move { h.commit_event(event("smoke-1", 1)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other.execute_batch("COMMIT").expect("release");
    let commit = commit.await.expect("task");
    assert!(matches!(commit, Ok(Commit::New(_))), "{commit:?}");
    drop(h);
    join.join().expect("writer exits");
}
