//! # GridSense Modbus source
//!
//! Polls wired devices (RS-485 RTU and Modbus TCP) by their profiles'
//! register maps and turns replies into [`ModbusEvent`]s; drives outputs
//! (lock relays, gas valves) on request and confirms by read-back. It knows
//! the gateway only through what it hands over: events out, write requests
//! in. See `docs/modbus.md`.
//!
//! Layout, in the order a poll flows:
//!
//! - [`config`]: the `[modbus]` section, and [`validate`] against the profiles;
//! - [`plan`]: what to read, per device (register blocks, decoding);
//! - [`scheduler`]: when, and the back-off of failing devices;
//! - [`poller`]: the task per line, over a [`transport::Transport`]:
//!   - [`rtu`]: RS-485, our own framing in [`frame`], line [`timing`]
//!     (character time, 3.5-character gap) shared with `modbus-lab`;
//!   - [`tcp`]: Modbus TCP (tokio-modbus);
//! - [`event`]: what the source reports and the write requests it takes;
//! - [`stats`]: per-device counters;
//! - [`source`]: builds and runs the lines;
//! - [`scan`]: finds the slaves on a line (`gridsense modbus scan`).

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
pub mod timing;
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
pub use timing::LineTiming;
pub use validate::ConfigError;
