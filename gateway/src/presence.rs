//! Presence: each device's availability, from its own state reports (the
//! retained `state` topic and its last will), from its traffic, and from
//! heartbeat supervision (silent for `MISSED_HEARTBEATS` intervals →
//! offline). A last will is an outage only once `[presence] offline_grace_s`
//! passed without a reconnect; repeated drops make one `unstable-link`
//! signal ([`link`]); wills of clients the broker refused are not drops. Changes are stored, so they survive a restart, and published
//! retained on `gs/v1/site/{site}/device/{id}/availability` for integrators.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::feed::Availability;
use protocol::{DeviceId, Feed, Name, Status};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::{Outgoing, Publisher};
use crate::clock::SharedClock;
use crate::message::{Body, Ingested};
use crate::registry::{Profiles, RegistryCell};
use crate::store::StoreHandle;

pub mod link;

pub use link::{LinkChange, Links, PresenceSection, Refused};

/// Heartbeat intervals a device may miss before it is offline.
pub const MISSED_HEARTBEATS: u64 = 3;

/// One device's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Online or offline.
    pub status: Status,
    /// Since when.
    pub since_ms: u64,
}

/// A change of availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The device.
    pub device: DeviceId,
    /// Its new status.
    pub status: Status,
    /// When.
    pub at_ms: u64,
    /// Why: `connected`, `last-will`, `polls-failed`, `heartbeat-missed`, `traffic` or
    /// `restored` (republished at start); `unstable-link` or `link-stable`
    /// for link signals.
    pub reason: &'static str,
    /// What changed: availability, or the link's stability.
    pub signal: Signal,
}

/// What a [`Change`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Online or offline (`status`).
    Availability,
    /// The link dropped too often within the window.
    UnstableLink,
    /// The link held long enough after being unstable.
    LinkStable,
    /// The node (re)connected: its online state after a drop, an outage or
    /// the gateway's own start, not a heartbeat. Linkage repeats at once
    /// what the node has not acknowledged.
    Connected,
}

/// The availability of every device (pure state; the task is [`run`]).
#[derive(Debug, Default)]
pub struct Presence {
    entries: HashMap<DeviceId, Entry>,
    links: Links,
    polled: HashSet<DeviceId>,
    /// Devices whose online state this process has seen.
    heard: HashSet<DeviceId>,
}

