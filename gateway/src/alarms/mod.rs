//! Alarms: turns events into alarms people can trust, with the semantics
//! fire-alarm practice expects (see `docs/alarms.md`).
//!
//! - [`policy`]: the site's alarm policy (confirmation, chatter, maintenance);
//! - [`engine`]: the pure state machine, `input → effects`;
//! - [`incident`]: one alarm and how signals join it.

mod engine;
mod incident;
pub mod policy;
#[cfg(test)]
mod tests;

pub use engine::{Effect, Engine, OperatorAction, OperatorError};
pub use incident::Alarm;
pub use policy::AlarmPolicy;
