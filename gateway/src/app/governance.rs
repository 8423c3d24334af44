//! Wires governance: the order engine, its feedback sinks and, when
//! configured, the uplink.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{StartError, Wiring};
use crate::orders::{BusFeedback, Fanout, Feedback, OrderEngine, ReporterNotify, Webhook};
use crate::uplink::Uplink;

impl Wiring<'_> {
    /// Starts the order engine and, when configured, the uplink; both keep
    /// their state in the store.
    /// Returns the engine's alarm input and its input of the console's local
    /// moves (the same state machine as the uplink's status updates; each
    /// local move also goes upstream as a new revision).
    pub(super) async fn governance(
        &mut self,
    ) -> Result<
        (
            mpsc::Sender<protocol::feed::AlarmFeed>,
            mpsc::Sender<protocol::StatusUpdate>,
        ),
        StartError,
    > {
        let mut sinks: Vec<Arc<dyn Feedback>> = vec![Arc::new(BusFeedback {
            site: self.cfg.gateway.site.clone(),
            publisher: self.publisher.clone(),
        })];
        if let Some(w) = &self.cfg.webhook {
            sinks.push(Arc::new(
                Webhook::spawn(w).map_err(|e| StartError::Governance(e.join("; ")))?,
            ));
        }
        if let Some(n) = &self.cfg.reports.notify {
            sinks.push(Arc::new(
                ReporterNotify::spawn(n, self.store.clone())
                    .map_err(|e| StartError::Governance(e.join("; ")))?,
            ));
        }
        let engine = OrderEngine::new(
            &self.cfg.orders,
            self.cfg.gateway.id.clone(),
            self.cfg.gateway.site.clone(),
            self.store.clone(),
            self.clock.clone(),
            Arc::new(Fanout(sinks)),
        )
        .await
        .map_err(|e| StartError::Governance(e.to_string()))?;
        self.beats.insert("order-engine", engine.progress());
        let (alarms_tx, alarms_rx) = mpsc::channel(self.cfg.queues.orders.get());
        let (status_tx, status_rx) = mpsc::channel(self.cfg.queues.orders.get());
        let (local, local_rx) = mpsc::channel(self.cfg.queues.orders.get());
        if let Some(u) = &self.cfg.uplink {
            let uplink = Uplink::new(u, &self.cfg.gateway.id, self.store.outbox())
                .map_err(|e| StartError::Governance(e.to_string()))?;
            let stop = self.shutdown.clone();
            self.tasks.spawn_stage("uplink", async move {
                if let Err(e) = uplink.run(status_tx, stop).await {
                    tracing::error!(error = %e, "uplink stopped");
                }
            });
        } else {
            tracing::warn!("no [uplink] configured: work orders wait in the outbox");
            drop(status_tx);
        }
        let stop = self.shutdown.clone();
        self.tasks.spawn_stage("order-engine", async move {
            if let Err(e) = engine.run(alarms_rx, status_rx, local_rx, stop).await {
                tracing::error!(error = %e, "order engine stopped");
            }
        });
        Ok((alarms_tx, local))
    }
}
