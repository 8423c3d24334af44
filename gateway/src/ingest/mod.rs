//! Ingest: every message from a node is decoded and validated with
//! `protocol`, matched to its device in the registry, stored, and handed on
//! as a typed [`Ingested`](crate::message::Ingested) to the stages after it.
//!
//! Three in-process subscriptions keep life safety ahead of everything
//! else: events and command acks on one, state reports (presence) on
//! another, telemetry on the third, each with its own task, so neither a
//! telemetry flood nor the state reports of a whole fleet reconnecting
//! (each an availability commit in presence) holds an alarm back. An event is forwarded to the alarm stage *before* it is written
//! (linkage never waits on the disk); its `evt/ack` goes out only after the
//! store has committed it. Telemetry may be shed under overload (counted);
//! events never are.

mod dedupe;
mod denied;
mod lanes;
pub mod rejects;
mod worker;

pub use dedupe::{Dedupe, SeqWindow};
pub use denied::{Refusals, denied_sink};
pub use lanes::Lanes;
pub use rejects::Rejects;
pub use worker::{Ingest, IngestParts, IngestStats, Outputs};
