//! Wires the spine: ingest on both lanes, then presence.

use std::time::Duration;

use tokio::sync::mpsc;

use super::Wiring;
use crate::analysis::SpineOutputs;
use crate::health::Progress;
use crate::ingest::{Dedupe, Ingest, IngestParts, Lanes, Outputs};
use crate::message::Ingested;
use crate::presence::{self, Heartbeats, Presence, PresenceTask};

/// How often presence sweeps for silent devices.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Where polled sources join the spine, beside MQTT nodes.
pub(super) struct Feeds {
    /// Readings, to analysis.
    pub(super) telemetry: mpsc::Sender<Ingested>,
    /// Online/offline, to presence.
    pub(super) states: mpsc::Sender<Ingested>,
}

impl Wiring<'_> {
    /// Ingest on both lanes, and presence after it: what analysis reads,
    /// ingest's handle, and where polled sources join.
    pub(super) fn spine(
        &mut self,
        lanes: Lanes,
        dedupe: Dedupe,
        presence: Presence,
        replay: Vec<Ingested>,
    ) -> (SpineOutputs, Ingest, Feeds) {
        let q = &self.cfg.queues;
        let (events_tx, events) = mpsc::channel(q.events.get());
        let (telemetry_tx, telemetry) = mpsc::channel(q.telemetry.get());
        let (states_tx, states_rx) = mpsc::channel(q.states.get());
        let (changes_tx, changes_rx) = mpsc::channel(q.presence.get());
        let last_seen = self.last_seen.clone();
        let ingest = Ingest::new(IngestParts {
            registry: self.registry.clone(),
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            clock: self.clock.clone(),
            rejects: self.rejects.clone(),
            dedupe,
            last_seen: last_seen.clone(),
            out: Outputs {
                events: events_tx.clone(),
                telemetry: telemetry_tx.clone(),
                states: states_tx.clone(),
            },
            tasks: self.tasks.clone(),
            progress: ["ingest-priority", "ingest-telemetry", "ingest-states"]
                .map(|name| self.beats.add(name, Progress::on_demand())),
        });
        let stop = &self.shutdown;
        let tasks = &self.tasks;
        // Events committed but not evaluated before the stop go to analysis
        // first; live traffic waits in the broker's link until they are queued.
        let (replayed, live) = (events_tx.clone(), ingest.clone());
        tasks.spawn("replay", async move {
            for m in replay {
                if replayed.send(m).await.is_err() {
                    return;
                }
            }
            live.spawn(lanes);
        });
        let presence_task =
            PresenceTask {
                presence: presence.with_config(self.cfg.presence).with_polled(
                    self.cfg
                        .modbus
                        .iter()
                        .flat_map(|m| &m.lines)
                        .flat_map(|l| &l.devices)
                        .map(|d| d.device.clone())
                        .chain(self.cfg.fire_centre.iter().filter_map(|f| {
                            protocol::DeviceId::new(f.link_device.as_deref()?).ok()
                        }))
                        .chain(
                            self.cfg
                                .cameras
                                .iter()
                                .filter_map(|c| protocol::DeviceId::new(&c.id).ok()),
                        ),
                ),
                refused: self.rejects.refused.clone(),
                site: self.cfg.gateway.site.clone(),
                registry: self.registry.clone(),
                profiles: self.profiles.clone(),
                last_seen,
                store: self.store.clone(),
                publisher: self.publisher.clone(),
                clock: self.clock.clone(),
                changes: changes_tx,
                progress: self.beats.add("presence", Progress::ticking(SWEEP_EVERY)),
                sweep_every: SWEEP_EVERY,
                heartbeats: Heartbeats::default(),
            };
        tasks.spawn_stage(
            "presence",
            presence::run(presence_task, states_rx, stop.clone()),
        );
        let spine = SpineOutputs {
            events,
            telemetry,
            presence: changes_rx,
        };
        let feeds = Feeds {
            telemetry: telemetry_tx,
            states: states_tx,
        };
        (spine, ingest, feeds)
    }
}
