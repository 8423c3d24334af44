//! The outbox on a real SQLite file through the store's threads: drain
//! order, receipts, the disk bound.

use std::sync::Arc;

use protocol::OrderUp;

use super::outbox::{Class, Enqueued, OutMsg, ROW_OVERHEAD};
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

#[tokio::test]
async fn over_the_bound_oldest_routine_rows_are_shed_and_orders_never() {
    let row = 100 + 21 + ROW_OVERHEAD;
    let (_d, _h, ob) = open(row * 10);
    for i in 0..6 {
        put(&ob, msg(Class::Routine, &format!("r{i}"), 1, 100)).await;
    }
    for i in 0..6 {
        put(&ob, msg(Class::Order, &format!("o{i}"), 1, 100)).await;
    }
    let stats = ob.stats();
    assert_eq!((stats.rows, stats.shed), (10, 2));
    let keys: Vec<_> = ob
        .fetch((-1, 0), 20)
        .await
        .expect("fetch")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys.iter().filter(|k| k.starts_with('o')).count(), 6);
    assert_eq!(
        keys[6..],
        ["r2", "r3", "r4", "r5"],
        "the oldest routine rows went first"
    );
    for i in 6..12 {
        put(&ob, msg(Class::Order, &format!("o{i}"), 1, 100)).await;
    }
    assert_eq!(
        ob.stats().rows,
        12,
        "order rows are queued even over the bound"
    );
    let r = put(&ob, msg(Class::Routine, "late", 1, 100)).await;
    assert_eq!(r, Enqueued::Dropped);
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
