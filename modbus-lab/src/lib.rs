//! # GridSense Modbus lab
//!
//! Real Modbus peers for tests, benchmarks and the fleet simulator, with no
//! hardware:
//!
//! - [`bank`]: a register bank holding many simulated slaves whose values can
//!   be checked (`unit_id * 1000 + address`), with per-unit failure modes
//!   (dead, slow, exceptions), served through tokio-modbus;
//! - [`tcp`]: Modbus TCP slaves on `127.0.0.1`, port 0;
//! - [`line`](mod@line): an RS-485 line emulator: a relay between two pseudo-terminals
//!   that delivers each byte after its bit times on one shared half-duplex
//!   line, checks the master's inter-frame gap and injects [`fault`]s; its
//!   timing (character time, 3.5-character gap) is [`LineTiming`] of the
//!   `gridsense-modbus` crate, the one the gateway's RTU transport keeps;
//! - [`rtu`]: an RTU bus = line emulator + a tokio-modbus RTU server hosting
//!   every unit of a bank on the far side of the line.

pub mod bank;
pub mod fault;
pub mod line;
pub mod rtu;
pub mod tcp;

pub use bank::{Bank, expected_word};
pub use fault::{Fault, FaultRule};
pub use line::{LineEmulator, LineStats};
pub use modbus::timing::LineTiming;
pub use rtu::RtuBus;
pub use tcp::TcpSlaves;
