//! The boot identity in the store: `(device, boot, seq)` is the key, the
//! fail-safe rule for nodes without a boot counter, and the migration that
//! brings an earlier database's events along.

use std::sync::Arc;

use protocol::{Cause, DeviceId, EventKind};

use super::schema::MIGRATIONS;
use super::*;
use crate::clock::SystemClock;

fn rec(boot: Option<u32>, seq: u32, kind: EventKind, value: Option<f32>) -> EventRecord {
    EventRecord {
        device: DeviceId::new("smoke-1").expect("id"),
        boot,
        seq,
        kind,
        cause: Some(Cause::Smoke),
        value,
        node_ts: None,
        received_ms: 1_000,
        payload: br#"{"seq":1}"#.to_vec(),
    }
}

fn alarm(boot: Option<u32>, seq: u32, value: f32) -> EventRecord {
    rec(boot, seq, EventKind::Alarm, Some(value))
}

fn start() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    StoreHandle,
    std::thread::JoinHandle<()>,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gs.db");
    let (h, join) = spawn_writer(
        Store::open(&path).expect("open"),
        StoreConfig::default(),
        Arc::new(SystemClock),
    )
    .expect("writer");
    (dir, path, h, join)
}

#[tokio::test]
async fn with_a_boot_counter_the_same_seq_of_a_new_boot_is_a_new_event() {
    let (_dir, path, h, join) = start();
    assert!(matches!(
        h.commit_event(alarm(Some(1), 1, 3.2)).await,
        Ok(Commit::New(_))
    ));
    assert_eq!(
        h.commit_event(alarm(Some(1), 1, 3.2)).await.ok(),
        Some(Commit::Duplicate)
    );
    // Same seq, next boot, even the same content: a new event.
    assert!(matches!(
        h.commit_event(alarm(Some(2), 1, 3.2)).await,
        Ok(Commit::New(_))
    ));
    assert_eq!(
        h.commit_event(alarm(Some(2), 1, 3.2)).await.ok(),
        Some(Commit::Duplicate)
    );
    assert_eq!(
        h.stats().sequence_resets,
        0,
        "a boot counter needs no guessing"
    );
    drop(h);
    join.join().expect("writer exits");
    let rows = Store::open(&path)
        .expect("reopen")
        .events_for("smoke-1")
        .expect("read");
    let keys: Vec<_> = rows.iter().map(|r| (r.boot, r.seq)).collect();
    assert_eq!(keys, [(Some(1), 1), (Some(2), 1)]);
}

#[tokio::test]
async fn without_one_a_reused_seq_with_new_content_is_a_sequence_reset_never_dropped() {
    let (_dir, path, h, join) = start();
    let first = h.commit_event(alarm(None, 1, 3.2)).await.expect("first");
    assert!(matches!(first, Commit::New(_)));
    h.commit_event(rec(None, 2, EventKind::Restore, None))
        .await
        .expect("restore");
    // The exact repeat: stored once.
    assert_eq!(
        h.commit_event(alarm(None, 1, 3.2)).await.ok(),
        Some(Commit::Duplicate)
    );
    // The node rebooted: seq 1 again, a new reading.
    let reset = h
        .commit_event(alarm(None, 1, 4.1))
        .await
        .expect("after reboot");
    assert!(matches!(reset, Commit::SequenceReset(_)), "{reset:?}");
    // Its repeat is an exact repeat in the new epoch.
    assert_eq!(
        h.commit_event(alarm(None, 1, 4.1)).await.ok(),
        Some(Commit::Duplicate)
    );
    // seq 2 of the new run is free in the new epoch: new, not a repeat of the old restore.
    let next = h
        .commit_event(rec(None, 2, EventKind::Restore, None))
        .await
        .expect("2");
    assert!(matches!(next, Commit::New(_)), "{next:?}");
    let stats = h.stats();
    assert_eq!(
        (stats.events, stats.duplicates, stats.sequence_resets),
        (4, 2, 1)
    );
    drop(h);
    join.join().expect("writer exits");
    let rows = Store::open(&path)
        .expect("reopen")
        .events_for("smoke-1")
        .expect("read");
    let keys: Vec<_> = rows
        .iter()
        .map(|r| (r.boot, r.epoch, r.seq, r.value))
        .collect();
    assert_eq!(
        keys,
        [
            (None, 0, 1, Some(3.2)),
            (None, 0, 2, None),
            (None, 1, 1, Some(4.1)),
            (None, 1, 2, None),
        ]
    );
}

