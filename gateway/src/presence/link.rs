//! Link supervision: a last will starts a grace period instead of an outage
//! (a reconnect inside it is a counted blip), a device that drops again and
//! again within a window has an unstable link (one fault for the episode,
//! over once the link has held for a while), and the wills of clients the
//! broker refused are not drops at all. Pure state; the presence task drives it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::DeviceId;
use serde::Deserialize;

/// `[presence]`: how availability is decided from last wills and reconnects.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PresenceSection {
    /// Seconds a device may stay away after its last will before it is
    /// offline (and a `device-offline` fault is raised). A reconnect inside
    /// it is a blip: counted, logged at debug, no alarm.
    #[serde(default = "default_grace")]
    pub offline_grace_s: u64,
    /// Drops (last wills) within `unstable_window_s` that make one
    /// `unstable-link` fault. At least 2.
    #[serde(default = "default_drops")]
    pub unstable_drops: u32,
    /// The window, in seconds, in which `unstable_drops` drops are counted.
    #[serde(default = "default_window")]
    pub unstable_window_s: u64,
    /// Seconds without a drop, connected, after which the link is stable
    /// again and the `unstable-link` fault clears.
    #[serde(default = "default_stable")]
    pub stable_after_s: u64,
}

const fn default_grace() -> u64 {
    30
}
const fn default_drops() -> u32 {
    5
}
const fn default_window() -> u64 {
    60
}
const fn default_stable() -> u64 {
    300
}

impl Default for PresenceSection {
    fn default() -> Self {
        Self {
            offline_grace_s: default_grace(),
            unstable_drops: default_drops(),
            unstable_window_s: default_window(),
            stable_after_s: default_stable(),
        }
    }
}

impl PresenceSection {
    /// Every problem of the section, each naming its field and the fix.
    ///
    /// # Errors
    /// The problems found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        if self.unstable_drops < 2 {
            errs.push(format!(
                "presence.unstable_drops: must be at least 2, got {}",
                self.unstable_drops
            ));
        }
        if self.unstable_window_s == 0 {
            errs.push("presence.unstable_window_s: must be at least 1".into());
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// What link supervision found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// The device's link is unstable (the drop that made it so, at ms).
    Unstable(u64),
    /// Stable again (at ms).
    Stable(u64),
}

/// Per-device link state.
#[derive(Debug, Default)]
pub struct Links {
    cfg: PresenceSection,
    /// Last will received, not yet an outage: device → will time.
    pending: HashMap<DeviceId, u64>,
    /// Recent drops per device, oldest first.
    drops: HashMap<DeviceId, VecDeque<u64>>,
    /// Devices with an unstable link → their last drop.
    unstable: HashMap<DeviceId, u64>,
    /// Reconnects inside the grace period.
    pub blips: u64,
}

impl Links {
    /// Link supervision by `cfg`.
    pub fn new(cfg: PresenceSection) -> Self {
        Self {
            cfg,
            ..Self::default()
        }
    }

    /// Uses `cfg` from now on, keeping the state.
    pub fn configure(&mut self, cfg: PresenceSection) {
        self.cfg = cfg;
    }

    /// The settings in force.
    pub fn config(&self) -> PresenceSection {
        self.cfg
    }

    /// Whether `device` is inside its grace period.
    pub fn is_pending(&self, device: &DeviceId) -> bool {
        self.pending.contains_key(device)
    }

    /// When `device`'s pending last will came, if inside its grace period.
    pub fn pending_since(&self, device: &DeviceId) -> Option<u64> {
        self.pending.get(device).copied()
    }

    /// Whether `device`'s link is unstable.
    pub fn is_unstable(&self, device: &DeviceId) -> bool {
        self.unstable.contains_key(device)
    }

    /// Treats `device` as unstable from `at` (an `unstable-link` fault open
    /// before a restart), so it clears once the link holds.
    pub fn resume_unstable(&mut self, device: DeviceId, at: u64) {
        self.unstable.insert(device, at);
    }

    /// A last will at `at`: the grace period starts; a drop is counted.
    pub fn on_will(&mut self, device: &DeviceId, at: u64) -> Option<LinkChange> {
        self.pending.entry(device.clone()).or_insert(at);
        if let Some(last) = self.unstable.get_mut(device) {
            *last = (*last).max(at);
            return None;
        }
        let window = self.cfg.unstable_window_s * 1_000;
        let drops = self.drops.entry(device.clone()).or_default();
        drops.push_back(at);
        while drops
            .front()
            .is_some_and(|t| at.saturating_sub(*t) > window)
        {
            drops.pop_front();
        }
        if drops.len() < self.cfg.unstable_drops.max(2) as usize {
            return None;
        }
        self.drops.remove(device);
        self.unstable.insert(device.clone(), at);
        Some(LinkChange::Unstable(at))
    }

    /// The device reconnected at `at`: an unstable link's hold is counted
    /// from its return, not from its last drop.
    pub fn on_connected(&mut self, device: &DeviceId, at: u64) {
        if let Some(last) = self.unstable.get_mut(device) {
            *last = (*last).max(at);
        }
    }

    /// The device is back (its online state or traffic). True if it was
    /// inside its grace period: a blip, not an outage.
    pub fn on_back(&mut self, device: &DeviceId) -> bool {
        let blip = self.pending.remove(device).is_some();
        if blip {
            self.blips += 1;
        }
        blip
    }

