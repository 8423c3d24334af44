//! The order tables: `orders` (one row per order, the record as JSON plus
//! the columns that are queried), `order_meta` (the id sequence) and `kpi`
//! (the last figures per grid cell).

use rusqlite::{Connection, OptionalExtension, params};

use protocol::feed::CellKpi;
use protocol::{Name, OrderState};

use super::kpi::KpiRow;
use super::record::OrderRecord;

/// The tables.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    alarm_id TEXT NOT NULL UNIQUE,
    cell TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    acked_at INTEGER,
    ended_at INTEGER,
    yellow INTEGER NOT NULL,
    red INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
CREATE INDEX IF NOT EXISTS orders_cell ON orders (cell);
CREATE TABLE IF NOT EXISTS order_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kpi (cell TEXT PRIMARY KEY, body TEXT NOT NULL);
";

/// Why a stored order could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("orders table: {0}")]
    Db(#[from] rusqlite::Error),
    /// A stored record does not decode (written by another version?).
    #[error("order {id}: stored record does not decode: {source}")]
    Decode {
        /// The order.
        id: String,
        /// Why.
        source: serde_json::Error,
    },
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn opt_ms(v: Option<i64>) -> Option<u64> {
    v.map(i64::unsigned_abs)
}

/// Creates the tables if missing.
///
/// # Errors
/// Any SQLite error.
pub fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// Takes the next order number (from 1) inside the caller's transaction.
///
/// # Errors
/// Any SQLite error.
pub fn next_seq(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        "INSERT INTO order_meta (name, value) VALUES ('seq', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        [],
        |r| r.get(0),
    )?;
    Ok(n.unsigned_abs())
}

/// Inserts or replaces an order.
///
/// # Errors
/// Any SQLite error.
pub fn save(conn: &Connection, r: &OrderRecord) -> rusqlite::Result<()> {
    // Serializing our own types cannot fail (no non-string map keys).
    let body = serde_json::to_string(r).unwrap_or_default();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO orders
         (order_id, alarm_id, cell, state, opened_at, acked_at, ended_at, yellow, red, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        r.up.order_id.as_str(),
        r.up.alarm_id.as_str(),
        r.up.grid.cell.as_str(),
        r.state.as_str(),
        ms(r.opened_at),
        r.acked_at.map(ms),
        r.ended_at.map(ms),
        r.yellow_cards,
        r.red_cards,
        body
    ])?;
    Ok(())
}

fn decode(id: String, body: &str) -> Result<OrderRecord, StoreError> {
    serde_json::from_str(body).map_err(|source| StoreError::Decode { id, source })
}

/// Every order not in a final state.
///
/// # Errors
/// [`StoreError`].
pub fn load_open(conn: &Connection) -> Result<Vec<OrderRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT order_id, body FROM orders WHERE state NOT IN ('closed', 'cancelled', 'rejected')",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, body)| decode(id, &body))
        .collect()
}

/// One order by id, open or not.
///
/// # Errors
/// [`StoreError`].
pub fn load(conn: &Connection, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM orders WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| decode(order_id.to_string(), &b)).transpose()
}

/// The order made for an alarm, if any (open or not).
///
/// # Errors
/// Any SQLite error.
pub fn order_for_alarm(conn: &Connection, alarm_id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT order_id FROM orders WHERE alarm_id = ?1",
        [alarm_id],
        |r| r.get(0),
    )
    .optional()
}

/// The KPI columns of every order of `cell`.
///
/// # Errors
/// Any SQLite error.
pub fn kpi_rows(conn: &Connection, cell: &Name) -> rusqlite::Result<Vec<KpiRow>> {
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

/// Stores the last KPIs of a cell.
///
/// # Errors
/// Any SQLite error.
pub fn save_kpi(conn: &Connection, k: &CellKpi) -> rusqlite::Result<()> {
    let body = serde_json::to_string(k).unwrap_or_default();
    conn.execute(
        "INSERT OR REPLACE INTO kpi (cell, body) VALUES (?1, ?2)",
        params![k.cell.as_str(), body],
    )?;
    Ok(())
}

/// The last stored KPIs of a cell.
///
/// # Errors
/// Any SQLite error; a body that does not decode reads as `None`.
pub fn load_kpi(conn: &Connection, cell: &str) -> rusqlite::Result<Option<CellKpi>> {
    let body: Option<String> = conn
        .query_row("SELECT body FROM kpi WHERE cell = ?1", [cell], |r| r.get(0))
        .optional()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}