impl Presence {
    /// Starts from the stored availability.
    pub fn from_stored(entries: impl IntoIterator<Item = (DeviceId, Entry)>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
            links: Links::default(),
            polled: HashSet::new(),
            heard: HashSet::new(),
        }
    }

    /// Devices polled by the gateway (Modbus): their offline report is the
    /// poller's own verdict after failed polls, not a last will, so it takes
    /// effect at once.
    #[must_use]
    pub fn with_polled(mut self, devices: impl IntoIterator<Item = DeviceId>) -> Self {
        self.polled.extend(devices);
        self
    }

    /// Uses `cfg` for grace periods and link stability.
    #[must_use]
    pub fn with_config(mut self, cfg: PresenceSection) -> Self {
        self.links.configure(cfg);
        self
    }

    /// Link supervision (blips counted, unstable devices).
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Devices whose `unstable-link` fault was open at a restart: their
    /// link must hold again before it clears.
    pub fn resume_unstable(&mut self, devices: impl IntoIterator<Item = DeviceId>, at: u64) {
        for d in devices {
            self.links.resume_unstable(d, at);
        }
    }

    /// Starts from the store's presence rows.
    pub fn from_rows(rows: Vec<crate::store::PresenceRow>) -> Self {
        Self::from_stored(rows.into_iter().filter_map(|p| {
            Some((
                DeviceId::new(&p.device).ok()?,
                Entry {
                    status: p.status,
                    since_ms: p.at_ms,
                },
            ))
        }))
    }

    /// Every device's availability.
    pub fn entries(&self) -> impl Iterator<Item = (&DeviceId, &Entry)> {
        self.entries.iter()
    }

    /// The status of `device`, if known.
    pub fn get(&self, device: &DeviceId) -> Option<Entry> {
        self.entries.get(device).copied()
    }

    fn set(
        &mut self,
        device: &DeviceId,
        status: Status,
        at_ms: u64,
        reason: &'static str,
    ) -> Option<Change> {
        let entry = self.entries.get(device);
        if entry.is_some_and(|e| e.status == status) {
            return None;
        }
        self.entries.insert(
            device.clone(),
            Entry {
                status,
                since_ms: at_ms,
            },
        );
        Some(Change {
            device: device.clone(),
            status,
            at_ms,
            reason,
            signal: Signal::Availability,
        })
    }

    /// A state report from the node (`online` on connect, `offline` as last
    /// will). A last will starts the grace period; it is an outage only if
    /// the device is not back by its end (see [`Presence::sweep`]).
    pub fn on_state(&mut self, device: &DeviceId, status: Status, at_ms: u64) -> Vec<Change> {
        match status {
            Status::Online => {
                let blip = self.links.on_back(device);
                if blip {
                    tracing::debug!(%device, "link blip: back inside the grace period");
                }
                // A repeated online state (a heartbeat) is no return.
                let away = self
                    .entries
                    .get(device)
                    .is_some_and(|e| e.status == Status::Offline);
                if blip || away {
                    self.links.on_connected(device, at_ms);
                }
                let first = !self.heard.contains(device) && self.heard.insert(device.clone());
                let mut out: Vec<Change> = self
                    .set(device, status, at_ms, "connected")
                    .into_iter()
                    .collect();
                if blip || away || first {
                    out.push(Change {
                        device: device.clone(),
                        status,
                        at_ms,
                        reason: "connected",
                        signal: Signal::Connected,
                    });
                }
                out
            }
            Status::Offline if self.polled.contains(device) => self
                .set(device, status, at_ms, "polls-failed")
                .into_iter()
                .collect(),
            Status::Offline => {
                if self
                    .entries
                    .get(device)
                    .is_some_and(|e| e.status == Status::Offline)
                {
                    return Vec::new();
                }
                self.links
                    .on_will(device, at_ms)
                    .map(|l| link_change(device, l))
                    .into_iter()
                    .collect()
            }
        }
    }

    /// Supervision: devices silent too long go offline, devices heard from
    /// since they went offline come back. `heartbeat_ms` gives each device's interval.
    pub fn sweep(
        &mut self,
        now_ms: u64,
        last_seen: &HashMap<DeviceId, u64>,
        heartbeat_ms: impl Fn(&DeviceId) -> Option<u64>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        // Traffic after a will is a reconnect: a blip.
        for (device, seen) in last_seen {
            if self.pending_before(device, *seen) {
                self.links.on_back(device);
            }
        }
        for (device, at) in self.links.overdue(now_ms) {
            changes.extend(self.set(&device, Status::Offline, at, "last-will"));
        }
        for (device, seen) in last_seen {
            if self.links.is_pending(device) {
                continue;
            }
            let Some(hb) = heartbeat_ms(device) else {
                continue;
            };
            let silent = now_ms.saturating_sub(*seen) > hb * MISSED_HEARTBEATS;
            let current = self.entries.get(device).map(|e| (e.status, e.since_ms));
            let change = match current {
                Some((Status::Online, _)) | None if silent => {
                    self.set(device, Status::Offline, now_ms, "heartbeat-missed")
                }
                // Heard from after it went offline: back.
                Some((Status::Offline, since)) if !silent && *seen > since => {
                    self.set(device, Status::Online, *seen, "traffic")
                }
                None => self.set(device, Status::Online, *seen, "traffic"),
                _ => None,
            };
            changes.extend(change);
        }
        let entries = &self.entries;
        let stable = self.links.stable(now_ms, |d| {
            entries.get(d).is_some_and(|e| e.status == Status::Online)
        });
        changes.extend(
            stable
                .iter()
                .map(|d| link_change(d, LinkChange::Stable(now_ms))),
        );
        changes
    }

    /// Whether the alarm stage should see `c`: not an outage of a device
    /// whose link is unstable (its open `unstable-link` fault covers the
    /// outages; it stays open while the device is away).
    pub fn raises_alarm(&self, c: &Change) -> bool {
        !(c.signal == Signal::Availability
            && c.status == Status::Offline
            && self.links.is_unstable(&c.device))
    }

    fn pending_before(&self, device: &DeviceId, seen: u64) -> bool {
        self.links.pending_since(device).is_some_and(|at| seen > at)
    }
}

fn link_change(device: &DeviceId, l: LinkChange) -> Change {
    let (signal, at_ms, reason) = match l {
        LinkChange::Unstable(at) => (Signal::UnstableLink, at, "unstable-link"),
        LinkChange::Stable(at) => (Signal::LinkStable, at, "link-stable"),
    };
    Change {
        device: device.clone(),
        status: match l {
            LinkChange::Unstable(_) => Status::Offline,
            LinkChange::Stable(_) => Status::Online,
        },
        at_ms,
        reason,
        signal,
    }
}

