//! Maintenance (test mode): which devices, site subtrees and fire zones are
//! under test, until when, set by whom and why. The engine asks
//! [`Maintenance::covers`] for every new alarm; an alarm of a covered device
//! is a test alarm (recorded and published, no linkage, no ticket).
//!
//! A window names one target: a device id, a site node (covering every node
//! beneath it: a building covers its units, floors and rooms) or a fire zone.
//! Windows set through the API expire at their `until`, by the gateway's
//! clock; targets listed in `[alarms] maintenance` have no expiry.

use std::collections::{BTreeMap, BTreeSet};

use protocol::DeviceId;

use super::incident::Alarm;
use crate::registry::{DeviceInfo, Registry};
pub use crate::store::{Scope, Window};

/// What `target` names in `registry` (device first, then site node, then
/// fire zone); `None` when it names nothing.
pub fn scope_of(registry: &Registry, target: &str) -> Option<Scope> {
    if registry.device(target).is_some() {
        Some(Scope::Device)
    } else if registry.site_node(target).is_some() {
        Some(Scope::Site)
    } else if registry.in_fire_zone(target).next().is_some()
        || registry
            .site_nodes()
            .any(|n| n.fire_zone.as_ref().is_some_and(|z| z.as_str() == target))
    {
        Some(Scope::Zone)
    } else {
        None
    }
}

/// Why a maintenance request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintenanceError {
    /// The target is not a device, site node or fire zone.
    #[error("unknown target `{0}`: not a registered device, site node or fire zone")]
    UnknownTarget(String),
    /// A field of the request is missing or makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// A real fire or gas alarm is open in the target: test mode there would
    /// turn the next detectors' alarms into test alarms with no linkage.
    #[error(
        "`{target}` has an open {kind} alarm {alarm} (devices {devices}): reset it before maintenance"
    )]
    LifeSafety {
        /// The target asked for.
        target: String,
        /// The open alarm.
        alarm: String,
        /// Its kind.
        kind: String,
        /// Its devices inside the target.
        devices: String,
    },
    /// Nothing to end.
    #[error("`{0}` has no maintenance window in force")]
    NotInMaintenance(String),
}

/// The windows in force, and the targets in maintenance by configuration.
#[derive(Debug, Default)]
pub struct Maintenance {
    /// From `[alarms] maintenance`: no expiry.
    fixed: BTreeSet<String>,
    /// Set through the API, by target (one window per target).
    windows: BTreeMap<String, Window>,
}

impl Maintenance {
    /// Maintenance with the configured targets.
    pub fn new(fixed: impl IntoIterator<Item = String>) -> Self {
        Self {
            fixed: fixed.into_iter().collect(),
            windows: BTreeMap::new(),
        }
    }

    /// Puts a configured target in or out of maintenance (no expiry).
    pub fn set_fixed(&mut self, target: &str, on: bool) {
        if on {
            self.fixed.insert(target.to_string());
        } else {
            self.fixed.remove(target);
            self.windows.remove(target);
        }
    }

    /// Starts (or replaces) the window on its target; returns the one replaced.
    pub fn start(&mut self, w: Window) -> Option<Window> {
        self.windows.insert(w.target.clone(), w)
    }

    /// Ends the window on `target`; returns it.
    pub fn end(&mut self, target: &str) -> Option<Window> {
        self.windows.remove(target)
    }

    /// The window on `target` in force at `at`.
    pub fn window(&self, target: &str, at: u64) -> Option<&Window> {
        self.windows.get(target).filter(|w| w.in_force(at))
    }

    /// Windows in force at `at`, by target.
    pub fn in_force(&self, at: u64) -> impl Iterator<Item = &Window> {
        self.windows.values().filter(move |w| w.in_force(at))
    }

    /// Removes and returns the windows that ended by `now`.
    pub fn expire(&mut self, now: u64) -> Vec<Window> {
        let ended: Vec<String> = self
            .windows
            .values()
            .filter(|w| w.until <= now)
            .map(|w| w.target.clone())
            .collect();
        ended
            .iter()
            .filter_map(|t| self.windows.remove(t))
            .collect()
    }

    /// Whether `dev` is in maintenance at `at`: its id, its fire zone, its
    /// location or any node enclosing it is a target in force.
    pub fn covers(&self, dev: &DeviceInfo, at: u64) -> bool {
        names(dev).any(|n| self.fixed.contains(n) || self.window(n, at).is_some())
    }

    /// The first open real fire or gas alarm with a device that a window on
    /// `target` would cover (`device` looks a device up in the registry).
    pub fn conflict<'a, D>(
        target: &str,
        open: impl Iterator<Item = &'a Alarm>,
        device: impl Fn(&DeviceId) -> Option<D>,
    ) -> Option<MaintenanceError>
    where
        D: std::ops::Deref<Target = DeviceInfo>,
    {
        open.filter(|a| !a.feed.test && a.feed.kind.is_life_safety())
            .find_map(|a| {
                let inside: Vec<String> = a
                    .feed
                    .devices
                    .iter()
                    .filter(|d| device(d).is_some_and(|info| names(&info).any(|n| n == target)))
                    .map(ToString::to_string)
                    .collect();
                (!inside.is_empty()).then(|| MaintenanceError::LifeSafety {
                    target: target.to_string(),
                    alarm: a.feed.id.to_string(),
                    kind: a.feed.kind.to_string(),
                    devices: inside.join(", "),
                })
            })
    }
}

/// Every name a maintenance target may match for `dev`.
fn names(dev: &DeviceInfo) -> impl Iterator<Item = &str> {
    [
        Some(dev.id.as_str()),
        dev.fire_zone.as_ref().map(|z| z.as_str()),
    ]
    .into_iter()
    .flatten()
    .chain(std::iter::once(dev.location.as_str()))
    .chain(dev.ancestors.iter().map(|a| a.as_str()))
}
