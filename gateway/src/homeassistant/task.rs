//! The discovery task: publishes every device's discovery configs (retained)
//! at start, again when the registry changes (removed devices' configs are
//! cleared with an empty retained message) and when Home Assistant says it
//! is online; and keeps `gs/v1/site/{site}/alarms/{device}` current from
//! the alarm feed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use protocol::codec::{self, encode};
use protocol::feed::AlarmFeed;
use protocol::topic::{self, Feed, TopicId};
use protocol::{DeviceId, Name, Topic};
use tokio_util::sync::CancellationToken;

use super::config::HomeAssistantSection;
use super::entities::Announcer;
use super::open::OpenAlarms;
use crate::bus::{Bus, BusError, Outgoing, Publisher, Subscription};
use crate::registry::{Profiles, Registry, RegistryCell};

/// How often the registry in force is compared with what was announced.
const REFRESH: Duration = Duration::from_secs(2);
/// Discovery messages handed to the publisher's feed lane at a time; a
/// pause follows, so a large site does not fill the lane (which sheds).
const BATCH: usize = 256;

/// The discovery task, subscribed before the broker starts so it sees the
/// alarms republished at start.
pub struct Discovery {
    section: HomeAssistantSection,
    announcer: Announcer,
    sub: Subscription,
    status: String,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("section", &self.section)
            .finish_non_exhaustive()
    }
}

/// What the task publishes through and reads from.
#[derive(Debug)]
pub struct Inputs {
    /// The registry in force.
    pub registry: Arc<RegistryCell>,
    /// The profiles in force (fields, units, thresholds).
    pub profiles: Arc<Profiles>,
    /// Where configs and alarm states go.
    pub publisher: Publisher,
}

impl Discovery {
    /// Subscribes to the site's alarm feed and to Home Assistant's status.
    ///
    /// # Errors
    /// [`BusError::Link`] if the router refuses the link.
    pub fn subscribe(
        bus: &Bus,
        section: &HomeAssistantSection,
        site: &Name,
        gateway: &Name,
    ) -> Result<Self, BusError> {
        let alarms = topic::feed_filter(site.as_str(), Feed::Alarm);
        let status = topic::discovery_status(section.prefix.as_str());
        let sub = bus.subscribe("gridsense-homeassistant", &[&alarms, &status])?;
        Ok(Self {
            section: section.clone(),
            announcer: Announcer {
                prefix: section.prefix.clone(),
                site: site.clone(),
                gateway: gateway.clone(),
            },
            sub,
            status: status.as_str().to_owned(),
        })
    }

