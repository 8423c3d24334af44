//! The independent checker. It knows the wire contract (the protocol crate's
//! payloads, docs/topics.md, docs/upstream.md), reads the store file with
//! plain read-only SQL for "stored exactly once", and runs
//! `gridsense audit verify`. It never links the gateway's code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::node::{Cause, EventKind};
use rusqlite::{Connection, OpenFlags};

use crate::district::DistrictData;
use crate::nodes::LedgerData;
use crate::world::{Device, Res, Role, cli};

/// What the store holds, read with SQL.
#[derive(Debug, Default)]
pub struct StoreView {
    /// Event rows by (device, seq): their `kind` columns (one per row).
    pub events: BTreeMap<(String, u32), Vec<String>>,
    /// Every alarm, decoded from its JSON (the integrator feed's payload).
    pub alarms: Vec<AlarmFeed>,
}

fn open(db: &Path) -> Res<Connection> {
    Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("open {} read-only: {e}", db.display()))
}

/// Reads events and alarms.
pub fn read_store(db: &Path) -> Res<StoreView> {
    let c = open(db)?;
    c.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let mut v = StoreView::default();
    let mut st = c
        .prepare("SELECT device, seq, kind FROM events")
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (d, s, k) = row.map_err(|e| e.to_string())?;
        v.events.entry((d, s)).or_default().push(k);
    }
    let mut st = c
        .prepare("SELECT json FROM alarms")
        .map_err(|e| e.to_string())?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())?;
    for row in rows {
        let json = row.map_err(|e| e.to_string())?;
        v.alarms.push(
            serde_json::from_str(&json).map_err(|e| format!("alarm row is no AlarmFeed: {e}"))?,
        );
    }
    Ok(v)
}

/// `PRAGMA integrity_check` on the file; `Ok` when it answers `ok`.
pub fn integrity(db: &Path) -> Res<()> {
    let c = open(db)?;
    let answer: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("integrity_check: {e}"))?;
    if answer == ["ok"] {
        Ok(())
    } else {
        Err(answer.join("; "))
    }
}

/// `gridsense audit verify --db FILE`.
pub fn audit_verify(bin: &Path, db: &Path) -> Res<()> {
    cli(bin, &["audit", "verify", "--db", &db.to_string_lossy()]).map(|_| ())
}

/// Counts and findings of one judgement.
#[derive(Debug, Default)]
pub struct Findings {
    /// Distinct events the nodes created.
    pub events: usize,
    /// Publishes of them (first sends and repeats).
    pub publishes: u64,
    /// Events acknowledged.
    pub acked: usize,
    /// Acknowledged events found stored exactly once.
    pub stored: usize,
    /// Alarms the acked events imply, and found exactly once.
    pub alarms_expected: usize,
    /// Of those, found exactly once with the right state.
    pub alarms_ok: usize,
    /// Ticketed alarms in the store.
    pub ticketed: usize,
    /// Tickets at the platform.
    pub tickets: usize,
    /// Order deliveries at the platform (redeliveries included).
    pub deliveries: u64,
    /// Acked events or implied alarms or orders that are missing.
    pub lost: usize,
    /// Events, alarms or tickets found more than once.
    pub duplicated: usize,
    /// Every violation, one line each, precise.
    pub violations: Vec<String>,
}

fn when(at: Instant, start: Instant, kills: &[Instant]) -> String {
    let k = kills.iter().filter(|k| **k <= at).count();
    format!(
        "acked at {:.2} s, after fault {k} of the run",
        at.duration_since(start).as_secs_f64()
    )
}

