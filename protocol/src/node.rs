//! Messages between a node and the gateway: events, telemetry, presence,
//! commands and their acknowledgements. All are `no_std` and allocation-free.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Message};
use crate::ident::FieldName;
use crate::kinds::{AlarmKind, wire_enum};

/// Earliest plausible timestamp (2020-01-01T00:00:00Z) in ms since the Unix epoch.
pub const TS_MIN_MS: u64 = 1_577_836_800_000;
/// Latest plausible timestamp (2100-01-01T00:00:00Z) in ms since the Unix epoch.
pub const TS_MAX_MS: u64 = 4_102_444_800_000;

fn check_ts(message: &'static str, ts: Option<u64>) -> Result<(), DecodeError> {
    match ts {
        Some(t) if !(TS_MIN_MS..TS_MAX_MS).contains(&t) => Err(DecodeError::range(
            message,
            "ts",
            format_args!("{t} is not between 2020 and 2100 in ms since the epoch"),
        )),
        _ => Ok(()),
    }
}

fn check_boot(message: &'static str, boot: Option<u32>) -> Result<(), DecodeError> {
    if boot == Some(0) {
        return Err(DecodeError::range(
            message,
            "boot",
            format_args!("0 is reserved; boot counters start at 1"),
        ));
    }
    Ok(())
}

fn check_seq(message: &'static str, seq: u32) -> Result<(), DecodeError> {
    if seq == 0 {
        return Err(DecodeError::range(
            message,
            "seq",
            format_args!("0 is reserved; sequence numbers start at 1"),
        ));
    }
    Ok(())
}

wire_enum! {
    /// What happened at a node.
    pub enum EventKind {
        /// The node's sensor is in alarm (smoke, gas, forced door ...).
        Alarm = "alarm",
        /// A first-stage alarm (gas above the lower threshold).
        PreAlarm = "pre-alarm",
        /// The node or its sensor is faulty.
        Fault = "fault",
        /// A previous alarm, fault, tamper or low battery condition has ended.
        Restore = "restore",
        /// A self-test was run; `cause` tells what was tested.
        Test = "test",
        /// The node was removed from its base or opened.
        Tamper = "tamper",
        /// The node's battery is low.
        LowBattery = "low-battery",
        /// Periodic sign of life.
        Heartbeat = "heartbeat",
    }
}

impl EventKind {
    /// Whether the gateway must commit the event and answer with `evt/ack`, and
    /// the node must repeat it until then. Only heartbeats are fire-and-forget.
    pub const fn needs_ack(self) -> bool {
        !matches!(self, Self::Heartbeat)
    }

    /// Whether the event raises or worsens an alarm (alarm, pre-alarm, fault,
    /// tamper, low battery). For a node without a boot identity, an event of
    /// this class whose `seq` was already stored with different content is
    /// taken as new (the node's sequence was reset), never dropped.
    pub const fn is_alarm_class(self) -> bool {
        matches!(
            self,
            Self::Alarm | Self::PreAlarm | Self::Fault | Self::Tamper | Self::LowBattery
        )
    }
}

wire_enum! {
    /// What a node sensed, as precisely as it knows.
    pub enum Cause {
        /// Smoke in the detector chamber.
        Smoke = "smoke",
        /// Heat above the detector's limit or rising too fast.
        Heat = "heat",
        /// A manual call point was operated.
        ManualCall = "manual-call",
        /// Combustible gas.
        Gas = "gas",
        /// Water where there should be none.
        Water = "water",
        /// Water level out of range.
        Level = "level",
        /// Door opened without an unlock.
        DoorForced = "door-forced",
        /// Door held open too long.
        DoorHeld = "door-held",
        /// Camera: intrusion in a watched area.
        Intrusion = "intrusion",
        /// Camera: fire lane blocked.
        FireLaneBlocked = "fire-lane-blocked",
        /// Charger or equipment overheating.
        Overheat = "overheat",
        /// Charger over-current.
        Overcurrent = "overcurrent",
        /// Elevator: passenger trapped.
        Trapped = "trapped",
        /// Manhole cover open, tilted or displaced.
        CoverOpen = "cover-open",
        /// Sensor circuit open.
        SensorOpen = "sensor-open",
        /// Sensor circuit shorted.
        SensorShort = "sensor-short",
        /// Reading outside the sensor's physical range.
        SensorRange = "sensor-range",
        /// Hardware fault other than the sensor.
        Hardware = "hardware",
        /// Removed from its base or opened (names what a `restore` ends).
        Tamper = "tamper",
        /// Battery low (names what a `restore` ends).
        Battery = "battery",
        /// A call button was pressed: someone asks for help.
        HelpCall = "help-call",
    }
}

