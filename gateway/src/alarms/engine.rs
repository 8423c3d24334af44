//! The alarm engine: a pure state machine from device signals, time and
//! operator actions to alarm changes and linkage requests. It owns no I/O,
//! so every semantic is tested without sockets (see `tests.rs`) and the
//! analysis task around it decides how effects are carried out.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::{AlarmKind, Cause, DeviceId, EventKind, Name, NodeEvent, Status};

use super::effect::Effect;
use super::incident::{Alarm, Key};
use super::maintenance::Maintenance;
use super::policy::AlarmPolicy;
use crate::registry::DeviceInfo;

/// What an operator does to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Take it on.
    Acknowledge,
    /// Declare it handled; latched alarms end only this way.
    Reset,
    /// Declare it false.
    Cancel,
}

/// Why an operator action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// No open alarm has this id.
    #[error("no open alarm {0}")]
    Unknown(String),
    /// The action does not apply in the alarm's state.
    #[error("alarm {id} is {state:?}; cannot {action:?} it")]
    State {
        /// The alarm.
        id: String,
        /// Its state.
        state: AlarmState,
        /// The refused action.
        action: OperatorAction,
    },
    /// Reset while devices are still in alarm.
    #[error("alarm {id} cannot be reset: still in alarm at {devices}")]
    StillActive {
        /// The alarm.
        id: String,
        /// Devices still signalling.
        devices: String,
    },
    /// Cancel of a confirmed fire or gas alarm while devices are still in alarm.
    #[error(
        "alarm {id} is a confirmed {kind} still in alarm at {devices}: it cannot be cancelled; reset it once they restore"
    )]
    StillInAlarm {
        /// The alarm.
        id: String,
        /// Its kind.
        kind: AlarmKind,
        /// Devices still signalling.
        devices: String,
    },
}

/// The alarm engine.
#[derive(Debug)]
pub struct Engine {
    gateway: Name,
    policy: AlarmPolicy,
    next_id: u64,
    open: BTreeMap<String, Alarm>,
    by_key: HashMap<Key, String>,
    recent: HashMap<DeviceId, VecDeque<u64>>,
    chattering: HashSet<DeviceId>,
    maintenance: Maintenance,
}

impl Engine {
    /// A new engine; alarm ids continue after `last_id`.
    pub fn new(gateway: Name, policy: AlarmPolicy, last_id: u64) -> Self {
        let maintenance = Maintenance::new(policy.maintenance.iter().map(ToString::to_string));
        Self {
            gateway,
            policy,
            next_id: last_id + 1,
            open: BTreeMap::new(),
            by_key: HashMap::new(),
            recent: HashMap::new(),
            chattering: HashSet::new(),
            maintenance,
        }
    }

    /// Takes back the open alarms stored before a restart, so a latched fire
    /// stays latched and an unconfirmed one still confirms by its deadline.
    pub fn resume(&mut self, alarms: impl IntoIterator<Item = AlarmFeed>) {
        for feed in alarms.into_iter().filter(|f| !f.state.is_final()) {
            let first = feed.devices.first().cloned();
            let key = match (
                feed.kind.is_fault() || feed.kind == AlarmKind::Tamper,
                first,
            ) {
                (true, Some(d)) => Key::Device(feed.kind, d),
                _ => Key::Zone(
                    feed.kind,
                    feed.zone
                        .as_ref()
                        .map_or_else(String::new, ToString::to_string),
                    feed.test,
                ),
            };
            let active = if feed.condition {
                feed.devices.iter().cloned().collect()
            } else {
                Default::default()
            };
            let confirm_by = (feed.kind == AlarmKind::Fire && feed.state == AlarmState::PreAlarm)
                .then(|| feed.raised_at + self.policy.confirm_timeout_s * 1000);
            if feed.kind == AlarmKind::Chattering {
                self.chattering.extend(feed.devices.iter().cloned());
            }
            let id = feed.id.to_string();
            let latching = feed.kind.is_life_safety() || feed.kind == AlarmKind::Chattering;
            self.by_key.insert(key.clone(), id.clone());
            self.open.insert(
                id,
                Alarm {
                    feed,
                    active,
                    confirm_by,
                    latching,
                    key,
                },
            );
        }
    }

