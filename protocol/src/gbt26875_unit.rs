//! GB/T 26875.3-2011 application data units (clause 8): a type flag, an
//! object count and the objects, each upload object followed by its 6-byte
//! time tag. [`Object`] covers what a transmission device uploads
//! (system state, component state with its status bits, its own running
//! state, operation records, its clock and version) and [`Request`] what
//! the centre asks (state queries, clock sync, roll call / 查岗).
//! Sans-IO, no allocator: [`encode_unit`] writes into a slice, [`Unit`]
//! iterates over the objects of a received slice.

use crate::gbt26875::{FrameError, TimeTag};

/// Type flags (table 3) this crate reads and writes.
pub mod kind {
    /// Building fire facility system state (8.3.1.1).
    pub const SYSTEM_STATE: u8 = 1;
    /// Building fire facility component running state (8.3.1.2).
    pub const COMPONENT_STATE: u8 = 2;
    /// Building fire facility operation record (8.3.1.4).
    pub const SYSTEM_OPERATION: u8 = 4;
    /// Transmission device running state (8.3.1.9).
    pub const DEVICE_STATE: u8 = 21;
    /// Transmission device operation record (8.3.1.10).
    pub const DEVICE_OPERATION: u8 = 24;
    /// Transmission device software version (8.3.1.11).
    pub const DEVICE_VERSION: u8 = 25;
    /// Transmission device clock (8.3.1.13).
    pub const DEVICE_TIME: u8 = 28;
    /// Read system states (8.3.2.1).
    pub const READ_SYSTEM_STATE: u8 = 61;
    /// Read component states (8.3.2.2).
    pub const READ_COMPONENT_STATE: u8 = 62;
    /// Read the transmission device's running state (8.3.2.9).
    pub const READ_DEVICE_STATE: u8 = 81;
    /// Read the transmission device's software version (8.3.2.11).
    pub const READ_DEVICE_VERSION: u8 = 85;
    /// Read the transmission device's clock (8.3.2.13).
    pub const READ_DEVICE_TIME: u8 = 88;
    /// Initialise the transmission device (8.3.2.14).
    pub const INIT_DEVICE: u8 = 89;
    /// Set the transmission device's clock (8.3.2.15).
    pub const SYNC_CLOCK: u8 = 90;
    /// Roll call: the centre checks that someone is on duty (8.3.2.16).
    pub const ROLL_CALL: u8 = 91;
}

/// Component status bits (8.2.1.2, two bytes low first). Bit 0 set is
/// normal operation, clear is test mode.
pub mod component {
    /// Normal operation (clear: test).
    pub const NORMAL: u16 = 1 << 0;
    /// Fire alarm.
    pub const FIRE: u16 = 1 << 1;
    /// Fault.
    pub const FAULT: u16 = 1 << 2;
    /// Disabled (屏蔽).
    pub const DISABLED: u16 = 1 << 3;
    /// Supervisory (监管).
    pub const SUPERVISORY: u16 = 1 << 4;
    /// Started / open.
    pub const STARTED: u16 = 1 << 5;
    /// Feedback received.
    pub const FEEDBACK: u16 = 1 << 6;
    /// Delay running.
    pub const DELAY: u16 = 1 << 7;
    /// Power fault.
    pub const POWER_FAULT: u16 = 1 << 8;
}

/// System status bits (8.2.1.1): the component bits 0..=7, then these.
pub mod system {
    /// Main power fault.
    pub const MAIN_POWER_FAULT: u16 = 1 << 8;
    /// Backup power fault.
    pub const BACKUP_POWER_FAULT: u16 = 1 << 9;
    /// Bus fault.
    pub const BUS_FAULT: u16 = 1 << 10;
    /// Manual mode.
    pub const MANUAL: u16 = 1 << 11;
    /// Configuration changed.
    pub const CONFIG_CHANGED: u16 = 1 << 12;
    /// Reset.
    pub const RESET: u16 = 1 << 13;
}

/// Transmission device status bits (8.2.1.8, one byte).
pub mod device {
    /// Normal monitoring (clear: test).
    pub const NORMAL: u8 = 1 << 0;
    /// Fire alarm.
    pub const FIRE: u8 = 1 << 1;
    /// Fault.
    pub const FAULT: u8 = 1 << 2;
    /// Main power fault.
    pub const MAIN_POWER_FAULT: u8 = 1 << 3;
    /// Backup power fault.
    pub const BACKUP_POWER_FAULT: u8 = 1 << 4;
    /// The channel to the monitoring centre has failed.
    pub const CENTRE_LINK_FAULT: u8 = 1 << 5;
    /// The line to the monitored systems has failed.
    pub const MONITOR_LINE_FAULT: u8 = 1 << 6;
}

