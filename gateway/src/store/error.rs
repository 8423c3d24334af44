//! The store's errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer gateway than this one.
    #[error(
        "database schema version {found} is newer than this gateway knows ({known}); upgrade the gateway"
    )]
    TooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The transaction holding this record failed; it was not stored.
    #[error("batch not committed: {0}")]
    Batch(String),
    /// The writer thread has stopped; nothing more can be stored.
    #[error("the store writer has stopped")]
    Closed,
    /// A row in the database does not make sense (hand-edited or corrupt).
    #[error("invalid data in the database: {0}")]
    Invalid(String),
}

/// A telemetry record was not queued because the queue was full (or the
/// writer has stopped). Samples are replaceable; the loss is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("telemetry shed: store queue full")]
pub struct Shed;
