//! Ingest's three in-process subscriptions to the broker: life safety
//! (events, command acks) apart from presence (state reports) apart from
//! volume (telemetry).

use crate::bus::{Bus, BusError, Subscription};

/// The three lanes ingest reads.
#[derive(Debug)]
pub struct Lanes {
    /// Events and command acks: never shed, never behind anything else.
    pub priority: Subscription,
    /// State reports, for presence: never shed. Their own lane, so that the
    /// state reports of a fleet coming back after a power cut (10,000 at
    /// once, each an availability commit) do not hold an alarm behind them.
    pub states: Subscription,
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
                protocol::topic::filter::COMMAND_ACKS,
            ],
        )?;
        let states = bus.subscribe("gridsense-states", &[protocol::topic::filter::STATES])?;
        let telemetry =
            bus.subscribe("gridsense-telemetry", &[protocol::topic::filter::TELEMETRY])?;
        Ok(Self {
            priority,
            states,
            telemetry,
        })
    }
}
