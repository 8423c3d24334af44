//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`clock`]: the time seam (real, compressed, hand-moved);
//! - [`orders`]: work orders from alarms: policy, triage, SLA, cards,
//!   escalation, closure, KPIs, completion notices (`docs/governance.md`);
//! - [`uplink`]: the outbox and the MQTT client to the district platform
//!   (`docs/upstream.md`);
//! - [`audit`]: the hash-chained audit table;
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
//! - [`sources`]: readings from polled devices (the Modbus poller is the [`modbus`] crate);
//! - [`app`]: wiring; [`cli`]: the `gridsense` command line.
//!
//! The closed-loop demo and the district platform simulator are not here:
//! they are the `gridsense-demo` crate, so this library links no simulator.

pub mod alarms;
pub mod analysis;
pub mod api;
pub mod app;
pub mod audit;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod ingest;
pub mod linkage;
pub mod orders;
pub mod presence;
pub mod registry;
pub mod rules;
pub mod sources;
pub mod store;
#[cfg(test)]
mod testutil;
pub mod uplink;
