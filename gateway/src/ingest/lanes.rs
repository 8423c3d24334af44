//! Ingest's two in-process subscriptions to the broker: life safety
//! (events, presence, command acks) apart from volume (telemetry).

use crate::bus::{Bus, BusError, Subscription};

/// The two lanes ingest reads.
#[derive(Debug)]
pub struct Lanes {
    /// Events, state reports and command acks: never shed.
    pub priority: Subscription,
    /// Telemetry: shed under overload.
    pub telemetry: Subscription,
}

impl Lanes {
    /// Subscribes both lanes; call before the broker starts.
    ///
    /// # Errors
    /// [`BusError`] when the broker refuses a link.
    pub fn subscribe(bus: &Bus) -> Result<Self, BusError> {
        let priority = bus.subscribe(
            "gridsense-ingest",
            &[
                protocol::topic::filter::EVENTS,
                protocol::topic::filter::STATES,
                protocol::topic::filter::COMMAND_ACKS,
            ],
        )?;
        let telemetry =
            bus.subscribe("gridsense-telemetry", &[protocol::topic::filter::TELEMETRY])?;
        Ok(Self {
            priority,
            telemetry,
        })
    }
}
