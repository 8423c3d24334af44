//! Wires the fire remote-monitoring centre's link, when configured, beside
//! the order engine: committed alarm changes go to both, the centre's
//! link first (it never waits: its input is unbounded and its queue is its own).

use tokio::sync::mpsc;

use super::{StartError, Wiring};
use crate::config::validate::FieldProblem;
use crate::firecentre::{FireCentre, LinkFault};
use crate::message::Ingested;
use protocol::feed::AlarmFeed;

impl Wiring<'_> {
    /// Starts the link and returns the sender commit hands alarm changes
    /// to (which passes each on to `orders`); without `[fire_centre]`,
    /// `orders` itself. `states` is presence's input, where a failed link
    /// is reported as the link device's availability.
    pub(super) fn fire_centre(
        &mut self,
        orders: mpsc::Sender<AlarmFeed>,
        states: mpsc::Sender<Ingested>,
    ) -> Result<mpsc::Sender<AlarmFeed>, StartError> {
        let Some(cfg) = &self.cfg.fire_centre else {
            return Ok(orders);
        };
        let fault = match &cfg.link_device {
            None => None,
            Some(id) => match self.registry.get().device(id) {
                Some(device) => Some(LinkFault {
                    device: device.clone(),
                    states,
                }),
                None => {
                    return Err(StartError::Invalid(vec![FieldProblem::new(
                        "fire_centre.link_device",
                        format!(
                            "no device `{id}` in the registry (register one with profile fire-centre-link)"
                        ),
                    )]));
                }
            },
        };
        let link = FireCentre {
            cfg: cfg.clone(),
            store: self.store.clone(),
            registry: self.registry.clone(),
            clock: self.clock.clone(),
            fault,
        };
        let (to_link, from_commit) = mpsc::unbounded_channel();
        self.tasks
            .spawn_stage("fire-centre", link.run(from_commit, self.shutdown.clone()));
        let (tee, mut rx) = mpsc::channel::<AlarmFeed>(self.cfg.queues.orders.get());
        self.tasks.spawn_stage("fire-centre-tee", async move {
            while let Some(a) = rx.recv().await {
                let _ = to_link.send(a.clone());
                if orders.send(a).await.is_err() {
                    break;
                }
            }
        });
        Ok(tee)
    }
}
