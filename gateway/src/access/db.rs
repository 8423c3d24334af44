//! The access tables (migration 12): credentials and grants, door lists,
//! access events, the pseudonym key and a change counter. Every change to a
//! credential is appended to the audit chain in its own transaction.

use protocol::access::{AccessEvent, CredKind, Window};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::model::{Credential, Grant};
use super::pseudonym::PseudonymKey;
use crate::store::{Store, StoreError, append_in};

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn kind_of(s: &str) -> CredKind {
    CredKind::parse(s).unwrap_or(CredKind::Card)
}

/// Bumps the change counter the running gateway polls.
fn bump(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO access_meta (key, value) VALUES ('generation', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
        [],
    )?;
    Ok(())
}

/// The change counter (0: never changed).
///
/// # Errors
/// SQLite errors.
pub fn generation(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT value FROM access_meta WHERE key = 'generation'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

fn grant_json(g: &Grant) -> serde_json::Value {
    serde_json::json!({ "target": g.target, "window": g.window })
}

fn write_one(conn: &Connection, c: &Credential, now_ms: u64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO access_credentials (kind, id, holder, visitor, valid_from, valid_until, revoked_ms, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)
         ON CONFLICT (kind, id) DO UPDATE SET holder = ?3, visitor = ?4, valid_from = ?5,
             valid_until = ?6, revoked_ms = NULL",
        params![
            c.kind.as_str(),
            c.id,
            c.holder,
            c.visitor,
            c.valid_from,
            c.valid_until,
            i64_of(now_ms)
        ],
    )?;
    conn.execute(
        "DELETE FROM access_grants WHERE kind = ?1 AND id = ?2",
        params![c.kind.as_str(), c.id],
    )?;
    let mut ins = conn.prepare_cached(
        "INSERT OR REPLACE INTO access_grants (kind, id, target, days, from_min, to_min) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for g in &c.grants {
        let w = g.window;
        ins.execute(params![
            c.kind.as_str(),
            c.id,
            g.target,
            w.map(|w| w.days),
            w.map(|w| w.from_min),
            w.map(|w| w.to_min)
        ])?;
    }
    Ok(())
}

/// Adds or replaces credentials (and their grants) in one transaction,
/// auditing each as `access.credential` by `by`.
///
/// # Errors
/// SQLite errors; nothing is written then.
pub fn save(
    conn: &mut Connection,
    creds: &[Credential],
    now_ms: u64,
    by: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for c in creds {
        write_one(&tx, c, now_ms)?;
        let body = serde_json::json!({
            "holder": c.holder,
            "visitor": c.visitor,
            "valid_from": c.valid_from,
            "valid_until": c.valid_until,
            "opens": c.grants.iter().map(grant_json).collect::<Vec<_>>(),
            "by": by,
        });
        append_in(&tx, now_ms, "access.credential", &c.key(), &body)?;
    }
    bump(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Revokes a credential (audited as `access.revoke`); `false` when there
/// is no such credential or it was already revoked.
///
/// # Errors
/// SQLite errors.
pub fn revoke(
    conn: &mut Connection,
    kind: CredKind,
    id: &str,
    now_ms: u64,
    by: &str,
) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE access_credentials SET revoked_ms = ?3 WHERE kind = ?1 AND id = ?2 AND revoked_ms IS NULL",
        params![kind.as_str(), id, i64_of(now_ms)],
    )?;
    if n > 0 {
        let body = serde_json::json!({ "by": by });
        append_in(&tx, now_ms, "access.revoke", &format!("{kind}:{id}"), &body)?;
        bump(&tx)?;
    }
    tx.commit()?;
    Ok(n > 0)
}

