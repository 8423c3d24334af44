//! The SQL of one writer batch: events (repeats detected by
//! `UNIQUE(device, boot, seq)`), presence, quarantine counts, telemetry rows.

use rusqlite::Transaction;

use super::batch::Batch;
use super::convert::at_i64;
use super::outbox::Shared;
use super::{Commit, Done, EventRecord, QuarantineRecord, Store};

/// Longest text kept per quarantine column, in bytes.
const QUARANTINE_TEXT_MAX: usize = 256;

/// Rows written by one committed transaction.
pub(super) struct Written {
    pub(super) commits: Vec<Commit>,
    pub(super) done: Vec<Done>,
    pub(super) rows: u64,
}

/// One transaction: events, presence, quarantine, writes, then telemetry.
pub(super) fn write_tx(
    store: &mut Store,
    outbox: &Shared,
    batch: &Batch,
) -> Result<Written, rusqlite::Error> {
    let tx = store.conn_mut().transaction()?;
    let mut commits = Vec::with_capacity(batch.events.len());
    for (rec, _) in &batch.events {
        commits.push(insert_event(&tx, rec)?);
    }
    for (device, status, at, _) in &batch.presence {
        tx.prepare_cached(
            "INSERT INTO presence (device, status, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (device) DO UPDATE SET status = excluded.status, at_ms = excluded.at_ms
             WHERE excluded.at_ms >= presence.at_ms",
        )?
        .execute((device.as_str(), status.as_str(), at_i64(*at)))?;
    }
    for q in &batch.quarantine {
        insert_quarantine(&tx, q)?;
    }
    let mut done = Vec::with_capacity(batch.writes.len());
    for (w, _) in &batch.writes {
        done.push(super::alarms::write(&tx, outbox, w)?);
    }
    let mut rows = 0;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO telemetry (device, seq, received_ms, field, value) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for t in &batch.telemetry {
            for (field, value) in &t.readings {
                st.execute((
                    t.device.as_str(),
                    t.seq,
                    at_i64(t.received_ms),
                    field.as_str(),
                    f64::from(*value),
                ))?;
                rows += 1;
            }
        }
    }
    tx.commit()?;
    Ok(Written {
        commits,
        done,
        rows,
    })
}

/// Stores an event once per `(device, boot, seq)`.
///
/// With the node's boot counter that key decides alone. Without one, the
/// event goes to the device's current sequence epoch (the lowest `boot` at
/// or below 0); a clash there with different content, for an alarm-class
/// event, is a sequence reset: the event opens the next epoch (one lower)
/// and is stored as new. Never dropped; an exact repeat is a duplicate.
fn insert_event(tx: &Transaction<'_>, rec: &EventRecord) -> Result<Commit, rusqlite::Error> {
    if let Some(boot) = rec.boot {
        return Ok(insert_at(tx, rec, i64::from(boot))?.map_or(Commit::Duplicate, Commit::New));
    }
    let epoch: i64 = tx
        .prepare_cached(
            "SELECT coalesce(min(boot), 0) FROM events WHERE device = ?1 AND boot <= 0",
        )?
        .query_row([rec.device.as_str()], |r| r.get(0))?;
    if let Some(id) = insert_at(tx, rec, epoch)? {
        return Ok(Commit::New(id));
    }
    if !rec.kind.is_alarm_class() || same_content(tx, rec, epoch)? {
        return Ok(Commit::Duplicate);
    }
    // `epoch` is the device's lowest, so the one below it is free.
    Ok(insert_at(tx, rec, epoch - 1)?.map_or(Commit::Duplicate, Commit::SequenceReset))
}

/// Inserts `rec` under `boot`; the new row id, or `None` if the key is taken.
fn insert_at(
    tx: &Transaction<'_>,
    rec: &EventRecord,
    boot: i64,
) -> Result<Option<i64>, rusqlite::Error> {
    let n = tx
        .prepare_cached(
            "INSERT INTO events (device, boot, seq, kind, cause, value, node_ts, received_ms, payload, evaluated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0) ON CONFLICT (device, boot, seq) DO NOTHING",
        )?
        .execute((
            rec.device.as_str(),
            boot,
            rec.seq,
            rec.kind.as_str(),
            rec.cause.map(protocol::Cause::as_str),
            rec.value.map(f64::from),
            rec.node_ts.map(at_i64),
            at_i64(rec.received_ms),
            &rec.payload,
        ))?;
    Ok((n > 0).then(|| tx.last_insert_rowid()))
}

/// Whether the stored event at `(device, boot, seq)` says what `rec` says:
/// same type, cause, value and node time.
fn same_content(
    tx: &Transaction<'_>,
    rec: &EventRecord,
    boot: i64,
) -> Result<bool, rusqlite::Error> {
    tx.prepare_cached(
        "SELECT kind = ?4 AND cause IS ?5 AND value IS ?6 AND node_ts IS ?7 FROM events
         WHERE device = ?1 AND boot = ?2 AND seq = ?3",
    )?
    .query_row(
        (
            rec.device.as_str(),
            boot,
            rec.seq,
            rec.kind.as_str(),
            rec.cause.map(protocol::Cause::as_str),
            rec.value.map(f64::from),
            rec.node_ts.map(at_i64),
        ),
        |r| r.get(0),
    )
}

fn insert_quarantine(tx: &Transaction<'_>, q: &QuarantineRecord) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO quarantine (source, reason, count, first_seen_ms, last_seen_ms, last_topic, last_detail)
         VALUES (?1, ?2, 1, ?3, ?3, ?4, ?5)
         ON CONFLICT (source, reason) DO UPDATE SET count = count + 1,
           last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
           last_topic = excluded.last_topic, last_detail = excluded.last_detail",
    )?
    .execute((
        truncate(&q.source),
        q.reason,
        at_i64(q.at_ms),
        truncate(&q.topic),
        truncate(&q.detail),
    ))?;
    Ok(())
}

/// At most [`QUARANTINE_TEXT_MAX`] bytes, cut at a character boundary.
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(QUARANTINE_TEXT_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
