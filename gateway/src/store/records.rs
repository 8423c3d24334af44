//! What callers hand the store writer, and how it is configured.

use protocol::{Cause, CommandKind, DeviceId, EventKind, FieldName};

/// A node event to be committed before it is acknowledged to the node.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The device that sent it.
    pub device: DeviceId,
    /// The node's boot counter, if it sends one; `(device, boot, seq)` is
    /// unique. Without one the store keys on `(device, seq)` within the
    /// device's sequence epoch (see [`Commit::SequenceReset`]).
    pub boot: Option<u32>,
    /// The device's sequence number (within the boot).
    pub seq: u32,
    /// What happened.
    pub kind: EventKind,
    /// What the node sensed, if it said.
    pub cause: Option<Cause>,
    /// The measured value, if any.
    pub value: Option<f32>,
    /// The node's own timestamp, if it has a clock.
    pub node_ts: Option<u64>,
    /// When the gateway received it (ms since the epoch).
    pub received_ms: u64,
    /// The payload as received, for audit.
    pub payload: Vec<u8>,
}

/// A telemetry message; stored as one row per reading.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryRecord {
    /// The device that sent it.
    pub device: DeviceId,
    /// The device's sequence number.
    pub seq: u32,
    /// When the gateway received it (ms since the epoch).
    pub received_ms: u64,
    /// Field name and value of each reading.
    pub readings: Vec<(FieldName, f32)>,
}

/// A rejected message, kept for the installer to diagnose (bad payload,
/// unknown device, topic not allowed ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    /// When it was rejected.
    pub at_ms: u64,
    /// Device id, client id, or `?` when unknown.
    pub source: String,
    /// A short, fixed reason (`bad-payload`, `unknown-device` ...).
    pub reason: &'static str,
    /// The topic it came on (truncated when stored).
    pub topic: String,
    /// What was wrong (truncated when stored).
    pub detail: String,
}

/// A finished linkage command (door release, valve close), kept with the
/// alarm that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageRecord {
    /// The alarm that caused it.
    pub alarm: String,
    /// The device.
    pub device: DeviceId,
    /// The command.
    pub cmd: CommandKind,
    /// First sent, ms.
    pub sent_ms: u64,
    /// Answered, ms.
    pub acked_ms: u64,
    /// How many times it was sent.
    pub attempts: u32,
    /// Whether the node carried it out.
    pub ok: bool,
}

/// The outcome of [`super::StoreHandle::commit_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Stored for the first time, with this row id.
    New(i64),
    /// `(device, boot, seq)` was already stored (the node repeated it);
    /// nothing was written. Acknowledge it again.
    Duplicate,
    /// A node without a boot identity sent an alarm-class event whose `seq`
    /// is stored with different content: its sequence was reset (a reboot).
    /// Stored as new, with this row id, in the device's next sequence epoch.
    SequenceReset(i64),
}

impl Commit {
    /// The new row's id, unless the event was a repeat.
    pub const fn row(self) -> Option<i64> {
        match self {
            Self::New(id) | Self::SequenceReset(id) => Some(id),
            Self::Duplicate => None,
        }
    }
}

/// Limits of the store writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Telemetry older than this many days is deleted (0: kept by age forever).
    pub telemetry_retention_days: u32,
    /// Most telemetry rows kept; the oldest beyond it are deleted (0: no limit).
    pub max_telemetry_rows: u64,
    /// Most records written in one transaction.
    pub batch_max: usize,
    /// Capacity of the telemetry queue; telemetry beyond it is shed.
    pub telemetry_queue: usize,
    /// Capacity of the priority queue (events, presence, quarantine);
    /// senders of events wait when it is full.
    pub event_queue: usize,
    /// The outbox's bound in bytes: over it, routine rows are shed (order
    /// rows never are).
    pub outbox_max_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            telemetry_retention_days: 30,
            max_telemetry_rows: 50_000_000,
            batch_max: 1024,
            // As analysis's telemetry queue: at 8,192 (40 ms of 200,000
            // readings/s) a writer descheduled for a moment shed a burst
            // the broker had taken without loss.
            telemetry_queue: 65_536,
            event_queue: 1024,
            outbox_max_bytes: 2_048 << 20,
        }
    }
}

impl StoreConfig {
    /// Retention as milliseconds, or `None` when telemetry is kept by age forever.
    pub(super) fn retention_ms(&self) -> Option<u64> {
        (self.telemetry_retention_days > 0)
            .then(|| u64::from(self.telemetry_retention_days) * 86_400_000)
    }
}
