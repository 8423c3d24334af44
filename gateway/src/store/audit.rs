//! The `audit` table: the one place the hash chain is appended
//! ([`append_in`], inside the transaction of the change it records), and the
//! reads of `gridsense audit verify|export`. The arithmetic is `crate::audit`.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::audit::chain::to_hash;
use crate::audit::{Broken, RawRecord, Record, Verified, Walker};

/// Appends a record inside the caller's write transaction (the writer
/// thread's, so no other writer can slip in between reading the head and
/// inserting). Returns the new record's `seq`.
pub(crate) fn append_in(
    conn: &Connection,
    at: u64,
    kind: &str,
    subject: &str,
    body: &serde_json::Value,
) -> rusqlite::Result<i64> {
    let head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let r = Record::next(head.map(|(s, h)| (s, to_hash(&h))), at, kind, subject, body);
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, kind, subject, body, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.seq,
        super::convert::at_i64(r.at),
        r.kind,
        r.subject,
        r.body,
        &r.prev[..],
        &r.hash[..]
    ])?;
    Ok(r.seq)
}

impl Store {
    /// Appends one record in its own transaction (tools and tests; the
    /// running gateway appends through the writer).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn append_audit(
        &mut self,
        at: u64,
        kind: &str,
        subject: &str,
        body: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = append_in(&tx, at, kind, subject, body)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Walks the chain in order and checks each link.
    ///
    /// # Errors
    /// [`StoreError`] if the table cannot be read at all; a broken link is
    /// the inner `Err`.
    pub fn verify_audit(&self) -> Result<Result<Verified, Broken>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT seq, at, kind, subject, body, prev, hash FROM audit ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut walker = Walker::default();
        while let Some(row) = rows.next()? {
            let bytes = |i| {
                row.get_ref(i)
                    .map(|v| v.as_bytes().unwrap_or_default().to_vec())
            };
            let (kind, subject, body) = (bytes(2)?, bytes(3)?, bytes(4)?);
            let raw = RawRecord {
                seq: row.get(0)?,
                at: row.get::<_, i64>(1).ok(),
                kind: &kind,
                subject: &subject,
                body: &body,
                prev: to_hash(&bytes(5)?),
                hash: to_hash(&bytes(6)?),
            };
            if let Err(b) = walker.step(&raw) {
                return Ok(Err(b));
            }
        }
        Ok(Ok(walker.finish()))
    }

    /// Writes every record as one JSON object per line, in chain order:
    /// `{"seq","at","kind","subject","body","prev","hash"}` with hashes in
    /// hex and `body` as JSON. Returns the number of records written.
    ///
    /// # Errors
    /// [`StoreError`] when the table cannot be read; [`std::io::Error`] (as
    /// [`StoreError::Invalid`]) when `out` cannot be written.
    pub fn export_audit(&self, out: &mut impl Write) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT seq, at, kind, subject, body, prev, hash FROM audit ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut n = 0;
        let io = |e: std::io::Error| StoreError::Invalid(format!("audit export: {e}"));
        while let Some(row) = rows.next()? {
            let r = Record {
                seq: row.get(0)?,
                at: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                kind: row.get(2)?,
                subject: row.get(3)?,
                body: row.get(4)?,
                prev: to_hash(&row.get::<_, Vec<u8>>(5)?),
                hash: to_hash(&row.get::<_, Vec<u8>>(6)?),
            };
            writeln!(out, "{}", r.to_json()).map_err(io)?;
            n += 1;
        }
        out.flush().map_err(io)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.db");
        let mut store = Store::open(&path).expect("open");
        for i in 0..n {
            let body = serde_json::json!({"state": "new", "revision": i});
            store
                .append_audit(1_000, "order.changed", &format!("gw01-{i}"), &body)
                .expect("append");
        }
        (dir, path)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (_d, path) = chain(20);
        let store = Store::open(&path).expect("open");
        let v = store.verify_audit().expect("read").expect("intact");
        assert_eq!(v.records, 20);
    }

    #[test]
    fn one_changed_byte_breaks_the_chain_at_that_record() {
        let (_d, path) = chain(20);
        let store = Store::open(&path).expect("open");
        store
            .conn()
            .execute(
                "UPDATE audit SET body = replace(body, 'new', 'nex') WHERE seq = 7",
                [],
            )
            .expect("tamper");
        let b = store.verify_audit().expect("read").expect_err("broken");
        assert_eq!(b.seq, 7, "{b}");
    }

    #[test]
    fn a_removed_record_is_found() {
        let (_d, path) = chain(5);
        let store = Store::open(&path).expect("open");
        store
            .conn()
            .execute("DELETE FROM audit WHERE seq = 3", [])
            .expect("delete");
        let b = store.verify_audit().expect("read").expect_err("broken");
        assert_eq!(b.seq, 4);
    }

    #[test]
    fn export_writes_one_json_line_per_record() {
        let (_d, path) = chain(3);
        let store = Store::open(&path).expect("open");
        let mut out = Vec::new();
        assert_eq!(store.export_audit(&mut out).expect("export"), 3);
        let text = String::from_utf8(out).expect("utf8");
        let first: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first["seq"], 1);
        assert_eq!(first["body"]["state"], "new");
        assert_eq!(first["prev"], "0".repeat(64));
    }
}
