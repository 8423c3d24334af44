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
    /// The picture behind it: the snapshot reference of the latest event
    /// that raised or joined it (a camera's frame id or snapshot URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::snapshot::SnapshotRef>,
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

/// Retained on `gs/v1/site/{site}/alarms/{device}`: the kinds of the
/// alarms open at a device (`active` or `acknowledged`, maintenance tests
/// left out), one topic per device so a dashboard (Home Assistant's binary
/// sensors) can follow a fixed topic; `[]` when none is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAlarms {
    /// The device.
    pub device: DeviceId,
    /// The kinds open at it, each once, in [`crate::AlarmKind`] order.
    pub active: alloc::vec::Vec<crate::kinds::AlarmKind>,
    /// The kinds of its unconfirmed pre-alarms (a single smoke detector).
    #[serde(default)]
    pub pre_alarm: alloc::vec::Vec<crate::kinds::AlarmKind>,
}

impl Message for DeviceAlarms {
    const NAME: &'static str = "device-alarms";
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

/// Retained on `gs/v1/site/{site}/order/{id}`: a work order as it stands at
/// the gateway, with its supervision record (cards, escalation tier).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFeed {
    /// The order as last sent upstream (id, revision, tier, deadlines ...).
    pub order: crate::order::OrderUp,
    /// Where it stands, as reported by the platform (`sent`, `accepted` ...).
    pub state: crate::order::OrderState,
    /// When the gateway opened it, ms since the epoch.
    pub opened_at: u64,
    /// When a responder first accepted it, if one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<u64>,
    /// When it reached a final state, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// Yellow-card warnings given (a deadline was missed).
    pub yellow_cards: u32,
    /// Red cards given (a deadline was missed twice; each escalated the order).
    pub red_cards: u32,
}

impl Message for OrderFeed {
    const NAME: &'static str = "order-feed";
    const MAX_LEN: usize = 6144;
}

/// Published on `gs/v1/site/{site}/notice/{order}` when an order is closed:
/// "the reporter is told when it is done".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionNotice {
    /// The order.
    pub order_id: crate::order::OrderId,
    /// The alarm behind it.
    pub alarm_id: crate::order::AlarmId,
    /// The compound.
    pub site: crate::ident::Name,
    /// The grid cell that was responsible.
    pub cell: crate::ident::Name,
    /// What kind of alarm.
    pub kind: crate::kinds::AlarmKind,
    /// Where: building / unit / floor / room.
    pub location: String,
    /// One-line description of the order.
    pub summary: String,
    /// Opened, ms since the epoch.
    pub opened_at: u64,
    /// Closed, ms since the epoch.
    pub closed_at: u64,
    /// Who closed it, as the platform reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What was done, as the platform reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Message for CompletionNotice {
    const NAME: &'static str = "notice";
    const MAX_LEN: usize = 4096;
}

/// Retained on `gs/v1/site/{site}/kpi/{cell}`: closure figures of one grid cell
/// over every order the gateway has opened for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellKpi {
    /// The grid cell.
    pub cell: crate::ident::Name,
    /// Orders opened, cancelled ones excluded.
    pub orders: u32,
    /// Orders closed.
    pub closed: u32,
    /// Orders still open.
    pub open: u32,
    /// Orders withdrawn as false alarms (not counted in the rate).
    pub cancelled: u32,
    /// `closed / orders` (1.0 when there are none): the headline figure.
    pub closure_rate: f64,
    /// Mean time from opening to acceptance, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_mean_ms: Option<u64>,
    /// 90th percentile time from opening to acceptance, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_p90_ms: Option<u64>,
    /// Mean time from opening to closure, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_mean_ms: Option<u64>,
    /// 90th percentile time from opening to closure, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_p90_ms: Option<u64>,
    /// Yellow cards given.
    pub yellow_cards: u32,
    /// Red cards given.
    pub red_cards: u32,
    /// When computed, ms since the epoch.
    pub at: u64,
}

impl Message for CellKpi {
    const NAME: &'static str = "kpi";
    const MAX_LEN: usize = 1024;
}
