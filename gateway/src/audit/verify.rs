//! Walking the chain (`gridsense audit verify`) and exporting it as JSON
//! lines (`gridsense audit export`).

use std::io::Write;

use rusqlite::Connection;

use super::chain::{AuditError, Hash, Record, canonical, hex, link, to_hash};

/// A chain that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records walked.
    pub records: u64,
    /// The last record's hash (all zeros for an empty chain): write it down
    /// somewhere else, and a rewrite of the whole chain is found too.
    pub head: Hash,
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The record where the chain breaks.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}: {}", self.seq, self.reason)
    }
}

/// Walks the chain in order and checks each link: `seq` dense from 1,
/// `prev` equal to the previous record's hash, `hash` recomputed.
///
/// # Errors
/// [`AuditError::Db`] if the table cannot be read at all.
pub fn verify(conn: &Connection) -> Result<Result<Verified, Broken>, AuditError> {
    let mut stmt =
        conn.prepare("SELECT seq, at, kind, subject, body, prev, hash FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut expect_seq = 1_i64;
    let mut prev: Hash = [0; 32];
    let mut records = 0;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let broken = |reason: String| Ok(Err(Broken { seq, reason }));
        if seq != expect_seq {
            return broken(format!(
                "expected record {expect_seq} here (removed or renumbered)"
            ));
        }
        let Ok(at) = row.get::<_, i64>(1) else {
            return broken("`at` is not an integer".into());
        };
        let bytes = |i| {
            row.get_ref(i)
                .map(|v| v.as_bytes().unwrap_or_default().to_vec())
        };
        let (kind, subject, body) = (bytes(2)?, bytes(3)?, bytes(4)?);
        let (stored_prev, stored_hash) = (to_hash(&bytes(5)?), to_hash(&bytes(6)?));
        if stored_prev != prev {
            return broken("`prev` is not the previous record's hash".into());
        }
        let at = u64::try_from(at).unwrap_or_default();
        let hash = link(&prev, &canonical(seq, at, &kind, &subject, &body));
        if hash != stored_hash {
            return broken(format!(
                "content does not match its hash (stored {}, computed {})",
                hex(&stored_hash),
                hex(&hash)
            ));
        }
        prev = hash;
        expect_seq += 1;
        records += 1;
    }
    Ok(Ok(Verified {
        records,
        head: prev,
    }))
}

/// Writes every record as one JSON object per line, in chain order:
/// `{"seq","at","kind","subject","body","prev","hash"}` with hashes in hex
/// and `body` as JSON. Returns the number of records written.
///
/// # Errors
/// [`AuditError`] when the table cannot be read or `out` written.
pub fn export(conn: &Connection, out: &mut impl Write) -> Result<u64, AuditError> {
    let mut stmt =
        conn.prepare("SELECT seq, at, kind, subject, body, prev, hash FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
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
        let body = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::String(r.body));
        let line = serde_json::json!({
            "seq": r.seq, "at": r.at, "kind": r.kind, "subject": r.subject,
            "body": body, "prev": hex(&r.prev), "hash": hex(&r.hash),
        });
        writeln!(out, "{line}")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::Audit;
    use crate::clock::ManualClock;

    fn chain(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.db");
        let audit = Audit::open(&path, Arc::new(ManualClock::new(1_000))).expect("open");
        for i in 0..n {
            let body = serde_json::json!({"state": "new", "revision": i});
            audit
                .append("order.changed", &format!("gw01-{i}"), &body)
                .expect("append");
        }
        (dir, path)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (_d, path) = chain(20);
        let conn = crate::sqlite::open(&path).expect("open");
        let v = verify(&conn).expect("read").expect("intact");
        assert_eq!(v.records, 20);
    }

    #[test]
    fn one_changed_byte_breaks_the_chain_at_that_record() {
        let (_d, path) = chain(20);
        let conn = crate::sqlite::open(&path).expect("open");
        conn.execute(
            "UPDATE audit SET body = replace(body, 'new', 'nex') WHERE seq = 7",
            [],
        )
        .expect("tamper");
        let b = verify(&conn).expect("read").expect_err("broken");
        assert_eq!(b.seq, 7, "{b}");
    }

    #[test]
    fn a_removed_record_is_found() {
        let (_d, path) = chain(5);
        let conn = crate::sqlite::open(&path).expect("open");
        conn.execute("DELETE FROM audit WHERE seq = 3", [])
            .expect("delete");
        assert_eq!(verify(&conn).expect("read").expect_err("broken").seq, 4);
    }

    #[test]
    fn export_writes_one_json_line_per_record() {
        let (_d, path) = chain(3);
        let conn = crate::sqlite::open(&path).expect("open");
        let mut out = Vec::new();
        assert_eq!(export(&conn, &mut out).expect("export"), 3);
        let text = String::from_utf8(out).expect("utf8");
        let first: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first["seq"], 1);
        assert_eq!(first["body"]["state"], "new");
        assert_eq!(first["prev"], "0".repeat(64));
    }
}