/// Every credential with its grants, by kind and id.
///
/// # Errors
/// SQLite errors.
pub fn load(conn: &Connection) -> Result<Vec<Credential>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, holder, visitor, valid_from, valid_until, revoked_ms
         FROM access_credentials ORDER BY kind, id",
    )?;
    let mut creds: Vec<Credential> = stmt
        .query_map([], |r| {
            Ok(Credential {
                kind: kind_of(&r.get::<_, String>(0)?),
                id: r.get(1)?,
                holder: r.get(2)?,
                visitor: r.get(3)?,
                valid_from: r.get(4)?,
                valid_until: r.get(5)?,
                revoked_ms: r.get::<_, Option<i64>>(6)?.map(u64_of),
                grants: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, target, days, from_min, to_min FROM access_grants ORDER BY kind, id, target",
    )?;
    let grants = stmt.query_map([], |r| {
        let days: Option<u8> = r.get(3)?;
        let window = days.map(|days| {
            Ok::<_, rusqlite::Error>(Window {
                days,
                from_min: r.get(4)?,
                to_min: r.get(5)?,
            })
        });
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            Grant {
                target: r.get(2)?,
                window: window.transpose()?,
            },
        ))
    })?;
    let mut at = std::collections::HashMap::new();
    for (i, c) in creds.iter().enumerate() {
        at.insert((c.kind.as_str().to_string(), c.id.clone()), i);
    }
    for g in grants {
        let (kind, id, grant) = g?;
        if let Some(&i) = at.get(&(kind, id)) {
            creds[i].grants.push(grant);
        }
    }
    Ok(creds)
}

/// A door's list as last computed, and what the door confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    /// The door.
    pub door: String,
    /// The newest version computed.
    pub version: u32,
    /// Its hash, in hex.
    pub hash: String,
    /// Its entry count.
    pub entries: u32,
    /// When computed (ms).
    pub computed_ms: u64,
    /// The version the door confirmed it decides with (0: none).
    pub active: u32,
    /// When the door confirmed it (ms).
    pub synced_ms: Option<u64>,
    /// Why the door cannot take the newest version, if it cannot.
    pub error: Option<String>,
}

/// Every door's list row.
///
/// # Errors
/// SQLite errors.
pub fn lists(conn: &Connection) -> Result<Vec<ListRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT door, version, hash, entries, computed_ms, active, synced_ms, error FROM access_lists ORDER BY door",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ListRow {
            door: r.get(0)?,
            version: r.get(1)?,
            hash: r.get(2)?,
            entries: r.get(3)?,
            computed_ms: u64_of(r.get(4)?),
            active: r.get(5)?,
            synced_ms: r.get::<_, Option<i64>>(6)?.map(u64_of),
            error: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a newly computed version of a door's list.
///
/// # Errors
/// SQLite errors.
pub fn save_list(
    conn: &Connection,
    door: &str,
    version: u32,
    hash: u64,
    entries: u32,
    error: Option<&str>,
    now_ms: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO access_lists (door, version, hash, entries, computed_ms, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (door) DO UPDATE SET version = ?2, hash = ?3, entries = ?4, computed_ms = ?5, error = ?6",
        params![door, version, format!("{hash:016x}"), entries, i64_of(now_ms), error],
    )?;
    Ok(())
}

/// Records what a door answered: the version it decides with, or why not.
///
/// # Errors
/// SQLite errors.
pub fn save_answer(
    conn: &Connection,
    door: &str,
    active: u32,
    error: Option<&str>,
    now_ms: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE access_lists SET active = ?2, synced_ms = ?3, error = ?4 WHERE door = ?1",
        params![door, active, i64_of(now_ms), error],
    )?;
    Ok(())
}

/// An access event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// The door.
    pub door: String,
    /// `granted`, `denied`, `forced-open`, `held-open`.
    pub kind: String,
    /// Why refused.
    pub reason: Option<String>,
    /// The credential presented.
    pub cred: Option<String>,
    /// Its kind.
    pub cred_kind: Option<String>,
    /// The list version the door decided with.
    pub list: u32,
    /// The door's time (ms), if it had a clock.
    pub node_ts: Option<u64>,
    /// When the gateway received it (ms).
    pub received_ms: u64,
}