    /// Door release and valve close for every confirmed fire and gas alarm
    /// still open: at start-up, so a restart mid-fire re-asserts them at once.
    pub fn reassert(&self) -> Vec<Effect> {
        let mut fx = Vec::new();
        for alarm in self
            .open
            .values()
            .filter(|a| matches!(a.feed.state, AlarmState::Active | AlarmState::Acknowledged))
        {
            linkage(alarm, &mut fx);
        }
        fx
    }

    /// Open alarms, oldest id first.
    pub fn open(&self) -> impl Iterator<Item = &Alarm> {
        self.open.values()
    }

    /// The open alarm with this id.
    pub fn get(&self, id: &str) -> Option<&Alarm> {
        self.open.get(id)
    }

    /// Puts a device, site node or fire zone in or out of maintenance with
    /// no expiry (as `[alarms] maintenance` does).
    pub fn set_maintenance(&mut self, target: &str, on: bool) {
        self.maintenance.set_fixed(target, on);
    }

    /// Maintenance windows in force.
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }

    /// Maintenance windows, to start, end or expire them.
    pub fn maintenance_mut(&mut self) -> &mut Maintenance {
        &mut self.maintenance
    }

    /// An event from a node.
    pub fn on_event(&mut self, dev: &DeviceInfo, ev: &NodeEvent, at: u64) -> Vec<Effect> {
        match (ev.kind, ev.cause) {
            (EventKind::Alarm | EventKind::PreAlarm, Some(cause)) => {
                let kind = cause.alarm_kind();
                if kind.is_fault() {
                    return self.raise_fault(dev, kind, at);
                }
                let pre = ev.kind == EventKind::PreAlarm;
                let fx = self.raise(dev, kind, Some(cause), pre, at);
                self.evidence(ev, fx)
            }
            (EventKind::Fault, _) => self.raise_fault(dev, AlarmKind::SensorFault, at),
            (EventKind::Tamper, _) => self.raise_fault(dev, AlarmKind::Tamper, at),
            (EventKind::LowBattery, _) => self.raise_fault(dev, AlarmKind::LowBattery, at),
            (EventKind::Restore, cause) => self.restore(dev, cause.map(Cause::alarm_kind), at),
            _ => Vec::new(),
        }
    }

    /// The event's snapshot reference becomes the picture of the alarms it
    /// raised or changed (kept for their later changes too).
    fn evidence(&mut self, ev: &NodeEvent, mut fx: Vec<Effect>) -> Vec<Effect> {
        let Some(snap) = &ev.snapshot else { return fx };
        for e in &mut fx {
            if let Effect::Changed(feed) = e
                && let Some(alarm) = self.open.get_mut(feed.id.as_str())
            {
                alarm.feed.snapshot = Some(snap.clone());
                feed.snapshot = Some(snap.clone());
            }
        }
        fx
    }

    /// A threshold crossing found by the rules on telemetry.
    pub fn on_threshold(
        &mut self,
        dev: &DeviceInfo,
        kind: AlarmKind,
        pre: bool,
        raised: bool,
        at: u64,
    ) -> Vec<Effect> {
        match (raised, kind.is_fault()) {
            (true, true) => self.raise_fault(dev, kind, at),
            (true, false) => self.raise(dev, kind, None, pre, at),
            (false, _) => self.restore(dev, Some(kind), at),
        }
    }

    /// A device went offline or came back.
    pub fn on_availability(&mut self, dev: &DeviceInfo, status: Status, at: u64) -> Vec<Effect> {
        match status {
            Status::Offline => self.raise_fault(dev, AlarmKind::DeviceOffline, at),
            Status::Online => self.restore(dev, Some(AlarmKind::DeviceOffline), at),
        }
    }

    /// A device's link became unstable (`stable` false) or held again
    /// (`stable` true): one `unstable-link` fault per device while open.
    pub fn on_link(&mut self, dev: &DeviceInfo, stable: bool, at: u64) -> Vec<Effect> {
        if stable {
            self.restore(dev, Some(AlarmKind::UnstableLink), at)
        } else {
            self.raise_fault(dev, AlarmKind::UnstableLink, at)
        }
    }

    fn zone_of(dev: &DeviceInfo) -> String {
        dev.fire_zone
            .as_ref()
            .map_or_else(|| dev.location.to_string(), ToString::to_string)
    }

    /// A premises alarm (fire, gas, water, intrusion ...).
    fn raise(
        &mut self,
        dev: &DeviceInfo,
        kind: AlarmKind,
        cause: Option<Cause>,
        pre: bool,
        at: u64,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if kind == AlarmKind::Fire && self.note_toggle(dev, at, &mut fx) {
            return fx;
        }
        let test = self.maintenance.covers(dev, at);
        let zone = Self::zone_of(dev);
        let key = Key::Zone(kind, zone.clone(), test);
        let strong = matches!(cause, Some(Cause::Heat | Cause::ManualCall));
        if let Some(id) = self.by_key.get(&key).cloned() {
            self.join_open(&id, dev, cause, pre, at, &mut fx);
            return fx;
        }
        let mut alarm = self.new_alarm(dev, kind, key, test, at);
        alarm.latching = kind.is_life_safety();
        let immediate = self
            .policy
            .immediate_zones
            .iter()
            .any(|z| *z == zone.as_str() || *z == dev.location.as_str());
        match kind {
            AlarmKind::Fire if strong => alarm.confirm(at, confirmer(cause)),
            AlarmKind::Fire if immediate => alarm.confirm(at, "immediate"),
            AlarmKind::Fire => alarm.confirm_by = Some(at + self.policy.confirm_timeout_s * 1000),
            AlarmKind::Gas if pre => {}
            _ => alarm.confirm(at, "single-stage"),
        }
        self.emit_new(alarm, &mut fx);
        fx
    }

    fn join_open(
        &mut self,
        id: &str,
        dev: &DeviceInfo,
        cause: Option<Cause>,
        pre: bool,
        at: u64,
        fx: &mut Vec<Effect>,
    ) {
        let Some(alarm) = self.open.get_mut(id) else {
            return;
        };
        let second = !alarm.feed.devices.contains(&dev.id);
        let mut changed = alarm.join(&dev.id);
        if alarm.feed.state == AlarmState::PreAlarm {
            let by = match (alarm.feed.kind, cause) {
                (AlarmKind::Fire, Some(Cause::Heat | Cause::ManualCall)) => Some(confirmer(cause)),
                (AlarmKind::Fire, _) if second => Some("second-detector"),
                (AlarmKind::Gas, _) if !pre => Some("single-stage"),
                _ => None,
            };
            if let Some(by) = by {
                alarm.confirm(at, by);
                changed = true;
                let snapshot = alarm.clone();
                linkage(&snapshot, fx);
            }
        }
        if changed {
            fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
        }
    }

    fn raise_fault(&mut self, dev: &DeviceInfo, kind: AlarmKind, at: u64) -> Vec<Effect> {
        let mut fx = Vec::new();
        let key = Key::Device(kind, dev.id.clone());
        if let Some(id) = self.by_key.get(&key).cloned() {
            if let Some(alarm) = self.open.get_mut(&id)
                && alarm.join(&dev.id)
            {
                fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
            }
            return fx;
        }
        let test = self.maintenance.covers(dev, at);
        let mut alarm = self.new_alarm(dev, kind, key, test, at);
        alarm.confirm(at, "single-stage");
        // A chattering detector's fault is cleared by an operator, not by a restore.
        alarm.latching = kind == AlarmKind::Chattering;
        self.emit_new(alarm, &mut fx);
        fx
    }

    fn new_alarm(
        &mut self,
        dev: &DeviceInfo,
        kind: AlarmKind,
        key: Key,
        test: bool,
        at: u64,
    ) -> Alarm {
        let id = format!("{}-a{}", self.gateway, self.next_id);
        self.next_id += 1;
        let feed = AlarmFeed {
            id: protocol::Ident::new(&id).unwrap_or_else(|_| fallback_id()),
            kind,
            severity: kind.default_severity(),
            state: AlarmState::PreAlarm,
            condition: true,
            test,
            devices: vec![dev.id.clone()],
            zone: protocol::Ident::new(&Self::zone_of(dev)).ok(),
            location: dev.location_label.to_string(),
            grid: (*dev.grid).clone(),
            raised_at: at,
            confirmed_at: None,
            confirmed_by: None,
            ended_at: None,
            snapshot: None,
        };
        Alarm {
            feed,
            active: [dev.id.clone()].into(),
            confirm_by: None,
            latching: false,
            key,
        }
    }

    fn emit_new(&mut self, alarm: Alarm, fx: &mut Vec<Effect>) {
        let id = alarm.feed.id.to_string();
        if alarm.is_confirmed() {
            linkage(&alarm, fx);
        }
        fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
        self.by_key.insert(alarm.key.clone(), id.clone());
        self.open.insert(id, alarm);
    }

    /// Counts a fire signal from `dev`; true if it is (now) chattering and the
    /// signal must not raise or confirm anything.
    fn note_toggle(&mut self, dev: &DeviceInfo, at: u64, fx: &mut Vec<Effect>) -> bool {
        if self.chattering.contains(&dev.id) {
            return true;
        }
        let window = self.policy.chatter_window_s * 1000;
        let times = self.recent.entry(dev.id.clone()).or_default();
        times.push_back(at);
        while times
            .front()
            .is_some_and(|t| at.saturating_sub(*t) > window)
        {
            times.pop_front();
        }
        if times.len() < self.policy.chatter_events {
            return false;
        }
        self.chattering.insert(dev.id.clone());
        self.recent.remove(&dev.id);
        // Its own unconfirmed pre-alarm was noise: withdraw it. A confirmed
        // fire, or one another device reported, is never withdrawn.
        let own: Vec<String> = self
            .open
            .values()
            .filter(|a| a.feed.state == AlarmState::PreAlarm && a.feed.devices == [dev.id.clone()])
            .map(|a| a.feed.id.to_string())
            .collect();
        for id in own {
            self.finish(&id, AlarmState::Cancelled, at, fx);
        }
        fx.extend(self.raise_fault(dev, AlarmKind::Chattering, at));
        true
    }

    /// A device's condition ended (`kind`: only that kind of alarm).
    fn restore(&mut self, dev: &DeviceInfo, kind: Option<AlarmKind>, at: u64) -> Vec<Effect> {
        let mut fx = Vec::new();
        let ids: Vec<String> = self
            .open
            .values()
            .filter(|a| a.active.contains(&dev.id) && kind.is_none_or(|k| k == a.feed.kind))
            .map(|a| a.feed.id.to_string())
            .collect();
        for id in ids {
            let Some(alarm) = self.open.get_mut(&id) else {
                continue;
            };
            alarm.active.remove(&dev.id);
            if !alarm.active.is_empty() {
                continue;
            }
            alarm.feed.condition = false;
            if alarm.latching
                || alarm.feed.state == AlarmState::PreAlarm && alarm.feed.kind == AlarmKind::Fire
            {
                // Latched: stays until reset; an unconfirmed fire still confirms by timeout.
                fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
            } else {
                self.finish(&id, AlarmState::Cleared, at, &mut fx);
            }
        }
        fx
    }

    /// Time passes: unconfirmed fires whose timeout passed are confirmed.
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        let mut fx = Vec::new();
        for alarm in self.open.values_mut() {
            if alarm.confirm_by.is_some_and(|t| t <= now) {
                alarm.confirm(now, "timeout");
                linkage(alarm, &mut fx);
                fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
            }
        }
        fx
    }

    /// The earliest pending confirmation deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.open.values().filter_map(|a| a.confirm_by).min()
    }

    /// An operator acts on an alarm.
    ///
    /// # Errors
    /// [`OperatorError`] when the alarm is unknown or the action does not fit its state.
    pub fn operator(
        &mut self,
        id: &str,
        action: OperatorAction,
        at: u64,
    ) -> Result<Vec<Effect>, OperatorError> {
        let alarm = self
            .open
            .get_mut(id)
            .ok_or_else(|| OperatorError::Unknown(id.to_string()))?;
        let state = alarm.feed.state;
        let refuse = || OperatorError::State {
            id: id.to_string(),
            state,
            action,
        };
        let mut fx = Vec::new();
        match action {
            OperatorAction::Acknowledge if state == AlarmState::Active => {
                alarm.feed.state = AlarmState::Acknowledged;
                fx.push(Effect::Changed(Box::new(alarm.feed.clone())));
            }
            // The latch: a confirmed fire or gas alarm is never withdrawn
            // while a detector still reports it.
            OperatorAction::Cancel
                if state == AlarmState::Active
                    && alarm.feed.kind.is_life_safety()
                    && !alarm.active.is_empty() =>
            {
                return Err(OperatorError::StillInAlarm {
                    id: id.to_string(),
                    kind: alarm.feed.kind,
                    devices: joined(&alarm.active),
                });
            }
            OperatorAction::Cancel
                if matches!(state, AlarmState::PreAlarm | AlarmState::Active) =>
            {
                self.finish(id, AlarmState::Cancelled, at, &mut fx);
            }
            OperatorAction::Reset
                if !alarm.active.is_empty()
                    && alarm.latching
                    && alarm.feed.kind != AlarmKind::Chattering =>
            {
                return Err(OperatorError::StillActive {
                    id: id.to_string(),
                    devices: joined(&alarm.active),
                });
            }
            OperatorAction::Reset => {
                if alarm.feed.kind == AlarmKind::Chattering {
                    for d in &alarm.feed.devices {
                        self.chattering.remove(d);
                    }
                }
                self.finish(id, AlarmState::Reset, at, &mut fx);
            }
            _ => return Err(refuse()),
        }
        Ok(fx)
    }

    fn finish(&mut self, id: &str, state: AlarmState, at: u64, fx: &mut Vec<Effect>) {
        if let Some(mut alarm) = self.open.remove(id) {
            alarm.end(state, at);
            self.by_key.remove(&alarm.key);
            fx.push(Effect::Changed(Box::new(alarm.feed)));
        }
    }
}

fn joined(devices: &std::collections::BTreeSet<DeviceId>) -> String {
    devices
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn confirmer(cause: Option<Cause>) -> &'static str {
    match cause {
        Some(Cause::ManualCall) => "manual-call-point",
        _ => "heat",
    }
}

/// Linkage for a newly confirmed alarm; none in maintenance (test) mode.
fn linkage(alarm: &Alarm, fx: &mut Vec<Effect>) {
    if alarm.feed.test {
        return;
    }
    let Key::Zone(kind, zone, _) = &alarm.key else {
        return;
    };
    let id = alarm.feed.id.to_string();
    match kind {
        AlarmKind::Fire => fx.push(Effect::Release {
            alarm: id,
            zone: zone.clone(),
        }),
        AlarmKind::Gas => fx.push(Effect::CloseValve {
            alarm: id,
            zone: zone.clone(),
        }),
        _ => {}
    }
}

/// Ids are built from a valid gateway id and a number, so they always parse.
fn fallback_id() -> protocol::order::AlarmId {
    protocol::Ident::new("invalid-alarm").unwrap_or_else(|_| unreachable!())
}
