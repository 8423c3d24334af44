//! The gateway's durable state in one SQLite file (WAL, `synchronous=FULL`):
//! events, telemetry, quarantine, presence and the registry's tables.
//!
//! [`Store`] is one connection with its migrations and read queries. On the
//! hot path a single writer thread ([`spawn_writer`]) owns the connection and
//! batches everything it is sent into one transaction per batch; callers
//! hold a cloneable [`StoreHandle`].

mod alarms;
mod config;
mod db;
mod error;
mod handle;
mod records;
mod retention;
mod schema;
mod sql;
mod writer;

#[cfg(test)]
mod tests;

pub use alarms::{AggregateRow, Write};
pub use config::StoreSection;
pub use db::{EventRow, PresenceRow, QuarantineRow, Store};
pub use error::{Shed, StoreError};
pub use handle::{StoreHandle, StoreStats};
pub use records::{Commit, EventRecord, QuarantineRecord, StoreConfig, TelemetryRecord};
pub use schema::SCHEMA_VERSION;
pub use writer::spawn_writer;
