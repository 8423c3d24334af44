//! The seam between the poller and a wire: one request, one checked answer.
//!
//! Like tokio-modbus, an answer has two layers: the outer `Result` says
//! whether a valid reply came back at all ([`TransportError`]), the inner one
//! whether the device did what was asked or answered a Modbus [`Exception`].
//! "Device offline" and "device says illegal address" lead to different
//! actions, so they never share a type.

use std::future::Future;

use protocol::modbus::Table;

use crate::event::FaultKind;

/// One Modbus request, independent of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read `count` registers or bits of `table` from `address` (FC 1-4).
    Read {
        /// The table (gives the function code).
        table: Table,
        /// First address.
        address: u16,
        /// How many registers or bits.
        count: u16,
    },
    /// Write one coil (FC 5).
    WriteCoil {
        /// The coil.
        address: u16,
        /// On or off.
        value: bool,
    },
    /// Write one holding register (FC 6).
    WriteRegister {
        /// The register.
        address: u16,
        /// The value.
        value: u16,
    },
}

impl Op {
    /// The Modbus function code.
    #[must_use]
    pub const fn function(&self) -> u8 {
        match self {
            Self::Read { table, .. } => table.read_function(),
            Self::WriteCoil { .. } => 5,
            Self::WriteRegister { .. } => 6,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Registers read, or bits read as 0/1, exactly as many as asked.
    Words(Vec<u16>),
    /// The write was echoed back unchanged.
    Written,
}

/// A Modbus exception code sent by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception(pub u8);

/// No valid reply to a request.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing came back in time.
    #[error("timeout")]
    Timeout,
    /// A frame arrived with a bad CRC.
    #[error("bad CRC")]
    Crc,
    /// A frame arrived from another unit.
    #[error("reply from unit {got}")]
    WrongSlave {
        /// The unit that answered.
        got: u8,
    },
    /// The reply stopped early.
    #[error("short frame: {got} of {want} bytes")]
    ShortFrame {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// The reply does not fit the request.
    #[error("malformed reply: {0}")]
    Malformed(&'static str),
    /// Unexpected bytes around the reply.
    #[error("noise on the line")]
    Noise,
    /// The port or connection failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl TransportError {
    /// The fault this error is counted as.
    #[must_use]
    pub const fn kind(&self) -> FaultKind {
        match self {
            Self::Timeout => FaultKind::Timeout,
            Self::Crc => FaultKind::Crc,
            Self::WrongSlave { .. } => FaultKind::WrongSlave,
            Self::ShortFrame { .. } => FaultKind::ShortFrame,
            Self::Malformed(_) => FaultKind::Malformed,
            Self::Noise => FaultKind::Noise,
            Self::Io(_) => FaultKind::Io,
        }
    }
}

/// The two-layer result of one request.
pub type Outcome = Result<Result<Reply, Exception>, TransportError>;

/// Something that carries one request at a time to a unit and brings back a
/// checked answer: [`super::rtu::RtuTransport`], [`super::tcp::TcpTransport`],
/// or a mock in tests.
pub trait Transport: Send {
    /// Sends `op` to `unit` and waits for its answer (with the line's timeout).
    fn transact(&mut self, unit: u8, op: Op) -> impl Future<Output = Outcome> + Send;
}