    /// Runs until shutdown or until the broker is gone.
    pub async fn run(mut self, io: Inputs, shutdown: CancellationToken) {
        let mut state = State::default();
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => self.sync(&io, &mut state, false).await,
                m = self.sub.next() => {
                    let Some((topic, payload)) = m else { return };
                    if topic.as_ref() == self.status.as_bytes() {
                        if payload.as_ref() == b"online" {
                            tracing::info!("Home Assistant online; discovery republished");
                            self.sync(&io, &mut state, true).await;
                        }
                    } else {
                        self.on_alarm(&io, &mut state, &payload);
                    }
                }
            }
        }
    }

    /// Compares the registry with what was announced and publishes the
    /// difference (`all`: everything again).
    async fn sync(&self, io: &Inputs, state: &mut State, all: bool) {
        let registry = io.registry.get();
        let print = fingerprint(&registry);
        if !all && state.print.as_ref() == Some(&print) {
            return;
        }
        let mut out = Vec::new();
        for d in registry.devices() {
            if all || !state.devices.contains(&d.id) {
                out.push(self.alarms_of(&state.open, &d.id));
            }
        }
        if self.section.enabled {
            let configs = self.configs(&registry, &io.profiles);
            for (topic, (t, payload)) in &configs {
                if all || state.configs.get(topic).map(|(_, p)| p) != Some(payload) {
                    out.push(retained(t.clone(), Bytes::from(payload.clone())));
                }
            }
            for (topic, (t, _)) in &state.configs {
                if !configs.contains_key(topic) {
                    out.push(retained(t.clone(), Bytes::new()));
                }
            }
            state.configs = configs;
        }
        state.devices = registry.devices().map(|d| d.id.clone()).collect();
        state.print = Some(print);
        let n = out.len();
        for chunk in out.chunks(BATCH) {
            for m in chunk {
                io.publisher.feed(m.clone());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if n > 0 {
            tracing::info!(
                messages = n,
                devices = state.devices.len(),
                "Home Assistant discovery published"
            );
        }
    }

    /// Topic string → (topic, JSON) of every device's entities.
    fn configs(&self, registry: &Registry, profiles: &Profiles) -> Configs {
        let mut configs = BTreeMap::new();
        for d in registry.devices() {
            for e in self.announcer.entities(d, profiles.get(d.profile.as_str())) {
                let payload = serde_json::to_vec(&e.config).unwrap_or_default();
                configs.insert(e.topic.to_string(), (e.topic, payload));
            }
        }
        configs
    }

    fn alarms_of(&self, open: &OpenAlarms, device: &DeviceId) -> Outgoing {
        let topic = Topic::Site {
            site: self.announcer.site.clone(),
            feed: Feed::Alarms,
            // A device id (32) always fits a topic id (48).
            id: TopicId::new(device.as_str()).expect("a device id is a topic id"),
        };
        retained(topic, Bytes::from(encode(&open.of(device))))
    }

    fn on_alarm(&self, io: &Inputs, state: &mut State, payload: &[u8]) {
        let feed: AlarmFeed = match codec::decode(payload) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "alarm feed message not understood");
                return;
            }
        };
        for device in state.open.update(&feed) {
            io.publisher.urgent(self.alarms_of(&state.open, &device));
        }
    }
}

type Configs = BTreeMap<String, (Topic, Vec<u8>)>;

/// What was announced.
#[derive(Debug, Default)]
struct State {
    /// The open alarms, from the alarm feed.
    open: OpenAlarms,
    /// Discovery configs as last published.
    configs: Configs,
    /// Devices whose alarm state was published.
    devices: BTreeSet<DeviceId>,
    /// The registry those were built from ([`fingerprint`]).
    print: Option<u64>,
}

/// What an announcement depends on: each device's id, profile and place,
/// hashed. Recomputed every refresh: a hash allocates nothing, where the
/// list of strings it replaced held three strings per device for good and
/// built them anew every 2 s (~200 bytes per registered device).
fn fingerprint(registry: &Registry) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for d in registry.devices() {
        (d.id.as_str(), d.profile.as_str(), &*d.location_label).hash(&mut h);
    }
    h.finish()
}

fn retained(topic: Topic, payload: Bytes) -> Outgoing {
    Outgoing {
        topic,
        payload,
        retain: true,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::registry::{DeviceFields, add_device, import_devices, import_sites};
    use crate::store::Store;

    const NOW: u64 = 1_767_225_600_000;

    #[test]
    fn the_fingerprint_moves_with_the_devices_and_only_with_them() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("gw.db")).expect("store");
        import_sites(&mut store, &deploy.join("site.csv")).expect("sites");
        let profiles = Profiles::builtin();
        import_devices(
            &mut store,
            &deploy.join("devices.csv"),
            &profiles,
            &dir.path().join("creds.csv"),
            NOW,
        )
        .expect("devices");
        let a = fingerprint(&Registry::load(&store).expect("load"));
        assert_eq!(
            a,
            fingerprint(&Registry::load(&store).expect("load")),
            "the same devices, read again"
        );
        let gas = DeviceFields {
            id: "gas-9".into(),
            profile: "gas".into(),
            location: "b2-u1-f1-r101".into(),
            fire_zone: "kitchen-9".into(),
            ..DeviceFields::default()
        };
        add_device(&mut store, &gas, &profiles, NOW).expect("add");
        assert_ne!(a, fingerprint(&Registry::load(&store).expect("load")));
    }
}
