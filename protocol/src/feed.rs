//! Payloads of the integrator feeds under `gs/v1/site/{site}/...`.
//! Each is published by the gateway; integrators only read them.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::codec::Message;
use crate::ident::DeviceId;
use crate::node::Status;

/// Retained on `gs/v1/site/{site}/device/{device}/availability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// The device.
    pub device: DeviceId,
    /// Online or offline.
    pub status: Status,
    /// Since when, ms since the epoch.
    pub since: u64,
    /// Why it changed: `connected`, `last-will`, `heartbeat-missed`, `traffic`, `restored`.
    pub reason: String,
}

impl Message for Availability {
    const NAME: &'static str = "availability";
    const MAX_LEN: usize = 512;
}

/// An alarm's life: `pre-alarm → active → acknowledged → reset`, or
/// `cleared` (a non-latching condition ended) or `cancelled` (false alarm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmState {
    /// Unconfirmed: one smoke detector, waiting for a second signal or the timeout.
    PreAlarm,
    /// Confirmed and unhandled.
    Active,
    /// An operator has taken it on.
    Acknowledged,
    /// A non-latching condition ended by itself.
    Cleared,
    /// An operator reset it after the condition was dealt with.
    Reset,
    /// An operator confirmed a false alarm, or it turned out to be a chattering detector.
    Cancelled,
}

impl AlarmState {
    /// Whether the alarm is over.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Cleared | Self::Reset | Self::Cancelled)
    }
}

/// Retained on `gs/v1/site/{site}/alarm/{id}`: the alarm as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmFeed {
    /// Stable id, `{gateway}-a{n}`.
    pub id: crate::order::AlarmId,
    /// What kind.
    pub kind: crate::kinds::AlarmKind,
    /// How bad.
    pub severity: crate::kinds::Severity,
    /// Where it stands.
    pub state: AlarmState,
    /// Whether the condition is still present at some device.
    pub condition: bool,
    /// Raised by devices in maintenance: recorded, no ticket, no linkage.
    pub test: bool,
    /// Devices involved, first one first.
    pub devices: alloc::vec::Vec<DeviceId>,
    /// The zone that groups it: the fire zone, or the site node of a device without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<crate::ident::Name>,
    /// Where: building / unit / floor / room of the first device.
    pub location: String,
    /// Responsible grid cell.
    pub grid: crate::grid::GridPath,
    /// Raised, ms since the epoch.
    pub raised_at: u64,
    /// Confirmed, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<u64>,
    /// What confirmed it: `immediate`, `second-detector`, `heat`, `manual-call-point`, `timeout`, `single-stage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// Ended (cleared, reset or cancelled), if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
}

impl Message for AlarmFeed {
    const NAME: &'static str = "alarm";
    const MAX_LEN: usize = 8192;
}

/// Published on `gs/v1/site/{site}/agg/{scope}` at the end of each window:
/// min/max/avg/count of one field over every device in a building or grid cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// `building` or `cell`.
    pub scope: String,
    /// The building's site-node id or the grid cell's name.
    pub id: crate::ident::Name,
    /// The field.
    pub field: crate::ident::FieldName,
    /// Smallest reading.
    pub min: f32,
    /// Largest reading.
    pub max: f32,
    /// Mean reading.
    pub avg: f32,
    /// Number of readings.
    pub count: u32,
    /// Window start, ms since the epoch.
    pub from: u64,
    /// Window end, ms since the epoch.
    pub to: u64,
}

impl Message for Aggregate {
    const NAME: &'static str = "aggregate";
    const MAX_LEN: usize = 1024;
}

/// Published on `gs/v1/site/{site}/tel/{device}`: readings that moved past
/// their profile's deadband since last published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryFeed {
    /// The device.
    pub device: DeviceId,
    /// When the gateway received them.
    pub at: u64,
    /// Field → value.
    pub readings: alloc::collections::BTreeMap<crate::ident::FieldName, f32>,
}

impl Message for TelemetryFeed {
    const NAME: &'static str = "telemetry-feed";
    const MAX_LEN: usize = 2048;
}