#[tokio::test]
async fn a_reused_seq_of_a_lesser_kind_is_a_repeat() {
    let (_dir, _path, h, join) = start();
    h.commit_event(rec(None, 1, EventKind::Test, None))
        .await
        .expect("test");
    // A restore or test with a reused seq cannot raise anything: acked, not stored.
    let restore = h
        .commit_event(rec(None, 1, EventKind::Restore, None))
        .await
        .expect("restore");
    assert_eq!(restore, Commit::Duplicate);
    // An alarm-class event with a reused seq always gets through.
    let fault = h
        .commit_event(rec(None, 1, EventKind::Fault, None))
        .await
        .expect("fault");
    assert!(matches!(fault, Commit::SequenceReset(_)));
    drop(h);
    join.join().expect("writer exits");
}

#[test]
fn where_each_sequence_stands_is_read_back_per_boot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gs.db");
    let (h, join) = spawn_writer(
        Store::open(&path).expect("open"),
        StoreConfig::default(),
        Arc::new(SystemClock),
    )
    .expect("writer");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async {
        for seq in 1..=9 {
            h.commit_event(alarm(Some(4), seq, 1.0))
                .await
                .expect("boot 4");
        }
        h.commit_event(alarm(Some(5), 1, 1.0))
            .await
            .expect("boot 5");
    });
    drop(h);
    join.join().expect("writer exits");
    let store = Store::open(&path).expect("reopen");
    let at = store.max_event_seqs().expect("read");
    assert_eq!(at.len(), 1);
    assert_eq!(
        (at[0].1, at[0].2),
        (Some(5), 1),
        "the latest boot, its highest seq"
    );
}

#[test]
fn a_database_of_the_previous_version_migrates_with_its_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gs.db");
    let boot_migration = MIGRATIONS
        .iter()
        .position(|m| m.contains("CREATE TABLE events_boot"))
        .expect("the boot migration");
    {
        let conn = rusqlite::Connection::open(&path).expect("old file");
        for sql in &MIGRATIONS[..boot_migration] {
            conn.execute_batch(sql).expect("old migration");
        }
        conn.pragma_update(None, "user_version", boot_migration as i64)
            .expect("version");
        conn.execute_batch(
            r#"INSERT INTO events (id, device, seq, kind, cause, value, node_ts, received_ms, payload)
               VALUES (7, 'smoke-1', 1, 'alarm', 'smoke', 3.5, NULL, 1000, CAST('{"seq":1}' AS BLOB)),
                      (8, 'smoke-1', 2, 'restore', 'smoke', NULL, NULL, 2000, CAST('{"seq":2}' AS BLOB));"#,
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let rows = store.events_for("smoke-1").expect("read");
    let kept: Vec<_> = rows
        .iter()
        .map(|r| (r.id, r.boot, r.epoch, r.seq, r.kind.as_str()))
        .collect();
    assert_eq!(kept, [(7, None, 0, 1, "alarm"), (8, None, 0, 2, "restore")]);
    drop(store);
    // The migrated rows take part in the new rule: a reboot's seq 1 is new.
    let (h, join) = spawn_writer(
        Store::open(&path).expect("open"),
        StoreConfig::default(),
        Arc::new(SystemClock),
    )
    .expect("writer");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let (repeat, reset) = rt.block_on(async {
        let repeat = h.commit_event(alarm(None, 1, 3.5)).await.expect("repeat");
        let reset = h.commit_event(alarm(None, 1, 5.0)).await.expect("reset");
        (repeat, reset)
    });
    assert_eq!(repeat, Commit::Duplicate);
    assert!(matches!(reset, Commit::SequenceReset(_)));
    drop(h);
    join.join().expect("writer exits");
}