/// What the presence task needs.
#[derive(Debug)]
pub struct PresenceTask {
    /// Starting state.
    pub presence: Presence,
    /// The site, for the availability topic.
    pub site: Name,
    /// Devices and their profiles.
    pub registry: Arc<RegistryCell>,
    /// Profiles, for each device's heartbeat interval.
    pub profiles: Arc<Profiles>,
    /// Traffic timestamps from ingest.
    pub last_seen: Arc<LastSeen>,
    /// Where changes are stored.
    pub store: StoreHandle,
    /// Where changes are published.
    pub publisher: Publisher,
    /// The gateway's clock.
    pub clock: SharedClock,
    /// Changes also go to the alarm stage (offline detectors are faults).
    pub changes: mpsc::Sender<Change>,
    /// Users the broker refused lately: their wills are not drops.
    pub refused: Arc<Refused>,
    /// How often to sweep.
    pub sweep_every: Duration,
    /// Its heartbeat (a ticking stage: it sweeps every `sweep_every`).
    pub progress: Arc<crate::health::Progress>,
}

/// Runs presence until shutdown: state reports from `states`, a sweep every `sweep_every`.
pub async fn run(
    mut t: PresenceTask,
    mut states: mpsc::Receiver<Ingested>,
    shutdown: CancellationToken,
) {
    // The broker keeps retained messages in memory only: after a restart,
    // integrators get every stored availability again.
    for (device, e) in t.presence.entries() {
        publish_retained(
            &t,
            &Change {
                device: device.clone(),
                status: e.status,
                at_ms: e.since_ms,
                reason: "restored",
                signal: Signal::Availability,
            },
        );
    }
    let mut tick = tokio::time::interval(t.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let changes = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(msg) = states.recv() => match msg.body {
                Body::State(s) if s.status == Status::Offline
                    && t.refused.explains_will(&msg.device.id, msg.at_ms) =>
                {
                    tracing::debug!(device = %msg.device.id, "last will of a refused client: not a drop");
                    Vec::new()
                }
                Body::State(s) => t.presence.on_state(&msg.device.id, s.status, msg.at_ms),
                _ => Vec::new(),
            },
            _ = tick.tick() => sweep_off_the_runtime(&mut t).await,
        };
        t.progress.begin();
        for c in changes {
            publish(&t, &c).await;
        }
        t.progress.beat(states.len());
    }
}

/// One sweep, on the blocking pool: it visits every device (~10 ms at
/// 10,000), which on a runtime worker held back the tasks behind it.
async fn sweep_off_the_runtime(t: &mut PresenceTask) -> Vec<Change> {
    let (mut presence, now) = (std::mem::take(&mut t.presence), t.clock.now_ms());
    let (registry, profiles, seen) = (t.registry.get(), t.profiles.clone(), t.last_seen.clone());
    let heartbeat = move |d: &DeviceId| {
        registry
            .device(d)
            .map(|i| profiles.heartbeat_ms(&i.profile))
    };
    let swept = tokio::task::spawn_blocking(move || {
        let changes = presence.sweep(now, &seen.snapshot(), heartbeat);
        (presence, changes)
    });
    match swept.await {
        Ok((presence, changes)) => {
            t.presence = presence;
            changes
        }
        Err(e) => {
            tracing::error!(error = %e, "presence sweep panicked; presence starts over");
            Vec::new()
        }
    }
}

async fn publish(t: &PresenceTask, c: &Change) {
    if c.signal == Signal::Connected {
        let _ = t.changes.send(c.clone()).await;
        return;
    }
    if c.signal != Signal::Availability {
        tracing::warn!(device = %c.device, reason = c.reason, blips = t.presence.links().blips, "link");
        let _ = t.changes.send(c.clone()).await;
        return;
    }
    tracing::info!(device = %c.device, status = %c.status, reason = c.reason, "availability");
    if let Err(e) = t
        .store
        .set_presence(c.device.clone(), c.status, c.at_ms)
        .await
    {
        tracing::error!(error = %e, device = %c.device, "availability not stored");
    }
    publish_retained(t, c);
    if t.presence.raises_alarm(c) {
        let _ = t.changes.send(c.clone()).await;
    }
}

