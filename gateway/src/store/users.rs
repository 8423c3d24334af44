//! The HTTP API's users and machine tokens (`api_users`, `api_tokens`), the
//! audit of what they do through the API, and the reads the API's views
//! need (orders by filter, KPI rows by period, audit pages).
//!
//! Roles are stored as their names; what a role may do is `crate::auth`'s
//! business, not the store's.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::convert::at_i64;
use super::{KpiRow, Store, StoreError};
use protocol::OrderState;

/// A user of the API as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Login name.
    pub name: String,
    /// Role name (`viewer`, `operator`, `installer`, `admin`).
    pub role: String,
    /// The argon2 PHC string of the password.
    pub hash: String,
    /// When created (ms since the epoch).
    pub created_ms: u64,
    /// A disabled user cannot log in and its tokens are refused.
    pub disabled: bool,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("hash", &"<redacted>")
            .field("created_ms", &self.created_ms)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A change to users or tokens, or an API action to audit; each is
/// appended to the audit chain in the same transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthWrite {
    /// A new user, or a new password and role for an existing one.
    User {
        /// The user.
        user: UserRow,
        /// Who did it (an admin's name, or `cli`).
        by: String,
    },
    /// A bearer token for `user`; only its SHA-256 is kept.
    Token {
        /// Public id of the token (shown in lists and the audit).
        id: String,
        /// Whose token it is.
        user: String,
        /// SHA-256 of the token.
        hash: [u8; 32],
        /// When (ms since the epoch).
        at: u64,
        /// Who made it.
        by: String,
    },
    /// A resident's report from the public form; audited without the phone.
    Report(ReportRow),
    /// Something done (or refused) through the API: `kind` such as
    /// `api.order.accept` or `api.login.refused`, `subject` what it acted
    /// on, `body` who and why.
    Action {
        /// When (ms since the epoch).
        at: u64,
        /// What.
        kind: String,
        /// On what.
        subject: String,
        /// Who, why and the outcome.
        body: serde_json::Value,
    },
}

impl std::fmt::Debug for AuthWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User { user, by } => write!(f, "User({user:?}, by {by})"),
            Self::Token { id, user, by, .. } => write!(f, "Token({id} of {user}, by {by})"),
            Self::Action { kind, subject, .. } => write!(f, "Action({kind} {subject})"),
            Self::Report(r) => write!(f, "Report({} at {})", r.id, r.place),
        }
    }
}

/// Applies one auth write inside the writer's transaction.
pub(super) fn write_auth(tx: &Transaction<'_>, w: &AuthWrite) -> rusqlite::Result<()> {
    match w {
        AuthWrite::User { user, by } => {
            tx.prepare_cached(
                "INSERT INTO api_users (name, role, hash, created_ms, disabled) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash, disabled = excluded.disabled",
            )?
            .execute(params![user.name, user.role, user.hash, at_i64(user.created_ms), user.disabled])?;
            let body =
                serde_json::json!({ "role": user.role, "disabled": user.disabled, "by": by });
            super::audit::append_in(tx, user.created_ms, "user.set", &user.name, &body)?;
        }
        AuthWrite::Token {
            id,
            user,
            hash,
            at,
            by,
        } => {
            tx.prepare_cached(
                "INSERT INTO api_tokens (id, user, hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, user, &hash[..], at_i64(*at)])?;
            let body = serde_json::json!({ "user": user, "by": by });
            super::audit::append_in(tx, *at, "token.added", id, &body)?;
        }
        AuthWrite::Report(r) => {
            tx.prepare_cached(
                "INSERT INTO reports (id, alarm_id, site, place, text, phone, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![r.id, r.alarm_id, r.site, r.place, r.text, r.phone, at_i64(r.at)])?;
            let body = serde_json::json!({
                "alarm": r.alarm_id, "site": r.site, "place": r.place, "text": r.text,
                "phone_given": r.phone.is_some(),
            });
            super::audit::append_in(tx, r.at, "report", &r.id, &body)?;
        }
        AuthWrite::Action {
            at,
            kind,
            subject,
            body,
        } => {
            super::audit::append_in(tx, *at, kind, subject, body)?;
        }
    }
    Ok(())
}

/// A resident's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Public id (the reporter's receipt).
    pub id: String,
    /// The `help-call` alarm it became.
    pub alarm_id: String,
    /// The site whose form it came from.
    pub site: String,
    /// The site node it is about.
    pub place: String,
    /// What the resident wrote.
    pub text: String,
    /// For the call back, when given.
    pub phone: Option<String>,
    /// When (ms since the epoch).
    pub at: u64,
}

/// Which orders a list asks for.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only not yet final ones.
    pub open: bool,
    /// Only in this state.
    pub state: Option<OrderState>,
    /// Only of this grid cell.
    pub cell: Option<String>,
    /// Only opened at or after (ms since the epoch).
    pub since: Option<u64>,
    /// At most this many, newest first.
    pub limit: u32,
}

fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Applies an auth write in its own transaction (the command line; the
    /// running gateway writes through the writer).
    ///
    /// # Errors
    /// SQLite errors (a token for an unknown user among them).
    pub fn write_auth(&mut self, w: &AuthWrite) -> Result<(), StoreError> {
        let tx = self
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_auth(&tx, w)?;
        tx.commit()?;
        Ok(())
    }

    /// The user called `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn api_user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT name, role, hash, created_ms, disabled FROM api_users WHERE name = ?1",
            )?
            .query_row([name], |r| {
                Ok(UserRow {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    hash: r.get(2)?,
                    created_ms: ms(r.get(3)?),
                    disabled: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Every user, by name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn api_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let mut st = self.conn().prepare(
            "SELECT name, role, hash, created_ms, disabled FROM api_users ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(UserRow {
                name: r.get(0)?,
                role: r.get(1)?,
                hash: r.get(2)?,
                created_ms: ms(r.get(3)?),
                disabled: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The user holding the live token whose SHA-256 is `hash`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn api_token_user(&self, hash: &[u8; 32]) -> Result<Option<UserRow>, StoreError> {
        let name: Option<String> = self
            .conn()
            .prepare_cached("SELECT user FROM api_tokens WHERE hash = ?1 AND revoked_ms IS NULL")?
            .query_row([&hash[..]], |r| r.get(0))
            .optional()?;
        match name {
            Some(n) => self.api_user(&n),
            None => Ok(None),
        }
    }

    /// Stored orders (their JSON bodies) matching `f`, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn orders_list(&self, f: &OrderFilter) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn().prepare_cached(
            "SELECT body, state FROM orders
             WHERE (?1 IS NULL OR cell = ?1) AND (?2 IS NULL OR state = ?2) AND opened_at >= ?3
             ORDER BY opened_at DESC, order_id DESC",
        )?;
        let state = f.state.map(OrderState::as_str);
        let since = at_i64(f.since.unwrap_or(0));
        let rows = st.query_map(params![f.cell, state, since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (body, state) = row?;
            let open = OrderState::parse(&state).is_some_and(|s| !s.is_final());
            if f.open && !open {
                continue;
            }
            out.push(body);
            if out.len() >= f.limit as usize {
                break;
            }
        }
        Ok(out)
    }

    /// The KPI columns of the orders opened in `[from, to)`, with their cell.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn kpi_rows_between(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<(String, KpiRow)>, StoreError> {
        let mut st = self.conn().prepare_cached(
            "SELECT cell, state, opened_at, acked_at, ended_at, yellow, red FROM orders
             WHERE opened_at >= ?1 AND opened_at < ?2",
        )?;
        let rows = st.query_map(params![at_i64(from), at_i64(to)], |r| {
            let state: String = r.get(1)?;
            Ok((
                r.get(0)?,
                KpiRow {
                    state: OrderState::parse(&state).unwrap_or(OrderState::New),
                    opened_at: ms(r.get(2)?),
                    acked_at: r.get::<_, Option<i64>>(3)?.map(ms),
                    ended_at: r.get::<_, Option<i64>>(4)?.map(ms),
                    yellow: r.get(5)?,
                    red: r.get(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit records after `after` (by `seq`), at most `limit`, oldest
    /// first, as `{"seq","at","kind","subject","body","hash"}` (hash in hex).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut st = self.conn().prepare_cached(
            "SELECT seq, at, kind, subject, body, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], |r| {
            let body: String = r.get(4)?;
            let hash: Vec<u8> = r.get(5)?;
            Ok(serde_json::json!({
                "seq": r.get::<_, i64>(0)?,
                "at": r.get::<_, i64>(1)?,
                "kind": r.get::<_, String>(2)?,
                "subject": r.get::<_, String>(3)?,
                "body": serde_json::from_str::<serde_json::Value>(&body).unwrap_or(serde_json::Value::String(body)),
                "hash": hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the oldest outbox row was queued (ms), if any is queued.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbox_oldest_ms(&self) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> =
            self.conn()
                .query_row("SELECT MIN(created_at) FROM outbox", [], |r| r.get(0))?;
        Ok(v.map(ms))
    }

    /// Latencies in ms of the last `limit` of each: alarm raised → linkage
    /// command acknowledged (successful ones), and alarm raised → order opened.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn alarm_latencies(&self, limit: u32) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
        let grab = |sql: &str| -> Result<Vec<u64>, StoreError> {
            let mut st = self.conn().prepare_cached(sql)?;
            let rows = st.query_map([limit], |r| r.get::<_, i64>(0))?;
            Ok(rows.map(|r| r.map(ms)).collect::<Result<_, _>>()?)
        };
        Ok((
            grab(
                "SELECT l.acked_ms - a.raised_ms FROM linkage l JOIN alarms a ON a.id = l.alarm
                 WHERE l.ok ORDER BY l.id DESC LIMIT ?1",
            )?,
            grab(
                "SELECT o.opened_at - a.raised_ms FROM orders o JOIN alarms a ON a.id = o.alarm_id
                 ORDER BY o.opened_at DESC LIMIT ?1",
            )?,
        ))
    }

    /// The report with public id `id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn report(&self, id: &str) -> Result<Option<ReportRow>, StoreError> {
        self.report_where("id", id)
    }

    /// The report behind alarm `alarm_id`, if the alarm is a resident's report.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn report_for_alarm(&self, alarm_id: &str) -> Result<Option<ReportRow>, StoreError> {
        self.report_where("alarm_id", alarm_id)
    }

    fn report_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<ReportRow>, StoreError> {
        let sql = format!(
            "SELECT id, alarm_id, site, place, text, phone, at_ms FROM reports WHERE {column} = ?1"
        );
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([value], |r| {
                Ok(ReportRow {
                    id: r.get(0)?,
                    alarm_id: r.get(1)?,
                    site: r.get(2)?,
                    place: r.get(3)?,
                    text: r.get(4)?,
                    phone: r.get(5)?,
                    at: ms(r.get(6)?),
                })
            })
            .optional()?)
    }
}
