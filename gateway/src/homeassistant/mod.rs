//! Home Assistant MQTT discovery: the gateway announces its devices on the
//! embedded broker as read-only Home Assistant entities (a sensor per
//! telemetry field, a binary sensor per alarm kind and one for
//! connectivity), retained under `{prefix}/{component}/{device}/{object}/config`,
//! and keeps a per-device alarm feed (`gs/v1/site/{site}/alarms/{device}`)
//! those binary sensors follow.
//!
//! - [`config`]: the `[homeassistant]` section;
//! - [`entities`]: the discovery configs of one device (pure);
//! - [`open`]: which alarm kinds are open at each device (pure);
//! - [`task`]: the task that publishes both, at start, when the registry
//!   changes and when Home Assistant comes online.

pub mod config;
pub mod entities;
pub mod open;
pub mod task;

pub use config::HomeAssistantSection;
pub use task::Discovery;
