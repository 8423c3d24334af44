//! Telemetry retention: by age (`telemetry_retention_days`) and by count
//! (`max_telemetry_rows`, oldest first), in bounded chunks so a large
//! backlog never holds the write lock long; plus a cap on quarantine rows.

use tokio::sync::mpsc;

use super::convert::at_i64;
use super::handle::Job;
use super::{Store, StoreConfig, StoreError};

/// How often retention runs, in clock time.
pub(super) const EVERY_MS: u64 = 60_000;
/// Most rows deleted per transaction.
const CHUNK: u64 = 10_000;
/// Most quarantine entries kept (sources are attacker-chosen client ids);
/// the least recently seen go first.
const MAX_QUARANTINE_ROWS: u64 = 10_000;

/// Retention state, owned by the writer.
#[derive(Debug)]
pub(super) struct Retention {
    /// Telemetry rows in the table (counted at start, then tracked).
    pub(super) rows_now: u64,
    /// Clock time of the next run.
    next_due_ms: u64,
    /// The last run stopped with rows still to delete.
    pub(super) backlog: bool,
}

impl Retention {
    /// Counts the telemetry rows; the first run is due one period from `now`.
    pub(super) fn new(store: &Store, _cfg: &StoreConfig, now: u64) -> Result<Self, StoreError> {
        Ok(Self {
            rows_now: store.telemetry_count()?,
            next_due_ms: now.saturating_add(EVERY_MS),
            backlog: false,
        })
    }

    /// Whether a run is due at `now`.
    pub(super) fn due(&self, now: u64) -> bool {
        self.backlog || now >= self.next_due_ms
    }

    /// Deletes chunk after chunk; unless `forced`, stops early when events
    /// are waiting (and leaves `backlog` set to come back). Returns the rows
    /// deleted.
    pub(super) fn run(
        &mut self,
        store: &mut Store,
        cfg: &StoreConfig,
        prio: &mpsc::Receiver<Job>,
        now: u64,
        forced: bool,
    ) -> Result<u64, StoreError> {
        self.next_due_ms = now.saturating_add(EVERY_MS);
        let mut total = 0;
        loop {
            let (deleted, more) = self.chunk(store, cfg, now)?;
            total += deleted;
            self.backlog = more;
            if !more || (!forced && !prio.is_empty()) {
                break;
            }
        }
        if total > 0 {
            tracing::debug!(deleted = total, rows = self.rows_now, "telemetry retention");
        }
        Ok(total)
    }

    /// One transaction: at most [`CHUNK`] rows by age, then by count.
    fn chunk(
        &mut self,
        store: &mut Store,
        cfg: &StoreConfig,
        now: u64,
    ) -> Result<(u64, bool), rusqlite::Error> {
        let tx = store.conn_mut().transaction()?;
        let mut deleted = 0;
        let mut more = false;
        if let Some(keep) = cfg.retention_ms() {
            let cutoff = at_i64(now.saturating_sub(keep));
            let n = tx.execute(
                "DELETE FROM telemetry WHERE id IN
                 (SELECT id FROM telemetry WHERE received_ms < ?1 ORDER BY received_ms LIMIT ?2)",
                (cutoff, at_i64(CHUNK)),
            )? as u64;
            deleted += n;
            more |= n == CHUNK;
        }
        let rows = self.rows_now.saturating_sub(deleted);
        if cfg.max_telemetry_rows > 0 && rows > cfg.max_telemetry_rows {
            let excess = (rows - cfg.max_telemetry_rows).min(CHUNK);
            let n = tx.execute(
                "DELETE FROM telemetry WHERE id IN (SELECT id FROM telemetry ORDER BY id LIMIT ?1)",
                [at_i64(excess)],
            )? as u64;
            deleted += n;
            more |= rows - n > cfg.max_telemetry_rows;
        }
        tx.execute(
            "DELETE FROM quarantine WHERE rowid IN
             (SELECT rowid FROM quarantine ORDER BY last_seen_ms DESC LIMIT -1 OFFSET ?1)",
            [at_i64(MAX_QUARANTINE_ROWS)],
        )?;
        tx.commit()?;
        self.rows_now = self.rows_now.saturating_sub(deleted);
        Ok((deleted, more))
    }
}
