//! Wires linkage and, when configured, the Modbus source and its bridge
//! into the spine.

use tokio::sync::mpsc;

use super::Wiring;
use super::spine::Feeds;
use crate::analysis::AnalysisOut;
use crate::linkage::{Linkage, ModbusLink};
use crate::sources::bridge::Bridge;
use modbus::ModbusSource;

impl Wiring<'_> {
    /// Linkage, with the Modbus source and its bridge into the spine when
    /// configured; the outcome of each Modbus write goes to `out`.
    pub(super) fn linkage(
        &mut self,
        modbus: Option<ModbusSource>,
        feeds: Feeds,
        out: &mpsc::UnboundedSender<AnalysisOut>,
    ) -> Linkage {
        let linkage = Linkage::new(self.publisher.clone(), self.profiles.clone());
        let Some(source) = modbus else {
            return linkage;
        };
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (writes_tx, writes_rx) = mpsc::channel(64);
        let stop = &self.shutdown;
        self.tasks
            .spawn_stage("modbus", source.run(events_tx, writes_rx, stop.clone()));
        let bridge = Bridge {
            registry: self.registry.clone(),
            store: self.store.clone(),
            telemetry: feeds.telemetry,
            states: feeds.states,
        };
        self.tasks
            .spawn_stage("modbus-bridge", bridge.run(events_rx, stop.clone()));
        let (records, mut records_rx) = mpsc::unbounded_channel();
        let out = out.clone();
        self.tasks.spawn_stage("linkage-records", async move {
            while let Some(r) = records_rx.recv().await {
                let _ = out.send(AnalysisOut::Linkage(r));
            }
        });
        linkage.with_modbus(ModbusLink {
            writes: writes_tx,
            records,
            tasks: self.tasks.clone(),
            clock: self.clock.clone(),
        })
    }
}
