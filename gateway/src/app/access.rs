//! Wires the access stage (credentials → door lists; access events → store and feed).

use std::sync::Arc;

use super::Wiring;
use crate::access::{AccessService, AccessStats};
use crate::bus::Subscription;

impl Wiring<'_> {
    /// Starts the access stage on its subscription; returns its counters.
    pub(super) fn access(&self, sub: Subscription) -> Arc<AccessStats> {
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
        };
        let stop = self.shutdown.clone();
        self.tasks.spawn_stage("access", async move {
            if let Err(e) = svc.run(sub, stop).await {
                tracing::error!(error = %e, "access stage stopped");
            }
        });
        stats
    }
}
