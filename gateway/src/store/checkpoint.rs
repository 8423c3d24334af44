//! WAL checkpoints off the writer's path.
//!
//! SQLite copies the write-ahead log back into the database file (a
//! checkpoint) on the connection that commits once the log passes 1,000
//! pages: with telemetry flowing that is the writer thread, every few
//! seconds, and the copy and its `fsync` ran inside a commit that an
//! alarm's event or an order's outbox row may be waiting for. The writer's
//! connection has automatic checkpoints off; this thread checkpoints
//! (`PASSIVE`: never blocking the writer or readers) on its own connection
//! every [`EVERY`], and ends with the writer.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the log is checkpointed.
pub(super) const EVERY: Duration = Duration::from_millis(500);

/// Kept by the writer: dropping it (the writer ends) ends the checkpointer.
#[derive(Debug)]
pub(super) struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

/// Turns automatic checkpoints off on `writer` and starts the thread that
/// checkpoints `path` instead.
///
/// # Errors
/// [`StoreError`] when the pragma fails or the thread's connection cannot
/// be opened.
///
/// # Panics
/// When the operating system refuses to start a thread (at start-up only).
pub(super) fn start(writer: &Connection, path: &Path) -> Result<Checkpointer, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    writer.pragma_update(None, "wal_autocheckpoint", 0)?;
    let (alive, stop) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || run(&conn, &stop))
        .expect("the OS refused to start the store checkpoint thread");
    Ok(Checkpointer { _alive: alive })
}

fn run(conn: &Connection, stop: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(EVERY) {
        // (busy, frames in the log, frames checkpointed)
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        }) {
            Ok(_) => failing = false,
            Err(e) => {
                // A full disk: the log keeps growing and is copied once the
                // disk has room; logged once per spell.
                if !failing {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_reaches_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let w = Connection::open(&path).expect("open");
        w.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .expect("wal");
        w.execute_batch("CREATE TABLE t (v BLOB)").expect("table");
        let cp = start(&w, &path).expect("checkpointer");
        let auto: i64 = w
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(auto, 0, "the writer does not checkpoint");
        let before = std::fs::metadata(&path).expect("db").len();
        // ~4 MB through the log: far past the 1,000 pages at which the
        // writer would have checkpointed itself.
        let blob = vec![7u8; 4096];
        for _ in 0..1_000 {
            w.execute("INSERT INTO t (v) VALUES (?1)", [&blob])
                .expect("insert");
        }
        let grown = (0..40).any(|_| {
            std::thread::sleep(EVERY / 2);
            std::fs::metadata(&path).expect("db").len() > before + 2_000_000
        });
        assert!(grown, "the checkpointer copied the log into the file");
        drop(cp);
    }
}
