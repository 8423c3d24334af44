//! `gridsense-demo simulate month`: a month of a 1,000-node compound lived
//! in minutes by the real pipeline.
//!
//! The production gateway (`gridsense run`, a child process) runs on a
//! virtual clock ([`gateway::clock::WarpControl`], shared through a file);
//! the fleet simulator's nodes (the real firmware state machines, one MQTT
//! connection each) and the district ([`district`]) read the same clock.
//! The driver here runs the clock fast while nothing happens and slows it
//! around everything that does (a stimulus, a deadline, a responder's
//! answer, a fire's confirmation at real time), and never lets it pass the
//! next thing due before it is done. The figures are read afterwards from
//! the gateway's database and the district's records ([`report`]).
//!
//! - [`compound`]: layout, configuration, registry;
//! - [`plan`]: the month scenario file and its seeded timeline;
//! - [`district`]: the district platform and its responders;
//! - [`proxy`]: the uplink's line, cut for the outage;
//! - [`process`]: the gateway child process (SIGTERM, SIGKILL);
//! - [`actions`]: the guard room's and residents' API calls;
//! - [`report`], [`plots`]: the figures, `report.json`, `report.md`, SVG.

pub mod actions;
pub mod compound;
pub mod district;
mod driver;
pub mod plan;
pub mod plots;
pub mod process;
pub mod proxy;
pub mod report;
mod report_md;

use std::path::PathBuf;

pub use driver::run;

/// The month scenario shipped with the project.
pub const MONTH_TOML: &str = include_str!("../../../deploy/scenarios/month.toml");

/// The month starts at 2026-11-01 00:00 UTC (virtual).
pub const START_MS: u64 = 1_793_491_200_000;

/// What `simulate month` is asked.
#[derive(Debug, Clone)]
pub struct MonthOptions {
    /// Seed of every draw.
    pub seed: u64,
    /// Where the outputs go.
    pub out: PathBuf,
    /// Days (default: the scenario's).
    pub days: Option<f64>,
    /// Nodes (default: the scenario's).
    pub nodes: Option<usize>,
    /// The scenario file (default: the shipped `month.toml`).
    pub scenario: Option<PathBuf>,
    /// The `gridsense` binary (default: next to this one).
    pub gateway_bin: Option<PathBuf>,
    /// Override of the clock's fast rate.
    pub fast: Option<f64>,
}