/// Judges the end state: what nodes were acked against what the store holds
/// and what the platform received. `faults` are the instants faults were
/// injected (for the report only).
pub fn judge(
    ledger: &LedgerData,
    devices: &BTreeMap<String, Device>,
    store: &StoreView,
    district: &DistrictData,
    ticketed: &[&str],
    start: Instant,
    faults: &[Instant],
) -> Findings {
    let mut f = Findings {
        events: ledger.events.len(),
        publishes: ledger.events.values().map(|e| u64::from(e.publishes)).sum(),
        tickets: district.tickets.len(),
        deliveries: district.arrivals.len() as u64,
        ..Findings::default()
    };
    // 1. Every acked event stored exactly once, as sent.
    for ((dev, seq), e) in &ledger.events {
        let Some(at) = e.acked_at else {
            f.lost += 1;
            f.violations.push(format!(
                "event never acked: {dev} seq {seq} ({}), published {} times",
                e.kind, e.publishes
            ));
            continue;
        };
        f.acked += 1;
        match store
            .events
            .get(&(dev.clone(), *seq))
            .map_or(&[][..], Vec::as_slice)
        {
            [] => {
                f.lost += 1;
                f.violations.push(format!(
                    "acked event not stored: {dev} seq {seq} ({}), {}",
                    e.kind,
                    when(at, start, faults)
                ));
            }
            [k] if k == e.kind.as_str() => f.stored += 1,
            [k] => f.violations.push(format!(
                "stored event differs: {dev} seq {seq} sent as {}, stored as {k}",
                e.kind
            )),
            many => {
                f.duplicated += 1;
                f.violations.push(format!(
                    "event stored {} times: {dev} seq {seq}",
                    many.len()
                ));
            }
        }
    }
    // 2. Every alarm an acked event implies, exactly once, in the right state.
    for d in devices.values() {
        let (kind, raise) = match d.role {
            Role::Fire => ("fire", (EventKind::Alarm, Some(Cause::Smoke))),
            Role::Fault => ("sensor-fault", (EventKind::Fault, Some(Cause::SensorOpen))),
            Role::Lock | Role::Telemetry => continue,
        };
        let mine: Vec<(&u32, &crate::nodes::EventRec)> = ledger
            .events
            .range((d.id.clone(), 0)..=(d.id.clone(), u32::MAX))
            .map(|((_, s), e)| (s, e))
            .collect();
        let Some((seq, raised)) = mine
            .iter()
            .find(|(_, e)| (e.kind, e.cause) == raise && e.acked_at.is_some())
        else {
            continue;
        };
        let restored = mine
            .iter()
            .any(|(s, e)| *s > *seq && e.kind == EventKind::Restore && e.acked_at.is_some());
        f.alarms_expected += 1;
        let found: Vec<&AlarmFeed> = store
            .alarms
            .iter()
            .filter(|a| a.kind.as_str() == kind && a.devices.iter().any(|x| x.as_str() == d.id))
            .collect();
        let at = raised.acked_at.unwrap_or(start);
        match found.as_slice() {
            [] => {
                f.lost += 1;
                f.violations.push(format!(
                    "acked {kind} alarm lost: {} seq {seq} ({} {}), {}, but no {kind} alarm names it",
                    d.id,
                    raised.kind,
                    raised.cause.map_or("", Cause::as_str),
                    when(at, start, faults)
                ));
            }
            [a] => {
                // Fires latch (only an operator resets them); a fault clears when restored.
                let right = match d.role {
                    Role::Fire => a.state == AlarmState::Active,
                    _ if restored => a.state == AlarmState::Cleared,
                    _ => a.state == AlarmState::Active,
                };
                if right {
                    f.alarms_ok += 1;
                } else {
                    f.violations.push(format!(
                        "{kind} alarm {} of {} is {:?}, expected {}",
                        a.id,
                        d.id,
                        a.state,
                        if d.role == Role::Fault && restored {
                            "cleared"
                        } else {
                            "active"
                        }
                    ));
                }
            }
            many => {
                f.duplicated += 1;
                let ids: Vec<&str> = many.iter().map(|a| a.id.as_str()).collect();
                f.violations.push(format!(
                    "{} {kind} alarms for {} seq {seq}: {}",
                    many.len(),
                    d.id,
                    ids.join(", ")
                ));
            }
        }
    }
    // 3. Every ticketed alarm's order at the platform exactly once by order_id.
    let mut by_alarm: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (oid, t) in &district.tickets {
        by_alarm.entry(t.alarm_id.as_str()).or_default().push(oid);
    }
    for a in store
        .alarms
        .iter()
        .filter(|a| !a.test && ticketed.contains(&a.kind.as_str()))
    {
        f.ticketed += 1;
        match by_alarm.get(a.id.as_str()).map_or(&[][..], Vec::as_slice) {
            [] => {
                f.lost += 1;
                f.violations.push(format!(
                    "ticketed alarm {} ({}, {}) has no order at the district",
                    a.id,
                    a.kind,
                    a.devices.first().map_or("?", |d| d.as_str())
                ));
            }
            [_] => {}
            many => {
                f.duplicated += 1;
                f.violations.push(format!(
                    "alarm {} has {} orders at the district: {}",
                    a.id,
                    many.len(),
                    many.join(", ")
                ));
            }
        }
    }
    for (oid, t) in &district.tickets {
        match store.alarms.iter().find(|a| a.id.as_str() == t.alarm_id) {
            None => f.violations.push(format!(
                "order {oid} at the district names alarm {}, which the store does not hold",
                t.alarm_id
            )),
            // An alarm id given out twice (once before a crash, once after).
            Some(a) if a.kind != t.kind => f.violations.push(format!(
                "order {oid} at the district names alarm {} as {}, but the store's {} is a {} alarm",
                t.alarm_id, t.kind, t.alarm_id, a.kind
            )),
            Some(_) => {}
        }
    }
    f.violations.extend(district.breaches.iter().cloned());
    f
}

#[cfg(test)]
mod tests;
