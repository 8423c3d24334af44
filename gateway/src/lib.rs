//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`config`]: the configuration file;
//! - [`cli`]: the `gridsense` command line.

pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod registry;
pub mod store;
