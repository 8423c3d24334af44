//! A district grid-management platform in miniature, for demos and tests:
//! it subscribes to orders on a broker, answers `received` for every order
//! revision, then walks each order through `accepted → dispatched → resolved
//! → closed` after configurable delays. Every Nth order is late: it is
//! accepted only once the gateway has escalated it above the grid tier.
//!
//! It is a correct implementation of `docs/upstream.md` (idempotent on
//! `order_id`, keeps the highest revision), so a real platform can be
//! compared against it.
//!
//! - `platform`: the simulated platform (its MQTT loop and ticket book);
//! - [`broker`]: an open broker standing in for the district's.

pub mod broker;
mod platform;

pub use broker::district_broker;
pub use platform::{Seen, SimConfig, SimError, SimLog, run, run_with_log};
