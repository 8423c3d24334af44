//! The outbox on a real SQLite file through the store's threads: drain
//! order, receipts, the disk bound.

use std::sync::Arc;

use protocol::OrderUp;

use super::outbox::{Class, Enqueued, OutMsg};
use super::outbox_handle::Outbox;
use super::{Store, StoreConfig, StoreHandle, spawn_writer};
use crate::clock::ManualClock;

fn msg(class: Class, key: &str, revision: u32, len: usize) -> OutMsg {
    OutMsg {
        class,
        key: key.to_string(),
        revision,
        // An independent wire vector, written by hand on purpose.
        topic: "grid/v1/d/s/c/g/order".into(),
        payload: vec![b'x'; len],
    }
}

fn start(path: &std::path::Path, max: u64) -> (StoreHandle, Outbox) {
    let cfg = StoreConfig {
        outbox_max_bytes: max,
        ..StoreConfig::default()
    };
    let clock = Arc::new(ManualClock::new(0));
    let (h, _join) = spawn_writer(Store::open(path).expect("open"), cfg, clock).expect("writer");
    let ob = h.outbox();
    (h, ob)
}

fn open(max: u64) -> (tempfile::TempDir, StoreHandle, Outbox) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (h, ob) = start(&dir.path().join("o.db"), max);
    (dir, h, ob)
}

async fn put(ob: &Outbox, m: OutMsg) -> Enqueued {
    ob.enqueue(0, vec![m]).await.expect("enqueue")[0]
}

#[tokio::test]
async fn rows_drain_by_class_then_age() {
    let (_d, _h, ob) = open(1 << 30);
    for (i, c) in [
        Class::Routine,
        Class::Order,
        Class::Alarm,
        Class::Order,
        Class::Alarm,
    ]
    .iter()
    .enumerate()
    {
        put(&ob, msg(*c, &format!("k{i}"), 1, 10)).await;
    }
    let keys: Vec<_> = ob
        .fetch((-1, 0), 10)
        .await
        .expect("fetch")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["k2", "k4", "k1", "k3", "k0"]);
    let after = ob.fetch((1, 2), 10).await.expect("fetch");
    assert_eq!(
        after.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["k3", "k0"]
    );
    assert_eq!(ob.take_woken(), Some(Class::Alarm));
}

#[tokio::test]
async fn a_receipt_removes_its_revision_and_older_ones_only() {
    let (_d, _h, ob) = open(1 << 30);
    for rev in 1..=3 {
        put(&ob, msg(Class::Order, "gw01-1", rev, 10)).await;
    }
    put(&ob, msg(Class::Order, "gw01-2", 1, 10)).await;
    assert_eq!(ob.ack(vec![("gw01-1".into(), 2)]).await.expect("ack"), 2);
    let left: Vec<_> = ob
        .fetch((-1, 0), 10)
        .await
        .expect("fetch")
        .into_iter()
        .map(|r| (r.key, r.revision))
        .collect();
    assert_eq!(left, [("gw01-1".to_string(), 3), ("gw01-2".to_string(), 1)]);
    assert_eq!(ob.stats().rows, 2);
}

/// The outbox's pages in the file and the file's size, through a
/// connection of its own (what is committed on disk).
fn on_disk(path: &std::path::Path) -> (u64, u64) {
    let s = Store::open_read_only(path).expect("read-only");
    let pages = s.outbox_pages().expect("dbstat");
    let file: i64 = s
        .conn()
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .expect("page count");
    (pages, file.unsigned_abs())
}

#[tokio::test]
async fn over_the_bound_routine_rows_go_first_then_orders_and_life_safety_never() {
    let bound: u64 = 512 << 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("o.db");
    let (_h, ob) = start(&path, bound);
    let (_, empty_file) = on_disk(&path);
    for i in 0..300 {
        put(&ob, msg(Class::Routine, &format!("r{i}"), 1, 1000)).await;
    }
    for i in 0..600 {
        put(&ob, msg(Class::Order, &format!("o{i}"), 1, 1000)).await;
    }
    for i in 0..100 {
        put(&ob, msg(Class::Alarm, &format!("a{i}"), 1, 1000)).await;
    }
    let keys: Vec<String> = ob
        .fetch((-1, 0), 2000)
        .await
        .expect("fetch")
        .into_iter()
        .map(|r| r.key)
        .collect();
    let count = |p: char| keys.iter().filter(|k| k.starts_with(p)).count();
    assert_eq!(count('a'), 100, "every life-safety row kept");
    assert_eq!(count('r'), 0, "routine rows shed before any order");
    let orders: Vec<usize> = keys
        .iter()
        .filter_map(|k| k.strip_prefix('o')?.parse().ok())
        .collect();
    assert!(!orders.is_empty() && orders.len() < 600, "{}", orders.len());
    assert_eq!(
        orders,
        ((600 - orders.len())..600).collect::<Vec<_>>(),
        "the oldest orders went first"
    );
    let stats = ob.stats();
    assert_eq!(stats.shed, 300);
    assert_eq!(stats.shed_orders, 600 - orders.len() as u64);
    // The bound holds on disk: the outbox's pages, and so the file.
    let (pages, file) = on_disk(&path);
    eprintln!(
        "bound {bound}, outbox pages {pages}, estimate {}, file {file} (empty {empty_file}), rows {}",
        stats.disk_bytes, stats.rows
    );
    assert!(
        pages <= bound + bound / 8,
        "outbox pages {pages} over {bound}"
    );
    assert!(
        file <= empty_file + bound + bound / 4,
        "file {file} grew past the bound"
    );
}

#[tokio::test]
async fn at_the_bound_a_new_order_is_dropped_but_a_life_safety_one_is_queued() {
    let (_d, _h, ob) = open(64 << 10);
    for i in 0..200 {
        put(&ob, msg(Class::Alarm, &format!("a{i}"), 1, 1000)).await;
    }
    assert_eq!(
        ob.stats().rows,
        200,
        "life-safety rows are queued even over the bound"
    );
    assert_eq!(
        put(&ob, msg(Class::Order, "o", 1, 1000)).await,
        Enqueued::Dropped
    );
    assert_eq!(
        put(&ob, msg(Class::Routine, "r", 1, 1000)).await,
        Enqueued::Dropped
    );
    let stats = ob.stats();
    assert_eq!((stats.rows, stats.shed, stats.shed_orders), (200, 1, 1));
}

#[tokio::test]
async fn counters_are_rebuilt_when_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("o.db");
    let (h, ob) = start(&path, 1 << 30);
    let up: OrderUp = protocol::codec::decode(
        include_str!("../../../protocol/vectors/order.toml")
            .split("payload = '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("vector")
            .as_bytes(),
    )
    .expect("order");
    put(&ob, OutMsg::order(&up, Class::Alarm)).await;
    let before = ob.stats();
    h.close().await.expect("close");
    drop(ob);
    let (_h, again) = start(&path, 1 << 30);
    assert_eq!(
        (again.stats().rows, again.stats().bytes),
        (before.rows, before.bytes)
    );
    let row = &again.fetch((-1, 0), 1).await.expect("fetch")[0];
    // An independent wire vector, written by hand on purpose.
    assert_eq!(row.topic, "grid/v1/chancheng/zumiao/lianhua/g07/order");
}
