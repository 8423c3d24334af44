//! What the Modbus source tells the rest of the gateway, and how it is asked
//! to actuate.

use protocol::{DeviceId, FieldName};
use tokio::sync::oneshot;

/// One notable thing about a polled device.
#[derive(Debug, Clone, PartialEq)]
pub enum ModbusEvent {
    /// Values read in one poll, decoded and scaled by the device's profile.
    Readings {
        /// The device.
        device: DeviceId,
        /// When the last reply of the poll arrived (ms since the Unix epoch).
        at_ms: u64,
        /// Field → value in the profile's unit.
        readings: Vec<(FieldName, f32)>,
        /// Whether these are the profile's alarm registers (polled first and
        /// more often), as opposed to telemetry.
        alarm_class: bool,
    },
    /// The device failed `offline_after` polls in a row.
    Offline {
        /// The device.
        device: DeviceId,
        /// When it was declared offline.
        at_ms: u64,
        /// The last failure.
        reason: String,
    },
    /// An offline device answered again (also sent at the first good poll).
    Online {
        /// The device.
        device: DeviceId,
        /// When it answered.
        at_ms: u64,
    },
    /// A request to the device failed; counted per device in the stats.
    Fault {
        /// The device.
        device: DeviceId,
        /// When.
        at_ms: u64,
        /// What went wrong.
        kind: FaultKind,
    },
}

/// Why one request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The device answered with a Modbus exception (it is there, and said no).
    Exception(u8),
    /// The reply's CRC was wrong (RTU).
    Crc,
    /// A reply came from another unit than the one asked.
    WrongSlave,
    /// The reply stopped before its end.
    ShortFrame,
    /// No reply in time.
    Timeout,
    /// The reply does not fit the request (function code, byte count, echo).
    Malformed,
    /// Unexpected bytes on the line around the reply; the reply was dropped.
    Noise,
    /// The reply fits the request but not the profile's register map.
    MapMismatch,
    /// The port or connection failed (cannot open, reset, closed).
    Io,
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exception(code) => write!(f, "exception {code:#04x}"),
            other => write!(f, "{}", format!("{other:?}").to_lowercase()),
        }
    }
}

/// A value to write to an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteValue {
    /// For a coil (FC 5).
    Bool(bool),
    /// For a holding register (FC 6).
    U16(u16),
}

/// Asks the source to drive an output (lock relay, gas valve), then read it
/// back to confirm.
#[derive(Debug)]
pub struct WriteRequest {
    /// The device.
    pub device: DeviceId,
    /// The output's name in the device's profile (`valve`, `lock`).
    pub output: FieldName,
    /// What to write.
    pub value: WriteValue,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<(), WriteError>>,
}

/// Why a write was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// No line has this device.
    #[error("unknown device `{0}`")]
    UnknownDevice(DeviceId),
    /// The device's profile has no such output.
    #[error("device `{device}` has no output `{output}`")]
    UnknownOutput {
        /// The device.
        device: DeviceId,
        /// The output asked for.
        output: FieldName,
    },
    /// A bool for a register or a number for a coil.
    #[error("output `{0}` takes the other kind of value (bool for coils, u16 for registers)")]
    WrongValue(FieldName),
    /// The device refused with a Modbus exception.
    #[error("device refused with exception {0:#04x}")]
    Exception(u8),
    /// The request never got a valid answer.
    #[error("no valid answer: {0}")]
    Transport(FaultKind),
    /// The read-back disagrees with what was written.
    #[error("read back {read:?} after writing {wrote:?}")]
    NotConfirmed {
        /// What was written.
        wrote: WriteValue,
        /// What was read back.
        read: WriteValue,
    },
    /// The source stopped before the write was done.
    #[error("the Modbus source is shutting down")]
    Shutdown,
}
