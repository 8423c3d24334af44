//! The outbox: every message for the district platform is a row in SQLite
//! before it is sent, and stays there until the platform says `received`
//! for its `(key, revision)`. A broker's PUBACK is not enough: it means
//! "routed", not "stored".
//!
//! Rows are drained by `class` (alarm orders first), then by age (`seq`).
//! The outbox's share of the file (its table's and indexes' pages) is
//! bounded (`[uplink.outbox] max_mib`, see [`super::outbox_bound`]): over
//! the bound the oldest routine rows are shed, then the oldest orders that
//! are not life-safety; life-safety rows (class 0) never are.
//!
//! The SQL runs on the store's threads: writes ([`enqueue`], [`ack`],
//! [`remove`]) in the writer's transactions, [`fetch`] on the reader. The
//! uplink and the order engine hold an [`Outbox`]: the counters, the
//! drain's wake-up, and the way to the store.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use rusqlite::{Connection, params};
use tokio::sync::Notify;

use protocol::OrderUp;

use super::{Store, StoreError};

/// Bytes counted per row on top of its topic and payload (keys, index entries).
pub const ROW_OVERHEAD: u64 = 64;

/// Drain priority of a row; lower goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Class {
    /// Orders from life-safety or critical/immediate alarms.
    Alarm = 0,
    /// Every other order and order revision.
    Order = 1,
    /// Reports that may be shed when the disk bound is reached; removed when
    /// handed to a connected client (at most once), not on a receipt.
    Routine = 2,
}

impl Class {
    pub(super) fn from_i64(v: i64) -> Self {
        match v {
            0 => Self::Alarm,
            1 => Self::Order,
            _ => Self::Routine,
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMsg {
    /// Drain priority.
    pub class: Class,
    /// What the platform's receipt names: the order id.
    pub key: String,
    /// Which revision of `key` this is.
    pub revision: u32,
    /// MQTT topic.
    pub topic: String,
    /// Encoded payload.
    pub payload: Vec<u8>,
}

impl OutMsg {
    /// An order revision on `grid/v1/{district}/{street}/{community}/{cell}/order`.
    pub fn order(up: &OrderUp, class: Class) -> Self {
        let topic = protocol::Topic::OrderUp {
            cell: (&up.grid).into(),
        };
        Self {
            class,
            key: up.order_id.to_string(),
            revision: up.revision,
            topic: topic.to_string(),
            payload: protocol::codec::encode(up),
        }
    }

    pub(super) fn size(&self) -> u64 {
        (self.topic.len() + self.payload.len()) as u64 + ROW_OVERHEAD
    }
}

/// A queued row, as read by the drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Position in the table; rises with age.
    pub seq: i64,
    /// Drain priority.
    pub class: Class,
    /// Receipt key.
    pub key: String,
    /// Receipt revision.
    pub revision: u32,
    /// MQTT topic.
    pub topic: String,
    /// Encoded payload.
    pub payload: Vec<u8>,
}

/// A snapshot of the outbox counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Rows queued.
    pub rows: u64,
    /// Their counted bytes.
    pub bytes: u64,
    /// Routine rows shed over the bound since start.
    pub shed: u64,
    /// Order rows (not life-safety) shed over the bound since start.
    pub shed_orders: u64,
    /// The outbox's share of the file, bytes: its pages as last measured,
    /// plus what was queued or removed since, at the measured ratio.
    pub disk_bytes: u64,
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued (after shedding this many older routine rows).
    Queued {
        /// Routine rows shed to make room.
        shed: u64,
    },
    /// A routine row, or an order that is not life-safety, that did not
    /// fit: dropped and counted.
    Dropped,
}

/// Counters and the drain's wake-up, shared by the writer thread and every
/// [`Outbox`] handle.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) max_bytes: u64,
    pub(super) rows: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) shed: AtomicU64,
    pub(super) shed_orders: AtomicU64,
    /// What the outbox takes in the file (see [`super::outbox_bound`]).
    pub(super) disk: super::outbox_bound::DiskShare,
    /// Lowest class queued since the drain last looked (`u8::MAX`: none).
    pub(super) woken: AtomicU8,
    pub(super) wake: Notify,
}

