//! Which alarm kinds are open at each device (pure), from the alarm feed:
//! what `gs/v1/site/{site}/alarms/{device}` carries.

use std::collections::{BTreeMap, BTreeSet};

use protocol::feed::{AlarmFeed, AlarmState, DeviceAlarms};
use protocol::{AlarmKind, DeviceId};

/// The open alarms by id, and what they mean for their devices.
#[derive(Debug, Default)]
pub struct OpenAlarms {
    /// Alarm id → (kind, pre-alarm?, devices), for the open ones only.
    open: BTreeMap<String, (AlarmKind, bool, Vec<DeviceId>)>,
}

impl OpenAlarms {
    /// Takes one alarm update; returns the devices whose open kinds may
    /// have changed (those it names now or named before).
    pub fn update(&mut self, feed: &AlarmFeed) -> BTreeSet<DeviceId> {
        let mut touched: BTreeSet<DeviceId> = feed.devices.iter().cloned().collect();
        let before = self.open.remove(feed.id.as_str());
        if let Some((_, _, devices)) = before {
            touched.extend(devices);
        }
        let open = !feed.test && !feed.state.is_final();
        if open {
            let pre = feed.state == AlarmState::PreAlarm;
            self.open.insert(
                feed.id.as_str().to_owned(),
                (feed.kind, pre, feed.devices.clone()),
            );
        }
        touched
    }

    /// What `device` has open.
    pub fn of(&self, device: &DeviceId) -> DeviceAlarms {
        let (mut active, mut pre) = (BTreeSet::new(), BTreeSet::new());
        for (kind, is_pre, devices) in self.open.values() {
            if devices.contains(device) {
                if *is_pre {
                    pre.insert(*kind);
                } else {
                    active.insert(*kind);
                }
            }
        }
        DeviceAlarms {
            device: device.clone(),
            active: active.into_iter().collect(),
            pre_alarm: pre.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::Severity;

    use super::*;

    fn feed(id: &str, kind: AlarmKind, state: AlarmState, devices: &[&str]) -> AlarmFeed {
        AlarmFeed {
            id: protocol::AlarmId::new(id).expect("id"),
            kind,
            severity: Severity::Critical,
            state,
            condition: true,
            test: false,
            devices: devices
                .iter()
                .map(|d| DeviceId::new(d).expect("id"))
                .collect(),
            zone: None,
            location: String::new(),
            grid: (*crate::testutil::device("x", "smoke", "r1", None).grid).clone(),
            raised_at: 1,
            confirmed_at: None,
            confirmed_by: None,
            ended_at: None,
            snapshot: None,
        }
    }

    fn id(s: &str) -> DeviceId {
        DeviceId::new(s).expect("id")
    }

    #[test]
    fn a_device_shows_its_open_kinds_until_the_alarm_ends() {
        let mut o = OpenAlarms::default();
        let t = o.update(&feed("a1", AlarmKind::Fire, AlarmState::PreAlarm, &["s1"]));
        assert_eq!(t, BTreeSet::from([id("s1")]));
        assert_eq!(o.of(&id("s1")).pre_alarm, [AlarmKind::Fire]);
        assert!(o.of(&id("s1")).active.is_empty());
        let t = o.update(&feed(
            "a1",
            AlarmKind::Fire,
            AlarmState::Active,
            &["s1", "s2"],
        ));
        assert_eq!(t, BTreeSet::from([id("s1"), id("s2")]));
        assert_eq!(o.of(&id("s2")).active, [AlarmKind::Fire]);
        o.update(&feed("a2", AlarmKind::Tamper, AlarmState::Active, &["s1"]));
        assert_eq!(o.of(&id("s1")).active, [AlarmKind::Fire, AlarmKind::Tamper]);
        let t = o.update(&feed(
            "a1",
            AlarmKind::Fire,
            AlarmState::Reset,
            &["s1", "s2"],
        ));
        assert!(t.contains(&id("s2")));
        assert_eq!(o.of(&id("s1")).active, [AlarmKind::Tamper]);
        assert!(o.of(&id("s2")).active.is_empty());
    }

    #[test]
    fn maintenance_tests_do_not_show_as_open() {
        let mut o = OpenAlarms::default();
        let mut f = feed("a1", AlarmKind::Fire, AlarmState::Active, &["s1"]);
        f.test = true;
        o.update(&f);
        assert!(o.of(&id("s1")).active.is_empty());
    }
}
