//! GB/T 26875.3-2011 frames: what a user information transmission device
//! (用户信息传输装置) and the city's fire remote-monitoring centre exchange
//! over TCP. Sans-IO: [`encode`] writes a frame into a byte slice, [`decode`]
//! reads one from the front of a receive buffer and tells "need more bytes"
//! apart from "malformed" (the caller drops one byte and looks for the next
//! `@@` on the latter). The application data units (type flag, object
//! count, objects) are in [`unit`].
//!
//! A frame, byte by byte (all multi-byte integers low byte first):
//!
//! ```text
//! 0  '@' '@'                     start
//! 2  serial (2)                  business serial number, LE
//! 4  version major, minor (2)    1, 1
//! 6  time tag (6)                s, min, h, day, month, year-2000
//! 12 source address (6)          LE
//! 18 destination address (6)     LE
//! 24 data length (2)             LE, <= 1024
//! 26 command (1)                 1 control … 6 deny
//! 27 application data unit (n)
//! 27+n checksum (1)              sum mod 256 of bytes 2..27+n
//! 28+n '#' '#'                   end
//! ```
//!
//! docs/firecentre.md says where open implementations disagree with the
//! standard's text (the serial number's byte order) and what is chosen here.

#[path = "gbt26875_unit.rs"]
pub mod unit;

/// The start characters, `@@` (64, 64).
pub const START: [u8; 2] = *b"@@";
/// The end characters, `##` (35, 35).
pub const END: [u8; 2] = *b"##";
/// Bytes before the application data unit (start and control unit).
pub const HEAD_LEN: usize = 27;
/// Bytes after it (checksum and end).
pub const TAIL_LEN: usize = 3;
/// The largest application data unit the standard allows.
pub const MAX_DATA: usize = 1024;
/// The largest frame.
pub const MAX_FRAME: usize = HEAD_LEN + MAX_DATA + TAIL_LEN;
/// The protocol version sent: major version 1 (fixed by the standard),
/// user version 1 (what published examples and devices in the field send).
pub const VERSION: [u8; 2] = [1, 1];

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The buffer holds the start of a frame but not all of it yet.
    #[error("incomplete frame: {needed} more bytes needed")]
    Incomplete {
        /// At least this many more bytes.
        needed: usize,
    },
    /// The buffer does not start with `@@`.
    #[error("no start characters")]
    NoStart,
    /// The length field exceeds [`MAX_DATA`].
    #[error("application data length {0} over 1024")]
    TooLong(usize),
    /// The bytes after the data unit are not `##`.
    #[error("no end characters")]
    NoEnd,
    /// The checksum does not match.
    #[error("checksum {found:#04x}, computed {computed:#04x}")]
    Checksum {
        /// In the frame.
        found: u8,
        /// Over its bytes.
        computed: u8,
    },
    /// The output buffer is too small.
    #[error("output buffer too small: {0} bytes needed")]
    BufferTooSmall(usize),
    /// A time tag field is out of its range.
    #[error("time tag out of range")]
    BadTime,
}

/// A 6-byte address of a centre or a transmission device, held as a
/// number (sent low byte first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct Address(pub u64);

impl Address {
    /// The largest address (48 bits).
    pub const MAX: u64 = (1 << 48) - 1;

    /// The six bytes as sent (low byte first).
    pub const fn to_wire(self) -> [u8; 6] {
        let b = self.0.to_le_bytes();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// The address in six bytes as sent.
    pub const fn from_wire(b: [u8; 6]) -> Self {
        Self(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], 0, 0,
        ]))
    }
}

/// A time tag: second, minute, hour, day, month, year − 2000 (one byte
/// each, in that order on the wire; 8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct TimeTag {
    /// 2000..=2099.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

impl TimeTag {
    /// The six bytes as sent.
    ///
    /// # Errors
    /// [`FrameError::BadTime`] when a field is out of range.
    pub fn to_wire(self) -> Result<[u8; 6], FrameError> {
        if !self.valid() {
            return Err(FrameError::BadTime);
        }
        // In range: the year is 2000..=2099, so the difference fits a byte.
        let y = (self.year - 2000) as u8;
        Ok([self.second, self.minute, self.hour, self.day, self.month, y])
    }

