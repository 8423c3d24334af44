//! # GridSense gateway
//!
//! The edge gateway of a residential compound: an embedded MQTT broker and a
//! Modbus poller bring sensor data in; rules and alarms analyse it; work orders
//! go upstream to the district's grid-management platform.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - [`clock`]: the time seam (real, compressed, hand-moved);
//! - [`tasks`]: the one tracker of every spawned task;
//! - [`orders`]: work orders from alarms: policy, triage, SLA, cards,
//!   escalation, closure, KPIs, completion notices (`docs/governance.md`);
//! - [`uplink`]: the outbox and the MQTT client to the district platform
//!   (`docs/upstream.md`);
//! - [`audit`]: the hash-chained audit table;
//! - [`config`]: the configuration file: composes the sections each stage
//!   owns, and the one validation `check`, `run` and reloads use;
//! - [`bus`]: the embedded MQTT broker, its authorization and the publisher;
//! - [`ingest`]: decode, validate, store and hand on what nodes send;
//! - [`message`]: [`message::Ingested`], what every stage after ingest reads;
//! - [`presence`]: availability from state reports and heartbeats;
//! - [`store`]: SQLite (WAL) and its writer thread;
//! - [`registry`]: devices, site tree, credentials;
//! - [`rules`]: thresholds, deadband, aggregates on telemetry;
//! - [`alarms`]: the alarm engine (confirmation, latching, chatter, maintenance);
//! - [`linkage`]: door release and valve close;
//! - [`analysis`]: the task that runs rules, alarms and linkage;
//! - [`commit`]: the commit gate: analysis's reports stored, committed alarms on to orders;
//! - [`api`]: the operators' HTTP API, the console, server-sent events;
//! - [`auth`]: the API's roles, password hashes, tokens, sessions, rate limits;
//! - [`homeassistant`]: Home Assistant MQTT discovery of the devices;
//! - [`log`]: the log's format (text, JSON) and colour;
//! - [`metrics`]: `/metrics` in the Prometheus text format;
//! - [`onvif`]: ONVIF cameras' events through pull-point subscriptions (`docs/cameras.md`);
//! - [`sources`]: readings from polled devices (the Modbus poller is the [`modbus`] crate);
//! - [`reload`]: the rules replaced on SIGHUP;
//! - [`app`]: wiring only; [`cli`]: the `gridsense` command line, one file
//!   per command group.
//!
//! The closed-loop demo and the district platform simulator are not here:
//! they are the `gridsense-demo` crate, so this library links no simulator.

pub mod access;
pub mod alarms;
pub mod analysis;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod commit;
pub mod config;
pub mod firecentre;
pub mod health;
pub mod homeassistant;
pub mod ingest;
pub mod linkage;
pub mod log;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod onvif;
pub mod orders;
pub mod presence;
pub mod registry;
pub mod reload;
pub mod rules;
pub mod sources;
pub mod store;
pub mod tasks;
#[cfg(test)]
mod testutil;
pub mod uplink;
