//! The two ingest loops and what they do with each message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use protocol::codec::decode;
use protocol::topic::DeviceChannel;
use protocol::{
    CommandAck, DecodeError, DeviceState, EvtAck, Message, NodeEvent, Telemetry, Topic,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Dedupe, Rejects};
use crate::bus::{Outgoing, Publisher, Subscription};
use crate::clock::SharedClock;
use crate::health::Progress;
use crate::message::{Body, Ingested};
use crate::presence::LastSeen;
use crate::registry::{DeviceInfo, RegistryCell};
use crate::store::{Commit, EventRecord, QuarantineRecord, StoreHandle, TelemetryRecord};
use crate::tasks::Tasks;

/// Feeds every message of `sub` to `handle`, one at a time, until shutdown
/// or until the broker is gone.
async fn drive<F, Fut>(
    mut sub: Subscription,
    progress: &Progress,
    shutdown: CancellationToken,
    mut handle: F,
) where
    F: FnMut(Bytes, Bytes) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        let msg = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            m = sub.next() => m,
        };
        let Some((topic, payload)) = msg else { return };
        progress.begin();
        handle(topic, payload).await;
        progress.beat(0);
    }
}

/// Where ingest sends what it accepted.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Events and command acks, in arrival order; never shed.
    pub events: mpsc::Sender<Ingested>,
    /// Telemetry; shed (counted) when full.
    pub telemetry: mpsc::Sender<Ingested>,
    /// Presence reports, for the presence task.
    pub states: mpsc::Sender<Ingested>,
}

/// Ingest counters.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Events accepted (first sight).
    pub events: AtomicU64,
    /// Repeats of events already stored (acknowledged again, stored once).
    pub duplicates: AtomicU64,
    /// Events of nodes without a boot counter taken as new after their
    /// sequence was reset (also counted in `events`).
    pub sequence_resets: AtomicU64,
    /// `evt/ack`s published.
    pub acks: AtomicU64,
    /// Telemetry messages accepted.
    pub telemetry: AtomicU64,
    /// Telemetry not stored or not forwarded because a queue was full.
    pub telemetry_shed: AtomicU64,
}

/// Ingest, shared by its loops and the commit tasks it spawns.
#[derive(Debug, Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Arc<RegistryCell>,
    store: StoreHandle,
    publisher: Publisher,
    clock: SharedClock,
    rejects: Arc<Rejects>,
    dedupe: Mutex<Dedupe>,
    last_seen: Arc<LastSeen>,
    out: Outputs,
    tasks: Tasks,
    progress: [Arc<Progress>; 3],
    stats: IngestStats,
}

/// What ingest needs from the rest of the gateway.
#[derive(Debug)]
pub struct IngestParts {
    /// Devices and their locations.
    pub registry: Arc<RegistryCell>,
    /// The store's writer.
    pub store: StoreHandle,
    /// For `evt/ack`.
    pub publisher: Publisher,
    /// The gateway's clock.
    pub clock: SharedClock,
    /// Rejection counters, shared with the broker's denial reports.
    pub rejects: Arc<Rejects>,
    /// Highest stored `seq` of each device.
    pub dedupe: Dedupe,
    /// Last traffic per device, read by presence.
    pub last_seen: Arc<LastSeen>,
    /// Where accepted messages go.
    pub out: Outputs,
    /// Runs the commit tasks, so shutdown waits for them.
    pub tasks: Tasks,
    /// The heartbeats of the priority, the telemetry and the states loop.
    pub progress: [Arc<Progress>; 3],
}

