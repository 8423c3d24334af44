//! `[rules]`: thresholds added by configuration, and rule limits.

use protocol::profile::Stage;
use protocol::{AlarmKind, FieldName, KindName};
use serde::Deserialize;

/// Rules configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Extra thresholds, beside the profiles' own.
    #[serde(default)]
    pub thresholds: Vec<ThresholdRule>,
    /// Consecutive readings past a threshold before it raises (debounce).
    #[serde(default = "default_debounce")]
    pub debounce_readings: u32,
    /// Most telemetry messages per second accepted from one device; the rest are dropped (counted).
    #[serde(default = "default_rate")]
    pub max_rate_per_device: f64,
    /// Seconds per aggregate window.
    #[serde(default = "default_window")]
    pub aggregate_window_s: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            thresholds: Vec::new(),
            debounce_readings: default_debounce(),
            max_rate_per_device: default_rate(),
            aggregate_window_s: default_window(),
        }
    }
}

const fn default_debounce() -> u32 {
    2
}
const fn default_rate() -> f64 {
    20.0
}
const fn default_window() -> u64 {
    60
}

/// A threshold on one field of every device of a profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRule {
    /// The profile (by name).
    pub profile: KindName,
    /// The field.
    pub field: FieldName,
    /// Raise above this.
    #[serde(default)]
    pub above: Option<f32>,
    /// Raise below this.
    #[serde(default)]
    pub below: Option<f32>,
    /// Clear only this far back past the limit.
    #[serde(default)]
    pub hysteresis: f32,
    /// The alarm raised.
    #[serde(default = "default_alarm")]
    pub alarm: AlarmKind,
    /// Pre-alarm or alarm.
    #[serde(default = "default_stage")]
    pub stage: Stage,
}

const fn default_alarm() -> AlarmKind {
    AlarmKind::Threshold
}
const fn default_stage() -> Stage {
    Stage::Alarm
}

impl ThresholdRule {
    /// Checks the rule against the profiles in force.
    ///
    /// # Errors
    /// What is wrong: unknown profile or field, or not exactly one of above/below.
    pub fn validate(&self, profiles: &crate::registry::Profiles) -> Result<(), String> {
        let p = profiles
            .get(&self.profile)
            .ok_or_else(|| format!("unknown profile `{}`", self.profile))?;
        if p.field(&self.field).is_none() {
            return Err(format!(
                "profile `{}` has no field `{}`",
                self.profile, self.field
            ));
        }
        if self.above.is_some() == self.below.is_some() {
            return Err("needs exactly one of `above` or `below`".into());
        }
        Ok(())
    }
}
