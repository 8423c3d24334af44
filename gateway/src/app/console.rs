//! Wires the console: its shared state (with the sources `/metrics`
//! reads and the order engine's inputs) and the task that turns the site
//! feeds into live events.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Wiring;
use crate::api::Console;
use crate::bus::Subscription;
use crate::health::Health;
use crate::ingest::Ingest;
use crate::metrics::Sources;

impl Wiring<'_> {
    /// The console's state; spawns the live-event pump.
    pub(super) fn console(
        &self,
        ingest: &Ingest,
        health: &Health,
        modbus: Option<modbus::StatsHandle>,
        orders: (
            mpsc::Sender<protocol::StatusUpdate>,
            mpsc::Sender<protocol::feed::AlarmFeed>,
        ),
        live: Subscription,
    ) -> Arc<Console> {
        let sources = Sources {
            ingest: Some(ingest.clone()),
            rejects: Some(self.rejects.clone()),
            store: Some(self.store.clone()),
            publisher: Some(self.publisher.clone()),
            modbus,
            health: Some(health.clone()),
            broker_connections: Some(self.broker_connections.clone()),
            broker_skipped: Some(self.broker_skipped.clone()),
        };
        let console = Console::new(
            &self.cfg.api,
            &self.store,
            &self.registry,
            &self.clock,
            (&self.cfg.gateway.id, &self.cfg.gateway.site),
            sources,
        )
        .with_orders(orders.0, orders.1)
        .with_registration(self.cfg.store.path.clone(), self.profiles.clone());
        self.tasks.spawn_stage(
            "console-live",
            crate::api::pump(
                live,
                console.live.clone(),
                console.notices.clone(),
                self.shutdown.clone(),
            ),
        );
        Arc::new(console)
    }
}
