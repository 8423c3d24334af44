//! Modbus source: polls wired devices (RS-485 RTU and Modbus TCP) by their
//! profiles' register maps and turns replies into [`ModbusEvent`]s; drives
//! outputs (lock relays, gas valves) on request and confirms by read-back.
//!
//! Layout: [`config`] (the `[modbus]` section) and [`validate`] → [`plan`]
//! (what to read) → [`scheduler`] (when, and back-off) → [`poller`] (the task
//! per line) over a [`transport::Transport`]: [`rtu`] (own framing in
//! [`frame`]) or [`tcp`] (tokio-modbus). [`source`] wires it; [`scan`] finds
//! slaves on a line. See `docs/modbus.md`.

pub mod config;
pub mod event;
pub mod frame;
pub mod plan;
pub mod poller;
pub mod rtu;
pub mod scan;
pub mod scheduler;
pub mod source;
pub mod stats;
pub mod tcp;
pub mod transport;
pub mod validate;

#[cfg(test)]
mod tests;

pub use config::{
    BackoffConfig, DeviceConfig, LineConfig, LinkConfig, ModbusConfig, Parity, RtuLink,
};
pub use event::{FaultKind, ModbusEvent, WriteError, WriteRequest, WriteValue};
pub use source::ModbusSource;
pub use stats::{DeviceStats, StatsHandle};
pub use validate::ConfigError;
