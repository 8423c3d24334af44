//! The chain's arithmetic, with no storage in it.
//!
//! Each record is `(seq, at, kind, subject, body)`; its hash is
//! `SHA-256(prev_hash || canonical bytes)`, where the canonical bytes are
//! `seq` and `at` as 8-byte big-endian integers followed by `kind`, `subject`
//! and `body`, each as a 4-byte big-endian length and its UTF-8 bytes. The
//! first record's `prev_hash` is 32 zero bytes. `body` is compact JSON with
//! sorted keys, stored exactly as hashed. The table and its one append live
//! in the store (`store::audit`).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// One record of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, ms since the epoch (the gateway's clock).
    pub at: u64,
    /// What happened: `order.created`, `order.card`, `alarm` ...
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

impl Record {
    /// The record after `prev` (the head's hash and `seq`, or `None` for the
    /// first record), with its hash computed. `body` prints with sorted keys
    /// and no spaces: one canonical text.
    pub fn next(
        head: Option<(i64, Hash)>,
        at: u64,
        kind: &str,
        subject: &str,
        body: &serde_json::Value,
    ) -> Self {
        let (seq, prev) = head.map_or((1, [0; 32]), |(s, h)| (s + 1, h));
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
        Self {
            seq,
            at,
            kind: kind.to_string(),
            subject: subject.to_string(),
            body,
            prev,
            hash,
        }
    }

    /// The record as one JSON object for an auditor: hashes in hex, `body`
    /// as JSON (as text when it does not parse).
    pub fn to_json(&self) -> serde_json::Value {
        let body = serde_json::from_str(&self.body)
            .unwrap_or_else(|_| serde_json::Value::String(self.body.clone()));
        serde_json::json!({
            "seq": self.seq, "at": self.at, "kind": self.kind, "subject": self.subject,
            "body": body, "prev": hex(&self.prev), "hash": hex(&self.hash),
        })
    }
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

/// A stored hash; a wrong length (a tampered row) reads as zeros and fails
/// verification at that record.
pub fn to_hash(bytes: &[u8]) -> Hash {
    bytes.try_into().unwrap_or([0; 32])
}