/// Operation flags of a transmission device record (8.2.1.9).
pub mod operation {
    /// Reset.
    pub const RESET: u8 = 1 << 0;
    /// Silence.
    pub const SILENCE: u8 = 1 << 1;
    /// Manual alarm.
    pub const MANUAL_ALARM: u8 = 1 << 2;
    /// Alarm cleared.
    pub const ALARM_CLEARED: u8 = 1 << 3;
    /// Self test.
    pub const SELF_TEST: u8 = 1 << 4;
    /// Roll-call answered (查岗应答); for a building fire facility record
    /// (8.2.1.4) this bit is "confirm".
    pub const ROLL_CALL_ANSWER: u8 = 1 << 5;
    /// Test.
    pub const TEST: u8 = 1 << 6;
}

/// Length of a component description (GB 18030, zero padded).
pub const DESCRIPTION_LEN: usize = 31;

/// One information object a transmission device uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// Type 1: a building fire facility system's state.
    SystemState {
        /// System type (1: fire alarm system).
        system_type: u8,
        /// System address.
        system_addr: u8,
        /// [`system`] and [`component`] bits 0..=7.
        status: u16,
        /// When the state arose.
        time: TimeTag,
    },
    /// Type 2: a component's running state.
    ComponentState {
        /// System type.
        system_type: u8,
        /// System address.
        system_addr: u8,
        /// Component type (40: smoke detector, 30: heat, 23: manual call point …).
        component_type: u8,
        /// Component address: zone number (区号) in the low two bytes,
        /// position (位号) in the high two, `position << 16 | zone`, sent low first.
        component_addr: u32,
        /// [`component`] bits.
        status: u16,
        /// Description, GB 18030, zero padded.
        description: [u8; DESCRIPTION_LEN],
        /// When the state arose.
        time: TimeTag,
    },
    /// Type 4: an operation on a building fire facility.
    SystemOperation {
        /// System type.
        system_type: u8,
        /// System address.
        system_addr: u8,
        /// [`operation`] bits.
        flags: u8,
        /// Operator number.
        operator: u8,
        /// When.
        time: TimeTag,
    },
    /// Type 21: the transmission device's own running state.
    DeviceState {
        /// [`device`] bits.
        status: u8,
        /// When the state arose.
        time: TimeTag,
    },
    /// Type 24: an operation on the transmission device.
    DeviceOperation {
        /// [`operation`] bits.
        flags: u8,
        /// Operator number.
        operator: u8,
        /// When.
        time: TimeTag,
    },
    /// Type 25: the transmission device's software version (no time tag).
    DeviceVersion {
        /// Major.
        major: u8,
        /// Minor.
        minor: u8,
    },
    /// Type 28: the transmission device's clock.
    DeviceTime(TimeTag),
}

