//! A database written by the previous schema (version 3, when the order
//! engine, the outbox and the audit chain created their own tables) opens
//! with today's store, migrates forward, and keeps every row: the site and
//! devices, events, the alarm, the order, the queued outbox row and the
//! audit chain, which still verifies. The gateway then carries on from it.

use std::sync::Arc;

use gateway::clock::ManualClock;
use gateway::orders::{ChannelFeedback, OrderEngine, OrderRecord, OrdersConfig};
use gateway::store::{SCHEMA_VERSION, Store, StoreConfig, spawn_writer};
use protocol::OrderState;
use protocol::feed::{AlarmFeed, AlarmState};

/// The tables of the fixture and how many rows each holds.
const ROWS: &[(&str, i64)] = &[
    ("site_nodes", 22),
    ("devices", 25),
    ("credentials", 26),
    ("presence", 16),
    ("events", 2),
    ("alarms", 1),
    ("linkage", 1),
    ("orders", 1),
    ("order_meta", 1),
    ("kpi", 1),
    ("outbox", 1),
    ("audit", 8),
];

/// Counts rows with a connection of the test's own, not the store's.
fn counts(db: &std::path::Path) -> Vec<(&'static str, i64)> {
    let conn = rusqlite::Connection::open(db).expect("db");
    ROWS.iter()
        .map(|(t, _)| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .expect("count");
            (*t, n)
        })
        .collect()
}

fn old_database(dir: &std::path::Path) -> std::path::PathBuf {
    let db = dir.join("gridsense.db");
    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute_batch(include_str!("fixtures/schema-v3.sql"))
        .expect("load the version 3 dump");
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, 3);
    db
}

#[test]
fn a_version_3_database_migrates_with_its_rows_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = old_database(dir.path());
    assert_eq!(counts(&db), ROWS, "the fixture as written");
    let store = Store::open(&db).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(counts(&db), ROWS, "every row kept");
    let v = store.verify_audit().expect("read").expect("chain intact");
    assert_eq!(v.records, 8);
    let order: OrderRecord =
        serde_json::from_str(&store.order("gw01-1").expect("read").expect("stored"))
            .expect("decodes");
    assert_eq!(order.state, OrderState::Closed);
    assert_eq!(store.last_order_number().expect("number"), 1);
    let rows = store.outbox_fetch((-1, 0), 10).expect("outbox");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "gw01-1");
    assert_eq!(store.all_alarms().expect("alarms").len(), 1);
    assert!(
        store.unevaluated_events().expect("read").is_empty(),
        "events of the old version count as evaluated: nothing is replayed"
    );
    drop(store);
    // Opened again: nothing to migrate, nothing changes.
    let again = Store::open(&db).expect("reopen");
    assert_eq!(again.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(counts(&db), ROWS);
}

#[tokio::test]
async fn the_gateway_carries_on_from_a_migrated_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = old_database(dir.path());
    let clock = Arc::new(ManualClock::new(1_796_119_100_000));
    let (store, _join) = spawn_writer(
        Store::open(&db).expect("migrates"),
        StoreConfig::default(),
        clock.clone(),
    )
    .expect("writer");
    let outbox = store.outbox();
    assert_eq!(outbox.stats().rows, 1, "the queued row is counted");
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let mut engine = OrderEngine::new(
        &OrdersConfig::default(),
        protocol::Name::new("gw01").expect("name"),
        protocol::Name::new("lianhua-garden").expect("name"),
        store.clone(),
        clock,
        Arc::new(ChannelFeedback(tx)),
    )
    .await
    .expect("engine");
    let old = Store::open_read_only(&db).expect("read");
    let mut alarm: AlarmFeed = old.all_alarms().expect("alarms").remove(0);
    engine.on_alarm(&alarm).await.expect("known alarm");
    alarm.id = protocol::AlarmId::new("gw01-a2").expect("id");
    alarm.state = AlarmState::Active;
    engine.on_alarm(&alarm).await.expect("new alarm");
    let keys: Vec<_> = outbox
        .fetch((-1, 0), 10)
        .await
        .expect("fetch")
        .into_iter()
        .map(|r| (r.key, r.revision))
        .collect();
    assert_eq!(
        keys,
        [("gw01-1".to_string(), 1), ("gw01-2".to_string(), 1)],
        "the old alarm made no second order; the new one continues the numbering"
    );
    let v = old.verify_audit().expect("read").expect("chain intact");
    assert_eq!(
        v.records, 9,
        "the new order's record links onto the old chain"
    );
}
