//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`config`]: the configuration file;
//! - [`cli`]: the `gridsense` command line;
//! - [`sources`]: where readings come in ([`sources::modbus`]: the Modbus poller).

pub mod cli;
pub mod config;
pub mod sources;
