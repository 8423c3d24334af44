//! The running access stage, in two tasks:
//! - the **list task** (here): computes each door's list when credentials
//!   or the registry change, syncs it to the door (and again, from where it
//!   stopped, when the door comes back online), and prunes access events
//!   past `keep_days`;
//! - the **event task** ([`super::events`]): stores and acknowledges the
//!   doors' access events and publishes them on the integrator feed.
//!
//! Apart, so an access event never waits behind a list sync. Each owns its
//! own connection to the store's file (WAL: the writer thread is not held
//! up; every write here is one short transaction).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::access::{ListAck, ListChunk, ListHash};
use protocol::codec::decode;
use protocol::topic::{DeviceChannel, filter};
use protocol::{DeviceId, DeviceState, Name, Status, Topic};
use tokio_util::sync::CancellationToken;

use super::config::AccessSection;
use super::db;
use super::lists::{self, Door};
use super::sync::{DoorSync, Phase};
use crate::bus::{Bus, BusError, Outgoing, Publisher, Subscription};
use crate::clock::SharedClock;
use crate::presence::LastSeen;
use crate::registry::{Profiles, Registry, RegistryCell};
use crate::store::{Store, StoreError};

/// Counters of the access stage.
#[derive(Debug, Default)]
pub struct AccessStats {
    /// Access events stored (first sight).
    pub events: AtomicU64,
    /// Repeats of stored events (acknowledged again).
    pub repeats: AtomicU64,
    /// List parts published.
    pub parts: AtomicU64,
    /// Lists a door confirmed.
    pub synced: AtomicU64,
    /// Events deleted by pruning.
    pub pruned: AtomicU64,
}

/// The access stage, before it runs (one copy for each of its tasks).
#[derive(Debug, Clone)]
pub struct AccessService {
    /// `[access]`.
    pub cfg: AccessSection,
    /// The store's file.
    pub db_path: PathBuf,
    /// Devices and the site tree.
    pub registry: Arc<RegistryCell>,
    /// Profiles (door capacities).
    pub profiles: Arc<Profiles>,
    /// For list parts, acks and the feed.
    pub publisher: Publisher,
    /// The gateway's clock.
    pub clock: SharedClock,
    /// The site, for the feed's topics.
    pub site: Name,
    /// Counters, shared with whoever reads them.
    pub stats: Arc<AccessStats>,
    /// Presence's traffic record: a door's access events show it is alive.
    pub last_seen: Arc<LastSeen>,
}

/// The stage's subscriptions, one per task. Made before the broker starts.
#[derive(Debug)]
pub struct AccessSubscriptions {
    /// The doors' access events (`acc`): the event task's.
    pub events: Subscription,
    /// Command acks (list answers) and presence: the list task's.
    pub lists: Subscription,
}

/// The stage's subscriptions: access events for the event task, command
/// acks (list answers) and presence for the list task.
///
/// # Errors
/// [`BusError`] from the broker.
pub fn subscribe(bus: &Bus) -> Result<AccessSubscriptions, BusError> {
    Ok(AccessSubscriptions {
        events: bus.subscribe("gridsense-access-events", &[filter::ACCESS])?,
        lists: bus.subscribe(
            "gridsense-access-lists",
            &[filter::COMMAND_ACKS, filter::STATES],
        )?,
    })
}

struct Runtime {
    svc: AccessService,
    store: Store,
    syncs: HashMap<String, DoorSync>,
    generation: i64,
    registry: Option<Arc<Registry>>,
    /// Monotonic time base of the stage's timers (the gateway's clock may
    /// be moved by hand, or stand still, in tests and replays).
    started: tokio::time::Instant,
}

impl AccessService {
    /// Runs the list task on `sub` (command acks and presence) until shutdown.
    ///
    /// # Errors
    /// When the store cannot be opened.
    pub async fn run_lists(
        self,
        mut sub: Subscription,
        shutdown: CancellationToken,
    ) -> Result<(), StoreError> {
        let store = Store::open(&self.db_path)?;
        let mut rt = Runtime {
            svc: self,
            store,
            syncs: HashMap::new(),
            generation: -1,
            registry: None,
            started: tokio::time::Instant::now(),
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut next_poll, mut next_prune) = (0u64, 0u64);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                m = sub.next() => match m {
                    Some((topic, payload)) => rt.on_message(&topic, &payload),
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    let now = rt.mono_ms();
                    if now >= next_prune {
                        next_prune = now + rt.svc.cfg.prune_every_s * 1_000;
                        rt.prune();
                        rt.generation = -1;
                    }
                    if now >= next_poll {
                        next_poll = now + rt.svc.cfg.poll_ms;
                        rt.poll(now);
                    }
                    rt.timers(now);
                }
            }
        }
    }
}

pub(super) fn warn_on<T>(what: &str, r: Result<T, StoreError>) -> Option<T> {
    r.map_err(|e| tracing::warn!(error = %e, "access: {what}"))
        .ok()
}

