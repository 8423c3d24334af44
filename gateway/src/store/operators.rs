//! What operators did that touches life safety: maintenance windows (the
//! `maintenance` table) and the audit records of their actions on alarms,
//! accepted or refused. Each write appends to the audit chain in the same
//! transaction as its row.

use rusqlite::Transaction;

use super::convert::at_i64;
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// What a maintenance target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// One device.
    Device,
    /// A site node and everything beneath it.
    Site,
    /// Every device of a fire zone.
    Zone,
}

impl Scope {
    /// The name stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Site => "site",
            Self::Zone => "zone",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Device, Self::Site, Self::Zone]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Device id, site node id or fire zone.
    pub target: String,
    /// What the target names.
    pub scope: Scope,
    /// When it was set (ms since the epoch).
    pub since: u64,
    /// When it ends by itself (ms since the epoch).
    pub until: u64,
    /// Who set it.
    pub by: String,
    /// Why.
    pub reason: String,
}

impl Window {
    /// Whether the window is in force at `at`.
    pub fn in_force(&self, at: u64) -> bool {
        self.since <= at && at < self.until
    }
}

/// A change to the maintenance windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceWrite {
    /// A window starts; one in force on the same target is ended as replaced.
    Start(Window),
    /// The window in force on `target` ends early; answered with
    /// `Done::Ended(0)` when there was none.
    End {
        /// Device id, site node id or fire zone.
        target: String,
        /// When (ms since the epoch).
        at: u64,
        /// Who ended it.
        by: String,
        /// Why.
        reason: String,
    },
    /// The window on `target` reached its `until` (by the gateway's clock).
    Expired {
        /// The target.
        target: String,
        /// Its `until`.
        until: u64,
    },
}

/// An operator's action on an alarm, for the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    /// When (ms since the epoch).
    pub at: u64,
    /// The alarm.
    pub alarm: String,
    /// `ack`, `reset` or `cancel`.
    pub action: String,
    /// Who, as the operator gave it (empty when not given).
    pub by: String,
    /// Why (empty when not given).
    pub reason: String,
    /// `None` when done; the refusal's reason otherwise.
    pub refused: Option<String>,
    /// The API user who asked (authenticated; `by` may name a person on a
    /// shared guard-room account).
    pub user: String,
}

/// A stored maintenance window and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRow {
    /// The window as set.
    pub window: Window,
    /// When it ended early, replaced or expired (`None`: not recorded as ended).
    pub ended_at: Option<u64>,
    /// Who ended it: the operator, the one who replaced it, or `clock`.
    pub ended_by: Option<String>,
    /// Why: the operator's reason, `replaced` or `expired`.
    pub end_reason: Option<String>,
}

/// Ends the open window on `target` (inside the caller's transaction);
/// returns how many rows it ended.
fn end_open(
    tx: &Transaction<'_>,
    target: &str,
    at: u64,
    by: &str,
    reason: &str,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE maintenance SET ended_ms = ?2, ended_by = ?3, end_reason = ?4
         WHERE target = ?1 AND ended_ms IS NULL AND until_ms > ?2",
    )?
    .execute((target, at_i64(at), by, reason))
}

/// Applies a maintenance change inside the writer's transaction; returns
/// how many windows it ended (replaced, ended early or expired).
pub(super) fn write_maintenance(
    tx: &Transaction<'_>,
    w: &MaintenanceWrite,
) -> rusqlite::Result<usize> {
    let ended = match w {
        MaintenanceWrite::Start(win) => {
            let replaced = end_open(tx, &win.target, win.since, &win.by, "replaced")?;
            tx.prepare_cached(
                "INSERT INTO maintenance (target, scope, since_ms, until_ms, set_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute((
                &win.target,
                win.scope.as_str(),
                at_i64(win.since),
                at_i64(win.until),
                &win.by,
                &win.reason,
            ))?;
            let body = serde_json::to_value(win).unwrap_or_default();
            super::audit::append_in(tx, win.since, "maintenance.start", &win.target, &body)?;
            replaced
        }
        MaintenanceWrite::End {
            target,
            at,
            by,
            reason,
        } => {
            let n = end_open(tx, target, *at, by, reason)?;
            if n > 0 {
                let body = serde_json::json!({ "target": target, "by": by, "reason": reason });
                super::audit::append_in(tx, *at, "maintenance.end", target, &body)?;
            }
            n
        }
        MaintenanceWrite::Expired { target, until } => {
            let n = tx
                .prepare_cached(
                    "UPDATE maintenance SET ended_ms = until_ms, ended_by = 'clock', end_reason = 'expired'
                     WHERE target = ?1 AND ended_ms IS NULL AND until_ms = ?2",
                )?
                .execute((target, at_i64(*until)))?;
            if n > 0 {
                let body = serde_json::json!({ "target": target, "until": until });
                super::audit::append_in(tx, *until, "maintenance.expired", target, &body)?;
            }
            n
        }
    };
    Ok(ended)
}

