//! Per-device, per-field rule state.

use std::collections::HashMap;
use std::sync::Arc;

use protocol::profile::When;
use protocol::{AlarmKind, DeviceId, FieldName, KindName, Name, Telemetry};

use super::{Aggregator, RulesConfig};
use crate::registry::DeviceInfo;
use crate::registry::Profiles;

/// What the rules found in one telemetry message.
#[derive(Debug, Clone, PartialEq)]
pub enum RulesOutput {
    /// A threshold was crossed (`raised`) or cleared.
    Threshold {
        /// The field.
        field: FieldName,
        /// The alarm kind it raises.
        kind: AlarmKind,
        /// First stage only.
        pre: bool,
        /// Raised or cleared.
        raised: bool,
        /// The reading.
        value: f32,
    },
    /// Readings that moved past their deadband, to publish.
    Publish(Vec<(FieldName, f32)>),
}

/// Counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct RulesStats {
    /// Repeated telemetry (same `seq` again) dropped.
    pub duplicates: u64,
    /// Messages over a device's rate limit dropped.
    pub rate_limited: u64,
    /// Readings outside the field's physical range.
    pub out_of_range: u64,
}

#[derive(Debug, Clone)]
struct Limit {
    when: When,
    hysteresis: f32,
    kind: AlarmKind,
    pre: bool,
}

#[derive(Debug, Default)]
struct FieldState {
    published: Option<f32>,
    /// Per limit: (raised, consecutive readings past it).
    limits: Vec<(bool, u32)>,
    out_of_range: bool,
}

/// The rules.
#[derive(Debug)]
pub struct Rules {
    profiles: Arc<Profiles>,
    cfg: RulesConfig,
    extra: HashMap<(KindName, FieldName), Vec<Limit>>,
    fields: HashMap<(DeviceId, FieldName), FieldState>,
    last_seq: HashMap<DeviceId, u32>,
    buckets: HashMap<DeviceId, (f64, u64)>,
    /// Aggregates per building and grid cell.
    pub aggregator: Aggregator,
    stats: RulesStats,
}

