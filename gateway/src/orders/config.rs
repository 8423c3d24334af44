//! `[orders]`: the ticket policy, the SLA table and escalation.

use std::collections::BTreeMap;

use protocol::{AlarmKind, Severity, Tier, Urgency};
use serde::Deserialize;

/// `[orders]`: which alarms become grid work orders, and how they are supervised.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersConfig {
    /// Alarm kinds that become orders (default: all). Test alarms never do.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<AlarmKind>,
    /// The lowest severity that becomes an order.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Urgency per alarm kind, over the built-in triage (`door-held = "urgent"`).
    #[serde(default)]
    pub urgency: BTreeMap<AlarmKind, Urgency>,
    /// Deadlines per severity × urgency, over the built-in table.
    #[serde(default)]
    pub sla: Vec<SlaRule>,
    /// Cards and escalation.
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// How often deadlines are checked, ms of real time.
    #[serde(default = "default_supervise_every")]
    pub supervise_every_ms: u64,
}

/// `[[orders.sla]]`: the deadlines of one severity × urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    /// The severity this rule is for.
    pub severity: Severity,
    /// The urgency this rule is for.
    pub urgency: Urgency,
    /// A responder must accept within this many seconds of the order opening.
    pub ack_secs: u64,
    /// The order must be closed within this many seconds of opening.
    pub close_secs: u64,
}

/// `[orders.escalation]`: yellow card at a missed deadline, red card and one
/// tier up at the second deadline (grid → community → street).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Whether red cards move the order up a tier (cards are given regardless).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Time from one missed deadline to the next card, seconds; default: the
    /// deadline's own interval (ack_by + the ack interval, and so on).
    #[serde(default)]
    pub repeat_secs: Option<u64>,
    /// The highest tier a gateway escalates to.
    #[serde(default = "default_top")]
    pub top: Tier,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            repeat_secs: None,
            top: default_top(),
        }
    }
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            kinds: default_kinds(),
            min_severity: default_min_severity(),
            urgency: BTreeMap::new(),
            sla: Vec::new(),
            escalation: EscalationConfig::default(),
            supervise_every_ms: default_supervise_every(),
        }
    }
}

fn default_kinds() -> Vec<AlarmKind> {
    AlarmKind::ALL.to_vec()
}
const fn default_min_severity() -> Severity {
    Severity::Minor
}
const fn default_supervise_every() -> u64 {
    1_000
}
const fn yes() -> bool {
    true
}
const fn default_top() -> Tier {
    Tier::Street
}

impl OrdersConfig {
    /// Checks the section; every problem names its field and the fix.
    ///
    /// # Errors
    /// The list of problems.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        for (i, r) in self.sla.iter().enumerate() {
            if r.ack_secs == 0 {
                e.push(format!(
                    "orders.sla[{i}].ack_secs: must be at least 1, got 0"
                ));
            }
            if r.close_secs < r.ack_secs {
                e.push(format!(
                    "orders.sla[{i}].close_secs: must be at least ack_secs ({}), got {}",
                    r.ack_secs, r.close_secs
                ));
            }
            let dup = self.sla[..i]
                .iter()
                .any(|o| o.severity == r.severity && o.urgency == r.urgency);
            if dup {
                e.push(format!(
                    "orders.sla[{i}]: a second rule for {} × {}; keep one",
                    r.severity, r.urgency
                ));
            }
        }
        if self.escalation.repeat_secs == Some(0) {
            e.push("orders.escalation.repeat_secs: must be at least 1, got 0".into());
        }
        if self.supervise_every_ms == 0 {
            e.push("orders.supervise_every_ms: must be at least 1, got 0".into());
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_with_overrides_parses() {
        let c: OrdersConfig = toml::from_str(
            r#"
            kinds = ["fire", "gas", "device-offline"]
            min_severity = "minor"
            urgency = { "device-offline" = "urgent" }
            [[sla]]
            severity = "critical"
            urgency = "immediate"
            ack_secs = 60
            close_secs = 1800
            [escalation]
            repeat_secs = 120
            "#,
        )
        .expect("parse");
        assert_eq!(c.kinds.len(), 3);
        assert_eq!(c.urgency[&AlarmKind::DeviceOffline], Urgency::Urgent);
        assert_eq!(c.escalation.top, Tier::Street);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_rules_are_named() {
        let c: OrdersConfig = toml::from_str(
            "[[sla]]\nseverity = \"minor\"\nurgency = \"routine\"\nack_secs = 0\nclose_secs = 0\n",
        )
        .expect("parse");
        let e = c.validate().expect_err("invalid");
        assert!(e[0].starts_with("orders.sla[0].ack_secs"), "{e:?}");
        assert!(toml::from_str::<OrdersConfig>("kinds = [\"smoke\"]").is_err());
        assert!(toml::from_str::<OrdersConfig>("colour = 1").is_err());
    }
}