/// Stores an access event once; `false` for a repeat (same door, boot, seq).
///
/// # Errors
/// SQLite errors.
pub fn insert_event(
    conn: &Connection,
    door: &str,
    ev: &AccessEvent,
    received_ms: u64,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO access_events (door, boot, seq, kind, reason, cred, cred_kind, list, node_ts, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            door,
            ev.boot,
            ev.seq,
            ev.kind.as_str(),
            ev.reason.map(|r| r.as_str()),
            ev.cred.as_ref().map(|c| c.as_str()),
            ev.cred_kind.map(|k| k.as_str()),
            ev.list,
            ev.ts.map(i64_of),
            i64_of(received_ms)
        ])?;
    Ok(n > 0)
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this door's.
    pub door: Option<String>,
    /// Only this credential's.
    pub cred: Option<String>,
    /// Only those received at or after (ms).
    pub since_ms: Option<u64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// Events by filter, newest first.
///
/// # Errors
/// SQLite errors.
pub fn events(conn: &Connection, f: &EventFilter) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, door, kind, reason, cred, cred_kind, list, node_ts, received_ms FROM access_events
         WHERE (?1 IS NULL OR door = ?1) AND (?2 IS NULL OR cred = ?2) AND received_ms >= ?3
         ORDER BY received_ms DESC, id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![
            f.door,
            f.cred,
            i64_of(f.since_ms.unwrap_or(0)),
            f.limit.max(1)
        ],
        |r| {
            Ok(EventRow {
                id: r.get(0)?,
                door: r.get(1)?,
                kind: r.get(2)?,
                reason: r.get(3)?,
                cred: r.get(4)?,
                cred_kind: r.get(5)?,
                list: r.get(6)?,
                node_ts: r.get::<_, Option<i64>>(7)?.map(u64_of),
                received_ms: u64_of(r.get(8)?),
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes events received before `before_ms`; returns how many.
///
/// # Errors
/// SQLite errors.
pub fn prune(conn: &Connection, before_ms: u64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM access_events WHERE received_ms < ?1",
        params![i64_of(before_ms)],
    )?)
}

/// The pseudonym key, made (from the OS random source) on first use.
///
/// # Errors
/// SQLite errors, or the random source failing.
pub fn pseudonym_key(conn: &Connection) -> Result<PseudonymKey, StoreError> {
    let found: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM access_meta WHERE key = 'pseudonym-key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(k) = found.and_then(|v| <[u8; 32]>::try_from(v).ok()) {
        return Ok(PseudonymKey::new(k));
    }
    let mut k = [0u8; 32];
    getrandom::fill(&mut k)
        .map_err(|e| StoreError::Invalid(format!("the OS random source failed: {e}")))?;
    conn.execute(
        "INSERT OR REPLACE INTO access_meta (key, value) VALUES ('pseudonym-key', ?1)",
        params![&k[..]],
    )?;
    Ok(PseudonymKey::new(k))
}

/// [`save`] on a [`Store`] (tools, tests).
///
/// # Errors
/// As [`save`].
pub fn save_in(
    store: &mut Store,
    creds: &[Credential],
    now_ms: u64,
    by: &str,
) -> Result<(), StoreError> {
    save(store.conn_mut(), creds, now_ms, by)
}

/// [`revoke`] on a [`Store`].
///
/// # Errors
/// As [`revoke`].
pub fn revoke_in(
    store: &mut Store,
    kind: CredKind,
    id: &str,
    now_ms: u64,
    by: &str,
) -> Result<bool, StoreError> {
    revoke(store.conn_mut(), kind, id, now_ms, by)
}

/// [`events`] on a [`Store`].
///
/// # Errors
/// As [`events`].
pub fn events_in(store: &Store, f: &EventFilter) -> Result<Vec<EventRow>, StoreError> {
    events(store.conn(), f)
}

/// [`lists`] on a [`Store`].
///
/// # Errors
/// As [`lists`].
pub fn lists_in(store: &Store) -> Result<Vec<ListRow>, StoreError> {
    lists(store.conn())
}
