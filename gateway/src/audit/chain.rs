//! Appending to the hash chain.
//!
//! Each record is `(seq, at, kind, subject, body)`; its hash is
//! `SHA-256(prev_hash || canonical bytes)`, where the canonical bytes are
//! `seq` and `at` as 8-byte big-endian integers followed by `kind`, `subject`
//! and `body`, each as a 4-byte big-endian length and its UTF-8 bytes. The
//! first record's `prev_hash` is 32 zero bytes. `body` is compact JSON with
//! sorted keys, stored exactly as hashed.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;

/// The table. `seq` is dense from 1, so a removed record is a broken link.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
)";

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Why the audit chain could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// SQLite failed.
    #[error("audit table: {0}")]
    Db(#[from] rusqlite::Error),
    /// The export file could not be written.
    #[error("audit export: {0}")]
    Io(#[from] std::io::Error),
}

/// One record of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, ms since the epoch (the gateway's clock).
    pub at: u64,
    /// What happened: `order.created`, `order.card`, `alarm.changed` ...
    pub kind: String,
    /// The alarm or order id it happened to.
    pub subject: String,
    /// The new state, compact JSON.
    pub body: String,
    /// The previous record's hash.
    pub prev: Hash,
    /// This record's hash.
    pub hash: Hash,
}

/// The canonical bytes of a record (everything but the hashes).
pub fn canonical(seq: i64, at: u64, kind: &[u8], subject: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + kind.len() + subject.len() + body.len());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&at.to_be_bytes());
    for part in [kind, subject, body] {
        // Parts are bounded by SQLite's 1 GB value limit, far below u32::MAX.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// `SHA-256(prev || canonical)`.
pub fn link(prev: &Hash, canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the table if it is missing.
///
/// # Errors
/// Any SQLite error.
pub fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// Appends a record inside the caller's transaction, which must be a write
/// (`IMMEDIATE`) transaction so no other writer can slip in between reading
/// the head and inserting. Returns the new record's `seq`.
///
/// # Errors
/// Any SQLite error.
pub fn append_in(
    conn: &Connection,
    at: u64,
    kind: &str,
    subject: &str,
    body: &serde_json::Value,
) -> rusqlite::Result<i64> {
    let head: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, to_hash(&h)),
        None => (1, [0; 32]),
    };
    // A `Value` prints with sorted keys and no spaces: one canonical text.
    let body = body.to_string();
    let hash = link(
        &prev,
        &canonical(
            seq,
            at,
            kind.as_bytes(),
            subject.as_bytes(),
            body.as_bytes(),
        ),
    );
    conn.execute(
        "INSERT INTO audit (seq, at, kind, subject, body, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, at_sql(at), kind, subject, body, &prev[..], &hash[..]],
    )?;
    Ok(seq)
}

/// A stored hash; a wrong length (a tampered row) reads as zeros and fails
/// verification at that record.
pub(crate) fn to_hash(bytes: &[u8]) -> Hash {
    bytes.try_into().unwrap_or([0; 32])
}

/// SQLite integers are signed; times after 2262 would not fit, and saturate.
pub(crate) fn at_sql(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

/// A writer of the audit chain with its own connection; cheap to share.
#[derive(Debug)]
pub struct Audit {
    /// The connection; one append at a time.
    conn: Mutex<Connection>,
    /// Time stamps for records.
    clock: SharedClock,
}

impl Audit {
    /// Opens the chain in the SQLite file `path`, creating the table.
    ///
    /// # Errors
    /// [`AuditError::Db`].
    pub fn open(path: &Path, clock: SharedClock) -> Result<Self, AuditError> {
        let conn = crate::sqlite::open(path)?;
        create(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            clock,
        })
    }

    /// Appends `(kind, id, json)` stamped with the clock; returns its `seq`.
    ///
    /// # Errors
    /// [`AuditError::Db`].
    pub fn append(
        &self,
        kind: &str,
        id: &str,
        json: &serde_json::Value,
    ) -> Result<i64, AuditError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = append_in(&tx, self.clock.now_ms(), kind, id, json)?;
        tx.commit()?;
        Ok(seq)
    }
}