    /// Devices whose grace period ended by `now`, with their will's time.
    pub fn overdue(&mut self, now: u64) -> Vec<(DeviceId, u64)> {
        let grace = self.cfg.offline_grace_s * 1_000;
        let due: Vec<(DeviceId, u64)> = self
            .pending
            .iter()
            .filter(|(_, at)| now.saturating_sub(**at) >= grace)
            .map(|(d, at)| (d.clone(), *at))
            .collect();
        for (d, _) in &due {
            self.pending.remove(d);
        }
        due
    }

    /// Unstable devices whose link held (connected, no drop) for
    /// `stable_after_s` by `now`; `online` tells which are connected.
    pub fn stable(&mut self, now: u64, online: impl Fn(&DeviceId) -> bool) -> Vec<DeviceId> {
        let hold = self.cfg.stable_after_s * 1_000;
        let done: Vec<DeviceId> = self
            .unstable
            .iter()
            .filter(|(d, last)| {
                now.saturating_sub(**last) >= hold && !self.pending.contains_key(*d) && online(d)
            })
            .map(|(d, _)| d.clone())
            .collect();
        for d in &done {
            self.unstable.remove(d);
        }
        done
    }
}

/// How long after a refusal a will of the refused user is taken as the
/// refusal's consequence, not a drop.
pub const REFUSAL_SHADOW_MS: u64 = 10_000;

/// Users the broker refused lately (a topic it may not use: it is then
/// disconnected, and its last will published). The broker's refusal hook
/// marks them; presence reads them so a refused client's disconnects are
/// never outages of the device whose credentials it used.
#[derive(Debug, Default)]
pub struct Refused {
    at: Mutex<HashMap<String, u64>>,
    wills: AtomicU64,
}

impl Refused {
    /// `username` was refused at `now`.
    pub fn mark(&self, username: &str, now: u64) {
        let mut m = self.at.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: forget old marks once the map grows.
        if m.len() >= 4_096 {
            m.retain(|_, t| now.saturating_sub(*t) <= REFUSAL_SHADOW_MS);
        }
        m.insert(username.to_string(), now);
    }

    /// Whether a last will of `device` at `at` follows a refusal; counted if so.
    pub fn explains_will(&self, device: &DeviceId, at: u64) -> bool {
        let m = self.at.lock().unwrap_or_else(|e| e.into_inner());
        let hit = m
            .get(device.as_str())
            .is_some_and(|t| at.saturating_sub(*t) <= REFUSAL_SHADOW_MS);
        if hit {
            self.wills.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Last wills taken as consequences of refusals.
    pub fn wills(&self) -> u64 {
        self.wills.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeviceId {
        DeviceId::new(s).expect("id")
    }

    fn cfg() -> PresenceSection {
        PresenceSection {
            offline_grace_s: 30,
            unstable_drops: 5,
            unstable_window_s: 60,
            stable_after_s: 300,
        }
    }

    #[test]
    fn a_reconnect_inside_the_grace_period_is_a_blip() {
        let mut l = Links::new(cfg());
        let d = id("smoke-1");
        assert_eq!(l.on_will(&d, 1_000), None);
        assert!(
            l.overdue(30_999).is_empty(),
            "still inside the grace period"
        );
        assert!(l.on_back(&d));
        assert_eq!(l.blips, 1);
        assert!(l.overdue(100_000).is_empty(), "back: no outage");
        l.on_will(&d, 200_000);
        assert_eq!(
            l.overdue(230_000),
            vec![(d, 200_000)],
            "gone for the grace period"
        );
    }

    #[test]
    fn drops_within_the_window_make_one_unstable_link_until_it_holds() {
        let mut l = Links::new(cfg());
        let d = id("smoke-1");
        let mut found = Vec::new();
        for i in 0..20 {
            found.extend(l.on_will(&d, i * 2_000));
            l.on_back(&d);
        }
        assert_eq!(
            found,
            vec![LinkChange::Unstable(8_000)],
            "the fifth drop, once"
        );
        assert!(
            l.stable(38_000 + 299_999, |_| true).is_empty(),
            "not held long enough"
        );
        assert!(l.stable(400_000, |_| false).is_empty(), "not connected");
        assert_eq!(l.stable(400_000, |_| true), vec![d.clone()]);
        assert!(!l.is_unstable(&d));
    }

    #[test]
    fn spread_out_drops_are_not_unstable() {
        let mut l = Links::new(cfg());
        let d = id("smoke-1");
        for i in 0..10 {
            assert_eq!(l.on_will(&d, i * 61_000), None);
            l.on_back(&d);
        }
    }

    #[test]
    fn a_will_right_after_a_refusal_is_explained_by_it() {
        let r = Refused::default();
        let (d, other) = (id("smoke-1"), id("smoke-2"));
        r.mark("smoke-1", 5_000);
        assert!(r.explains_will(&d, 5_000));
        assert!(!r.explains_will(&other, 5_000));
        assert!(!r.explains_will(&d, 5_000 + REFUSAL_SHADOW_MS + 1));
        assert_eq!(r.wills(), 1);
    }

    #[test]
    fn section_defaults_and_validation() {
        let s: PresenceSection = toml::from_str("").expect("defaults");
        assert_eq!(s, PresenceSection::default());
        assert_eq!(s.offline_grace_s, 30);
        let bad: PresenceSection =
            toml::from_str("unstable_drops = 1\nunstable_window_s = 0").expect("parses");
        assert_eq!(bad.validate().expect_err("bad").len(), 2);
        assert!(
            toml::from_str::<PresenceSection>("grace = 3").is_err(),
            "unknown key"
        );
    }
}