    /// The time tag in six bytes as sent.
    ///
    /// # Errors
    /// [`FrameError::BadTime`] when a field is out of range.
    pub fn from_wire(b: [u8; 6]) -> Result<Self, FrameError> {
        let t = Self {
            second: b[0],
            minute: b[1],
            hour: b[2],
            day: b[3],
            month: b[4],
            year: 2000 + u16::from(b[5]),
        };
        if t.valid() {
            Ok(t)
        } else {
            Err(FrameError::BadTime)
        }
    }

    fn valid(&self) -> bool {
        (2000..=2099).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// The UTC calendar time of `ms` since the Unix epoch (years before
    /// 2000 or after 2099 are clamped into range).
    pub fn from_unix_ms(ms: u64) -> Self {
        let secs = ms / 1000;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, month, day) = crate::civil::civil_from_days(days as i64);
        let year = y.clamp(2000, 2099) as u16;
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: ((rem / 60) % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Milliseconds since the Unix epoch of this UTC calendar time.
    pub fn to_unix_ms(self) -> u64 {
        let days = crate::civil::days_from_civil(i64::from(self.year), self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        (secs.max(0) as u64) * 1000
    }
}

/// The control unit's command byte (table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// 1: a control command (clock sync, roll call, initialise).
    Control,
    /// 2: data sent (fire alarms, running states).
    SendData,
    /// 3: confirms a control command or data sent (same serial).
    Confirm,
    /// 4: a request (query).
    Request,
    /// 5: the response to a request (same serial).
    Response,
    /// 6: denies a control command or data sent.
    Deny,
    /// 0, 7..=255: reserved or user-defined.
    Other(u8),
}

impl Command {
    /// The byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::Control => 1,
            Self::SendData => 2,
            Self::Confirm => 3,
            Self::Request => 4,
            Self::Response => 5,
            Self::Deny => 6,
            Self::Other(b) => b,
        }
    }

    /// The command of a byte.
    pub const fn from_byte(b: u8) -> Self {
        match b {
            1 => Self::Control,
            2 => Self::SendData,
            3 => Self::Confirm,
            4 => Self::Request,
            5 => Self::Response,
            6 => Self::Deny,
            b => Self::Other(b),
        }
    }
}

/// The control unit of a frame, without the data length (taken from the
/// data unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Business serial number: a sender numbers its new frames; a confirm,
    /// deny or response carries the serial of the frame it answers.
    pub serial: u16,
    /// Major and user version.
    pub version: [u8; 2],
    /// When the frame was sent.
    pub time: TimeTag,
    /// Who sends it.
    pub source: Address,
    /// Who it is for.
    pub destination: Address,
    /// What it is.
    pub command: Command,
}

/// A decoded frame; its data unit borrows the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The control unit.
    pub header: Header,
    /// The application data unit (empty for confirm and deny).
    pub data: &'a [u8],
}

/// The checksum: the sum, mod 256, of `bytes`.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

/// Writes the frame of `header` and `data` into `out`; returns its length.
///
/// # Errors
/// [`FrameError::TooLong`], [`FrameError::BufferTooSmall`],
/// [`FrameError::BadTime`].
pub fn encode(header: &Header, data: &[u8], out: &mut [u8]) -> Result<usize, FrameError> {
    if data.len() > MAX_DATA {
        return Err(FrameError::TooLong(data.len()));
    }
    let len = HEAD_LEN + data.len() + TAIL_LEN;
    if out.len() < len {
        return Err(FrameError::BufferTooSmall(len));
    }
    out[0..2].copy_from_slice(&START);
    out[2..4].copy_from_slice(&header.serial.to_le_bytes());
    out[4..6].copy_from_slice(&header.version);
    out[6..12].copy_from_slice(&header.time.to_wire()?);
    out[12..18].copy_from_slice(&header.source.to_wire());
    out[18..24].copy_from_slice(&header.destination.to_wire());
    // At most MAX_DATA (checked above): fits two bytes.
    out[24..26].copy_from_slice(&(data.len() as u16).to_le_bytes());
    out[26] = header.command.to_byte();
    out[HEAD_LEN..HEAD_LEN + data.len()].copy_from_slice(data);
    let end = HEAD_LEN + data.len();
    out[end] = checksum(&out[2..end]);
    out[end + 1..end + 3].copy_from_slice(&END);
    Ok(len)
}

