//! The outbox's disk bound. What is bounded is the outbox's share of the
//! store file: the pages of its table and indexes, as SQLite's `dbstat`
//! counts them (page size × pages, so b-tree fill, index entries and
//! overflow pages are all in), not the sum of its rows' bytes.
//!
//! Measuring walks those pages, so it is not done on every enqueue: the
//! share is measured at open and again whenever the counted row bytes moved
//! by an eighth since the last measurement (at least 16 KiB), and in
//! between estimated from the counted bytes at the last measured ratio.
//! Deleted rows' space goes to SQLite's free list and is reused by the
//! next rows, so a full outbox that sheds as it takes stays at its bound
//! and the file stops growing.
//!
//! Over the bound, rows are shed in this order: routine rows, oldest first
//! (they may be lost anyway); then orders that are not life-safety (class
//! 1), oldest first, each logged with its id and counted; life-safety
//! orders (class 0: fire, gas, critical/immediate) never. A life-safety
//! row that does not fit is queued anyway (logged): the bound yields to it.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::outbox::{Class, OutMsg, Shared};

/// Page bytes per counted byte assumed before a measurement says otherwise
/// (small outboxes: index entries and half-full pages), ×1000.
const DEFAULT_RATIO_MILLI: u64 = 2_000;
/// Counted bytes below which a measured ratio is not trusted.
const MIN_MEASURED: u64 = 64 << 10;
/// Least change of counted bytes that triggers a new measurement.
const MIN_REMEASURE: u64 = 16 << 10;

/// The outbox's share of the file at the last measurement, and the ratio
/// that estimates it in between. Touched by the writer thread only (and
/// read by [`super::Outbox::stats`]).
#[derive(Debug)]
pub(super) struct DiskShare {
    /// Page bytes of the outbox's b-trees when last measured.
    pages_at: AtomicU64,
    /// Counted row bytes at that moment.
    counted_at: AtomicU64,
    /// Page bytes per counted byte, ×1000.
    ratio_milli: AtomicU64,
}

impl Default for DiskShare {
    fn default() -> Self {
        Self {
            pages_at: AtomicU64::new(0),
            counted_at: AtomicU64::new(0),
            ratio_milli: AtomicU64::new(DEFAULT_RATIO_MILLI),
        }
    }
}

impl super::Store {
    /// Bytes of the pages of the outbox's table and indexes in the file:
    /// what `[uplink.outbox] max_mib` bounds.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbox_pages(&self) -> Result<u64, super::StoreError> {
        Ok(outbox_pages(self.conn())?)
    }
}

/// Bytes of the pages of the outbox's table and indexes in `conn`'s file.
///
/// # Errors
/// SQLite errors (`dbstat` is compiled into the bundled SQLite).
pub(super) fn outbox_pages(conn: &Connection) -> rusqlite::Result<u64> {
    let b: i64 = conn.query_row(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat
         WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'outbox')",
        [],
        |r| r.get(0),
    )?;
    Ok(b.unsigned_abs())
}

impl DiskShare {
    /// Measures the share now; `counted` is the counted row bytes.
    pub(super) fn measure(&self, conn: &Connection, counted: u64) -> rusqlite::Result<()> {
        let pages = outbox_pages(conn)?;
        self.pages_at.store(pages, Ordering::Relaxed);
        self.counted_at.store(counted, Ordering::Relaxed);
        if counted >= MIN_MEASURED {
            let ratio = pages.saturating_mul(1000) / counted;
            self.ratio_milli.store(ratio.max(1000), Ordering::Relaxed);
        }
        Ok(())
    }

    /// Measures again if `counted` moved far enough from the last measurement.
    fn refresh(&self, conn: &Connection, counted: u64) -> rusqlite::Result<()> {
        let at = self.counted_at.load(Ordering::Relaxed);
        if counted.abs_diff(at) >= (at / 8).max(MIN_REMEASURE) {
            self.measure(conn, counted)?;
        }
        Ok(())
    }

    /// `counted` bytes in page bytes, at the ratio.
    fn scale(&self, counted: u64) -> u64 {
        counted.saturating_mul(self.ratio_milli.load(Ordering::Relaxed)) / 1000
    }

    /// The share now, estimated from the counted row bytes.
    pub(super) fn estimate(&self, counted: u64) -> u64 {
        let (pages, at) = (
            self.pages_at.load(Ordering::Relaxed),
            self.counted_at.load(Ordering::Relaxed),
        );
        if counted >= at {
            pages + self.scale(counted - at)
        } else {
            pages.saturating_sub(self.scale(at - counted))
        }
    }
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
