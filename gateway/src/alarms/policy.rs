//! `[alarms]`: the site's alarm policy.

use protocol::Name;
use serde::Deserialize;

/// How alarms are confirmed and which devices are in maintenance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmPolicy {
    /// Seconds a single smoke detector's pre-alarm waits for confirmation
    /// (a second detector in the room or fire zone, a heat detector or a
    /// manual call point) before the timeout confirms it.
    #[serde(default = "default_confirm")]
    pub confirm_timeout_s: u64,
    /// Fire zones (or site nodes) where one detector is enough: "alarm at once".
    #[serde(default)]
    pub immediate_zones: Vec<Name>,
    /// Alarm events from one detector within `chatter_window_s` that make it chattering.
    #[serde(default = "default_chatter")]
    pub chatter_events: usize,
    /// The chatter window in seconds.
    #[serde(default = "default_chatter_window")]
    pub chatter_window_s: u64,
    /// Devices, site nodes or fire zones in maintenance at start: their
    /// events are recorded as test alarms, with no ticket and no linkage.
    /// These have no expiry; windows set through the API do.
    #[serde(default)]
    pub maintenance: Vec<Name>,
    /// The longest maintenance window the API accepts, in hours: test mode
    /// is never left on by forgetting it.
    #[serde(default = "default_max_maintenance")]
    pub max_maintenance_h: u64,
}

impl Default for AlarmPolicy {
    fn default() -> Self {
        Self {
            confirm_timeout_s: default_confirm(),
            immediate_zones: Vec::new(),
            chatter_events: default_chatter(),
            chatter_window_s: default_chatter_window(),
            maintenance: Vec::new(),
            max_maintenance_h: default_max_maintenance(),
        }
    }
}

const fn default_confirm() -> u64 {
    120
}
const fn default_chatter() -> usize {
    4
}
const fn default_chatter_window() -> u64 {
    60
}
const fn default_max_maintenance() -> u64 {
    24
}