/// Publishes a device's availability, retained, for integrators.
fn publish_retained(t: &PresenceTask, c: &Change) {
    let payload = Availability {
        device: c.device.clone(),
        status: c.status,
        since: c.at_ms,
        reason: c.reason.to_string(),
    };
    // Device ids (32 characters) always fit topic ids (48): never `None`.
    if let Some(m) = Outgoing::feed(&t.site, Feed::Device, &c.device, &payload) {
        t.publisher.feed(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeviceId {
        DeviceId::new(s).expect("id")
    }

    #[test]
    fn last_will_and_reconnect_change_status_once() {
        let mut p = Presence::default();
        let d = id("smoke-1");
        let first: Vec<_> = p
            .on_state(&d, Status::Online, 10)
            .iter()
            .map(|c| c.signal)
            .collect();
        assert_eq!(
            first,
            [Signal::Availability, Signal::Connected],
            "online, and a connection linkage may answer"
        );
        assert!(
            p.on_state(&d, Status::Online, 20).is_empty(),
            "a heartbeat is no connection"
        );
        assert!(
            p.on_state(&d, Status::Offline, 30).is_empty(),
            "a will starts the grace period"
        );
        let none = HashMap::new();
        assert!(p.sweep(30_029, &none, |_| None).is_empty(), "inside it");
        let c = p.sweep(30_030, &none, |_| None);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].status, c[0].reason), (Status::Offline, "last-will"));
        assert_eq!(p.get(&d).map(|e| e.since_ms), Some(30));
        assert!(
            p.on_state(&d, Status::Offline, 40_000).is_empty(),
            "already offline"
        );
        let c = p.on_state(&d, Status::Online, 50_000);
        assert_eq!((c[0].status, c[0].reason), (Status::Online, "connected"));
    }

    #[test]
    fn twenty_drops_in_forty_seconds_are_blips_and_one_unstable_link() {
        let mut p = Presence::default();
        let d = id("smoke-1");
        p.on_state(&d, Status::Online, 0);
        let none = HashMap::new();
        let mut changes = Vec::new();
        for i in 0..20 {
            changes.extend(p.on_state(&d, Status::Offline, 1_000 + i * 2_000));
            changes.extend(p.sweep(1_500 + i * 2_000, &none, |_| None));
            changes.extend(p.on_state(&d, Status::Online, 2_000 + i * 2_000));
        }
        assert_eq!(p.links().blips, 20);
        let (connects, changes): (Vec<_>, Vec<_>) = changes
            .into_iter()
            .partition(|c| c.signal == Signal::Connected);
        assert_eq!(connects.len(), 20, "each return is a connection");
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].signal, Signal::UnstableLink);
        assert_eq!(p.get(&d).map(|e| e.status), Some(Status::Online));
        // An outage past the grace period while unstable: availability
        // changes, but the open unstable-link fault covers it.
        p.on_state(&d, Status::Offline, 40_000);
        let out = p.sweep(70_000, &none, |_| None);
        assert_eq!((out.len(), out[0].status), (1, Status::Offline));
        assert!(
            !p.raises_alarm(&out[0]),
            "no device-offline beside unstable-link"
        );
        let back = p.on_state(&d, Status::Online, 71_000);
        assert!(p.raises_alarm(&back[0]));
        assert!(
            p.sweep(71_000 + 299_999, &none, |_| None).is_empty(),
            "the hold counts from the return"
        );
        // Held for `stable_after_s` (300 s) after it came back: stable again.
        let c = p.sweep(71_000 + 300_000, &none, |_| None);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].signal, Signal::LinkStable);
    }

    #[test]
    fn traffic_after_a_will_is_a_reconnect() {
        let mut p = Presence::default();
        let d = id("smoke-1");
        p.on_state(&d, Status::Online, 0);
        p.on_state(&d, Status::Offline, 1_000);
        let seen = HashMap::from([(d.clone(), 2_000)]);
        assert!(p.sweep(60_000, &seen, |_| Some(60_000)).is_empty());
        assert_eq!(p.links().blips, 1);
    }

    #[test]
    fn missed_heartbeats_take_a_device_offline_and_traffic_brings_it_back() {
        let mut p = Presence::default();
        let d = id("smoke-1");
        p.on_state(&d, Status::Online, 0);
        let hb = |_: &DeviceId| Some(60_000);
        let mut seen = HashMap::from([(d.clone(), 1_000)]);
        assert!(p.sweep(180_000, &seen, hb).is_empty(), "within 3 intervals");
        let c = p.sweep(181_001, &seen, hb);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].status, c[0].reason),
            (Status::Offline, "heartbeat-missed")
        );
        seen.insert(d.clone(), 200_000);
        let c = p.sweep(200_500, &seen, hb);
        assert_eq!((c[0].status, c[0].reason), (Status::Online, "traffic"));
    }

    #[test]
    fn stored_state_survives_restart() {
        let d = id("lock-1");
        let p = Presence::from_stored([(
            d.clone(),
            Entry {
                status: Status::Offline,
                since_ms: 5,
            },
        )]);
        assert_eq!(p.get(&d).map(|e| e.status), Some(Status::Offline));
    }
}

/// When each device was last heard from (any message): ingest touches it,
/// and so does the access stage for a door's access events (`acc`, which
/// ingest does not see); presence's sweep reads it.
#[derive(Debug, Default)]
pub struct LastSeen(Mutex<HashMap<DeviceId, u64>>);

impl LastSeen {
    /// Records traffic from `device` at `at_ms`.
    pub fn touch(&self, device: &DeviceId, at_ms: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(device) {
            Some(t) => *t = (*t).max(at_ms),
            None => {
                map.insert(device.clone(), at_ms);
            }
        }
    }

    /// A copy of every entry.
    pub fn snapshot(&self) -> HashMap<DeviceId, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
