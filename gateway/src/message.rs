//! What a known device said, validated: the one input type of every stage
//! after ingest. Ingest (MQTT nodes) and the source bridge (polled devices)
//! make these; presence and analysis read them.

use std::sync::Arc;

use protocol::{CommandAck, DeviceState, NodeEvent, Telemetry};

use crate::registry::DeviceInfo;

/// A validated message from a known device.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The device, with its profile, location and grid cell.
    pub device: Arc<DeviceInfo>,
    /// When the gateway received it (the gateway's clock), ms since the epoch.
    pub at_ms: u64,
    /// What it said.
    pub body: Body,
}

/// The typed content of an [`Ingested`] message.
#[derive(Debug, Clone)]
pub enum Body {
    /// An event, forwarded before it is stored.
    Event(NodeEvent),
    /// The event with this `seq` (forwarded before) is now committed, as
    /// row `id`; `None` when it was a repeat already stored. Analysis holds
    /// the event's consequences until this comes (`analysis::gate`).
    Committed {
        /// The event's sequence number.
        seq: u32,
        /// Its row in the store.
        id: Option<i64>,
    },
    /// Telemetry (boxed: it is the largest message).
    Telemetry(Box<Telemetry>),
    /// The node's own presence report (retained state or last will).
    State(DeviceState),
    /// A node's answer to a command.
    CommandAck(CommandAck),
}
