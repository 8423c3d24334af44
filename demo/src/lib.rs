//! # GridSense demo
//!
//! The closed loop on one machine, and the district platform it talks to,
//! kept out of the production gateway: `gridsense` links no simulator,
//! firmware or lab crate; `gridsense-demo` links the gateway and the fleet
//! simulator.
//!
//! Layout:
//! - [`run`] (`closed_loop`): `gridsense-demo`, the gateway, a simulated
//!   compound and a simulated district platform, told as it happens;
//! - [`upstream_sim`]: the district platform simulator and a stand-in
//!   district broker (`gridsense-demo upstream-sim`), also used by tests;
//! - [`month`]: `gridsense-demo simulate month`, a month of the real
//!   gateway on a virtual clock, with its report;
//! - [`cli`]: the `gridsense-demo` command line.

pub mod cli;
mod closed_loop;
pub mod month;
pub mod upstream_sim;

pub use closed_loop::{DemoError, run};
