//! The outbox on a real SQLite file: drain order, receipts, the disk bound.

use protocol::OrderUp;

use super::outbox::{Class, Enqueued, OutMsg, Outbox, ROW_OVERHEAD};

fn msg(class: Class, key: &str, revision: u32, len: usize) -> OutMsg {
    OutMsg {
        class,
        key: key.to_string(),
        revision,
        topic: "grid/v1/d/s/c/g/order".into(),
        payload: vec![b'x'; len],
    }
}

fn open(max: u64) -> (tempfile::TempDir, rusqlite::Connection, Outbox) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = crate::sqlite::open(&dir.path().join("o.db")).expect("db");
    let outbox = Outbox::open(&conn, max).expect("outbox");
    (dir, conn, outbox)
}

#[test]
fn rows_drain_by_class_then_age() {
    let (_d, conn, ob) = open(1 << 30);
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
        ob.enqueue(&conn, 0, &msg(*c, &format!("k{i}"), 1, 10))
            .expect("enqueue");
    }
    let keys: Vec<_> = ob
        .fetch(&conn, (-1, 0), 10)
        .expect("fetch")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["k2", "k4", "k1", "k3", "k0"]);
    let after = ob.fetch(&conn, (1, 2), 10).expect("fetch");
    assert_eq!(
        after.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["k3", "k0"]
    );
    assert_eq!(ob.take_woken(), Some(Class::Alarm));
}

#[test]
fn a_receipt_removes_its_revision_and_older_ones_only() {
    let (_d, mut conn, ob) = open(1 << 30);
    for rev in 1..=3 {
        ob.enqueue(&conn, 0, &msg(Class::Order, "gw01-1", rev, 10))
            .expect("enqueue");
    }
    ob.enqueue(&conn, 0, &msg(Class::Order, "gw01-2", 1, 10))
        .expect("enqueue");
    assert_eq!(ob.ack(&mut conn, &[("gw01-1".into(), 2)]).expect("ack"), 2);
    let left: Vec<_> = ob
        .fetch(&conn, (-1, 0), 10)
        .expect("fetch")
        .into_iter()
        .map(|r| (r.key, r.revision))
        .collect();
    assert_eq!(left, [("gw01-1".to_string(), 3), ("gw01-2".to_string(), 1)]);
    assert_eq!(ob.stats().rows, 2);
}

#[test]
fn over_the_bound_oldest_routine_rows_are_shed_and_orders_never() {
    let row = 100 + 21 + ROW_OVERHEAD;
    let (_d, conn, ob) = open(row * 10);
    for i in 0..6 {
        ob.enqueue(&conn, 0, &msg(Class::Routine, &format!("r{i}"), 1, 100))
            .expect("enqueue");
    }
    for i in 0..6 {
        ob.enqueue(&conn, 0, &msg(Class::Order, &format!("o{i}"), 1, 100))
            .expect("enqueue");
    }
    let stats = ob.stats();
    assert_eq!((stats.rows, stats.shed), (10, 2));
    let keys: Vec<_> = ob
        .fetch(&conn, (-1, 0), 20)
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
        ob.enqueue(&conn, 0, &msg(Class::Order, &format!("o{i}"), 1, 100))
            .expect("enqueue");
    }
    assert_eq!(
        ob.stats().rows,
        12,
        "order rows are queued even over the bound"
    );
    let r = ob
        .enqueue(&conn, 0, &msg(Class::Routine, "late", 1, 100))
        .expect("enqueue");
    assert_eq!(r, Enqueued::Dropped);
}

#[test]
fn counters_are_rebuilt_when_reopened() {
    let (d, conn, ob) = open(1 << 30);
    let up: OrderUp = protocol::codec::decode(
        include_str!("../../../protocol/vectors/order.toml")
            .split("payload = '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("vector")
            .as_bytes(),
    )
    .expect("order");
    ob.enqueue(&conn, 0, &OutMsg::order(&up, Class::Alarm))
        .expect("enqueue");
    let before = ob.stats();
    drop(conn);
    let conn = crate::sqlite::open(&d.path().join("o.db")).expect("db");
    let again = Outbox::open(&conn, 1 << 30).expect("outbox");
    assert_eq!(
        (again.stats().rows, again.stats().bytes),
        (before.rows, before.bytes)
    );
    let row = &again.fetch(&conn, (-1, 0), 1).expect("fetch")[0];
    assert_eq!(row.topic, "grid/v1/chancheng/zumiao/lianhua/g07/order");
}