impl Cause {
    /// The alarm kind an `alarm`/`pre-alarm` event with this cause raises.
    /// Sensor and hardware causes are faults, never fires.
    pub const fn alarm_kind(self) -> AlarmKind {
        match self {
            Self::Smoke | Self::Heat | Self::ManualCall => AlarmKind::Fire,
            Self::Gas => AlarmKind::Gas,
            Self::Water => AlarmKind::WaterLeak,
            Self::Level => AlarmKind::WaterLevel,
            Self::DoorForced => AlarmKind::DoorForced,
            Self::DoorHeld => AlarmKind::DoorHeld,
            Self::Intrusion => AlarmKind::Intrusion,
            Self::FireLaneBlocked => AlarmKind::FireLaneBlocked,
            Self::Overheat | Self::Overcurrent => AlarmKind::EbikeOverheat,
            Self::Trapped => AlarmKind::ElevatorFault,
            Self::CoverOpen => AlarmKind::ManholeOpen,
            Self::SensorOpen | Self::SensorShort | Self::SensorRange | Self::Hardware => {
                AlarmKind::SensorFault
            }
            Self::Tamper => AlarmKind::Tamper,
            Self::Battery => AlarmKind::LowBattery,
            Self::HelpCall => AlarmKind::HelpCall,
        }
    }
}

/// An event reported by a node on `gs/v1/dev/{id}/evt`.
///
/// `(device, boot, seq)` names an event. `boot` is the node's boot counter
/// (kept in non-volatile memory, incremented at every start-up, from 1);
/// `seq` is per boot and increases by one for each event that needs an ack,
/// from 1 after every start-up. A node repeats an unacknowledged event with
/// the same `boot` and `seq`, so the gateway stores it once however often it
/// arrives.
///
/// `boot` is optional: older nodes omit it. For those the gateway keys on
/// `(device, seq)` and is fail-safe about resets: an alarm-class event
/// ([`EventKind::is_alarm_class`]) whose `seq` was stored with different
/// content (type, cause, value, ts) is a new event after a sequence reset;
/// an exact repeat is stored once and acknowledged every time.
/// Heartbeats are not acknowledged and not de-duplicated; their `seq` is
/// informative only (the last one assigned, or 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEvent {
    /// The node's boot counter, from 1 (absent: a node without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<u32>,
    /// Sequence number within the boot, from 1.
    pub seq: u32,
    /// Node time in ms since the Unix epoch, if the node has a clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// What was sensed (required for alarm, pre-alarm and fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The reading that caused it, in the profile's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f32>,
    /// Battery charge in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery: Option<u8>,
    /// Reference to the picture behind the event: a frame id kept on the
    /// camera or its NVR, or the picture's HTTP(S) address (an ONVIF
    /// camera's snapshot URI); see [`crate::snapshot`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::snapshot::SnapshotRef>,
}

impl Message for NodeEvent {
    const NAME: &'static str = "event";
    const MAX_LEN: usize = 512;

    fn validate(&self) -> Result<(), DecodeError> {
        check_seq(Self::NAME, self.seq)?;
        check_boot(Self::NAME, self.boot)?;
        check_ts(Self::NAME, self.ts)?;
        if matches!(
            self.kind,
            EventKind::Alarm | EventKind::PreAlarm | EventKind::Fault
        ) && self.cause.is_none()
        {
            return Err(DecodeError::MissingField {
                message: Self::NAME,
                field: crate::codec::text_fmt(format_args!(
                    "cause` (required for type `{}",
                    self.kind
                )),
                path: crate::codec::Text::new(),
            });
        }
        if let Some(v) = self.value
            && !v.is_finite()
        {
            return Err(DecodeError::range(
                Self::NAME,
                "value",
                format_args!("must be a finite number"),
            ));
        }
        if let Some(b) = self.battery
            && b > 100
        {
            return Err(DecodeError::range(
                Self::NAME,
                "battery",
                format_args!("{b} is not a percentage 0..=100"),
            ));
        }
        Ok(())
    }
}

/// Largest number of readings in one telemetry message.
pub const MAX_READINGS: usize = 16;

/// Telemetry from a node on `gs/v1/dev/{id}/tel`: named readings in the
/// units of the device's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Per-device telemetry counter (wraps); lets the gateway spot gaps.
    pub seq: u32,
    /// Node time in ms since the Unix epoch, if the node has a clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// Readings by field name, at most [`MAX_READINGS`].
    #[serde(rename = "r")]
    pub readings: heapless::LinearMap<FieldName, f32, MAX_READINGS>,
}

impl Message for Telemetry {
    const NAME: &'static str = "telemetry";
    const MAX_LEN: usize = 1024;

    fn validate(&self) -> Result<(), DecodeError> {
        check_ts(Self::NAME, self.ts)?;
        if self.readings.is_empty() {
            return Err(DecodeError::range(
                Self::NAME,
                "r",
                format_args!("holds no readings; at least one is required"),
            ));
        }
        if let Some((k, v)) = self.readings.iter().find(|(_, v)| !v.is_finite()) {
            return Err(DecodeError::range(
                Self::NAME,
                "r",
                format_args!("reading `{k}` = {v} is not a finite number"),
            ));
        }
        Ok(())
    }
}

