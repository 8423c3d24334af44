//! [`Store`]: one SQLite connection, its settings and migrations, and the
//! read queries used by the command line and tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::StoreError;
use super::schema;

/// How long a connection waits for another one's write lock (the gateway's
/// writer vs. a `gridsense device import` run beside it).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection to the gateway's database.
#[derive(Debug)]
pub struct Store {
    /// The connection; the writer thread owns it on the hot path.
    conn: Connection,
    /// The file, so the writer can open its reader beside it.
    path: PathBuf,
}

/// A stored event, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Row id (what [`super::Commit::New`] returned).
    pub id: i64,
    /// The node's boot counter, if it sent one.
    pub boot: Option<u32>,
    /// For a node without a boot counter: how many sequence resets the
    /// gateway had seen from it when this event came (0 for the first run).
    pub epoch: u32,
    /// Device sequence number (within the boot).
    pub seq: u32,
    /// Event kind wire name.
    pub kind: String,
    /// Cause wire name.
    pub cause: Option<String>,
    /// Measured value.
    pub value: Option<f32>,
    /// Node timestamp.
    pub node_ts: Option<u64>,
    /// When the gateway received it.
    pub received_ms: u64,
    /// The raw payload.
    pub payload: Vec<u8>,
}

/// One quarantine entry: rejected messages of one kind from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    /// Device id, client id or `?`.
    pub source: String,
    /// Why messages were rejected.
    pub reason: String,
    /// How many were rejected.
    pub count: u64,
    /// First rejection.
    pub first_seen_ms: u64,
    /// Latest rejection.
    pub last_seen_ms: u64,
    /// Topic of the latest one.
    pub last_topic: String,
    /// Detail of the latest one.
    pub last_detail: String,
}

/// A stored event analysis has not evaluated yet, for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unevaluated {
    /// Row id.
    pub id: i64,
    /// Device id.
    pub device: String,
    /// When the gateway received it.
    pub received_ms: u64,
    /// The payload as received.
    pub payload: Vec<u8>,
}

/// A device's last known presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRow {
    /// Device id.
    pub device: String,
    /// Online or offline.
    pub status: protocol::Status,
    /// When it changed to that.
    pub at_ms: u64,
}

impl Store {
    /// Opens (creating if needed) the database at `path` for reading and
    /// writing: WAL journal, `synchronous=FULL`, a busy timeout, foreign
    /// keys on, migrations applied.
    ///
    /// Its transactions are `IMMEDIATE`: each takes the write lock first, so
    /// another connection's write makes it wait the busy timeout. A deferred
    /// one that had read first got `database is locked` at once (SQLite has
    /// no busy handler for that upgrade): the store writer's batch failed so,
    /// and a fire alarm in it went unacknowledged until the node repeated it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// A second connection to the same file for the store's reader thread:
    /// it may only query (`query_only`), so every write still goes through
    /// the writer.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened.
    pub(super) fn open_reader(&self) -> Result<Self, StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Self {
            conn,
            path: self.path.clone(),
        })
    }

    /// Opens an existing database read-only, e.g. to list devices while the
    /// gateway is running. Does not migrate.
    ///
    /// # Errors
    /// [`StoreError`] when the file is missing, unreadable or too new.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let found = schema::version(&conn)?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                known: schema::SCHEMA_VERSION,
            });
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for queries of other modules (the registry).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for transactions of other modules (the registry).
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The schema version of the file.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::version(&self.conn)
    }

    /// Every stored event of `device`, oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn events_for(&self, device: &str) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, seq, kind, cause, value, node_ts, received_ms, payload, boot
             FROM events WHERE device = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([device], |r| {
            let boot: i64 = r.get(8)?;
            Ok(EventRow {
                id: r.get(0)?,
                boot: u32::try_from(boot).ok().filter(|&b| b > 0),
                epoch: u32::try_from(-boot.min(0)).unwrap_or(u32::MAX),
                seq: r.get(1)?,
                kind: r.get(2)?,
                cause: r.get(3)?,
                value: r.get::<_, Option<f64>>(4)?.map(narrow),
                node_ts: r.get::<_, Option<i64>>(5)?.map(unsigned),
                received_ms: unsigned(r.get(6)?),
                payload: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events stored but not yet evaluated by analysis (a crash came between
    /// the two), oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn unevaluated_events(&self) -> Result<Vec<Unevaluated>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, device, received_ms, payload FROM events WHERE evaluated = 0 ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Unevaluated {
                id: r.get(0)?,
                device: r.get(1)?,
                received_ms: unsigned(r.get(2)?),
                payload: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of telemetry rows (one per reading) stored.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn telemetry_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM telemetry", [], |r| r.get(0))?;
        Ok(unsigned(n))
    }

    /// The quarantine table, most recent first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn quarantine_list(&self) -> Result<Vec<QuarantineRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT source, reason, count, first_seen_ms, last_seen_ms, last_topic, last_detail
             FROM quarantine ORDER BY last_seen_ms DESC, source, reason",
        )?;
        let rows = st.query_map([], |r| {
            Ok(QuarantineRow {
                source: r.get(0)?,
                reason: r.get(1)?,
                count: unsigned(r.get(2)?),
                first_seen_ms: unsigned(r.get(3)?),
                last_seen_ms: unsigned(r.get(4)?),
                last_topic: r.get(5)?,
                last_detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every device's last presence, by device id.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Invalid`] for an unknown status.
    pub fn presence_list(&self) -> Result<Vec<PresenceRow>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT device, status, at_ms FROM presence ORDER BY device")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, status, at) = row?;
            let status = protocol::Status::parse(&status)
                .ok_or_else(|| StoreError::Invalid(format!("presence of {device}: {status}")))?;
            out.push(PresenceRow {
                device,
                status,
                at_ms: unsigned(at),
            });
        }
        Ok(out)
    }

    /// When the gateway last heard from `device` (presence change or event).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_seen(&self, device: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(coalesce((SELECT at_ms FROM presence WHERE device = ?1), 0),
                            coalesce((SELECT max(received_ms) FROM events WHERE device = ?1), 0))",
                [device],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(v.filter(|&v| v > 0).map(unsigned))
    }
}

/// SQLite integers are i64; times and counts we store are never negative.
pub(super) fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Readings are f32 on the wire; SQLite stores them as f64.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the value was an f32 when stored"
)]
fn narrow(v: f64) -> f32 {
    v as f32
}
