//! The audit chain: every state change of an alarm or a work order is
//! appended to a hash-chained table, so that a changed, removed or inserted
//! record is found ("secure, trustworthy, traceable and auditable").
//!
//! This module is the chain's arithmetic only; the table, its single append
//! and the reads for `gridsense audit verify|export` are the store's
//! (`store::audit`).
//!
//! - [`chain`]: the canonical record bytes, the hash link, a record;
//! - [`verify`]: walking stored records and finding the first broken link.

pub mod chain;
pub mod verify;

pub use chain::{Hash, Record};
pub use verify::{Broken, RawRecord, Verified, Walker};
