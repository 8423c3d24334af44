//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`config`]: the configuration file;
//! - [`bus`]: the embedded MQTT broker, its authorization and the publisher;
//! - [`ingest`]: decode, validate, store and hand on what nodes send;
//! - [`presence`]: availability from state reports and heartbeats;
//! - [`store`]: SQLite (WAL) and its writer thread;
//! - [`registry`]: devices, site tree, credentials;
//! - [`rules`]: thresholds, deadband, aggregates on telemetry;
//! - [`alarms`]: the alarm engine (confirmation, latching, chatter, maintenance);
//! - [`linkage`]: door release and valve close;
//! - [`analysis`]: the task that runs rules, alarms and linkage;
//! - [`api`]: the operators' HTTP API;
//! - [`sources`]: readings from polled devices ([`sources::modbus`]: the Modbus poller);
//! - [`app`]: wiring; [`cli`]: the `gridsense` command line.

pub mod alarms;
pub mod analysis;
pub mod api;
pub mod app;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod ingest;
pub mod linkage;
pub mod presence;
pub mod registry;
pub mod rules;
pub mod sources;
pub mod store;
#[cfg(test)]
mod testutil;
