//! The outbox's disk share, what its bound measures. What is bounded is the outbox's share of the
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
//! Over the bound, rows are shed (`outbox::make_room`) in this order: routine rows, oldest first
//! (they may be lost anyway); then orders that are not life-safety (class
//! 1), oldest first, each logged with its id and counted; life-safety
//! orders (class 0: fire, gas, critical/immediate) never. A life-safety
//! row that does not fit is queued anyway (logged): the bound yields to it.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

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
    pub(super) fn refresh(&self, conn: &Connection, counted: u64) -> rusqlite::Result<()> {
        let at = self.counted_at.load(Ordering::Relaxed);
        if counted.abs_diff(at) >= (at / 8).max(MIN_REMEASURE) {
            self.measure(conn, counted)?;
        }
        Ok(())
    }

    /// `counted` bytes in page bytes, at the ratio.
    pub(super) fn scale(&self, counted: u64) -> u64 {
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