impl Ingest {
    /// Assembles ingest.
    pub fn new(p: IngestParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: p.registry,
                store: p.store,
                publisher: p.publisher,
                clock: p.clock,
                rejects: p.rejects,
                dedupe: Mutex::new(p.dedupe),
                last_seen: p.last_seen,
                out: p.out,
                tasks: p.tasks,
                progress: p.progress,
                stats: IngestStats::default(),
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &IngestStats {
        &self.inner.stats
    }

    /// Runs the three loops ([`Ingest::run_priority`],
    /// [`Ingest::run_telemetry`], [`Ingest::run_states`]) as tracked tasks
    /// until shutdown.
    pub fn spawn(&self, lanes: super::Lanes) {
        let super::Lanes {
            priority,
            states,
            telemetry,
        } = lanes;
        let (tasks, stop) = (&self.inner.tasks, self.inner.tasks.shutdown());
        let me = self.clone();
        tasks.spawn_stage("ingest-priority", me.run_priority(priority, stop.clone()));
        let me = self.clone();
        tasks.spawn_stage(
            "ingest-telemetry",
            me.run_telemetry(telemetry, stop.clone()),
        );
        let me = self.clone();
        tasks.spawn_stage("ingest-states", me.run_states(states, stop.clone()));
    }

    /// Handles state reports until shutdown (a state report waits for
    /// presence when its queue is full; only this lane waits with it).
    pub async fn run_states(self, sub: Subscription, shutdown: CancellationToken) {
        self.run_lane(sub, 2, shutdown).await;
    }

    /// Handles events and command acks until shutdown.
    pub async fn run_priority(self, sub: Subscription, shutdown: CancellationToken) {
        self.run_lane(sub, 0, shutdown).await;
    }

    /// A lane whose messages may wait (never shed), beating `progress[beat]`.
    async fn run_lane(self, sub: Subscription, beat: usize, shutdown: CancellationToken) {
        let me = &self;
        let progress = self.inner.progress[beat].clone();
        drive(sub, &progress, shutdown, |topic, payload| async move {
            me.on_priority(&topic, payload).await;
        })
        .await;
    }

    /// Handles telemetry until shutdown.
    pub async fn run_telemetry(self, sub: Subscription, shutdown: CancellationToken) {
        let progress = self.inner.progress[1].clone();
        drive(sub, &progress, shutdown, |topic, payload| {
            self.on_telemetry(&topic, &payload);
            std::future::ready(())
        })
        .await;
    }

    /// Parses the topic and finds the device; records a rejection otherwise.
    fn accept(&self, topic: &[u8], now: u64) -> Option<(Arc<DeviceInfo>, DeviceChannel)> {
        let text = String::from_utf8_lossy(topic);
        let (device, channel) = match Topic::parse(&text) {
            Ok(Topic::Device { device, channel }) if channel.from_node() => (device, channel),
            Ok(_) => {
                self.reject(now, "wrong-topic", "?", &text, "not a node topic");
                return None;
            }
            Err(e) => {
                self.reject(now, "wrong-topic", "?", &text, &e.to_string());
                return None;
            }
        };
        match self.inner.registry.get().device(&device) {
            Some(info) => Some((info.clone(), channel)),
            None => {
                self.reject(now, "unknown-device", &device, &text, "not in the registry");
                None
            }
        }
    }

    fn decode<M: Message>(
        &self,
        dev: &DeviceInfo,
        topic: &[u8],
        payload: &[u8],
        now: u64,
    ) -> Option<M> {
        match decode::<M>(payload) {
            Ok(m) => Some(m),
            Err(e) => {
                self.reject_decode(now, dev, topic, &e);
                None
            }
        }
    }

    fn reject_decode(&self, now: u64, dev: &DeviceInfo, topic: &[u8], e: &DecodeError) {
        self.reject(
            now,
            e.reason(),
            &dev.id,
            &String::from_utf8_lossy(topic),
            &e.to_string(),
        );
    }

    fn reject(&self, now: u64, reason: &'static str, source: &str, topic: &str, detail: &str) {
        self.inner.rejects.record(now, reason, source, detail);
        self.inner.store.quarantine(QuarantineRecord {
            at_ms: now,
            source: source.to_string(),
            reason,
            topic: topic.to_string(),
            detail: detail.to_string(),
        });
    }

    async fn on_priority(&self, topic: &[u8], payload: Bytes) {
        let now = self.inner.clock.now_ms();
        let Some((dev, channel)) = self.accept(topic, now) else {
            return;
        };
        // A state report's traffic is recorded after the report is queued
        // (presence relies on that order, see `presence::run`).
        if channel != DeviceChannel::State {
            self.inner.last_seen.touch(&dev.id, now);
        }
        let body = match channel {
            DeviceChannel::Evt => {
                let Some(ev) = self.decode::<NodeEvent>(&dev, topic, &payload, now) else {
                    return;
                };
                return self.on_event(dev, now, ev, payload).await;
            }
            DeviceChannel::State => match self.decode::<DeviceState>(&dev, topic, &payload, now) {
                Some(s) => {
                    let id = dev.id.clone();
                    let msg = Ingested {
                        device: dev,
                        at_ms: now,
                        body: Body::State(s),
                    };
                    let _ = self.inner.out.states.send(msg).await;
                    self.inner.last_seen.touch(&id, now);
                    return;
                }
                None => {
                    self.inner.last_seen.touch(&dev.id, now);
                    return;
                }
            },
            // A door's answer to an allow-list chunk is the access stage's.
            DeviceChannel::CmdAck if decode::<protocol::access::ListAck>(&payload).is_ok() => {
                return;
            }
            DeviceChannel::CmdAck => match self.decode::<CommandAck>(&dev, topic, &payload, now) {
                Some(a) => Body::CommandAck(a),
                None => return,
            },
            DeviceChannel::Tel => return self.on_telemetry(topic, &payload),
            // Access events are stored and acknowledged by the access stage.
            DeviceChannel::Acc => return,
            DeviceChannel::Cmd | DeviceChannel::EvtAck | DeviceChannel::AccAck => return,
        };
        let _ = self
            .inner
            .out
            .events
            .send(Ingested {
                device: dev,
                at_ms: now,
                body,
            })
            .await;
    }

    async fn on_event(&self, dev: Arc<DeviceInfo>, now: u64, ev: NodeEvent, payload: Bytes) {
        if !ev.kind.needs_ack() {
            let msg = Ingested {
                device: dev,
                at_ms: now,
                body: Body::Event(ev),
            };
            let _ = self.inner.out.events.send(msg).await;
            return;
        }
        let fresh = self
            .inner
            .dedupe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(&dev.id, ev.boot, ev.seq);
        if fresh {
            self.inner.stats.events.fetch_add(1, Ordering::Relaxed);
            let msg = Ingested {
                device: dev.clone(),
                at_ms: now,
                body: Body::Event(ev.clone()),
            };
            let _ = self.inner.out.events.send(msg).await;
        }
        let rec = EventRecord {
            device: dev.id.clone(),
            boot: ev.boot,
            seq: ev.seq,
            kind: ev.kind,
            cause: ev.cause,
            value: ev.value,
            node_ts: ev.ts,
            received_ms: now,
            payload: payload.to_vec(),
        };
        let me = self.clone();
        self.inner.tasks.spawn("ingest-commit", async move {
            me.commit_and_ack(dev, now, ev, rec, fresh).await;
        });
    }

    /// Tells analysis the event `seq` is committed (as row `id`), so the
    /// consequences it holds for the event can be stored with its mark.
    async fn committed(&self, dev: &Arc<DeviceInfo>, now: u64, seq: u32, id: Option<i64>) {
        let msg = Ingested {
            device: dev.clone(),
            at_ms: now,
            body: Body::Committed { seq, id },
        };
        let _ = self.inner.out.events.send(msg).await;
    }

    /// Commits an event, then acknowledges it to the node.
    async fn commit_and_ack(
        &self,
        dev: Arc<DeviceInfo>,
        now: u64,
        ev: NodeEvent,
        rec: EventRecord,
        forwarded: bool,
    ) {
        let ack = EvtAck::of(&ev);
        let seq = ev.seq;
        match self.inner.store.commit_event(rec).await {
            Ok(commit @ (Commit::New(_) | Commit::SequenceReset(_))) => {
                if matches!(commit, Commit::SequenceReset(_)) {
                    self.sequence_reset(&dev, &ev);
                }
                if !forwarded {
                    // A gap the window took for a repeat: new after all.
                    self.inner.stats.events.fetch_add(1, Ordering::Relaxed);
                    let msg = Ingested {
                        device: dev.clone(),
                        at_ms: now,
                        body: Body::Event(ev),
                    };
                    let _ = self.inner.out.events.send(msg).await;
                }
                self.committed(&dev, now, seq, commit.row()).await;
            }
            Ok(Commit::Duplicate) => {
                self.inner.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                if forwarded {
                    self.committed(&dev, now, seq, None).await;
                }
            }
            Err(e) => {
                // No ack: the node repeats the event until the store takes it.
                self.inner
                    .rejects
                    .record(now, "store-error", &dev.id, &e.to_string());
                return;
            }
        }
        let ack = Outgoing::device(&dev.id, DeviceChannel::EvtAck, &ack);
        self.inner.publisher.urgent(ack);
        self.inner.stats.acks.fetch_add(1, Ordering::Relaxed);
    }

    /// A node without a boot counter reused a `seq` for a different
    /// alarm-class event: it restarted. Logged, counted, and the window
    /// follows the new sequence.
    fn sequence_reset(&self, dev: &DeviceInfo, ev: &NodeEvent) {
        self.inner
            .stats
            .sequence_resets
            .fetch_add(1, Ordering::Relaxed);
        self.inner
            .dedupe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .restart(&dev.id, ev.boot, ev.seq);
        tracing::warn!(
            device = %dev.id,
            seq = ev.seq,
            kind = %ev.kind,
            "sequence reset: the node reused a seq for a different event (it restarted without a boot counter); stored as a new event"
        );
    }

    fn on_telemetry(&self, topic: &[u8], payload: &[u8]) {
        let now = self.inner.clock.now_ms();
        let Some((dev, _)) = self.accept(topic, now) else {
            return;
        };
        self.inner.last_seen.touch(&dev.id, now);
        let Some(tel) = self.decode::<Telemetry>(&dev, topic, payload, now) else {
            return;
        };
        self.telemetry(dev, now, tel);
    }

    /// An event of a device the gateway talks to itself (an ONVIF camera),
    /// on the path of an MQTT node's `evt`: forwarded to analysis, committed,
    /// then acknowledged (on the device's `evt/ack`, where no node listens).
    pub async fn submit_event(&self, dev: Arc<DeviceInfo>, ev: NodeEvent) {
        let now = self.inner.clock.now_ms();
        let payload = Bytes::from(serde_json::to_vec(&ev).unwrap_or_default());
        self.on_event(dev, now, ev, payload).await;
    }

    /// Telemetry of such a device, on the path of an MQTT node's `tel`.
    pub fn submit_telemetry(&self, dev: Arc<DeviceInfo>, tel: Telemetry) {
        self.telemetry(dev, self.inner.clock.now_ms(), tel);
    }

    fn telemetry(&self, dev: Arc<DeviceInfo>, now: u64, tel: Telemetry) {
        self.inner.stats.telemetry.fetch_add(1, Ordering::Relaxed);
        let rec = TelemetryRecord {
            device: dev.id.clone(),
            seq: tel.seq,
            received_ms: now,
            readings: tel.readings.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        };
        let stored = self.inner.store.try_telemetry(rec).is_ok();
        let msg = Ingested {
            device: dev,
            at_ms: now,
            body: Body::Telemetry(Box::new(tel)),
        };
        let forwarded = self.inner.out.telemetry.try_send(msg).is_ok();
        if !(stored && forwarded) {
            self.inner
                .stats
                .telemetry_shed
                .fetch_add(1, Ordering::Relaxed);
            self.inner
                .rejects
                .record(now, "shed-telemetry", "?", "queue full");
        }
    }
}
