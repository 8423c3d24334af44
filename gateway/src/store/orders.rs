//! The order tables: `orders` (one row per order, the record as JSON plus
//! the columns that are queried), `order_meta` (the id sequence) and `kpi`
//! (the last figures per grid cell). The order engine owns what an order
//! means; the store keeps its rows and commits each change with its outbox
//! row, audit record and the cell's KPIs in one transaction.

use rusqlite::{Connection, OptionalExtension, params};

use protocol::feed::CellKpi;
use protocol::{Name, OrderState};

use super::convert::at_i64;
use super::outbox::{Enqueued, OutMsg, Shared};
use super::{Store, StoreError};

/// An order as stored: the queried columns and the whole record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Order id.
    pub order_id: String,
    /// The alarm it was made for (one order per alarm).
    pub alarm_id: String,
    /// Responsible grid cell.
    pub cell: Name,
    /// Where it stands.
    pub state: OrderState,
    /// Opened, ms.
    pub opened_at: u64,
    /// First accepted, ms.
    pub acked_at: Option<u64>,
    /// Final, ms.
    pub ended_at: Option<u64>,
    /// Yellow cards.
    pub yellow: u32,
    /// Red cards.
    pub red: u32,
    /// The engine's record, JSON.
    pub body: String,
}

/// The columns of one order that KPIs need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiRow {
    /// Where it stands.
    pub state: OrderState,
    /// Opened, ms.
    pub opened_at: u64,
    /// First accepted, ms.
    pub acked_at: Option<u64>,
    /// Final, ms.
    pub ended_at: Option<u64>,
    /// Yellow cards.
    pub yellow: u32,
    /// Red cards.
    pub red: u32,
}

/// How a cell's KPIs are computed from its orders' rows at a time: given
/// by the order engine, run by the store inside the commit.
pub type KpiFn = fn(&Name, &[KpiRow], u64) -> CellKpi;

/// One change of an order, committed as a unit.
#[derive(Debug, Clone)]
pub struct OrderCommit {
    /// When (the gateway's clock).
    pub at: u64,
    /// The order as it now stands.
    pub row: OrderRow,
    /// The order number taken for a new order (kept in `order_meta`).
    pub number: Option<u64>,
    /// The revision to send upstream, if any.
    pub outbox: Option<OutMsg>,
    /// The audit record's kind (`order.created`, `order.card` ...).
    pub audit_kind: String,
    /// The audit record's body.
    pub audit_body: serde_json::Value,
    /// Recomputes the cell's KPIs after the change.
    pub kpi: KpiFn,
}

/// What committing an [`OrderCommit`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCommitted {
    /// The cell's KPIs after the change.
    pub kpi: CellKpi,
    /// What happened to the outbox row, if there was one.
    pub enqueued: Option<Enqueued>,
}

/// Applies one order change inside the writer's transaction.
pub(super) fn commit(
    conn: &Connection,
    outbox: &Shared,
    c: &OrderCommit,
) -> rusqlite::Result<OrderCommitted> {
    if let Some(n) = c.number {
        conn.prepare_cached(
            "INSERT INTO order_meta (name, value) VALUES ('seq', ?1)
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
        )?
        .execute([at_i64(n)])?;
    }
    save(conn, &c.row)?;
    let enqueued = match &c.outbox {
        Some(m) => Some(super::outbox::enqueue(conn, outbox, c.at, m)?),
        None => None,
    };
    super::audit::append_in(conn, c.at, &c.audit_kind, &c.row.order_id, &c.audit_body)?;
    let kpi = (c.kpi)(&c.row.cell, &kpi_rows(conn, &c.row.cell)?, c.at);
    let body = serde_json::to_string(&kpi).unwrap_or_default();
    conn.prepare_cached("INSERT OR REPLACE INTO kpi (cell, body) VALUES (?1, ?2)")?
        .execute(params![kpi.cell.as_str(), body])?;
    Ok(OrderCommitted { kpi, enqueued })
}

fn save(conn: &Connection, r: &OrderRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO orders
         (order_id, alarm_id, cell, state, opened_at, acked_at, ended_at, yellow, red, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        r.order_id,
        r.alarm_id,
        r.cell.as_str(),
        r.state.as_str(),
        at_i64(r.opened_at),
        r.acked_at.map(at_i64),
        r.ended_at.map(at_i64),
        r.yellow,
        r.red,
        r.body
    ])?;
    Ok(())
}

fn opt_ms(v: Option<i64>) -> Option<u64> {
    v.map(i64::unsigned_abs)
}

/// The KPI columns of every order of `cell`.
fn kpi_rows(conn: &Connection, cell: &Name) -> rusqlite::Result<Vec<KpiRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, opened_at, acked_at, ended_at, yellow, red FROM orders WHERE cell = ?1",
    )?;
    let rows = stmt.query_map([cell.as_str()], |r| {
        let state: String = r.get(0)?;
        Ok(KpiRow {
            state: OrderState::parse(&state).unwrap_or(OrderState::New),
            opened_at: r.get::<_, i64>(1)?.unsigned_abs(),
            acked_at: opt_ms(r.get(2)?),
            ended_at: opt_ms(r.get(3)?),
            yellow: r.get(4)?,
            red: r.get(5)?,
        })
    })?;
    rows.collect()
}

impl Store {
    /// The last order number taken (0 before the first order).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_order_number(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn()
            .query_row("SELECT value FROM order_meta WHERE name = 'seq'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(n.map_or(0, i64::unsigned_abs))
    }

    /// `(order id, record JSON)` of every order not in a final state.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn open_orders(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT order_id, body FROM orders WHERE state NOT IN ('closed', 'cancelled', 'rejected')",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One order's record JSON by id, open or not.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn order(&self, order_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT body FROM orders WHERE order_id = ?1",
                [order_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The order made for an alarm, if any (open or not).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn order_for_alarm(&self, alarm_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT order_id FROM orders WHERE alarm_id = ?1",
                [alarm_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The last stored KPIs of a cell; a body that does not decode reads as `None`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn kpi(&self, cell: &str) -> Result<Option<CellKpi>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row("SELECT body FROM kpi WHERE cell = ?1", [cell], |r| r.get(0))
            .optional()?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }
}
