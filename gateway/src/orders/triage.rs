//! Triage (轻重缓急): which alarms become orders, how bad and how soon, and
//! so which deadlines and which outbox priority. Pure: no I/O.

use std::collections::BTreeMap;

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::{AlarmKind, Severity, Urgency};

use super::config::{EscalationConfig, OrdersConfig};
use crate::uplink::Class;

/// What triage decided for an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triage {
    /// How bad (the alarm's own severity).
    pub severity: Severity,
    /// How soon.
    pub urgency: Urgency,
    /// Acceptance deadline after opening, ms.
    pub ack_ms: u64,
    /// Closing deadline after opening, ms.
    pub close_ms: u64,
}

/// The built-in urgency of a kind: life safety is immediate ("urgent ones
/// rushed"), damage to property or people stuck is urgent, equipment is routine.
pub const fn default_urgency(kind: AlarmKind) -> Urgency {
    use AlarmKind::*;
    match kind {
        Fire | Gas => Urgency::Immediate,
        WaterLeak | WaterLevel | Intrusion | DoorForced | FireLaneBlocked | EbikeOverheat
        | ElevatorFault | ManholeOpen | HelpCall => Urgency::Urgent,
        DoorHeld | Threshold | Tamper | DeviceOffline | SensorFault | LowBattery | Chattering
        | UnstableLink => Urgency::Routine,
    }
}

/// The built-in deadlines `(ack, close)` in seconds: by urgency, halved for
/// critical alarms that are not already immediate.
pub const fn default_sla(severity: Severity, urgency: Urgency) -> (u64, u64) {
    let (ack, close) = match urgency {
        Urgency::Immediate => (120, 3_600),
        Urgency::Urgent => (1_800, 8 * 3_600),
        Urgency::Routine => (4 * 3_600, 72 * 3_600),
    };
    match (severity, urgency) {
        (Severity::Critical, Urgency::Urgent | Urgency::Routine) => (ack / 2, close / 2),
        _ => (ack, close),
    }
}

/// The validated policy of `[orders]`.
#[derive(Debug, Clone)]
pub struct Policy {
    kinds: Vec<AlarmKind>,
    min_severity: Severity,
    urgency: BTreeMap<AlarmKind, Urgency>,
    sla: BTreeMap<(Severity, Urgency), (u64, u64)>,
    /// Cards and escalation.
    pub escalation: EscalationConfig,
}

impl Policy {
    /// Builds the policy.
    ///
    /// # Errors
    /// Every problem of the section, each naming its field.
    pub fn new(cfg: &OrdersConfig) -> Result<Self, Vec<String>> {
        cfg.validate()?;
        Ok(Self {
            kinds: cfg.kinds.clone(),
            min_severity: cfg.min_severity,
            urgency: cfg.urgency.clone(),
            sla: cfg
                .sla
                .iter()
                .map(|r| ((r.severity, r.urgency), (r.ack_secs, r.close_secs)))
                .collect(),
            escalation: cfg.escalation,
        })
    }

    /// Whether `alarm` should have an order: confirmed (active or already
    /// acknowledged), not a test, of a ticketed kind and severe enough.
    pub fn wants_order(&self, alarm: &AlarmFeed) -> bool {
        matches!(alarm.state, AlarmState::Active | AlarmState::Acknowledged)
            && !alarm.test
            && !alarm.devices.is_empty()
            && self.kinds.contains(&alarm.kind)
            && alarm.severity >= self.min_severity
    }

    /// Severity, urgency and deadlines for `alarm`.
    pub fn triage(&self, alarm: &AlarmFeed) -> Triage {
        let urgency = self
            .urgency
            .get(&alarm.kind)
            .copied()
            .unwrap_or(default_urgency(alarm.kind));
        let (ack, close) = self
            .sla
            .get(&(alarm.severity, urgency))
            .copied()
            .unwrap_or(default_sla(alarm.severity, urgency));
        Triage {
            severity: alarm.severity,
            urgency,
            ack_ms: ack * 1_000,
            close_ms: close * 1_000,
        }
    }

    /// The outbox priority of an order: life safety and critical or
    /// immediate orders overtake everything else.
    pub fn class(kind: AlarmKind, severity: Severity, urgency: Urgency) -> Class {
        if kind.is_life_safety() || severity == Severity::Critical || urgency == Urgency::Immediate
        {
            Class::Alarm
        } else {
            Class::Order
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::alarm;

    #[test]
    fn fire_is_critical_and_immediate_offline_is_minor_and_routine() {
        let p = Policy::new(&OrdersConfig::default()).expect("policy");
        let fire = p.triage(&alarm(AlarmKind::Fire, AlarmState::Active));
        assert_eq!(
            (fire.severity, fire.urgency),
            (Severity::Critical, Urgency::Immediate)
        );
        assert_eq!((fire.ack_ms, fire.close_ms), (120_000, 3_600_000));
        let off = p.triage(&alarm(AlarmKind::DeviceOffline, AlarmState::Active));
        assert_eq!(
            (off.severity, off.urgency),
            (Severity::Minor, Urgency::Routine)
        );
        assert_eq!(
            Policy::class(AlarmKind::Fire, fire.severity, fire.urgency),
            Class::Alarm
        );
        assert_eq!(
            Policy::class(AlarmKind::DeviceOffline, off.severity, off.urgency),
            Class::Order
        );
    }

    #[test]
    fn tests_pre_alarms_and_unticketed_kinds_make_no_order() {
        let cfg = OrdersConfig {
            kinds: vec![AlarmKind::Fire],
            ..OrdersConfig::default()
        };
        let p = Policy::new(&cfg).expect("policy");
        assert!(p.wants_order(&alarm(AlarmKind::Fire, AlarmState::Active)));
        assert!(!p.wants_order(&alarm(AlarmKind::Fire, AlarmState::PreAlarm)));
        assert!(!p.wants_order(&alarm(AlarmKind::Gas, AlarmState::Active)));
        let mut test = alarm(AlarmKind::Fire, AlarmState::Active);
        test.test = true;
        assert!(!p.wants_order(&test));
    }
}
