//! The gateway's durable state in one SQLite file (WAL, `synchronous=FULL`):
//! events, telemetry, quarantine, presence, the registry's tables, alarms,
//! linkage, aggregates, work orders and their KPIs, the outbox, maintenance
//! windows and the audit chain. Every table is created by the one migration chain
//! ([`schema`]), and every statement of the running gateway runs on the
//! store's own threads, never on the async runtime.
//!
//! [`Store`] is one connection with its migrations and read queries (the
//! command line and tests use it directly). In the running gateway
//! [`spawn_writer`] starts three threads: the writer owns the read-write
//! connection and batches everything it is sent into one transaction per
//! batch, answering each waiter after the commit; the reader answers
//! queries on a second, query-only connection; the checkpointer copies the
//! write-ahead log into the file on a third, so that never happens inside
//! the writer's commit. Callers hold a cloneable
//! [`StoreHandle`] (and the outbox's users an [`Outbox`]).

mod alarms;
mod audit;
mod batch;
mod checkpoint;
mod config;
mod convert;
mod db;
mod error;
mod firecentre;
mod firecentre_handle;
mod handle;
mod operators;
mod orders;
mod outbox;
mod outbox_bound;
mod outbox_handle;
mod records;
mod retention;
mod schema;
mod sql;
mod users;
mod write;
mod writer;

#[cfg(test)]
mod boot_tests;
#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod tests;

pub use alarms::AggregateRow;
pub(crate) use audit::append_in;
pub use config::StoreSection;
pub use db::{EventRow, PresenceRow, QuarantineRow, Store, Unevaluated};
pub use error::{Shed, StoreError};
pub use firecentre::{FireCentreWrite, FireQueued, FireRow};
pub use handle::{StoreHandle, StoreStats};
pub use operators::{MaintenanceRow, MaintenanceWrite, OperatorRecord, Scope, Window};
pub use orders::{KpiFn, KpiRow, OrderCommit, OrderCommitted, OrderRow};
pub use outbox::{Class, Enqueued, OutMsg, OutboxStats, ROW_OVERHEAD, Row};
pub use outbox_handle::Outbox;
pub use records::{
    Commit, EventRecord, LinkageRecord, QuarantineRecord, StoreConfig, TelemetryRecord,
};
pub use schema::SCHEMA_VERSION;
pub use users::{AuthWrite, OrderFilter, ReportRow, UserRow};
pub use write::{Done, Write};
pub use writer::spawn_writer;
