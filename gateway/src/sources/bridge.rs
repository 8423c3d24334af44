//! Turns what polled sources report into the same inputs MQTT nodes give:
//! readings become telemetry for the rules (and the store), offline/online
//! become presence reports. So rules and alarms treat wired and wireless
//! devices alike.

use std::collections::HashMap;
use std::sync::Arc;

use modbus::ModbusEvent;
use protocol::{DeviceId, DeviceState, FieldName, Status, Telemetry};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::message::{Body, Ingested};
use crate::registry::RegistryCell;
use crate::store::{StoreHandle, TelemetryRecord};

/// Where bridged inputs go.
#[derive(Debug)]
pub struct Bridge {
    /// Devices, for location and profile.
    pub registry: Arc<RegistryCell>,
    /// Telemetry rows.
    pub store: StoreHandle,
    /// Readings, to the rules.
    pub telemetry: mpsc::Sender<Ingested>,
    /// Online/offline, to presence.
    pub states: mpsc::Sender<Ingested>,
}

impl Bridge {
    /// Runs until shutdown or until the source stops.
    pub async fn run(self, mut rx: mpsc::Receiver<ModbusEvent>, shutdown: CancellationToken) {
        let mut seqs: HashMap<DeviceId, u32> = HashMap::new();
        loop {
            let ev = tokio::select! {
                () = shutdown.cancelled() => return,
                ev = rx.recv() => match ev { Some(ev) => ev, None => return },
            };
            self.on_event(ev, &mut seqs).await;
        }
    }

    async fn on_event(&self, ev: ModbusEvent, seqs: &mut HashMap<DeviceId, u32>) {
        let (device, at_ms, body, alarm_class) = match ev {
            ModbusEvent::Readings {
                device,
                at_ms,
                readings,
                alarm_class,
            } => {
                let seq = seqs.entry(device.clone()).or_default();
                *seq = seq.wrapping_add(1);
                let Some(tel) = self.telemetry(&device, *seq, at_ms, &readings) else {
                    return;
                };
                (device, at_ms, Body::Telemetry(Box::new(tel)), alarm_class)
            }
            ModbusEvent::Offline {
                device,
                at_ms,
                reason,
            } => {
                tracing::warn!(%device, reason, "Modbus device offline");
                (device, at_ms, state(Status::Offline), true)
            }
            ModbusEvent::Online { device, at_ms } => (device, at_ms, state(Status::Online), true),
            ModbusEvent::Fault { device, kind, .. } => {
                tracing::debug!(%device, %kind, "Modbus request failed");
                return;
            }
        };
        let Some(info) = self.registry.get().device(&device).cloned() else {
            tracing::warn!(%device, "Modbus device not in the registry; ignored");
            return;
        };
        let msg = Ingested {
            device: info,
            at_ms,
            body,
        };
        match (&msg.body, alarm_class) {
            (Body::State(_), _) => {
                let _ = self.states.send(msg).await;
            }
            // Alarm registers wait for room: never shed.
            (_, true) => {
                let _ = self.telemetry.send(msg).await;
            }
            (_, false) => {
                let _ = self.telemetry.try_send(msg);
            }
        }
    }

    fn telemetry(
        &self,
        device: &DeviceId,
        seq: u32,
        at_ms: u64,
        readings: &[(FieldName, f32)],
    ) -> Option<Telemetry> {
        let _ = self.store.try_telemetry(TelemetryRecord {
            device: device.clone(),
            seq,
            received_ms: at_ms,
            readings: readings.to_vec(),
        });
        let mut map = heapless::LinearMap::new();
        for (k, v) in readings.iter().take(protocol::node::MAX_READINGS) {
            let _ = map.insert(k.clone(), *v);
        }
        (!map.is_empty()).then_some(Telemetry {
            seq,
            ts: None,
            readings: map,
        })
    }
}

fn state(status: Status) -> Body {
    Body::State(DeviceState {
        status,
        fw: None,
        heartbeat_s: None,
        boot: None,
    })
}
