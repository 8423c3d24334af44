//! Rules on telemetry: duplicate suppression, rate limit, range check,
//! thresholds with hysteresis and debounce, deadband, and windowed
//! aggregates per building and grid cell. Pure and synchronous: the analysis
//! task feeds it and carries out what it returns.
//!
//! Thresholds come from device profiles (`[[fields.thresholds]]`) and from
//! `[[rules.thresholds]]` in the configuration, so a new rule needs no rebuild.

mod aggregate;
mod config;
mod field;

pub use aggregate::Aggregator;
pub use config::{RulesConfig, ThresholdRule};
pub use field::{Rules, RulesOutput, RulesStats};