impl Object {
    /// Its type flag.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::SystemState { .. } => kind::SYSTEM_STATE,
            Self::ComponentState { .. } => kind::COMPONENT_STATE,
            Self::SystemOperation { .. } => kind::SYSTEM_OPERATION,
            Self::DeviceState { .. } => kind::DEVICE_STATE,
            Self::DeviceOperation { .. } => kind::DEVICE_OPERATION,
            Self::DeviceVersion { .. } => kind::DEVICE_VERSION,
            Self::DeviceTime(_) => kind::DEVICE_TIME,
        }
    }

    /// A description field from `text`: its first 31 bytes (cut at a
    /// character boundary), zero padded. ASCII and UTF-8 digits and
    /// letters are the same bytes in GB 18030; other text should be
    /// converted by the caller.
    pub fn description(text: &str) -> [u8; DESCRIPTION_LEN] {
        let mut d = [0u8; DESCRIPTION_LEN];
        let mut end = text.len().min(DESCRIPTION_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        d[..end].copy_from_slice(&text.as_bytes()[..end]);
        d
    }

    fn write(&self, out: &mut [u8]) -> Result<usize, FrameError> {
        let need = object_len(self.kind()).unwrap_or(0);
        if out.len() < need {
            return Err(FrameError::BufferTooSmall(need));
        }
        match *self {
            Self::SystemState {
                system_type,
                system_addr,
                status,
                time,
            } => {
                out[0] = system_type;
                out[1] = system_addr;
                out[2..4].copy_from_slice(&status.to_le_bytes());
                out[4..10].copy_from_slice(&time.to_wire()?);
            }
            Self::ComponentState {
                system_type,
                system_addr,
                component_type,
                component_addr,
                status,
                description,
                time,
            } => {
                out[0] = system_type;
                out[1] = system_addr;
                out[2] = component_type;
                out[3..7].copy_from_slice(&component_addr.to_le_bytes());
                out[7..9].copy_from_slice(&status.to_le_bytes());
                out[9..40].copy_from_slice(&description);
                out[40..46].copy_from_slice(&time.to_wire()?);
            }
            Self::SystemOperation {
                system_type,
                system_addr,
                flags,
                operator,
                time,
            } => {
                out[..4].copy_from_slice(&[system_type, system_addr, flags, operator]);
                out[4..10].copy_from_slice(&time.to_wire()?);
            }
            Self::DeviceState { status, time } => {
                out[0] = status;
                out[1..7].copy_from_slice(&time.to_wire()?);
            }
            Self::DeviceOperation {
                flags,
                operator,
                time,
            } => {
                out[0] = flags;
                out[1] = operator;
                out[2..8].copy_from_slice(&time.to_wire()?);
            }
            Self::DeviceVersion { major, minor } => out[..2].copy_from_slice(&[major, minor]),
            Self::DeviceTime(t) => out[..6].copy_from_slice(&t.to_wire()?),
        }
        Ok(need)
    }

    fn read(kind: u8, b: &[u8]) -> Result<Self, UnitError> {
        let t = |at: usize| -> Result<TimeTag, UnitError> {
            let mut w = [0u8; 6];
            w.copy_from_slice(&b[at..at + 6]);
            TimeTag::from_wire(w).map_err(|_| UnitError::BadTime)
        };
        Ok(match kind {
            kind::SYSTEM_STATE => Self::SystemState {
                system_type: b[0],
                system_addr: b[1],
                status: u16::from_le_bytes([b[2], b[3]]),
                time: t(4)?,
            },
            kind::COMPONENT_STATE => {
                let mut description = [0u8; DESCRIPTION_LEN];
                description.copy_from_slice(&b[9..40]);
                Self::ComponentState {
                    system_type: b[0],
                    system_addr: b[1],
                    component_type: b[2],
                    component_addr: u32::from_le_bytes([b[3], b[4], b[5], b[6]]),
                    status: u16::from_le_bytes([b[7], b[8]]),
                    description,
                    time: t(40)?,
                }
            }
            kind::SYSTEM_OPERATION => Self::SystemOperation {
                system_type: b[0],
                system_addr: b[1],
                flags: b[2],
                operator: b[3],
                time: t(4)?,
            },
            kind::DEVICE_STATE => Self::DeviceState {
                status: b[0],
                time: t(1)?,
            },
            kind::DEVICE_OPERATION => Self::DeviceOperation {
                flags: b[0],
                operator: b[1],
                time: t(2)?,
            },
            kind::DEVICE_VERSION => Self::DeviceVersion {
                major: b[0],
                minor: b[1],
            },
            kind::DEVICE_TIME => Self::DeviceTime(t(0)?),
            other => return Err(UnitError::UnknownType(other)),
        })
    }
}

/// A request from the centre (command 1 control or 4 request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// 61: the states of these systems (`(type, address)`, up to 102).
    ReadSystemState,
    /// 62: the states of these components.
    ReadComponentState,
    /// 81: the transmission device's running state.
    ReadDeviceState,
    /// 85: its software version.
    ReadDeviceVersion,
    /// 88: its clock.
    ReadDeviceTime,
    /// 89: initialise it.
    InitDevice,
    /// 90: set its clock to this time.
    SyncClock(TimeTag),
    /// 91: roll call; the operator should answer within this many minutes.
    RollCall {
        /// Minutes (the one byte after the count; 0 when not given).
        minutes: u8,
    },
}

