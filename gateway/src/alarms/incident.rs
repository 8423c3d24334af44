//! One alarm: the incident several devices may report.

use std::collections::BTreeSet;

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::{AlarmKind, DeviceId};

/// What groups signals into one alarm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// Premises alarms: one per kind and fire zone (or site node), test or not.
    Zone(AlarmKind, String, bool),
    /// Equipment faults: one per kind and device.
    Device(AlarmKind, DeviceId),
}

/// An alarm as the engine keeps it.
#[derive(Debug, Clone)]
pub struct Alarm {
    /// What integrators and the store see.
    pub feed: AlarmFeed,
    /// Devices whose condition is present now.
    pub(crate) active: BTreeSet<DeviceId>,
    /// When an unconfirmed fire is confirmed by the timeout.
    pub(crate) confirm_by: Option<u64>,
    /// Latching alarms stay until an operator resets them.
    pub(crate) latching: bool,
    pub(crate) key: Key,
}

impl Alarm {
    /// Adds a device's signal; true if the alarm changed.
    pub(crate) fn join(&mut self, device: &DeviceId) -> bool {
        let new_device = !self.feed.devices.contains(device);
        if new_device {
            self.feed.devices.push(device.clone());
        }
        let was = self.feed.condition;
        self.active.insert(device.clone());
        self.feed.condition = true;
        new_device || !was
    }

    /// Moves to `Active`, recording what confirmed it.
    pub(crate) fn confirm(&mut self, at: u64, by: &str) {
        self.feed.state = AlarmState::Active;
        self.feed.confirmed_at = Some(at);
        self.feed.confirmed_by = Some(by.to_string());
        self.confirm_by = None;
    }

    /// Ends the alarm in `state`.
    pub(crate) fn end(&mut self, state: AlarmState, at: u64) {
        self.feed.state = state;
        self.feed.ended_at = Some(at);
        self.confirm_by = None;
    }

    /// Whether the alarm is confirmed and not over.
    pub fn is_confirmed(&self) -> bool {
        matches!(
            self.feed.state,
            AlarmState::Active | AlarmState::Acknowledged
        )
    }
}
