//! `[modbus]`: the lines the gateway polls and the devices on each.
//!
//! ```toml
//! [[modbus.lines]]
//! rtu = { path = "/dev/ttyUSB0", baud = 19200, parity = "even" }
//! timeout_ms = 200
//! [[modbus.lines.devices]]
//! device = "gas-b1-01"
//! unit_id = 1
//! profile = "gas-modbus"
//!
//! [[modbus.lines]]
//! tcp = { addr = "192.168.10.20:502" }
//! [[modbus.lines.devices]]
//! device = "lock-b1-gate"
//! unit_id = 1
//! profile = "lock"
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol::{DeviceId, KindName};
use serde::Deserialize;

use crate::timing::LineTiming;

/// The `[modbus]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusConfig {
    /// Buses and TCP endpoints, each polled by its own task.
    #[serde(default)]
    pub lines: Vec<LineConfig>,
}

/// One line: a serial bus or a TCP endpoint, and the devices reached through it.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawLine")]
pub struct LineConfig {
    /// How the line is reached.
    pub link: LinkConfig,
    /// How long a slave may take to answer, counted after the request and
    /// the expected reply have had time to cross the wire.
    pub timeout_ms: u32,
    /// Immediate retries of a failed request before the poll counts as failed.
    pub retries: u8,
    /// Back-off of a device whose polls fail.
    pub backoff: BackoffConfig,
    /// Consecutive failed polls after which a device is reported offline.
    pub offline_after: u32,
    /// Alarm registers are polled this many times per telemetry poll.
    pub alarm_poll_divisor: u32,
    /// After a timeout, how long a late reply may still arrive (default: 4 ×
    /// `timeout_ms`). A different request that could be confused with it is
    /// not sent to that slave before this has passed.
    pub late_window_ms: u32,
    /// The devices on the line.
    pub devices: Vec<DeviceConfig>,
}

/// How a line is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkConfig {
    /// Modbus TCP (a device or a TCP-to-RTU gateway).
    Tcp {
        /// Host and port (usually 502).
        addr: SocketAddr,
    },
    /// Modbus RTU on a serial port (RS-485).
    Rtu(RtuLink),
}

/// `tcp = { ... }` on a line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpLink {
    /// Host and port.
    pub addr: SocketAddr,
}

/// `rtu = { ... }` on a line: the serial port and its framing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtuLink {
    /// Serial device (`/dev/ttyUSB0`, `/dev/ttyAMA0`).
    pub path: PathBuf,
    /// Bits per second.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Parity bit.
    #[serde(default)]
    pub parity: Parity,
    /// Data bits per character.
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// Stop bits.
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
}

/// Serial parity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// No parity bit (then two stop bits, by the standard).
    None,
    /// Even parity: the Modbus default.
    #[default]
    Even,
    /// Odd parity.
    Odd,
}

impl RtuLink {
    /// The line's framing, from which its character time and inter-frame
    /// gap follow.
    #[must_use]
    pub fn timing(&self) -> LineTiming {
        LineTiming {
            baud: self.baud,
            data_bits: self.data_bits,
            parity: self.parity != Parity::None,
            stop_bits: self.stop_bits,
        }
    }
}

/// Exponential back-off of a failing device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// Wait after the first failed poll, in ms; doubles with each failure.
    #[serde(default = "default_backoff_initial")]
    pub initial_ms: u32,
    /// Longest wait between polls of a failing device, in ms.
    #[serde(default = "default_backoff_max")]
    pub max_ms: u32,
}

impl BackoffConfig {
    /// The wait after `failures` failed polls in a row: `initial_ms` after
    /// the first, doubling with each further failure, never more than
    /// `max_ms` (and nothing before a failure).
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let Some(doublings) = failures.checked_sub(1) else {
            return Duration::ZERO;
        };
        // 2^20 × any u32 fits in a u64; beyond that the cap has long won.
        let ms = u64::from(self.initial_ms)
            .saturating_mul(1 << doublings.min(20))
            .min(u64::from(self.max_ms));
        Duration::from_millis(ms)
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial_ms: default_backoff_initial(),
            max_ms: default_backoff_max(),
        }
    }
}

/// One device on a line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device's id in the registry and in every event.
    pub device: DeviceId,
    /// Its Modbus unit (slave) id: 1..=247 on a serial line, 0..=255 over TCP.
    pub unit_id: u8,
    /// The profile whose register map is polled.
    pub profile: KindName,
}

/// The file form of a line: exactly one of `tcp` or `rtu`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    /// `tcp = { addr = "host:port" }`.
    #[serde(default)]
    tcp: Option<TcpLink>,
    /// `rtu = { path = "/dev/ttyUSB0", baud = 19200, parity = "even" }`.
    #[serde(default)]
    rtu: Option<RtuLink>,
    #[serde(default = "default_timeout")]
    timeout_ms: u32,
    #[serde(default = "default_retries")]
    retries: u8,
    #[serde(default)]
    backoff: BackoffConfig,
    #[serde(default = "default_offline_after")]
    offline_after: u32,
    #[serde(default = "default_alarm_divisor")]
    alarm_poll_divisor: u32,
    #[serde(default)]
    late_window_ms: Option<u32>,
    #[serde(default)]
    devices: Vec<DeviceConfig>,
}

impl TryFrom<RawLine> for LineConfig {
    type Error = String;

    fn try_from(raw: RawLine) -> Result<Self, String> {
        let link = match (raw.tcp, raw.rtu) {
            (Some(t), None) => LinkConfig::Tcp { addr: t.addr },
            (None, Some(r)) => LinkConfig::Rtu(r),
            _ => return Err("a line needs exactly one of `tcp = {..}` or `rtu = {..}`".into()),
        };
        Ok(Self {
            link,
            timeout_ms: raw.timeout_ms,
            retries: raw.retries,
            backoff: raw.backoff,
            offline_after: raw.offline_after,
            alarm_poll_divisor: raw.alarm_poll_divisor,
            late_window_ms: raw
                .late_window_ms
                .unwrap_or(raw.timeout_ms.saturating_mul(4)),
            devices: raw.devices,
        })
    }
}

impl LineConfig {
    /// A line with every default, reaching `link`, with no devices.
    #[must_use]
    pub fn new(link: LinkConfig) -> Self {
        Self {
            link,
            timeout_ms: default_timeout(),
            retries: default_retries(),
            backoff: BackoffConfig::default(),
            offline_after: default_offline_after(),
            alarm_poll_divisor: default_alarm_divisor(),
            late_window_ms: default_timeout() * 4,
            devices: Vec::new(),
        }
    }
}

const fn default_baud() -> u32 {
    19_200
}
const fn default_data_bits() -> u8 {
    8
}
const fn default_stop_bits() -> u8 {
    1
}
const fn default_timeout() -> u32 {
    200
}
const fn default_retries() -> u8 {
    1
}
const fn default_offline_after() -> u32 {
    3
}
const fn default_alarm_divisor() -> u32 {
    4
}
const fn default_backoff_initial() -> u32 {
    500
}
const fn default_backoff_max() -> u32 {
    30_000
}