impl Request {
    /// Its type flag.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::ReadSystemState => kind::READ_SYSTEM_STATE,
            Self::ReadComponentState => kind::READ_COMPONENT_STATE,
            Self::ReadDeviceState => kind::READ_DEVICE_STATE,
            Self::ReadDeviceVersion => kind::READ_DEVICE_VERSION,
            Self::ReadDeviceTime => kind::READ_DEVICE_TIME,
            Self::InitDevice => kind::INIT_DEVICE,
            Self::SyncClock(_) => kind::SYNC_CLOCK,
            Self::RollCall { .. } => kind::ROLL_CALL,
        }
    }

    /// The command byte it travels with: 1 (control) for clock sync,
    /// initialise and roll call, 4 (request) for reads.
    pub const fn command(&self) -> crate::gbt26875::Command {
        match self {
            Self::SyncClock(_) | Self::InitDevice | Self::RollCall { .. } => {
                crate::gbt26875::Command::Control
            }
            _ => crate::gbt26875::Command::Request,
        }
    }

    /// Reads the request in a received data unit (a read of systems or
    /// components reads as "all": the gateway answers with what it has).
    ///
    /// # Errors
    /// [`UnitError`].
    pub fn parse(data: &[u8]) -> Result<Self, UnitError> {
        let (&k, rest) = data.split_first().ok_or(UnitError::Short)?;
        let (_count, body) = rest.split_first().ok_or(UnitError::Short)?;
        Ok(match k {
            kind::READ_SYSTEM_STATE => Self::ReadSystemState,
            kind::READ_COMPONENT_STATE => Self::ReadComponentState,
            kind::READ_DEVICE_STATE => Self::ReadDeviceState,
            kind::READ_DEVICE_VERSION => Self::ReadDeviceVersion,
            kind::READ_DEVICE_TIME => Self::ReadDeviceTime,
            kind::INIT_DEVICE => Self::InitDevice,
            kind::SYNC_CLOCK => {
                let w: [u8; 6] = body
                    .get(..6)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(UnitError::Short)?;
                Self::SyncClock(TimeTag::from_wire(w).map_err(|_| UnitError::BadTime)?)
            }
            kind::ROLL_CALL => Self::RollCall {
                minutes: body.first().copied().unwrap_or(0),
            },
            other => return Err(UnitError::UnknownType(other)),
        })
    }

    /// Writes its data unit into `out` (the centre's side); returns the length.
    ///
    /// # Errors
    /// [`FrameError::BufferTooSmall`], [`FrameError::BadTime`].
    pub fn write(&self, out: &mut [u8]) -> Result<usize, FrameError> {
        let need = if matches!(self, Self::SyncClock(_)) {
            8
        } else {
            3
        };
        if out.len() < need {
            return Err(FrameError::BufferTooSmall(need));
        }
        out[0] = self.kind();
        out[1] = 1;
        match self {
            Self::SyncClock(t) => out[2..8].copy_from_slice(&t.to_wire()?),
            Self::RollCall { minutes } => out[2] = *minutes,
            _ => out[2] = 0,
        }
        Ok(need)
    }
}

/// Why a data unit could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Shorter than its type and count say.
    #[error("data unit shorter than its objects")]
    Short,
    /// Longer than its type and count say.
    #[error("data unit longer than its objects")]
    Long,
    /// A type flag this crate does not read.
    #[error("unknown type flag {0}")]
    UnknownType(u8),
    /// A time tag out of range.
    #[error("time tag out of range")]
    BadTime,
    /// More objects than one data unit may hold.
    #[error("too many objects")]
    TooMany,
}

/// Bytes of one upload object of type `kind` with its time tag.
pub const fn object_len(kind: u8) -> Option<usize> {
    match kind {
        kind::SYSTEM_STATE | kind::SYSTEM_OPERATION => Some(10),
        kind::COMPONENT_STATE => Some(46),
        kind::DEVICE_STATE => Some(7),
        kind::DEVICE_OPERATION => Some(8),
        kind::DEVICE_VERSION => Some(2),
        kind::DEVICE_TIME => Some(6),
        _ => None,
    }
}

/// The most objects of `kind` one data unit holds (8.3.1).
pub const fn max_objects(kind: u8) -> usize {
    match kind {
        kind::COMPONENT_STATE => 22,
        kind::SYSTEM_STATE | kind::SYSTEM_OPERATION => 102,
        kind::DEVICE_OPERATION => 127,
        _ => 1,
    }
}

