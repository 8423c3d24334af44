//! Alarms: turns events into alarms people can trust, with the semantics
//! fire-alarm practice expects (see `docs/alarms.md`).
//!
//! - [`policy`]: the site's alarm policy (confirmation, chatter, maintenance);
//! - [`engine`]: the pure state machine, `input → effects` ([`Effect`]);
//! - [`incident`]: one alarm and how signals join it;
//! - [`maintenance`]: test mode windows (who, why, until, which subtree);
//! - [`windows`]: changes to them asked by operators, and their resumption.

mod effect;
mod engine;
mod incident;
pub mod maintenance;
#[cfg(test)]
mod maintenance_tests;
pub mod policy;
#[cfg(test)]
mod tests;
pub mod windows;

pub use effect::Effect;
pub use engine::{Engine, OperatorAction, OperatorError};
pub use incident::Alarm;
pub use maintenance::{Maintenance, MaintenanceError, Scope, Window};
pub use policy::AlarmPolicy;