wire_enum! {
    /// A node's availability.
    pub enum Status {
        /// Connected and reporting.
        Online = "online",
        /// Disconnected (the node's last will) or missed its heartbeats.
        Offline = "offline",
    }
}

/// Presence, retained on `gs/v1/dev/{id}/state`; the node's last will is the
/// same message with `offline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Online or offline.
    pub status: Status,
    /// Firmware version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fw: Option<heapless::String<24>>,
    /// Heartbeat interval the node promises, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_s: Option<u32>,
    /// The node's boot counter (as in its events), in the online state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<u32>,
}

impl Message for DeviceState {
    const NAME: &'static str = "state";
    const MAX_LEN: usize = 256;

    fn validate(&self) -> Result<(), DecodeError> {
        check_boot(Self::NAME, self.boot)?;
        match self.heartbeat_s {
            Some(h) if !(1..=86_400).contains(&h) => Err(DecodeError::range(
                Self::NAME,
                "heartbeat_s",
                format_args!("{h} is not between 1 and 86400 seconds"),
            )),
            _ => Ok(()),
        }
    }
}

/// The gateway's end-to-end acknowledgement on `gs/v1/dev/{id}/evt/ack`:
/// the event with this `boot` and `seq` is committed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvtAck {
    /// Sequence number of the committed event.
    pub seq: u32,
    /// The event's boot counter, echoed (absent when the event had none). A
    /// node ignores an ack for another boot than its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<u32>,
}

impl EvtAck {
    /// The acknowledgement of `event`.
    pub const fn of(event: &NodeEvent) -> Self {
        Self {
            seq: event.seq,
            boot: event.boot,
        }
    }

    /// Whether this acknowledges an event of a node now in boot `boot`.
    pub const fn is_for_boot(&self, boot: Option<u32>) -> bool {
        match (self.boot, boot) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

impl Message for EvtAck {
    const NAME: &'static str = "evt-ack";
    const MAX_LEN: usize = 64;

    fn validate(&self) -> Result<(), DecodeError> {
        check_seq(Self::NAME, self.seq)?;
        check_boot(Self::NAME, self.boot)
    }
}

wire_enum! {
    /// What the gateway asks a node to do.
    pub enum CommandKind {
        /// Release the lock (escape route, visitor).
        Unlock = "unlock",
        /// Engage the lock.
        Lock = "lock",
        /// Silence the sounder for a while (refused during a confirmed fire).
        Hush = "hush",
        /// Close the gas valve.
        ValveClose = "valve-close",
        /// Open the gas valve.
        ValveOpen = "valve-open",
        /// Run the node's self-test.
        SelfTest = "self-test",
        /// Reset a latched alarm at the node.
        Reset = "reset",
    }
}

wire_enum! {
    /// Why a command is sent; a node treats `fire` commands as fail-safe.
    pub enum CommandReason {
        /// Fire linkage: the node must obey and hold until reset.
        Fire = "fire",
        /// Gas linkage.
        Gas = "gas",
        /// An operator's decision.
        Operator = "operator",
        /// A schedule or rule.
        Schedule = "schedule",
    }
}

/// A command on `gs/v1/dev/{id}/cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Gateway-assigned id, echoed in the ack; repeats keep the id.
    pub id: u32,
    /// What to do.
    pub cmd: CommandKind,
    /// Why.
    pub reason: CommandReason,
    /// How long the action holds, in seconds (`None`: until told otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
}

impl Message for Command {
    const NAME: &'static str = "command";
    const MAX_LEN: usize = 256;

    fn validate(&self) -> Result<(), DecodeError> {
        match self.duration_s {
            Some(0) => Err(DecodeError::range(
                Self::NAME,
                "duration_s",
                format_args!("0 is not a duration; omit it to hold until told"),
            )),
            _ => Ok(()),
        }
    }
}

wire_enum! {
    /// Why a node did not carry out a command.
    pub enum CommandError {
        /// The node cannot do this.
        Unsupported = "unsupported",
        /// Refused by the node's own safety logic (hush during a fire).
        Refused = "refused",
        /// The actuator did not reach the commanded position.
        Hardware = "hardware",
    }
}

/// A node's answer on `gs/v1/dev/{id}/cmd/ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAck {
    /// The command's id.
    pub id: u32,
    /// Whether it was carried out.
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
}

impl Message for CommandAck {
    const NAME: &'static str = "command-ack";
    const MAX_LEN: usize = 128;

    fn validate(&self) -> Result<(), DecodeError> {
        if !self.ok && self.error.is_none() {
            return Err(DecodeError::MissingField {
                message: Self::NAME,
                field: crate::codec::text("error` (required when `ok` is false"),
                path: crate::codec::Text::new(),
            });
        }
        Ok(())
    }
}
