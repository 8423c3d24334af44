//! A shard: one task that owns many nodes, ticks them, applies the plan,
//! publishes what they emit and feeds back what their links receive.
//!
//! Node state is touched by this task only; links talk to it through one
//! bounded channel. A few hundred nodes per shard keep the task count low
//! and the per-tick work batched.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use firmware::{Node, Outbound, Outgoing};
use protocol::codec::decode_core;
use protocol::{DeviceChannel, DeviceId, EventKind, EvtAck, Status, Topic};
use rumqttc::QoS;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::hal::SimFlash;
use crate::link::{Link, LinkEvent, state_payload};
use crate::node::SimNode;
use crate::plan::{Entry, Planned};
use crate::stats::{Stats, bump};

/// One node as its shard holds it.
#[derive(Debug)]
pub struct Member {
    /// Device id (topics).
    pub id: DeviceId,
    /// The firmware on simulated hardware.
    pub node: SimNode,
    /// Its MQTT connection.
    pub link: Link,
    /// Heartbeat interval it announces.
    pub heartbeat_s: u32,
    /// Its non-volatile storage (the boot counter), kept across reboots.
    pub flash: SimFlash,
    /// The boot counter of the firmware now running.
    pub boot: Option<u32>,
    /// Wall-clock time at uptime 0, for a restarted firmware's clock.
    epoch_ms: u64,
    up: bool,
    booted: bool,
    /// `seq`s of acknowledged-class events published and not yet acknowledged.
    unacked: BTreeSet<u32>,
}

impl Member {
    /// A node that starts now (its boot counter advances in a fresh storage)
    /// and begins working at its first connection.
    pub fn new(
        id: DeviceId,
        mut node: SimNode,
        link: Link,
        heartbeat_s: u32,
        epoch_ms: u64,
    ) -> Self {
        let mut flash = SimFlash::default();
        let boot = node.start(&mut flash);
        Self {
            id,
            node,
            link,
            heartbeat_s,
            flash,
            boot,
            epoch_ms,
            up: false,
            booted: false,
            unacked: BTreeSet::new(),
        }
    }

    /// Restarts the node's firmware; what was unacknowledged is lost with its RAM.
    fn reboot(&mut self, stats: &Stats) {
        bump(&stats.reboots);
        stats
            .lost_in_reboot
            .fetch_add(self.unacked.len() as u64, Ordering::Relaxed);
        self.unacked.clear();
        self.boot = self
            .node
            .reboot(self.heartbeat_s, self.epoch_ms, &mut self.flash);
        // Working again at the next connection, like a fresh node.
        self.booted = false;
    }
}

/// A clock for the nodes: uptime in ms since the run's start. Without one a
/// shard uses real time; a time-compressed run (`gridsense-demo simulate
/// month`) shares its virtual clock with the gateway through it.
#[derive(Clone)]
pub struct SimClock(pub Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimClock({} ms)", (self.0)())
    }
}

/// Timing of a shard.
#[derive(Debug, Clone)]
pub struct ShardTiming {
    /// When the run started (uptime 0 of every node).
    pub start: Instant,
    /// Tick period.
    pub tick: Duration,
    /// Scenario end, ms after start.
    pub end_ms: u64,
    /// After the end, keep going up to this long while events are unacknowledged.
    pub drain: Duration,
    /// Uptime from this clock instead of real time since `start` (ticks
    /// still come every `tick` of real time).
    pub clock: Option<SimClock>,
}

impl ShardTiming {
    fn now(&self) -> u64 {
        self.clock
            .as_ref()
            .map_or_else(|| now_ms(self.start), |c| (c.0)())
    }
}

/// A group of nodes run by one task.
#[derive(Debug)]
pub struct Shard {
    /// The nodes; plan and link events use indices into this.
    pub members: Vec<Member>,
    /// This shard's part of the plan, with local indices, in time order.
    pub plan: VecDeque<Entry>,
    /// Link events.
    pub rx: mpsc::Receiver<(usize, LinkEvent)>,
    /// Shared counters.
    pub stats: Arc<Stats>,
}

