//! The drain side of the outbox: reading rows in drain order, removing
//! received and handed-over rows. Used by the uplink only.

use rusqlite::{Connection, params};

use super::outbox::{Class, Outbox, Row};

impl Outbox {
    /// Up to `limit` rows after `(class, seq)` in drain order: the rest of
    /// that class, then the classes after it (two index range scans; SQLite
    /// would not use the index for the whole row-value comparison).
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn fetch(
        &self,
        conn: &Connection,
        after: (i64, i64),
        limit: usize,
    ) -> rusqlite::Result<Vec<Row>> {
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
            let found = stmt.query_map(params![after.0, after.1, left as i64], |r| {
                Ok(Row {
                    seq: r.get(0)?,
                    class: Class::from_i64(r.get(1)?),
                    key: r.get(2)?,
                    revision: r.get(3)?,
                    topic: r.get(4)?,
                    payload: r.get(5)?,
                })
            })?;
            for row in found {
                rows.push(row?);
            }
        }
        Ok(rows)
    }

    /// Removes the rows the platform has received: for each `(key, revision)`,
    /// every non-routine row of `key` up to that revision (the platform keeps
    /// the highest revision, so older ones are moot). One transaction.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn ack(&self, conn: &mut Connection, receipts: &[(String, u32)]) -> rusqlite::Result<u64> {
        let tx = conn.transaction()?;
        let mut sizes = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM outbox WHERE key = ?1 AND revision <= ?2 AND class < 2
                 RETURNING length(topic) + length(payload)",
            )?;
            for (key, rev) in receipts {
                for s in stmt.query_map(params![key, rev], |r| r.get::<_, i64>(0))? {
                    sizes.push(s?);
                }
            }
        }
        tx.commit()?;
        self.forget(&sizes);
        Ok(sizes.len() as u64)
    }

    /// Removes routine rows handed to a connected client.
    ///
    /// # Errors
    /// Any SQLite error.
    pub fn remove(&self, conn: &mut Connection, seqs: &[i64]) -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        let mut sizes = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM outbox WHERE seq = ?1 RETURNING length(topic) + length(payload)",
            )?;
            for seq in seqs {
                for s in stmt.query_map([seq], |r| r.get::<_, i64>(0))? {
                    sizes.push(s?);
                }
            }
        }
        tx.commit()?;
        self.forget(&sizes);
        Ok(())
    }
}