impl Shared {
    /// Counts what the table holds.
    pub(super) fn count(store: &Store, max_bytes: u64) -> Result<Self, StoreError> {
        let (rows, bytes): (i64, i64) = store.conn().query_row(
            "SELECT count(*), coalesce(sum(length(topic) + length(payload)), 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rows = rows.unsigned_abs();
        let s = Self {
            max_bytes,
            rows: AtomicU64::new(rows),
            bytes: AtomicU64::new(bytes.unsigned_abs() + rows * ROW_OVERHEAD),
            shed: AtomicU64::new(0),
            shed_orders: AtomicU64::new(0),
            disk: super::outbox_bound::DiskShare::default(),
            woken: AtomicU8::new(u8::MAX),
            wake: Notify::new(),
        };
        s.disk
            .measure(store.conn(), s.bytes.load(Ordering::Relaxed))?;
        Ok(s)
    }

    /// Tells the drain that rows were committed.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) fn forget(&self, sizes: &[i64]) {
        let bytes: u64 = sizes.iter().map(|b| b.unsigned_abs() + ROW_OVERHEAD).sum();
        self.rows.fetch_sub(sizes.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_sub(
            bytes.min(self.bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
}

/// Queues `msg` inside the writer's transaction (so an order's state and its
/// outbox row commit together), shedding rows when over the bound
/// ([`make_room`]).
pub(super) fn enqueue(
    conn: &Connection,
    s: &Shared,
    now: u64,
    msg: &OutMsg,
) -> rusqlite::Result<Enqueued> {
    let Some(shed) = make_room(conn, s, msg)? else {
        return Ok(Enqueued::Dropped);
    };
    conn.prepare_cached(
        "INSERT INTO outbox (class, key, revision, topic, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        msg.class as u8,
        msg.key,
        msg.revision,
        msg.topic,
        msg.payload,
        super::convert::at_i64(now)
    ])?;
    s.rows.fetch_add(1, Ordering::Relaxed);
    s.bytes.fetch_add(msg.size(), Ordering::Relaxed);
    s.woken.fetch_min(msg.class as u8, Ordering::Relaxed);
    Ok(Enqueued::Queued { shed })
}

impl Shared {
    /// Whether `need` more page bytes would take the outbox over its bound.
    fn over(&self, need: u64) -> bool {
        self.disk.estimate(self.bytes.load(Ordering::Relaxed)) + need > self.max_bytes
    }
}

/// Makes room for `msg` under the bound. `Some(shed)`: queue it (after
/// shedding `shed` older rows); `None`: it does not fit and is dropped
/// (counted), which only happens to a routine row or an order that is not
/// life-safety.
pub(super) fn make_room(
    conn: &Connection,
    s: &Shared,
    msg: &OutMsg,
) -> rusqlite::Result<Option<u64>> {
    s.disk.refresh(conn, s.bytes.load(Ordering::Relaxed))?;
    let need = s.disk.scale(msg.size());
    if !s.over(need) {
        return Ok(Some(0));
    }
    let mut shed = shed_class(conn, s, need, Class::Routine)?;
    if msg.class == Class::Routine && s.over(need) {
        s.shed.fetch_add(1, Ordering::Relaxed);
        return Ok(None);
    }
    shed += shed_class(conn, s, need, Class::Order)?;
    if s.over(need) {
        if msg.class == Class::Order {
            tracing::warn!(key = %msg.key, revision = msg.revision, "outbox at its bound with life-safety orders only: order row dropped");
            s.shed_orders.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        tracing::warn!(key = %msg.key, "outbox over its bound with life-safety orders only; queued anyway");
    }
    Ok(Some(shed))
}

/// Deletes the oldest rows of `class` until `need` more page bytes fit;
/// returns how many.
fn shed_class(conn: &Connection, s: &Shared, need: u64, class: Class) -> rusqlite::Result<u64> {
    let mut shed = 0;
    while s.over(need) {
        let oldest: Vec<(i64, String, u32, i64)> = conn
            .prepare_cached(
                "SELECT seq, key, revision, length(topic) + length(payload) FROM outbox
                 WHERE class = ?1 ORDER BY seq LIMIT 64",
            )?
            .query_map([class as u8], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        if oldest.is_empty() {
            break;
        }
        let mut delete = conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
        for (seq, key, revision, size) in oldest {
            delete.execute([seq])?;
            s.forget(&[size]);
            shed += 1;
            if class == Class::Order {
                tracing::warn!(%key, revision, "outbox at its bound: order row shed (not life-safety; the order stays in the orders table)");
            }
            if !s.over(need) {
                break;
            }
        }
    }
    let counter = if class == Class::Routine {
        &s.shed
    } else {
        &s.shed_orders
    };
    counter.fetch_add(shed, Ordering::Relaxed);
    Ok(shed)
}

/// Removes the rows the platform has received: for each `(key, revision)`,
/// every non-routine row of `key` up to that revision (the platform keeps
/// the highest revision, so older ones are moot).
pub(super) fn ack(
    conn: &Connection,
    s: &Shared,
    receipts: &[(String, u32)],
) -> rusqlite::Result<u64> {
    let mut sizes = Vec::new();
    let mut stmt = conn.prepare_cached(
        "DELETE FROM outbox WHERE key = ?1 AND revision <= ?2 AND class < 2
         RETURNING length(topic) + length(payload)",
    )?;
    for (key, rev) in receipts {
        for size in stmt.query_map(params![key, rev], |r| r.get::<_, i64>(0))? {
            sizes.push(size?);
        }
    }
    s.forget(&sizes);
    Ok(sizes.len() as u64)
}

/// Removes routine rows handed to a connected client.
pub(super) fn remove(conn: &Connection, s: &Shared, seqs: &[i64]) -> rusqlite::Result<u64> {
    let mut sizes = Vec::new();
    let mut stmt = conn.prepare_cached(
        "DELETE FROM outbox WHERE seq = ?1 RETURNING length(topic) + length(payload)",
    )?;
    for seq in seqs {
        for size in stmt.query_map([seq], |r| r.get::<_, i64>(0))? {
            sizes.push(size?);
        }
    }
    s.forget(&sizes);
    Ok(sizes.len() as u64)
}

impl Store {
    /// Up to `limit` outbox rows after `(class, seq)` in drain order: the
    /// rest of that class, then the classes after it (two index range scans;
    /// SQLite would not use the index for the whole row-value comparison).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbox_fetch(&self, after: (i64, i64), limit: usize) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn();
        let mut rows = Vec::with_capacity(limit);
        let same = conn.prepare_cached(
            "SELECT seq, class, key, revision, topic, payload FROM outbox
             WHERE class = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let later = conn.prepare_cached(
            "SELECT seq, class, key, revision, topic, payload FROM outbox
             WHERE class > ?1 ORDER BY class, seq LIMIT ?3",
        )?;
        for mut stmt in [same, later] {
            let left = limit - rows.len();
            if left == 0 {
                break;
            }
            let found = stmt.query_map(
                params![after.0, after.1, i64::try_from(left).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Row {
                        seq: r.get(0)?,
                        class: Class::from_i64(r.get(1)?),
                        key: r.get(2)?,
                        revision: r.get(3)?,
                        topic: r.get(4)?,
                        payload: r.get(5)?,
                    })
                },
            )?;
            for row in found {
                rows.push(row?);
            }
        }
        Ok(rows)
    }
}
