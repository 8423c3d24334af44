//! The fire remote-monitoring centre's queue in the store: each GB/T
//! 26875.3 application data unit stays until the centre confirms it, so a
//! restart or an outage loses nothing. Fire rows (class 0) drain before
//! the rest, each class in the order queued.

use rusqlite::{Transaction, params};

use super::{Store, StoreError};

/// A data unit to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireQueued {
    /// 0: fire; 1: anything else.
    pub class: u8,
    /// The application data unit.
    pub data: Vec<u8>,
    /// When, ms since the epoch.
    pub queued_ms: u64,
    /// The alarm it reports (empty for device states).
    pub alarm: String,
}

/// A queued row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireRow {
    /// Its place in the queue.
    pub seq: i64,
    /// 0: fire; 1: anything else.
    pub class: u8,
    /// The application data unit.
    pub data: Vec<u8>,
    /// When it was queued, ms since the epoch.
    pub queued_ms: u64,
    /// The alarm it reports.
    pub alarm: String,
}

/// A change to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireCentreWrite {
    /// Rows to add; answered with their seqs.
    Queue(Vec<FireQueued>),
    /// The centre confirmed these rows.
    Confirmed(Vec<i64>),
}

/// Applies `w` inside the writer's transaction; the seqs of queued rows.
pub(super) fn write(
    tx: &Transaction<'_>,
    w: &FireCentreWrite,
) -> Result<Vec<i64>, rusqlite::Error> {
    match w {
        FireCentreWrite::Queue(rows) => {
            let mut seqs = Vec::with_capacity(rows.len());
            let mut st = tx.prepare_cached(
                "INSERT INTO fire_centre_queue (class, data, queued_ms, alarm) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for r in rows {
                st.execute(params![
                    r.class,
                    r.data,
                    i64::try_from(r.queued_ms).unwrap_or(i64::MAX),
                    r.alarm
                ])?;
                seqs.push(tx.last_insert_rowid());
            }
            Ok(seqs)
        }
        FireCentreWrite::Confirmed(seqs) => {
            let mut st = tx.prepare_cached("DELETE FROM fire_centre_queue WHERE seq = ?1")?;
            for s in seqs {
                st.execute([s])?;
            }
            Ok(Vec::new())
        }
    }
}

impl Store {
    /// The queued rows in drain order (fire first, then by seq).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn fire_centre_pending(&self) -> Result<Vec<FireRow>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT seq, class, data, queued_ms, alarm FROM fire_centre_queue ORDER BY class, seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok(FireRow {
                seq: r.get(0)?,
                class: r.get(1)?,
                data: r.get(2)?,
                queued_ms: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                alarm: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
