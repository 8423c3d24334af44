//! The outbox: every message for the district platform is a row in SQLite
//! before it is sent, and stays there until the platform says `received`
//! for its `(key, revision)`. A broker's PUBACK is not enough: it means
//! "routed", not "stored".
//!
//! Rows are drained by `class` (alarm orders first), then by age (`seq`).
//! The table is bounded by bytes: over the bound, the oldest routine rows are
//! shed (counted); order rows are never shed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use rusqlite::{Connection, params};
use tokio::sync::Notify;

use protocol::OrderUp;

/// The table. `AUTOINCREMENT` keeps `seq` rising across deletes, which the
/// drain's cursor relies on.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    class INTEGER NOT NULL,
    key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_drain ON outbox (class, seq);
CREATE INDEX IF NOT EXISTS outbox_key ON outbox (key, revision);
";

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

    fn size(&self) -> u64 {
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
}

#[derive(Debug)]
struct Shared {
    max_bytes: u64,
    rows: AtomicU64,
    bytes: AtomicU64,
    shed: AtomicU64,
    /// Lowest class queued since the drain last looked (`u8::MAX`: none).
    woken: AtomicU8,
    wake: Notify,
}

/// A handle on the outbox, shared by the writers (the order engine) and the
/// drain (the uplink). Each brings its own connection to the same file.
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued (after shedding this many older routine rows).
    Queued {
        /// Routine rows shed to make room.
        shed: u64,
    },
    /// A routine row that did not fit: dropped and counted.
    Dropped,
}

impl Outbox {
    /// Creates the table on `conn` if needed and counts what is queued.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn open(conn: &Connection, max_bytes: u64) -> rusqlite::Result<Self> {
        conn.execute_batch(SCHEMA)?;
        let (rows, bytes): (i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(length(topic) + length(payload)), 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rows = rows.unsigned_abs();
        Ok(Self {
            shared: Arc::new(Shared {
                max_bytes,
                rows: AtomicU64::new(rows),
                bytes: AtomicU64::new(bytes.unsigned_abs() + rows * ROW_OVERHEAD),
                shed: AtomicU64::new(0),
                woken: AtomicU8::new(u8::MAX),
                wake: Notify::new(),
            }),
        })
    }

    /// Queues `msg` inside the caller's write transaction (so an order's
    /// state and its outbox row commit together), shedding routine rows
    /// when over the bound. Call [`Outbox::wake`] after the commit.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn enqueue(&self, conn: &Connection, now: u64, msg: &OutMsg) -> rusqlite::Result<Enqueued> {
        let size = msg.size();
        let mut shed = 0;
        let s = &self.shared;
        if s.bytes.load(Ordering::Relaxed) + size > s.max_bytes {
            shed = self.shed_routine(conn, size)?;
            if msg.class == Class::Routine && s.bytes.load(Ordering::Relaxed) + size > s.max_bytes {
                s.shed.fetch_add(1, Ordering::Relaxed);
                return Ok(Enqueued::Dropped);
            }
            if s.bytes.load(Ordering::Relaxed) + size > s.max_bytes {
                tracing::warn!(key = %msg.key, "outbox over its bound with order rows only; queued anyway");
            }
        }
        conn.prepare_cached(
            "INSERT INTO outbox (class, key, revision, topic, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(
            params![msg.class as u8, msg.key, msg.revision, msg.topic, msg.payload, i64::try_from(now).unwrap_or(i64::MAX)],
        )?;
        s.rows.fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(size, Ordering::Relaxed);
        s.woken.fetch_min(msg.class as u8, Ordering::Relaxed);
        Ok(Enqueued::Queued { shed })
    }

    /// Deletes the oldest routine rows until `need` more bytes fit; returns how many.
    fn shed_routine(&self, conn: &Connection, need: u64) -> rusqlite::Result<u64> {
        let s = &self.shared;
        let mut shed = 0;
        loop {
            let excess = (s.bytes.load(Ordering::Relaxed) + need).saturating_sub(s.max_bytes);
            if excess == 0 {
                break;
            }
            let oldest: Vec<(i64, i64)> = conn
                .prepare_cached(
                    "SELECT seq, length(topic) + length(payload) FROM outbox WHERE class = 2 ORDER BY seq LIMIT 64",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if oldest.is_empty() {
                break;
            }
            let mut freed = Vec::new();
            let mut delete = conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
            for (seq, size) in oldest {
                delete.execute([seq])?;
                freed.push(size);
                if freed
                    .iter()
                    .map(|b| b.unsigned_abs() + ROW_OVERHEAD)
                    .sum::<u64>()
                    >= excess
                {
                    break;
                }
            }
            self.forget(&freed);
            shed += freed.len() as u64;
        }
        s.shed.fetch_add(shed, Ordering::Relaxed);
        Ok(shed)
    }

    pub(super) fn forget(&self, sizes: &[i64]) {
        let bytes: u64 = sizes.iter().map(|b| b.unsigned_abs() + ROW_OVERHEAD).sum();
        let s = &self.shared;
        s.rows.fetch_sub(sizes.len() as u64, Ordering::Relaxed);
        s.bytes.fetch_sub(
            bytes.min(s.bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    /// Tells the drain that rows were committed.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Waits for [`Outbox::wake`]; returns the lowest class queued since the
    /// last call (`None` if only a spurious wake-up).
    pub async fn woken(&self) -> Option<Class> {
        self.shared.wake.notified().await;
        self.take_woken()
    }

    /// The lowest class queued since the last call, if any.
    pub fn take_woken(&self) -> Option<Class> {
        match self.shared.woken.swap(u8::MAX, Ordering::Relaxed) {
            u8::MAX => None,
            c => Some(Class::from_i64(i64::from(c))),
        }
    }

    /// The counters now.
    pub fn stats(&self) -> OutboxStats {
        let s = &self.shared;
        OutboxStats {
            rows: s.rows.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            shed: s.shed.load(Ordering::Relaxed),
        }
    }
}