/// Reads the frame at the front of `buf`; returns it and how many bytes
/// it took.
///
/// # Errors
/// [`FrameError::Incomplete`] when more bytes are needed (keep them and
/// read on); any other error when the bytes at the front are not a frame
/// (drop one byte and look for the next `@@`, see [`find_start`]).
pub fn decode(buf: &[u8]) -> Result<(Frame<'_>, usize), FrameError> {
    if buf.len() < 2 {
        if buf.first().is_some_and(|b| *b != START[0]) {
            return Err(FrameError::NoStart);
        }
        return Err(FrameError::Incomplete {
            needed: HEAD_LEN + TAIL_LEN - buf.len(),
        });
    }
    if buf[0..2] != START {
        return Err(FrameError::NoStart);
    }
    if buf.len() < HEAD_LEN {
        return Err(FrameError::Incomplete {
            needed: HEAD_LEN + TAIL_LEN - buf.len(),
        });
    }
    let n = usize::from(u16::from_le_bytes([buf[24], buf[25]]));
    if n > MAX_DATA {
        return Err(FrameError::TooLong(n));
    }
    let len = HEAD_LEN + n + TAIL_LEN;
    if buf.len() < len {
        return Err(FrameError::Incomplete {
            needed: len - buf.len(),
        });
    }
    let end = HEAD_LEN + n;
    if buf[end + 1..end + 3] != END {
        return Err(FrameError::NoEnd);
    }
    let computed = checksum(&buf[2..end]);
    if computed != buf[end] {
        return Err(FrameError::Checksum {
            found: buf[end],
            computed,
        });
    }
    let six = |at: usize| -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&buf[at..at + 6]);
        a
    };
    let header = Header {
        serial: u16::from_le_bytes([buf[2], buf[3]]),
        version: [buf[4], buf[5]],
        time: TimeTag::from_wire(six(6))?,
        source: Address::from_wire(six(12)),
        destination: Address::from_wire(six(18)),
        command: Command::from_byte(buf[26]),
    };
    Ok((
        Frame {
            header,
            data: &buf[HEAD_LEN..end],
        },
        len,
    ))
}

/// Where the next `@@` starts in `buf` after its first byte (how many
/// bytes to drop after a malformed frame); `buf.len()` when none does,
/// except that a trailing `@` is kept.
pub fn find_start(buf: &[u8]) -> usize {
    (1..buf.len())
        .find(|&i| buf[i] == START[0] && buf.get(i + 1).is_none_or(|b| *b == START[1]))
        .unwrap_or(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            serial: 0x0102,
            version: VERSION,
            time: TimeTag {
                year: 2026,
                month: 12,
                day: 1,
                hour: 15,
                minute: 4,
                second: 5,
            },
            source: Address(0x0000_0203_0405),
            destination: Address(0x0A0B_0C0D_0E0F),
            command: Command::SendData,
        }
    }

    #[test]
    fn encode_then_decode_gives_the_frame_back() {
        let mut out = [0u8; 64];
        let n = encode(&header(), &[1, 2, 3], &mut out).expect("encode");
        assert_eq!(n, 33);
        let (f, used) = decode(&out[..n]).expect("decode");
        assert_eq!(used, n);
        assert_eq!(f.header, header());
        assert_eq!(f.data, &[1, 2, 3]);
        // Serial and addresses go low byte first.
        assert_eq!(&out[2..4], &[0x02, 0x01]);
        assert_eq!(&out[12..18], &[0x05, 0x04, 0x03, 0x02, 0x00, 0x00]);
    }

    #[test]
    fn decode_partly_received_frame_asks_for_more() {
        let mut out = [0u8; 64];
        let n = encode(&header(), &[9; 5], &mut out).expect("encode");
        for cut in 0..n {
            match decode(&out[..cut]) {
                Err(FrameError::Incomplete { needed }) => assert!(needed > 0),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_error() {
        let mut out = [0u8; 64];
        let n = encode(&header(), &[7, 7], &mut out).expect("encode");
        out[27] ^= 0x10;
        assert!(matches!(
            decode(&out[..n]),
            Err(FrameError::Checksum { .. })
        ));
    }

    #[test]
    fn find_start_skips_garbage() {
        assert_eq!(find_start(b"xx@@"), 2);
        assert_eq!(find_start(b"@x@"), 2);
        assert_eq!(find_start(b"@xyz"), 4);
    }

    #[test]
    fn unix_time_round_trips_through_a_time_tag() {
        // 2026-12-01T15:04:05Z
        let ms = 1_796_137_445_000;
        let t = TimeTag::from_unix_ms(ms);
        assert_eq!((t.year, t.month, t.day), (2026, 12, 1));
        assert_eq!((t.hour, t.minute, t.second), (15, 4, 5));
        assert_eq!(t.to_unix_ms(), ms);
    }
}
