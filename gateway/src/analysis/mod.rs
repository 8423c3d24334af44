//! The analysis task: owns the rules, the alarm engine and linkage, and
//! carries out what they decide. One task, so alarm state has one owner;
//! inputs are taken life-safety first (events, presence, operators, timers,
//! then telemetry).

use std::sync::Arc;
use std::time::Duration;

use protocol::feed::{AlarmFeed, TelemetryFeed};
use protocol::{Feed, Name};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::alarms::windows::{self, Change as MaintenanceChange};
use crate::alarms::{Effect, Engine, MaintenanceError, OperatorAction, OperatorError, Window};
use crate::bus::{Outgoing, Publisher};
use crate::clock::SharedClock;
use crate::linkage::{Action, Linkage, LinkageRecord};
use crate::message::{Body, Ingested};
use crate::presence::{Change, Signal};
use crate::registry::RegistryCell;
use crate::rules::{Rules, RulesOutput};

pub mod gate;

/// How often analysis goes round with no input (timers, windows, health).
pub const TICK: Duration = Duration::from_millis(50);

/// Requests from operators and tools to the analysis task.
#[derive(Debug)]
pub enum Control {
    /// Acknowledge, reset or cancel an alarm.
    Operator {
        /// The alarm.
        id: String,
        /// What to do.
        action: OperatorAction,
        /// The outcome.
        reply: oneshot::Sender<Result<(), OperatorError>>,
    },
    /// Start, end or restore a maintenance window (already validated
    /// against the registry; stored by the caller).
    Maintenance {
        /// What to change.
        change: MaintenanceChange,
        /// The window replaced or ended, or why the change was refused.
        reply: oneshot::Sender<Result<Option<Window>, MaintenanceError>>,
    },
    /// Replace the rules (a configuration reload that passed validation).
    ReloadRules(Box<Rules>),
    /// The open alarms.
    Alarms {
        /// Where to send them.
        reply: oneshot::Sender<Vec<AlarmFeed>>,
    },
}

/// What flows out of the spine (ingest, the source bridge, presence) into analysis.
#[derive(Debug)]
pub struct SpineOutputs {
    /// Events and command acks (never shed).
    pub events: mpsc::Receiver<Ingested>,
    /// Telemetry.
    pub telemetry: mpsc::Receiver<Ingested>,
    /// Availability changes.
    pub presence: mpsc::Receiver<Change>,
}

/// Everything analysis needs.
#[derive(Debug)]
pub struct Analysis {
    /// The alarm engine.
    pub engine: Engine,
    /// Rules on telemetry.
    pub rules: Rules,
    /// Linkage commands.
    pub linkage: Linkage,
    /// Devices and zones.
    pub registry: Arc<RegistryCell>,
    /// Where alarm state and feeds go.
    pub publisher: Publisher,
    /// The gateway's clock.
    pub clock: SharedClock,
    /// The site, for integrator topics.
    pub site: Name,
    /// Alarm changes and linkage records, for the store and later stages.
    pub changes: mpsc::UnboundedSender<AnalysisOut>,
    /// What acknowledged events changed, held until each is committed.
    pub gate: gate::Gate,
    /// Its heartbeat, for `/healthz` and the watchdog.
    pub progress: std::sync::Arc<crate::health::Progress>,
}

