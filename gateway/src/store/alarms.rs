//! Alarms and linkage in the store, and the reads the gateway needs at
//! start-up (open alarms, last alarm number, highest event `seq` per device,
//! availability).

use protocol::DeviceId;
use protocol::feed::{AlarmFeed, AlarmState};
use rusqlite::Transaction;

use super::outbox::Shared;
use super::write::{Done, Write};
use super::{Store, StoreError};

/// A stored aggregate: (field, from ms, to ms, avg, count).
pub type AggregateRow = (String, i64, i64, f64, u32);

/// The number in an alarm id `{gateway}-a{n}`.
fn number(id: &str) -> i64 {
    id.rsplit_once("-a")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Applies one write inside the writer's transaction.
pub(super) fn write(
    tx: &Transaction<'_>,
    outbox: &Shared,
    w: &Write,
) -> Result<Done, rusqlite::Error> {
    match w {
        Write::Alarm(a, at) => {
            let json = serde_json::to_string(a).unwrap_or_default();
            let value = serde_json::to_value(a.as_ref()).unwrap_or_default();
            super::audit::append_in(tx, *at, "alarm", &a.id, &value)?;
            tx.prepare_cached(
                "INSERT INTO alarms (id, number, kind, state, final, raised_ms, json, handed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, final = excluded.final, json = excluded.json, handed = 0",
            )?
            .execute((a.id.as_str(), number(&a.id), a.kind.as_str(), state_str(a.state), a.state.is_final(), ms(a.raised_at), json))?;
        }
        Write::Handed(seen) => {
            let mut st =
                tx.prepare_cached("UPDATE alarms SET handed = 1 WHERE id = ?1 AND json = ?2")?;
            for (id, json) in seen {
                st.execute((id, json))?;
            }
        }
        Write::Aggregate(a) => {
            tx.prepare_cached(
                "INSERT INTO aggregates (scope, scope_id, field, from_ms, to_ms, min, max, avg, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute((&a.scope, a.id.as_str(), a.field.as_str(), ms(a.from), ms(a.to), f64::from(a.min), f64::from(a.max), f64::from(a.avg), a.count))?;
        }
        Write::Linkage(r) => {
            tx.prepare_cached(
                "INSERT INTO linkage (alarm, device, cmd, sent_ms, acked_ms, attempts, ok) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute((&r.alarm, r.device.as_str(), r.cmd.as_str(), ms(r.sent_ms), ms(r.acked_ms), r.attempts, r.ok))?;
        }
        Write::Order(c) => {
            return Ok(Done::Order(Box::new(super::orders::commit(tx, outbox, c)?)));
        }
        Write::Enqueue(now, msgs) => {
            let mut done = Vec::with_capacity(msgs.len());
            for m in msgs {
                done.push(super::outbox::enqueue(tx, outbox, *now, m)?);
            }
            return Ok(Done::Enqueued(done));
        }
        Write::OutboxAck(receipts) => {
            return Ok(Done::Removed(super::outbox::ack(tx, outbox, receipts)?));
        }
        Write::OutboxRemove(seqs) => {
            return Ok(Done::Removed(super::outbox::remove(tx, outbox, seqs)?));
        }
        Write::Maintenance(m) => {
            let ended = super::operators::write_maintenance(tx, m)?;
            return Ok(Done::Ended(u64::try_from(ended).unwrap_or(u64::MAX)));
        }
        Write::Operator(r) => super::operators::write_operator(tx, r)?,
        Write::Auth(a) => super::users::write_auth(tx, a)?,
        Write::FireCentre(f) => {
            let seqs = super::firecentre::write(tx, f)?;
            if matches!(f, super::firecentre::FireCentreWrite::Queue(_)) {
                return Ok(Done::FireQueued(seqs));
            }
        }
        Write::Many(writes) => {
            for w in writes {
                write(tx, outbox, w)?;
            }
        }
        Write::Evaluated { event, writes } => {
            for w in writes {
                write(tx, outbox, w)?;
            }
            tx.prepare_cached("UPDATE events SET evaluated = 1 WHERE id = ?1")?
                .execute([event])?;
        }
    }
    Ok(Done::Stored)
}

fn state_str(s: AlarmState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Store {
    /// Alarms not yet over, oldest first.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Invalid`] for a row that does not parse.
    pub fn open_alarms(&self) -> Result<Vec<AlarmFeed>, StoreError> {
        self.alarms_where("final = 0")
    }

    /// Alarms whose last change the order engine has not acted on (a crash
    /// came between the alarm's commit and the engine's), oldest first.
    ///
    /// # Errors
    /// As [`Self::open_alarms`].
    pub fn unhanded_alarms(&self) -> Result<Vec<AlarmFeed>, StoreError> {
        self.alarms_where("handed = 0")
    }

    /// Every alarm, oldest first (for tools and tests).
    ///
    /// # Errors
    /// As [`Self::open_alarms`].
    pub fn all_alarms(&self) -> Result<Vec<AlarmFeed>, StoreError> {
        self.alarms_where("1 = 1")
    }

    fn alarms_where(&self, cond: &str) -> Result<Vec<AlarmFeed>, StoreError> {
        let mut st = self.conn().prepare(&format!(
            "SELECT json FROM alarms WHERE {cond} ORDER BY number"
        ))?;
        let rows = st.query_map((), |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json?;
            out.push(
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Invalid(format!("alarm row: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Stored aggregates of one scope (`building` or `cell`) and id: (field, from ms, to ms, avg, count).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn aggregates_for(&self, scope: &str, id: &str) -> Result<Vec<AggregateRow>, StoreError> {
        let mut st = self
            .conn()
            .prepare("SELECT field, from_ms, to_ms, avg, count FROM aggregates WHERE scope = ?1 AND scope_id = ?2 ORDER BY to_ms, field")?;
        let rows = st.query_map([scope, id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The highest alarm number used, so ids continue after a restart.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_alarm_number(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn()
                .query_row("SELECT COALESCE(MAX(number), 0) FROM alarms", (), |r| {
                    r.get(0)
                })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Linkage commands recorded for `alarm`: (device, command, attempts, ok).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn linkage_for(&self, alarm: &str) -> Result<Vec<(String, String, u32, bool)>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT device, cmd, attempts, ok FROM linkage WHERE alarm = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([alarm], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where every device's sequence stands: the boot of its latest stored
    /// event (`None`: a node without a boot counter) and the highest `seq`
    /// stored within that boot (or sequence epoch).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn max_event_seqs(&self) -> Result<Vec<(DeviceId, Option<u32>, u32)>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT e.device, e.boot,
                    (SELECT max(x.seq) FROM events x WHERE x.device = e.device AND x.boot = e.boot)
             FROM events e WHERE e.id IN (SELECT max(id) FROM events GROUP BY device)",
        )?;
        let rows = st.query_map((), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (d, boot, seq) = row?;
            if let Ok(d) = DeviceId::new(&d) {
                out.push((d, u32::try_from(boot).ok().filter(|&b| b > 0), seq));
            }
        }
        Ok(out)
    }
}
