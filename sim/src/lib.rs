//! # GridSense node provisioning and fleet simulator
//!
//! `gridsense-flash` turns the gateway registry's credentials export into one
//! provisioning blob per node; `gridsense-sim` runs up to thousands of nodes,
//! each the real firmware state machine on simulated hardware, each with its
//! own MQTT connection to a real broker, driven by a scenario file.
//!
//! Layout:
//! - [`provision`]: the provisioning blob (postcard + CRC-32, `heapless` fields);
//! - [`devices`]: the device list CSV and generated fleets;
//! - [`flash`]: writing and verifying blobs for a device list;
//! - [`hal`]: in-memory pins, ADC channels and serial line (embedded-hal 1.0);
//! - [`node`]: a firmware node wired to simulated hardware, and stimuli;
//! - [`scenario`]: the scenario file (TOML);
//! - [`plan`]: a scenario and fleet expanded, with a seed, into a timeline;
//! - [`link`]: one node's MQTT connection (rumqttc);
//! - [`shard`]: a task that ticks many nodes and routes their messages;
//! - [`stats`]: counters, progress lines and the run summary;
//! - [`gateway_api`]: what a scenario asks of the gateway (revocations, over its HTTP API);
//! - [`runner`]: wiring: spawns links and shards, runs to the end.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod devices;
pub mod flash;
pub mod gateway_api;
pub mod hal;
pub mod link;
pub mod node;
pub mod plan;
pub mod provision;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod stats;