impl Rules {
    /// Rules from the profiles and configuration.
    pub fn new(profiles: Arc<Profiles>, cfg: RulesConfig, now: u64) -> Self {
        let mut extra: HashMap<_, Vec<Limit>> = HashMap::new();
        for t in &cfg.thresholds {
            extra
                .entry((t.profile.clone(), t.field.clone()))
                .or_default()
                .push(Limit {
                    when: match (t.above, t.below) {
                        (Some(a), _) => When::Above(a),
                        // Validated: exactly one of the two is set.
                        (None, b) => When::Below(b.unwrap_or(f32::NEG_INFINITY)),
                    },
                    hysteresis: t.hysteresis,
                    kind: t.alarm,
                    pre: t.stage == protocol::profile::Stage::PreAlarm,
                });
        }
        let aggregator = Aggregator::new(cfg.aggregate_window_s * 1000, now);
        Self {
            profiles,
            cfg,
            extra,
            fields: HashMap::new(),
            last_seq: HashMap::new(),
            buckets: HashMap::new(),
            aggregator,
            stats: RulesStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> RulesStats {
        self.stats
    }

    fn limits(&self, profile: &KindName, field: &FieldName) -> Vec<Limit> {
        let mut out: Vec<Limit> = self
            .profiles
            .get(profile)
            .and_then(|p| p.field(field))
            .map(|f| {
                f.triggers()
                    .into_iter()
                    .map(|t| Limit {
                        when: t.when,
                        hysteresis: t.hysteresis,
                        kind: t.alarm,
                        pre: t.stage == protocol::profile::Stage::PreAlarm,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(x) = self.extra.get(&(profile.clone(), field.clone())) {
            out.extend(x.iter().cloned());
        }
        out
    }

    /// Token bucket: true if the message is within the device's rate.
    fn admit(&mut self, device: &DeviceId, at: u64) -> bool {
        let rate = self.cfg.max_rate_per_device;
        if rate <= 0.0 {
            return true;
        }
        let (tokens, last) = self
            .buckets
            .entry(device.clone())
            .or_insert((rate * 2.0, at));
        #[allow(clippy::cast_precision_loss)]
        let refill = at.saturating_sub(*last) as f64 / 1000.0 * rate;
        *tokens = (*tokens + refill).min(rate * 2.0);
        *last = at;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Applies every rule to one telemetry message; `building` is the device's building.
    pub fn on_telemetry(
        &mut self,
        dev: &DeviceInfo,
        building: Option<&Name>,
        tel: &Telemetry,
        at: u64,
    ) -> Vec<RulesOutput> {
        if self.last_seq.insert(dev.id.clone(), tel.seq) == Some(tel.seq) {
            self.stats.duplicates += 1;
            return Vec::new();
        }
        if !self.admit(&dev.id, at) {
            self.stats.rate_limited += 1;
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut publish = Vec::new();
        for (field, v) in &tel.readings {
            if !self.in_range(dev, field, *v, &mut out) {
                continue;
            }
            if let Some(b) = building {
                self.aggregator.add("building", b, field, *v);
            }
            self.aggregator.add("cell", &dev.grid.cell, field, *v);
            self.thresholds(dev, field, *v, &mut out);
            if self.past_deadband(dev, field, *v) {
                publish.push((field.clone(), *v));
            }
        }
        if !publish.is_empty() {
            out.push(RulesOutput::Publish(publish));
        }
        out
    }

    /// Range check: a reading outside the field's physical range is a sensor
    /// fault, never an alarm of the premises.
    fn in_range(
        &mut self,
        dev: &DeviceInfo,
        field: &FieldName,
        v: f32,
        out: &mut Vec<RulesOutput>,
    ) -> bool {
        let Some(f) = self
            .profiles
            .get(&dev.profile)
            .and_then(|p| p.field(field).cloned())
        else {
            return true;
        };
        let bad = v < f.min || v > f.max;
        if bad {
            self.stats.out_of_range += 1;
        }
        let st = self
            .fields
            .entry((dev.id.clone(), field.clone()))
            .or_default();
        if bad != st.out_of_range {
            st.out_of_range = bad;
            out.push(RulesOutput::Threshold {
                field: field.clone(),
                kind: AlarmKind::SensorFault,
                pre: false,
                raised: bad,
                value: v,
            });
        }
        !bad
    }

    fn thresholds(
        &mut self,
        dev: &DeviceInfo,
        field: &FieldName,
        v: f32,
        out: &mut Vec<RulesOutput>,
    ) {
        let limits = self.limits(&dev.profile, field);
        let debounce = self.cfg.debounce_readings.max(1);
        let st = self
            .fields
            .entry((dev.id.clone(), field.clone()))
            .or_default();
        st.limits.resize(limits.len(), (false, 0));
        for (l, (raised, streak)) in limits.iter().zip(st.limits.iter_mut()) {
            let (past, back) = l.when.test(v, l.hysteresis);
            *streak = if past { *streak + 1 } else { 0 };
            let change = if !*raised && *streak >= debounce {
                Some(true)
            } else if *raised && back {
                Some(false)
            } else {
                None
            };
            if let Some(r) = change {
                *raised = r;
                out.push(RulesOutput::Threshold {
                    field: field.clone(),
                    kind: l.kind,
                    pre: l.pre,
                    raised: r,
                    value: v,
                });
            }
        }
    }

    fn past_deadband(&mut self, dev: &DeviceInfo, field: &FieldName, v: f32) -> bool {
        let band = self
            .profiles
            .get(&dev.profile)
            .and_then(|p| p.field(field))
            .map_or(0.0, |f| f.deadband);
        let st = self
            .fields
            .entry((dev.id.clone(), field.clone()))
            .or_default();
        let moved = st.published.is_none_or(|p| (v - p).abs() >= band);
        if moved {
            st.published = Some(v);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::device;

    fn tel(seq: u32, field: &str, v: f32) -> Telemetry {
        let mut readings = heapless::LinearMap::new();
        let _ = readings.insert(FieldName::new(field).expect("field"), v);
        Telemetry {
            seq,
            ts: None,
            readings,
        }
    }

    fn rules(cfg: RulesConfig) -> Rules {
        Rules::new(Arc::new(Profiles::builtin()), cfg, 0)
    }

    fn thresholds(out: &[RulesOutput]) -> Vec<(AlarmKind, bool, bool)> {
        out.iter()
            .filter_map(|o| match o {
                RulesOutput::Threshold {
                    kind, pre, raised, ..
                } => Some((*kind, *pre, *raised)),
                RulesOutput::Publish(_) => None,
            })
            .collect()
    }

    #[test]
    fn gas_thresholds_debounce_and_hysteresis() {
        let mut r = rules(RulesConfig::default());
        let g = device("gas-1", "gas", "kitchen", Some("fz3"));
        let mut seq = 0;
        let mut feed = |r: &mut Rules, v: f32| {
            seq += 1;
            thresholds(&r.on_telemetry(&g, None, &tel(seq, "gas_lel", v), u64::from(seq) * 1000))
        };
        assert!(
            feed(&mut r, 12.0).is_empty(),
            "one reading is not enough (debounce 2)"
        );
        assert_eq!(feed(&mut r, 12.0), [(AlarmKind::Gas, true, true)]);
        assert_eq!(feed(&mut r, 30.0), []);
        assert_eq!(feed(&mut r, 30.0), [(AlarmKind::Gas, false, true)]);
        assert!(feed(&mut r, 24.0).is_empty(), "inside the hysteresis band");
        assert_eq!(feed(&mut r, 22.0), [(AlarmKind::Gas, false, false)]);
        assert_eq!(feed(&mut r, 5.0), [(AlarmKind::Gas, true, false)]);
    }

    #[test]
    fn readings_outside_the_physical_range_are_sensor_faults_only() {
        let mut r = rules(RulesConfig::default());
        let g = device("gas-1", "gas", "kitchen", Some("fz3"));
        let out = r.on_telemetry(&g, None, &tel(1, "gas_lel", 250.0), 0);
        assert_eq!(thresholds(&out), [(AlarmKind::SensorFault, false, true)]);
        let out = r.on_telemetry(&g, None, &tel(2, "gas_lel", 250.0), 1000);
        assert!(
            thresholds(&out).is_empty(),
            "no gas alarm from a broken sensor"
        );
        let out = r.on_telemetry(&g, None, &tel(3, "gas_lel", 1.0), 2000);
        assert_eq!(thresholds(&out), [(AlarmKind::SensorFault, false, false)]);
        assert_eq!(r.stats().out_of_range, 2);
    }

    #[test]
    fn deadband_duplicates_and_rate_limit() {
        let cfg = RulesConfig {
            max_rate_per_device: 1.0,
            ..RulesConfig::default()
        };
        let mut r = rules(cfg);
        let t = device("th-1", "temp-humidity", "hall", None);
        let published =
            |out: Vec<RulesOutput>| out.iter().any(|o| matches!(o, RulesOutput::Publish(_)));
        assert!(published(r.on_telemetry(
            &t,
            None,
            &tel(1, "temp", 21.0),
            0
        )));
        assert!(
            r.on_telemetry(&t, None, &tel(1, "temp", 21.0), 0)
                .is_empty(),
            "duplicate"
        );
        assert!(
            !published(r.on_telemetry(&t, None, &tel(2, "temp", 21.1), 100)),
            "inside deadband 0.2"
        );
        assert!(
            r.on_telemetry(&t, None, &tel(3, "temp", 25.0), 200)
                .is_empty(),
            "over 1 msg/s"
        );
        assert!(published(r.on_telemetry(
            &t,
            None,
            &tel(4, "temp", 25.0),
            5_000
        )));
        let s = r.stats();
        assert_eq!((s.duplicates, s.rate_limited), (1, 1));
    }

    #[test]
    fn configured_thresholds_add_to_profiles() {
        let cfg = RulesConfig {
            thresholds: vec![super::super::ThresholdRule {
                profile: KindName::new("temp-humidity").expect("id"),
                field: FieldName::new("temp").expect("id"),
                above: Some(35.0),
                below: None,
                hysteresis: 1.0,
                alarm: AlarmKind::Threshold,
                stage: protocol::profile::Stage::Alarm,
            }],
            debounce_readings: 1,
            ..RulesConfig::default()
        };
        let mut r = rules(cfg);
        let t = device("th-1", "temp-humidity", "hall", None);
        let out = r.on_telemetry(&t, None, &tel(1, "temp", 36.0), 0);
        assert_eq!(thresholds(&out), [(AlarmKind::Threshold, false, true)]);
    }
}