/// Writes a data unit holding `objects` (all of one type) into `out`;
/// returns its length.
///
/// # Errors
/// [`FrameError::BufferTooSmall`], [`FrameError::BadTime`];
/// [`FrameError::TooLong`] with more objects than the type allows or of
/// mixed types.
pub fn encode_unit(objects: &[Object], out: &mut [u8]) -> Result<usize, FrameError> {
    let Some(first) = objects.first() else {
        return Err(FrameError::TooLong(0));
    };
    let k = first.kind();
    if objects.len() > max_objects(k) || objects.iter().any(|o| o.kind() != k) {
        return Err(FrameError::TooLong(objects.len()));
    }
    if out.len() < 2 {
        return Err(FrameError::BufferTooSmall(2));
    }
    out[0] = k;
    // At most 127 (max_objects).
    out[1] = objects.len() as u8;
    let mut at = 2;
    for o in objects {
        at += o.write(&mut out[at..])?;
    }
    Ok(at)
}

/// A received upload data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit<'a> {
    /// Type flag.
    pub kind: u8,
    /// Object count.
    pub count: u8,
    body: &'a [u8],
}

impl<'a> Unit<'a> {
    /// Checks the type, count and length of `data`.
    ///
    /// # Errors
    /// [`UnitError`].
    pub fn parse(data: &'a [u8]) -> Result<Self, UnitError> {
        let [k, count, body @ ..] = data else {
            return Err(UnitError::Short);
        };
        let each = object_len(*k).ok_or(UnitError::UnknownType(*k))?;
        if usize::from(*count) > max_objects(*k) {
            return Err(UnitError::TooMany);
        }
        let want = each * usize::from(*count);
        match body.len().cmp(&want) {
            core::cmp::Ordering::Less => Err(UnitError::Short),
            core::cmp::Ordering::Greater => Err(UnitError::Long),
            core::cmp::Ordering::Equal => Ok(Self {
                kind: *k,
                count: *count,
                body,
            }),
        }
    }

    /// Its objects in order.
    pub fn objects(&self) -> impl Iterator<Item = Result<Object, UnitError>> + 'a {
        let k = self.kind;
        // Parse checked that the kind has a length.
        let each = object_len(k).unwrap_or(1);
        self.body
            .chunks_exact(each)
            .map(move |c| Object::read(k, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TimeTag {
        TimeTag {
            year: 2026,
            month: 12,
            day: 1,
            hour: 8,
            minute: 30,
            second: 0,
        }
    }

    #[test]
    fn component_state_round_trips() {
        let o = Object::ComponentState {
            system_type: 1,
            system_addr: 1,
            component_type: 40,
            component_addr: 0x0002_000A,
            status: component::NORMAL | component::FIRE,
            description: Object::description("b1-smoke-3"),
            time: t(),
        };
        let mut out = [0u8; 64];
        let n = encode_unit(&[o], &mut out).expect("encode");
        assert_eq!(n, 48);
        let u = Unit::parse(&out[..n]).expect("parse");
        let back: Vec<_> = u.objects().collect::<Result<_, _>>().expect("objects");
        assert_eq!(back, vec![o]);
        assert_eq!(&out[5..9], &[0x0A, 0x00, 0x02, 0x00]);
        assert_eq!(&out[9..11], &[0x03, 0x00]);
    }

    #[test]
    fn a_count_that_does_not_fit_the_length_is_refused() {
        assert_eq!(
            Unit::parse(&[24, 2, 1, 0, 0, 0, 0, 1, 1, 26]),
            Err(UnitError::Short)
        );
        assert_eq!(Unit::parse(&[21, 2, 1]), Err(UnitError::TooMany));
        assert_eq!(Unit::parse(&[99, 1, 0]), Err(UnitError::UnknownType(99)));
    }

    #[test]
    fn requests_parse_and_write() {
        let r = Request::SyncClock(t());
        let mut out = [0u8; 8];
        let n = r.write(&mut out).expect("write");
        assert_eq!(Request::parse(&out[..n]), Ok(r));
        assert_eq!(
            Request::parse(&[91, 1, 10]),
            Ok(Request::RollCall { minutes: 10 })
        );
        assert_eq!(Request::parse(&[81, 1, 0]), Ok(Request::ReadDeviceState));
    }

    #[test]
    fn description_cuts_at_a_character_boundary() {
        let d = Object::description("一二三四五六七八九十一");
        assert_eq!(d[30], 0);
        assert!(core::str::from_utf8(&d[..30]).is_ok());
    }
}
