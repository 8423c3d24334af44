//! Opening the governance tables' SQLite file: WAL mode, a busy timeout so
//! the order engine, the uplink and the audit writer can share one file
//! through their own connections.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// How long a connection waits for another writer before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) `path` in WAL mode with `synchronous = NORMAL`:
/// a commit survives a process crash; a power cut may lose the last
/// transactions but never corrupts the file.
///
/// # Errors
/// Any SQLite error opening the file or setting the pragmas.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}