impl Shard {
    /// Runs until the scenario ends (and drains), or `cancel`; returns the
    /// number of events still unacknowledged.
    pub async fn run(mut self, t: ShardTiming, cancel: CancellationToken) -> usize {
        let mut ticker = tokio::time::interval_at(t.start, t.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let drain_ms = t.end_ms + u64::try_from(t.drain.as_millis()).unwrap_or(u64::MAX);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                Some((i, ev)) = self.rx.recv() => self.on_link(t.now(), i, ev),
                _ = ticker.tick() => {
                    let now = t.now();
                    self.apply_plan(now);
                    self.tick_all(now);
                    if now >= drain_ms || (now >= t.end_ms && self.pending() == 0) {
                        break;
                    }
                }
            }
        }
        self.pending()
    }

    fn pending(&self) -> usize {
        self.members.iter().map(|m| m.unacked.len()).sum()
    }

    fn apply_plan(&mut self, now: u64) {
        while self.plan.front().is_some_and(|e| e.at_ms <= now) {
            let Some(e) = self.plan.pop_front() else {
                break;
            };
            let m = &mut self.members[e.node];
            match e.what {
                Planned::Stim(s) => {
                    m.node.apply(now, &s);
                }
                Planned::LinkDown => {
                    m.link.want_up.send_replace(false);
                }
                Planned::LinkUp => {
                    m.link.want_up.send_replace(true);
                }
                Planned::Reboot => m.reboot(&self.stats),
            }
        }
    }

    fn tick_all(&mut self, now: u64) {
        for i in 0..self.members.len() {
            if self.members[i].booted {
                let out = self.members[i].node.tick(now);
                self.publish(i, &out);
            }
        }
    }

    fn on_link(&mut self, now: u64, i: usize, ev: LinkEvent) {
        match ev {
            LinkEvent::Up => self.on_up(now, i),
            LinkEvent::Down => {
                self.members[i].up = false;
                self.stats.connected.fetch_sub(1, Ordering::Relaxed);
                bump(&self.stats.disconnects);
            }
            LinkEvent::Message(DeviceChannel::EvtAck, p) => self.on_ack(i, &p),
            LinkEvent::Message(DeviceChannel::AccAck, p) => {
                if let Err(e) = self.members[i].node.receive(now, DeviceChannel::AccAck, &p) {
                    self.bad_payload(i, &e);
                }
            }
            LinkEvent::Message(DeviceChannel::Cmd, p) => {
                bump(&self.stats.commands);
                match self.members[i].node.receive(now, DeviceChannel::Cmd, &p) {
                    Ok(out) => self.publish(i, &out),
                    Err(e) => self.bad_payload(i, &e),
                }
            }
            LinkEvent::Message(..) => {}
        }
    }

    fn on_up(&mut self, now: u64, i: usize) {
        let stats = &self.stats;
        stats.connected.fetch_add(1, Ordering::Relaxed);
        bump(&stats.connects);
        let m = &mut self.members[i];
        m.up = true;
        let c = &m.link.client;
        let sub = |ch| c.try_subscribe(Topic::dev(&m.id, ch).to_string(), QoS::AtLeastOnce);
        let state = Topic::dev(&m.id, DeviceChannel::State).to_string();
        let online = state_payload(Status::Online, Some(m.heartbeat_s), m.boot);
        let queued = sub(DeviceChannel::Cmd)
            .and_then(|()| sub(DeviceChannel::EvtAck))
            .and_then(|()| sub(DeviceChannel::AccAck))
            .and_then(|()| c.try_publish(state, QoS::AtLeastOnce, true, online.to_vec()));
        if queued.is_err() {
            bump(&stats.unsent);
        }
        if std::mem::replace(&mut m.booted, true) {
            m.node.reconnected(now);
        }
    }

    fn on_ack(&mut self, i: usize, payload: &Bytes) {
        match decode_core::<EvtAck>(payload) {
            Ok(ack) => {
                let m = &mut self.members[i];
                if !ack.is_for_boot(m.boot) {
                    // An ack of the previous boot's event, late.
                    return;
                }
                m.unacked.remove(&ack.seq);
                if m.node.evt_ack(ack) {
                    bump(&self.stats.acked);
                }
            }
            Err(e) => self.bad_payload(i, &e),
        }
    }

    fn bad_payload(&self, i: usize, e: &protocol::DecodeError) {
        bump(&self.stats.bad_payloads);
        tracing::warn!(device = %self.members[i].id, error = %e, "payload from the gateway refused");
    }

    fn publish(&mut self, i: usize, out: &Outbound) {
        let m = &mut self.members[i];
        for msg in out {
            if !m.up {
                bump(&self.stats.unsent);
                continue;
            }
            let mut buf = [0u8; 512];
            // 512 bytes hold any node message (firmware::Outgoing::encode).
            let Ok(n) = msg.encode(&mut buf) else {
                continue;
            };
            let topic = Topic::dev(&m.id, msg.channel()).to_string();
            if m.link
                .client
                .try_publish(topic, QoS::AtLeastOnce, false, &buf[..n])
                .is_err()
            {
                bump(&self.stats.unsent);
                continue;
            }
            match msg {
                Outgoing::Event(e) => count_event(&self.stats, &mut m.unacked, e.kind, e.seq),
                Outgoing::Access(_) => bump(&self.stats.access_sent),
                _ => {}
            }
        }
    }
}

fn count_event(stats: &Stats, unacked: &mut BTreeSet<u32>, kind: EventKind, seq: u32) {
    bump(&stats.events_sent);
    if !kind.needs_ack() {
        bump(&stats.heartbeats);
    } else if unacked.insert(seq) {
        bump(&stats.events_new);
    } else {
        bump(&stats.events_resent);
    }
}

fn now_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
