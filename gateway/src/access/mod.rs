//! Access control as a compound runs it: credentials (cards, PINs, QR
//! visitor passes) and what each opens, a per-door allow-list synced to
//! each door over its command topic, and the access events doors report.
//!
//! - [`model`]: credentials and grants as stored;
//! - [`db`]: the SQLite tables (migration 12), every change audited;
//! - [`import`]: `gridsense access import` from CSV, all or nothing;
//! - [`lists`]: which credentials open which door (pure);
//! - [`sync`]: one door's chunked sync: window, acks, resume (pure);
//! - [`pseudonym`]: the keyed hash that replaces card ids on the integrator feed;
//! - [`service`]: the list task (lists → doors, pruning);
//! - [`events`]: the event task (events → store, `acc/ack` and feed), apart
//!   from the list task so an event never waits behind a sync.

mod config;
pub mod db;
mod events;
pub mod import;
pub mod lists;
pub mod model;
pub mod pseudonym;
mod service;
pub mod sync;
pub mod time;

#[cfg(test)]
mod tests;

pub use config::AccessSection;
pub use model::{Credential, Grant};
pub use service::{AccessService, AccessStats, AccessSubscriptions, subscribe};
