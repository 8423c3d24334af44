//! The audit chain: every state change of an alarm or a work order is
//! appended to a hash-chained table, so that a changed, removed or inserted
//! record is found ("secure, trustworthy, traceable and auditable").
//!
//! - [`chain`]: appending, the canonical record bytes, the schema;
//! - [`verify`]: walking the chain and exporting it for an auditor.

pub mod chain;
pub mod verify;

pub use chain::{Audit, AuditError, Record};
pub use verify::{Broken, Verified, export, verify};