/// Appends an operator's action to the audit chain.
pub(super) fn write_operator(tx: &Transaction<'_>, r: &OperatorRecord) -> rusqlite::Result<()> {
    let body = serde_json::json!({
        "action": r.action,
        "by": r.by,
        "reason": r.reason,
        "refused": r.refused,
        "user": r.user,
    });
    let kind = if r.refused.is_some() {
        "operator.refused"
    } else {
        "operator"
    };
    super::audit::append_in(tx, r.at, kind, &r.alarm, &body)?;
    Ok(())
}

fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// At start-up, before the writer thread takes the connection: records
    /// as expired (and audits) every window whose `until` passed while the
    /// gateway was not running, and returns the windows still in force.
    ///
    /// # Errors
    /// As [`Self::maintenance_in_force`].
    pub fn maintenance_at_start(&mut self, now: u64) -> Result<Vec<Window>, StoreError> {
        let expired = self.expire_maintenance(now)?;
        if expired > 0 {
            tracing::info!(
                expired,
                "maintenance windows ended while the gateway was down"
            );
        }
        self.maintenance_in_force(now)
    }

    fn expire_maintenance(&mut self, now: u64) -> Result<usize, StoreError> {
        let due: Vec<(String, u64)> = self
            .maintenance_where("ended_ms IS NULL AND until_ms <= ?1", now)?
            .into_iter()
            .map(|r| (r.window.target, r.window.until))
            .collect();
        let tx = self.conn_mut().transaction()?;
        for (target, until) in &due {
            write_maintenance(
                &tx,
                &MaintenanceWrite::Expired {
                    target: target.clone(),
                    until: *until,
                },
            )?;
        }
        tx.commit()?;
        Ok(due.len())
    }

    /// Maintenance windows in force at `now` (not ended, `until` ahead),
    /// oldest first: what the engine loads at start-up.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Invalid`] for a row that does not parse.
    pub fn maintenance_in_force(&self, now: u64) -> Result<Vec<Window>, StoreError> {
        Ok(self
            .maintenance_where("ended_ms IS NULL AND until_ms > ?1", now)?
            .into_iter()
            .map(|r| r.window)
            .collect())
    }

    /// Every maintenance window ever set, oldest first, with how it ended.
    ///
    /// # Errors
    /// As [`Self::maintenance_in_force`].
    pub fn maintenance_log(&self) -> Result<Vec<MaintenanceRow>, StoreError> {
        self.maintenance_where("?1 >= 0", 0)
    }

    fn maintenance_where(&self, cond: &str, now: u64) -> Result<Vec<MaintenanceRow>, StoreError> {
        let mut st = self.conn().prepare(&format!(
            "SELECT target, scope, since_ms, until_ms, set_by, reason, ended_ms, ended_by, end_reason
             FROM maintenance WHERE {cond} ORDER BY id"
        ))?;
        let rows = st.query_map([at_i64(now)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (target, scope, since, until, by, reason, ended, ended_by, end_reason) = row?;
            let scope = Scope::parse(&scope).ok_or_else(|| {
                StoreError::Invalid(format!("maintenance {target}: scope {scope:?}"))
            })?;
            out.push(MaintenanceRow {
                window: Window {
                    target,
                    scope,
                    since: ms(since),
                    until: ms(until),
                    by,
                    reason,
                },
                ended_at: ended.map(ms),
                ended_by,
                end_reason,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(target: &str, until: u64) -> Window {
        Window {
            target: target.into(),
            scope: Scope::Site,
            since: 1_000,
            until,
            by: "tech-wang".into(),
            reason: "annual test".into(),
        }
    }

    fn apply(store: &mut Store, w: &MaintenanceWrite) -> usize {
        let tx = store.conn_mut().transaction().expect("tx");
        let done = write_maintenance(&tx, w).expect("write");
        tx.commit().expect("commit");
        done
    }

    #[test]
    fn windows_are_stored_replaced_and_expired_while_down_with_an_audit_trail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let mut store = Store::open(&path).expect("open");
        assert_eq!(
            apply(&mut store, &MaintenanceWrite::Start(window("b2", 5_000))),
            0
        );
        let mut longer = window("b2", 9_000);
        longer.since = 2_000;
        assert_eq!(
            apply(&mut store, &MaintenanceWrite::Start(longer.clone())),
            1,
            "the first is replaced"
        );
        apply(&mut store, &MaintenanceWrite::Start(window("b1", 3_000)));
        drop(store);
        // Restart after b1's window ended: it is recorded as expired.
        let mut store = Store::open(&path).expect("reopen");
        assert_eq!(store.maintenance_at_start(4_000).expect("start"), [longer]);
        let log = store.maintenance_log().expect("log");
        let ends: Vec<_> = log
            .iter()
            .map(|r| (r.window.target.as_str(), r.ended_by.as_deref()))
            .collect();
        assert_eq!(
            ends,
            [
                ("b2", Some("tech-wang")),
                ("b2", None),
                ("b1", Some("clock"))
            ]
        );
        let v = store.verify_audit().expect("read").expect("intact");
        assert_eq!(v.records, 4, "three starts and one expiry");
    }
}
