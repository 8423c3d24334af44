//! Wires the access stage: its list task (credentials → door lists) and its
//! event task (access events → store and feed), apart so that an event never
//! waits behind a sync.

use std::sync::Arc;

use super::Wiring;
use crate::access::{AccessService, AccessStats, AccessSubscriptions};

impl Wiring<'_> {
    /// Starts the access stage's two tasks on their subscriptions; returns
    /// their counters.
    pub(super) fn access(&self, subs: AccessSubscriptions) -> Arc<AccessStats> {
        let stats = Arc::new(AccessStats::default());
        let svc = AccessService {
            cfg: self.cfg.access.clone(),
            db_path: self.cfg.store.path.clone(),
            registry: self.registry.clone(),
            profiles: self.profiles.clone(),
            publisher: self.publisher.clone(),
            clock: self.clock.clone(),
            site: self.cfg.gateway.site.clone(),
            stats: stats.clone(),
            last_seen: self.last_seen.clone(),
        };
        let stop = self.shutdown.clone();
        self.tasks.spawn_stage(
            "access-events",
            svc.clone().run_events(subs.events, stop.clone()),
        );
        self.tasks
            .spawn_stage("access-lists", svc.run_lists(subs.lists, stop));
        stats
    }
}
