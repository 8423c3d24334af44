//! What the alarm engine asks the world to do: its one output type.

use protocol::feed::AlarmFeed;

/// What the engine asks the world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An alarm was raised or changed: store it, publish it, maybe make an order.
    Changed(Box<AlarmFeed>),
    /// A confirmed fire: release the escape-route locks of this zone.
    Release {
        /// The alarm.
        alarm: String,
        /// Fire zone (or the site node when the device has no zone).
        zone: String,
    },
    /// A gas alarm: close the valves of this zone.
    CloseValve {
        /// The alarm.
        alarm: String,
        /// Fire zone (or site node).
        zone: String,
    },
}
