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
use crate::registry::{Profiles, Registry, RegistryCell};
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
    /// Each device's latest traffic (ms), merged from [`LastSeen::take`].
    seen: HashMap<DeviceId, u64>,
}

impl Presence {
    /// Starts from the stored availability.
    pub fn from_stored(entries: impl IntoIterator<Item = (DeviceId, Entry)>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
            links: Links::default(),
            polled: HashSet::new(),
            heard: HashSet::new(),
            seen: HashMap::new(),
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

    /// Takes every device stored online as heard from at `now_ms` (start-up):
    /// one that died while the gateway was down (its will died with the
    /// broker) goes offline once its heartbeats are missed, instead of
    /// staying online until it speaks. Traffic already recorded is kept.
    pub fn heard_at_start(&mut self, now_ms: u64) {
        for (device, e) in &self.entries {
            if e.status == Status::Online {
                self.seen.entry(device.clone()).or_insert(now_ms);
            }
        }
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
        fresh: &HashMap<DeviceId, u64>,
        heartbeat_ms: impl Fn(&DeviceId) -> Option<u64>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for (device, at) in fresh {
            let seen = record(&mut self.seen, device, *at);
            // Traffic after a will is a reconnect: a blip.
            if self.pending_before(device, seen) {
                self.links.on_back(device);
            }
        }
        for (device, at) in self.links.overdue(now_ms) {
            changes.extend(self.set(&device, Status::Offline, at, "last-will"));
        }
        let all = std::mem::take(&mut self.seen);
        for (device, seen) in &all {
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
        self.seen = all;
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
    /// The devices' heartbeat intervals, kept between sweeps.
    pub heartbeats: Heartbeats,
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
    t.presence.heard_at_start(t.clock.now_ms());
    let mut tick = tokio::time::interval(t.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let changes = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(msg) = states.recv() => on_report(&mut t, msg),
            _ = tick.tick() => {
                // Ingest records a state report's traffic after queueing the
                // report: every report behind the traffic taken here is
                // applied before the sweep reads it, so a node that just
                // connected is back as `connected`, not as `traffic`.
                let seen = t.last_seen.take();
                let mut changes = Vec::new();
                while let Ok(msg) = states.try_recv() {
                    changes.extend(on_report(&mut t, msg));
                }
                changes.extend(sweep_off_the_runtime(&mut t, seen).await);
                changes
            }
        };
        t.progress.begin();
        for c in changes {
            publish(&t, &c).await;
        }
        t.progress.beat(states.len());
    }
}

/// A node's state report (`online`, or its last will).
fn on_report(t: &mut PresenceTask, msg: Ingested) -> Vec<Change> {
    match msg.body {
        Body::State(s)
            if s.status == Status::Offline
                && t.refused.explains_will(&msg.device.id, msg.at_ms) =>
        {
            tracing::debug!(device = %msg.device.id, "last will of a refused client: not a drop");
            Vec::new()
        }
        Body::State(s) => t.presence.on_state(&msg.device.id, s.status, msg.at_ms),
        _ => Vec::new(),
    }
}

/// One sweep, on the blocking pool: it visits every device (~4 ms at
/// 10,000), which on a runtime worker held back the tasks behind it.
async fn sweep_off_the_runtime(t: &mut PresenceTask, fresh: HashMap<DeviceId, u64>) -> Vec<Change> {
    let (mut presence, now) = (std::mem::take(&mut t.presence), t.clock.now_ms());
    let mut heartbeats = std::mem::take(&mut t.heartbeats);
    let (registry, profiles) = (t.registry.get(), t.profiles.clone());
    let swept = tokio::task::spawn_blocking(move || {
        heartbeats.follow(&registry, &profiles);
        let changes = presence.sweep(now, &fresh, |d| heartbeats.of(d));
        (presence, heartbeats, changes)
    });
    match swept.await {
        Ok((presence, heartbeats, changes)) => {
            t.presence = presence;
            t.heartbeats = heartbeats;
            changes
        }
        Err(e) => {
            tracing::error!(error = %e, "presence sweep panicked; presence starts over");
            Vec::new()
        }
    }
}

/// Each registered device's heartbeat interval (ms), read from the registry
/// snapshot in force and read again only when it is replaced: the sweep asks
/// for every device every second, and a lookup here is one probe where the
/// registry's is three (device, its profile, the profile's interval).
#[derive(Debug, Default)]
pub struct Heartbeats {
    of: std::sync::Weak<Registry>,
    ms: HashMap<DeviceId, u64>,
}

impl Heartbeats {
    /// Reads `registry` unless it is the snapshot these were read from.
    fn follow(&mut self, registry: &Arc<Registry>, profiles: &Profiles) {
        let of = Arc::downgrade(registry);
        if std::sync::Weak::ptr_eq(&self.of, &of) {
            return;
        }
        self.ms = registry
            .devices()
            .map(|i| (i.id.clone(), profiles.heartbeat_ms(&i.profile)))
            .collect();
        self.of = of;
    }

    fn of(&self, device: &DeviceId) -> Option<u64> {
        self.ms.get(device).copied()
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
mod tests;

/// When each device was last heard from (any message): ingest touches it,
/// and so does the access stage for a door's access events (`acc`, which
/// ingest does not see). It holds only what is new: presence's sweep takes
/// it every tick and keeps every device's latest itself.
#[derive(Debug, Default)]
pub struct LastSeen(Mutex<HashMap<DeviceId, u64>>);

impl LastSeen {
    /// Records traffic from `device` at `at_ms`.
    pub fn touch(&self, device: &DeviceId, at_ms: u64) {
        record(
            &mut self.0.lock().unwrap_or_else(|e| e.into_inner()),
            device,
            at_ms,
        );
    }

    /// Takes the entries recorded since the last take: each device heard
    /// from since, with its latest traffic (presence keeps the rest).
    pub fn take(&self) -> HashMap<DeviceId, u64> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = map.len();
        std::mem::replace(&mut *map, HashMap::with_capacity(room))
    }
}

/// Records traffic from `device` at `at_ms` in `seen` (the latest wins);
/// returns the device's latest.
fn record(seen: &mut HashMap<DeviceId, u64>, device: &DeviceId, at_ms: u64) -> u64 {
    match seen.get_mut(device) {
        Some(t) => {
            *t = (*t).max(at_ms);
            *t
        }
        None => *seen.entry(device.clone()).or_insert(at_ms),
    }
}
