//! # GridSense sensor-node firmware logic
//!
//! `no_std`, no allocator, generic over embedded-hal 1.0 traits. Every node
//! is a pure state machine driven by [`Node::tick`] (sample inputs, drive
//! outputs) and by what the gateway sends ([`Node::command`],
//! [`Node::evt_ack`], or raw payloads through [`Node::receive`]); each call
//! returns the [`Outgoing`] messages to publish. No call blocks, sleeps or
//! touches a socket, so the same code runs in unit tests (embedded-hal-mock),
//! in a host simulator and on a Cortex-M (`firmware/node-image`).
//!
//! Layout:
//! - [`node`]: [`Node`], [`Outgoing`], [`NodeCore`] (outbox, heartbeat, clock);
//! - [`boot`]: the boot counter in non-volatile storage (`embedded-storage` traits);
//! - [`outbox`]: reliable, bounded event outbox with `seq`, backoff and a drop policy;
//! - [`reconnect`]: when to (re)connect: jittered first attempt, exponential backoff with full jitter;
//! - [`sensor`]: the [`AdcChannel`] seam, rail (open/short) checks, debouncing;
//! - [`smoke`]: smoke detector;
//! - [`camera`]: camera analytics (intrusion, fire lane blocked) with snapshot references;
//! - [`door`]: access-control door (contact, lock relay, card reader);
//! - [`gas`]: combustible gas detector with valve relay;
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod boot;
pub mod camera;
pub mod door;
pub mod gas;
pub mod node;
pub mod outbox;
pub mod reconnect;
pub mod sensor;
pub mod smoke;
#[cfg(test)]
mod test_support;

pub use boot::BootError;
pub use camera::{CameraConfig, CameraSource, LaneState};
pub use door::{AllowList, DoorConfig, DoorController, DoorStatus, LockMode};
pub use gas::{GasConfig, GasDetector, GasLevel, GasStatus};
pub use node::{Node, NodeCore, Outbound, Outgoing};
pub use outbox::{Outbox, RetryPolicy};
pub use reconnect::{LinkState, Reconnect, ReconnectPolicy};
pub use sensor::AdcChannel;
pub use smoke::{SmokeConfig, SmokeDetector, SmokePins, SmokeStatus};
