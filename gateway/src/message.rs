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

/// `[queues]`: the capacities of the bounded channels between stages. The
/// defaults suit a compound of a few thousand nodes; a zero is refused when
/// the file is read. Events, states, alarms and orders are never shed: a
/// full queue makes its sender wait. Telemetry is shed (counted) when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueuesSection {
    /// Events, commits and command acks, ingest → analysis.
    pub events: std::num::NonZeroUsize,
    /// Telemetry, ingest and polled sources → analysis (shed when full).
    pub telemetry: std::num::NonZeroUsize,
    /// Node state reports → presence.
    pub states: std::num::NonZeroUsize,
    /// Availability changes, presence → analysis.
    pub presence: std::num::NonZeroUsize,
    /// Operators' requests → analysis.
    pub control: std::num::NonZeroUsize,
    /// Committed alarm changes → the order engine, and status updates from the uplink.
    pub orders: std::num::NonZeroUsize,
    /// Readings from the Modbus source → its bridge.
    pub modbus_events: std::num::NonZeroUsize,
    /// Linkage writes → the Modbus source.
    pub modbus_writes: std::num::NonZeroUsize,
}

impl Default for QueuesSection {
    fn default() -> Self {
        let n = |v: usize| std::num::NonZeroUsize::new(v).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            events: n(8_192),
            telemetry: n(65_536),
            states: n(1_024),
            presence: n(1_024),
            control: n(64),
            orders: n(1_024),
            modbus_events: n(4_096),
            modbus_writes: n(64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::QueuesSection;

    #[test]
    fn defaults_are_the_capacities_the_gateway_always_had_and_zero_is_refused() {
        let q: QueuesSection = toml::from_str("").expect("defaults");
        assert_eq!(q, QueuesSection::default());
        assert_eq!((q.events.get(), q.telemetry.get()), (8_192, 65_536));
        let q: QueuesSection = toml::from_str("events = 16384").expect("parse");
        assert_eq!(q.events.get(), 16_384);
        assert!(toml::from_str::<QueuesSection>("events = 0").is_err());
        assert!(toml::from_str::<QueuesSection>("evnts = 1").is_err());
    }
}
