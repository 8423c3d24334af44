//! # GridSense protocol
//!
//! The single contract between sensor nodes, the gateway, integrators and the
//! district platform. Nothing outside this crate writes a topic string or names
//! a payload field.
//!
//! Layout:
//! - [`access`]: allow-list sync (chunks, hash, acks) and access events;
//! - [`civil`]: days since 1970 ↔ calendar dates (the one such function);
//! - [`ident`]: bounded, topic-safe identifiers ([`DeviceId`], [`FieldName`]);
//! - [`kinds`]: device kinds, alarm kinds, severities, urgencies;
//! - [`node`]: node ↔ gateway messages (events, telemetry, presence, commands, acks);
//! - [`grid`]: the five-level governance tree and escalation tiers;
//! - [`order`] (`alloc`): work orders and the upstream order/status messages;
//! - [`topic`]: every topic, built and parsed;
//! - [`feed`] (`alloc`): payloads of the integrator feeds;
//! - [`modbus`]: register maps and word decoding;
//! - [`profile`] (`std`): data-driven device profiles in TOML;
//! - [`snapshot`]: the picture an event points at (frame id or HTTP(S) address);
//! - [`codec`]: size-limited, validating JSON decoding with typed errors;
//! - [`gbt26875`]: GB/T 26875.3-2011 frames and data units (fire remote-monitoring centre).
//!
//! Features: none (`no_std`, no allocator: what firmware needs), `alloc`
//! (work orders, `serde_json` encoding), `std` (default: profiles, error paths).
#![cfg_attr(not(feature = "std"), no_std)]
// Errors carry their detail inline (no allocator on nodes); they are rare and
// returned once per rejected message, so their size does not matter.
#![allow(clippy::result_large_err)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod access;
pub mod civil;
pub mod codec;
#[cfg(feature = "alloc")]
pub mod feed;
pub mod gbt26875;
pub mod grid;
pub mod ident;
pub mod kinds;
pub mod modbus;
pub mod node;
#[cfg(feature = "alloc")]
pub mod order;
#[cfg(feature = "std")]
pub mod profile;
pub mod snapshot;
pub mod topic;

pub use codec::{DecodeError, Message};
pub use grid::{GridPath, Tier};
pub use ident::{DeviceId, FieldName, Ident, IdentError, KindName, Name};
pub use kinds::{AlarmKind, DeviceKind, Severity, Urgency};
pub use node::{
    Cause, Command, CommandAck, CommandError, CommandKind, CommandReason, DeviceState, EventKind,
    EvtAck, NodeEvent, Status, Telemetry,
};
#[cfg(feature = "alloc")]
pub use order::{AlarmId, LocalMove, OrderId, OrderState, OrderUp, StatusUpdate, UpstreamState};
pub use snapshot::SnapshotRef;
pub use topic::{DeviceChannel, Feed, Topic};