/// Milliseconds of a monotonic clock (tokio's, so paused in tests), for
/// the commit gate's hold: real time, whatever the gateway's clock says.
fn mono_ms() -> u64 {
    static ORIGIN: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(tokio::time::Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What analysis reports to the stages after it.
#[derive(Debug, Clone)]
pub enum AnalysisOut {
    /// An alarm changed.
    Alarm(Box<AlarmFeed>),
    /// A linkage command finished.
    Linkage(LinkageRecord),
    /// An aggregate window closed.
    Aggregate(protocol::feed::Aggregate),
    /// A maintenance window reached its `until`.
    MaintenanceExpired(Window),
    /// The committed event with this row id was evaluated: store what it
    /// changed and mark it evaluated, in one transaction.
    Evaluated {
        /// The event's row id.
        event: i64,
        /// What evaluating it changed.
        outs: Vec<AnalysisOut>,
    },
}

impl Analysis {
    /// Runs until shutdown.
    pub async fn run(
        mut self,
        mut input: SpineOutputs,
        mut control: mpsc::Receiver<Control>,
        shutdown: CancellationToken,
    ) {
        // Retained alarm state lives in the broker's memory: republish it.
        let open: Vec<AlarmFeed> = self.engine.open().map(|a| a.feed.clone()).collect();
        for feed in &open {
            self.publish_alarm(feed);
        }
        // A confirmed fire or gas alarm found open: doors and valves again, now.
        let fx = self.engine.reassert();
        self.apply(fx);
        self.flush();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                Some(m) = input.events.recv() => self.on_event(m),
                Some(c) = input.presence.recv() => self.on_presence(&c),
                Some(c) = control.recv() => self.on_control(c),
                _ = tick.tick() => self.on_tick(),
                Some(m) = input.telemetry.recv() => self.on_telemetry(&m),
            }
            self.flush();
            self.progress.beat(input.events.len());
        }
    }

    fn on_event(&mut self, m: Ingested) {
        match &m.body {
            Body::Event(ev) if ev.kind.needs_ack() => {
                self.gate.begin((m.device.id.clone(), ev.seq), mono_ms());
                let fx = self.engine.on_event(&m.device, ev, m.at_ms);
                self.apply(fx);
                self.gate.end();
            }
            Body::Event(ev) => {
                let fx = self.engine.on_event(&m.device, ev, m.at_ms);
                self.apply(fx);
            }
            Body::Committed { seq, id } => {
                self.gate.committed(&(m.device.id.clone(), *seq), *id);
            }
            Body::CommandAck(ack) => {
                if let Some(rec) = self.linkage.on_ack(&m.device.id, ack, m.at_ms) {
                    tracing::info!(alarm = %rec.alarm, device = %rec.device, cmd = %rec.cmd, ok = rec.ok, attempts = rec.attempts, "linkage acknowledged");
                    self.emit(AnalysisOut::Linkage(rec));
                }
            }
            _ => {}
        }
    }

    fn on_presence(&mut self, c: &Change) {
        if c.signal == Signal::Connected {
            self.linkage.on_connected(&c.device, self.clock.now_ms());
            return;
        }
        let registry = self.registry.get();
        if let Some(dev) = registry.device(&c.device) {
            let fx = match c.signal {
                Signal::Availability => self.engine.on_availability(dev, c.status, c.at_ms),
                Signal::UnstableLink => self.engine.on_link(dev, false, c.at_ms),
                Signal::LinkStable => self.engine.on_link(dev, true, c.at_ms),
                Signal::Connected => return,
            };
            self.apply(fx);
        }
    }

    fn on_control(&mut self, c: Control) {
        let now = self.clock.now_ms();
        match c {
            Control::Operator { id, action, reply } => {
                let r = self
                    .engine
                    .operator(&id, action, now)
                    .map(|fx| self.apply(fx));
                if let Err(e) = &r {
                    tracing::warn!(alarm = %id, ?action, error = %e, "operator action refused");
                }
                let _ = reply.send(r);
            }
            Control::Maintenance { change, reply } => {
                let r = windows::apply(&mut self.engine, &self.registry.get(), change);
                let _ = reply.send(r);
            }
            Control::ReloadRules(rules) => {
                tracing::info!("rules reloaded");
                self.rules = *rules;
            }
            Control::Alarms { reply } => {
                let _ = reply.send(self.engine.open().map(|a| a.feed.clone()).collect());
            }
        }
    }

    /// Queues an output behind whatever the gate holds.
    fn emit(&mut self, out: AnalysisOut) {
        self.gate.push(out);
    }

    /// Sends what the gate lets go.
    fn flush(&mut self) {
        for out in self.gate.drain() {
            let _ = self.changes.send(out);
        }
    }

    fn on_tick(&mut self) {
        let now = self.clock.now_ms();
        self.gate.expire(mono_ms());
        let fx = self.engine.tick(now);
        self.apply(fx);
        for w in self.engine.maintenance_mut().expire(now) {
            tracing::info!(window = %w.target, by = %w.by, "maintenance window expired");
            let _ = self.changes.send(AnalysisOut::MaintenanceExpired(w));
        }
        self.linkage.tick(now);
        for agg in self.rules.aggregator.flush(now) {
            self.emit(AnalysisOut::Aggregate(agg.clone()));
            let id = format!("{}-{}-{}", agg.scope, agg.id, agg.field);
            if let Some(m) = Outgoing::feed(&self.site, Feed::Agg, &id, &agg) {
                self.publisher.feed(m);
            }
        }
    }

    fn on_telemetry(&mut self, m: &Ingested) {
        let Body::Telemetry(tel) = &m.body else {
            return;
        };
        let registry = self.registry.get();
        let building = registry.building_of(&m.device.id);
        for out in self
            .rules
            .on_telemetry(&m.device, building.as_ref(), tel, m.at_ms)
        {
            match out {
                RulesOutput::Threshold {
                    kind, pre, raised, ..
                } => {
                    let fx = self
                        .engine
                        .on_threshold(&m.device, kind, pre, raised, m.at_ms);
                    self.apply(fx);
                }
                RulesOutput::Publish(readings) => self.publish_telemetry(m, readings),
            }
        }
    }

    fn publish_telemetry(&self, m: &Ingested, readings: Vec<(protocol::FieldName, f32)>) {
        let feed = TelemetryFeed {
            device: m.device.id.clone(),
            at: m.at_ms,
            readings: readings.into_iter().collect(),
        };
        if let Some(out) = Outgoing::feed(&self.site, Feed::Tel, &m.device.id, &feed) {
            self.publisher.feed(out);
        }
    }

    /// Publishes an alarm's state, retained, on the priority lane (never shed).
    fn publish_alarm(&self, feed: &AlarmFeed) {
        if let Some(m) = Outgoing::feed(&self.site, Feed::Alarm, &feed.id, feed) {
            self.publisher.urgent(m);
        }
    }

    /// Carries out the engine's effects: linkage first, then state.
    fn apply(&mut self, fx: Vec<Effect>) {
        let now = self.clock.now_ms();
        for e in &fx {
            let (alarm, action, zone) = match e {
                Effect::Release { alarm, zone } => (alarm, Action::Release, zone),
                Effect::CloseValve { alarm, zone } => (alarm, Action::CloseValve, zone),
                Effect::Changed(_) => continue,
            };
            let targets = self.linkage.targets(&self.registry.get(), action, zone);
            if targets.is_empty() {
                tracing::warn!(alarm, zone, ?action, "no linkage targets in the zone");
            }
            self.linkage.start(alarm, action, &targets, now);
        }
        for e in fx {
            if let Effect::Changed(feed) = e {
                tracing::info!(alarm = %feed.id, kind = %feed.kind, state = ?feed.state, devices = feed.devices.len(), location = %feed.location, test = feed.test, "alarm");
                self.publish_alarm(&feed);
                self.emit(AnalysisOut::Alarm(feed));
            }
        }
    }
}