impl Runtime {
    fn mono_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn send(&self, door: &DeviceId, parts: Vec<ListChunk>) {
        for p in parts {
            self.svc
                .publisher
                .urgent(Outgoing::device(door, DeviceChannel::Cmd, &p));
            self.svc.stats.parts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Recomputes the lists when credentials or the registry changed.
    fn poll(&mut self, mono: u64) {
        let now = self.svc.clock.now_ms();
        let Some(generation) = warn_on("poll", db::generation(self.store.conn())) else {
            return;
        };
        let reg = self.svc.registry.get();
        let same_reg = self.registry.as_ref().is_some_and(|r| Arc::ptr_eq(r, &reg));
        if generation == self.generation && same_reg {
            return;
        }
        self.generation = generation;
        self.registry = Some(reg.clone());
        let doors = lists::doors(&reg, &self.svc.profiles);
        if let Some(creds) = warn_on("load credentials", db::load(self.store.conn())) {
            let rows = warn_on("load lists", db::lists(self.store.conn())).unwrap_or_default();
            let rows: HashMap<String, db::ListRow> =
                rows.into_iter().map(|r| (r.door.clone(), r)).collect();
            for door in doors {
                self.recompute(&door, &creds, rows.get(door.info.id.as_str()), (now, mono));
            }
        }
    }

    fn recompute(
        &mut self,
        door: &Door,
        creds: &[super::Credential],
        row: Option<&db::ListRow>,
        (now, mono): (u64, u64),
    ) {
        let tomb = u64::from(self.svc.cfg.tombstone_days) * 86_400;
        let entries = lists::compute(creds, &door.info, now / 1_000, tomb);
        let hash = ListHash::of(&entries);
        let id = door.info.id.as_str();
        let unchanged = row.is_some_and(|r| r.hash == format!("{hash:016x}"));
        let version = match row {
            Some(r) if unchanged => r.version,
            Some(r) => r.version + 1,
            None => 1,
        };
        if unchanged && self.syncs.get(id).is_some_and(|s| s.version == version) {
            return;
        }
        let n = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let error = (n > door.capacity).then(|| {
            format!(
                "the list of {n} credentials does not fit the door's capacity of {} (profile {})",
                door.capacity, door.info.profile
            )
        });
        if !unchanged || error.is_some() {
            let saved = db::save_list(
                self.store.conn(),
                id,
                version,
                hash,
                n,
                error.as_deref(),
                now,
            );
            warn_on("save list", saved);
        }
        if let Some(e) = error {
            tracing::error!(door = id, "access: {e}");
            self.syncs.remove(id);
            return;
        }
        match DoorSync::new(version, &entries, self.svc.cfg.tz_min, self.svc.cfg.window) {
            Ok(mut s) => {
                let parts = s.start(mono);
                self.syncs.insert(id.to_string(), s);
                self.send(&door.info.id, parts);
            }
            Err(n) => tracing::error!(
                door = id,
                entries = n,
                "access: list too long for the protocol"
            ),
        }
    }

    fn timers(&mut self, now: u64) {
        let retry = self.svc.cfg.retry_ms;
        let due: Vec<(String, Vec<ListChunk>)> = self
            .syncs
            .iter_mut()
            .map(|(d, s)| (d.clone(), s.on_timer(now, retry)))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        for (door, parts) in due {
            if let Ok(id) = DeviceId::new(&door) {
                self.send(&id, parts);
            }
        }
    }

    fn prune(&mut self) {
        let now = self.svc.clock.now_ms();
        let keep = u64::from(self.svc.cfg.keep_days) * 86_400_000;
        if let Some(n) = warn_on(
            "prune",
            db::prune(self.store.conn(), now.saturating_sub(keep)),
        ) {
            self.svc.stats.pruned.fetch_add(n as u64, Ordering::Relaxed);
            if n > 0 {
                tracing::info!(
                    deleted = n,
                    keep_days = self.svc.cfg.keep_days,
                    "access events pruned"
                );
            }
        }
    }

    fn on_message(&mut self, topic: &[u8], payload: &[u8]) {
        let Ok(Topic::Device { device, channel }) = Topic::parse(&String::from_utf8_lossy(topic))
        else {
            return;
        };
        if self.svc.registry.get().device(&device).is_none() {
            return;
        }
        let now = self.svc.clock.now_ms();
        match channel {
            DeviceChannel::CmdAck => {
                if let Ok(ack) = decode::<ListAck>(payload) {
                    self.on_list_ack(&device, &ack, (now, self.mono_ms()));
                }
            }
            DeviceChannel::State
                if decode::<DeviceState>(payload).is_ok_and(|s| s.status == Status::Online) =>
            {
                self.on_online(&device, self.mono_ms());
            }
            _ => {}
        }
    }

    fn on_list_ack(&mut self, door: &DeviceId, ack: &ListAck, (now, mono): (u64, u64)) {
        let Some(sync) = self.syncs.get_mut(door.as_str()) else {
            return;
        };
        let before = sync.phase().clone();
        let parts = sync.on_ack(ack, mono);
        let after = sync.phase().clone();
        self.send(door, parts);
        if before == after {
            return;
        }
        let error = match &after {
            Phase::Done => {
                self.svc.stats.synced.fetch_add(1, Ordering::Relaxed);
                tracing::info!(door = %door, list = ack.list, "access list synced");
                None
            }
            Phase::Failed(e) => {
                let e = format!("the door refused list {}: {e}", ack.list);
                tracing::error!(door = %door, "access: {e}");
                Some(e)
            }
            Phase::Sending => return,
        };
        warn_on(
            "save answer",
            db::save_answer(self.store.conn(), door, ack.active, error.as_deref(), now),
        );
    }

    /// A door is back: offer its list again (it answers where to resume,
    /// or that it has it).
    fn on_online(&mut self, door: &DeviceId, now: u64) {
        if let Some(s) = self.syncs.get_mut(door.as_str()) {
            let parts = s.restart(now);
            self.send(door, parts);
        }
    }
}
