//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`bus`]: the embedded MQTT broker;
//! - [`clock`]: the time seam (real, compressed, hand-moved);
//! - [`orders`]: work orders from alarms: policy, triage, SLA, cards,
//!   escalation, closure, KPIs, completion notices (`docs/governance.md`);
//! - [`uplink`]: the outbox and the MQTT client to the district platform
//!   (`docs/upstream.md`);
//! - [`audit`]: the hash-chained audit table;
//! - [`upstream_sim`]: a district-platform simulator for demos and tests;
//! - [`sqlite`]: opening the governance tables' SQLite file;
//! - [`config`]: the configuration file;
//! - [`cli`]: the `gridsense` command line.

pub mod audit;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod orders;
pub mod sqlite;
pub mod uplink;
pub mod upstream_sim;
