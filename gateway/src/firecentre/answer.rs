//! What the link makes of the centre's bytes, without I/O: frames taken
//! one by one from the receive buffer (malformed bytes skipped up to the
//! next `@@`), and the answer to each control or request. The link task
//! sends what [`answer`] says; the fuzz target `gbt26875` drives both.

use protocol::gbt26875::unit::{Object, Request, UnitError, encode_unit, operation};
use protocol::gbt26875::{self as gbt, Header, TimeTag};

use super::frames::Frames;

/// Takes the next whole frame from the front of `buf`: its header and data
/// unit. Bytes that cannot start a frame are dropped (logged); `None` when
/// the buffer holds no whole frame yet (what is left is kept for more bytes).
pub fn next_frame(buf: &mut Vec<u8>) -> Option<(Header, Vec<u8>)> {
    loop {
        match gbt::decode(buf) {
            Ok((f, used)) => {
                let out = (f.header, f.data.to_vec());
                buf.drain(..used);
                return Some(out);
            }
            Err(gbt::FrameError::Incomplete { .. }) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "fire centre: malformed bytes skipped");
                let skip = gbt::find_start(buf);
                buf.drain(..skip);
            }
        }
    }
}

/// What the gateway answers to a control or request from the centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Confirm (command 3), nothing more: initialise.
    Confirm,
    /// Confirm a clock sync; the centre's clock is `offset_s` ahead of the
    /// gateway's (logged only: the system clock is NTP's to set).
    ClockSync {
        /// Centre minus gateway, seconds.
        offset_s: i64,
    },
    /// Confirm a roll call (查岗), then send `record` (an operation record,
    /// type 24, with the roll-call answer bit) as data the centre confirms.
    RollCall {
        /// Minutes the centre gives the operator.
        minutes: u8,
        /// The data unit of the answer.
        record: Vec<u8>,
    },
    /// Respond (command 5) with this data unit.
    Response(Vec<u8>),
    /// Deny (command 6): the request is not understood.
    Deny(UnitError),
}

/// The answer to the data unit `data` of a control or request frame, from
/// what `frames` knows at `now_ms`.
pub fn answer(frames: &Frames, data: &[u8], now_ms: u64) -> Answer {
    let req = match Request::parse(data) {
        Ok(r) => r,
        Err(e) => return Answer::Deny(e),
    };
    match req {
        Request::SyncClock(t) => {
            let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            Answer::ClockSync {
                offset_s: ms(t.to_unix_ms()).saturating_sub(ms(now_ms)) / 1000,
            }
        }
        Request::InitDevice => Answer::Confirm,
        Request::RollCall { minutes } => Answer::RollCall {
            minutes,
            record: one(Object::DeviceOperation {
                flags: operation::ROLL_CALL_ANSWER,
                operator: 0,
                time: TimeTag::from_unix_ms(now_ms),
            }),
        },
        Request::ReadDeviceState => Answer::Response(frames.device_state(false, now_ms)),
        Request::ReadSystemState => Answer::Response(frames.system_state(now_ms)),
        Request::ReadComponentState => Answer::Response(frames.open_components(now_ms)),
        Request::ReadDeviceTime => {
            Answer::Response(one(Object::DeviceTime(TimeTag::from_unix_ms(now_ms))))
        }
        Request::ReadDeviceVersion => {
            let (major, minor) = version();
            Answer::Response(one(Object::DeviceVersion { major, minor }))
        }
    }
}

/// The data unit of one object (empty if it cannot be encoded).
fn one(o: Object) -> Vec<u8> {
    let mut buf = [0u8; 64];
    encode_unit(&[o], &mut buf).map_or_else(|_| Vec::new(), |n| buf[..n].to_vec())
}

/// The gateway's version as the standard's major and minor bytes.
fn version() -> (u8, u8) {
    let mut v = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<u8>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0))
}
