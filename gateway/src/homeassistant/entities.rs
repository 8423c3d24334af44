//! The Home Assistant discovery configs of one device (pure): a sensor per
//! telemetry field of its profile (with the profile's unit), a binary sensor
//! per alarm kind the device can raise, and a connectivity binary sensor on
//! its availability feed. Every entity is read-only (no command topic).

use std::collections::BTreeSet;

use protocol::profile::Profile;
use protocol::topic::{Component, Feed, TopicId};
use protocol::{AlarmKind, DeviceKind, Name, Topic};
use serde_json::{Value, json};

use crate::registry::DeviceInfo;

/// Who announces: the discovery prefix, the compound and the gateway.
#[derive(Debug, Clone)]
pub struct Announcer {
    /// The discovery prefix (`homeassistant`).
    pub prefix: Name,
    /// The compound, for the feed topics the entities follow.
    pub site: Name,
    /// The gateway id, part of every `unique_id`.
    pub gateway: Name,
}

/// One discovery config: its retained topic and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `{prefix}/{component}/{device}/{object}/config`.
    pub topic: Topic,
    /// The config, a JSON object.
    pub config: Value,
}

/// The alarm kinds a device of `profile` can raise: the one its kind stands
/// for, its profile's thresholds, and tamper and sensor faults, which every
/// device can report (battery too, for a device that is not wired).
pub fn alarm_kinds(profile: Option<&Profile>) -> BTreeSet<AlarmKind> {
    let mut kinds = BTreeSet::from([AlarmKind::Tamper, AlarmKind::SensorFault]);
    let Some(p) = profile else {
        return kinds;
    };
    if let Some(k) = DeviceKind::parse(p.kind.as_str()) {
        kinds.extend(primary(k));
    }
    for f in &p.fields {
        kinds.extend(f.triggers().iter().map(|t| t.alarm));
    }
    if p.modbus.is_none() {
        kinds.insert(AlarmKind::LowBattery);
    }
    kinds
}

/// What a device of a built-in kind raises of its own.
fn primary(kind: DeviceKind) -> &'static [AlarmKind] {
    use AlarmKind as A;
    match kind {
        DeviceKind::Smoke | DeviceKind::Heat | DeviceKind::ManualCallPoint => &[A::Fire],
        DeviceKind::Gas => &[A::Gas],
        DeviceKind::WaterLeak => &[A::WaterLeak],
        DeviceKind::WaterLevel => &[A::WaterLevel],
        DeviceKind::DoorContact | DeviceKind::Lock => &[A::DoorForced, A::DoorHeld],
        DeviceKind::Camera => &[A::Intrusion, A::FireLaneBlocked],
        DeviceKind::EbikeCharger => &[A::EbikeOverheat],
        DeviceKind::Elevator => &[A::ElevatorFault],
        DeviceKind::ManholeCover => &[A::ManholeOpen],
        DeviceKind::CallButton => &[A::HelpCall],
        DeviceKind::CardReader | DeviceKind::TempHumidity => &[],
    }
}

/// Home Assistant's binary sensor device class for an alarm kind.
fn device_class(kind: AlarmKind) -> &'static str {
    use AlarmKind as A;
    match kind {
        A::Fire => "smoke",
        A::Gas => "gas",
        A::WaterLeak | A::WaterLevel => "moisture",
        A::Intrusion => "motion",
        A::DoorForced | A::DoorHeld => "door",
        A::EbikeOverheat => "heat",
        A::ManholeOpen => "opening",
        A::Tamper => "tamper",
        A::LowBattery => "battery",
        A::DeviceOffline | A::UnstableLink => "connectivity",
        A::FireLaneBlocked
        | A::ElevatorFault
        | A::Threshold
        | A::SensorFault
        | A::Chattering
        | A::HelpCall => "problem",
    }
}

impl Announcer {
    /// The discovery configs of `device` (of `profile`, if known), in a
    /// stable order.
    pub fn entities(&self, device: &DeviceInfo, profile: Option<&Profile>) -> Vec<Entity> {
        let mut out = vec![self.connectivity(device)];
        for kind in alarm_kinds(profile) {
            out.extend(self.alarm(device, kind));
        }
        for f in profile.map_or(&[][..], |p| &p.fields[..]) {
            out.extend(self.sensor(device, f));
        }
        out
    }

    fn topic(&self, component: Component, device: &DeviceInfo, object: &str) -> Option<Topic> {
        Some(Topic::Discovery {
            prefix: self.prefix.clone(),
            component,
            node: device.id.clone(),
            object: TopicId::new(object).ok()?,
        })
    }

    fn feed(&self, feed: Feed, device: &DeviceInfo) -> String {
        Topic::Site {
            site: self.site.clone(),
            feed,
            // A device id (32) always fits a topic id (48).
            id: TopicId::new(device.id.as_str()).expect("a device id is a topic id"),
        }
        .to_string()
    }

    /// The HA device every entity of `device` belongs to.
    fn device(&self, device: &DeviceInfo) -> Value {
        json!({
            "identifiers": [format!("gridsense-{}-{}", self.gateway, device.id)],
            "name": device.id.as_str(),
            "model": device.profile.as_str(),
            "manufacturer": "GridSense",
            "suggested_area": &*device.location_label,
        })
    }

    /// The keys every entity shares; `available` adds the device's
    /// availability feed (not on the connectivity sensor, which reads it).
    fn common(&self, device: &DeviceInfo, object: &str, name: &str, available: bool) -> Value {
        let mut v = json!({
            "name": name,
            "unique_id": format!("gridsense-{}-{}-{object}", self.gateway, device.id),
            "device": self.device(device),
            "origin": {"name": "GridSense", "sw_version": env!("CARGO_PKG_VERSION")},
        });
        if available {
            v["availability"] = json!([{
                "topic": self.feed(Feed::Device, device),
                "value_template": "{{ value_json.status }}",
                "payload_available": "online",
                "payload_not_available": "offline",
            }]);
        }
        v
    }

    fn connectivity(&self, device: &DeviceInfo) -> Entity {
        let mut config = self.common(device, "availability", "Connectivity", false);
        config["state_topic"] = self.feed(Feed::Device, device).into();
        config["value_template"] = "{{ 'ON' if value_json.status == 'online' else 'OFF' }}".into();
        config["device_class"] = "connectivity".into();
        config["entity_category"] = "diagnostic".into();
        Entity {
            // "availability" is a valid identifier.
            topic: self
                .topic(Component::BinarySensor, device, "availability")
                .expect("a valid object id"),
            config,
        }
    }

    fn alarm(&self, device: &DeviceInfo, kind: AlarmKind) -> Option<Entity> {
        let k = kind.as_str();
        let mut config = self.common(device, k, &title(k), true);
        config["state_topic"] = self.feed(Feed::Alarms, device).into();
        config["value_template"] =
            format!("{{{{ 'ON' if '{k}' in value_json.active else 'OFF' }}}}").into();
        config["device_class"] = device_class(kind).into();
        if kind.is_fault() || kind == AlarmKind::Tamper {
            config["entity_category"] = "diagnostic".into();
        }
        Some(Entity {
            topic: self.topic(Component::BinarySensor, device, k)?,
            config,
        })
    }

    fn sensor(&self, device: &DeviceInfo, f: &protocol::profile::Field) -> Option<Entity> {
        let n = f.name.as_str();
        let mut config = self.common(device, n, &title(n), true);
        config["state_topic"] = self.feed(Feed::Tel, device).into();
        // The feed carries only the readings that moved past their
        // deadband: a message without this field keeps the state.
        config["value_template"] = format!(
            "{{{{ value_json.readings['{n}'] if '{n}' in value_json.readings else this.state }}}}"
        )
        .into();
        let states = f.enum_values();
        if !states.is_empty() {
            // An enumeration shows its states' names.
            let names: Vec<&str> = states.iter().map(|(_, s)| s.name.as_str()).collect();
            let map: serde_json::Map<String, Value> = states
                .iter()
                .map(|(v, s)| (v.to_string(), s.name.clone().into()))
                .collect();
            let map = Value::Object(map).to_string();
            config["device_class"] = "enum".into();
            config["options"] = json!(names);
            config["value_template"] = format!(
                "{{% set s = {map} %}}{{{{ s.get(value_json.readings['{n}'] | int | string, this.state) if '{n}' in value_json.readings else this.state }}}}"
            )
            .into();
        } else if !f.unit.is_empty() {
            config["unit_of_measurement"] = f.unit.clone().into();
            config["state_class"] = "measurement".into();
        }
        Some(Entity {
            topic: self.topic(Component::Sensor, device, n)?,
            config,
        })
    }
}

/// `water-leak` → `Water leak`, `gas_lel` → `Gas lel`: an entity's name.
fn title(id: &str) -> String {
    let spaced = id.replace(['-', '_'], " ");
    let mut c = spaced.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Profiles;

    fn device(id: &str, profile: &str) -> DeviceInfo {
        crate::testutil::device(id, profile, "r701", None)
            .as_ref()
            .clone()
    }

    fn announcer() -> Announcer {
        Announcer {
            prefix: Name::new("homeassistant").expect("id"),
            site: Name::new("lianhua").expect("id"),
            gateway: Name::new("gw01").expect("id"),
        }
    }

    #[test]
    fn a_smoke_detector_has_fire_faults_and_connectivity() {
        let profiles = Profiles::builtin();
        let d = device("smoke-1", "smoke");
        let all = announcer().entities(&d, profiles.get("smoke"));
        let topics: Vec<String> = all.iter().map(|e| e.topic.to_string()).collect();
        assert!(
            topics.contains(&"homeassistant/binary_sensor/smoke-1/fire/config".to_string()),
            "{topics:?}"
        );
        assert!(
            topics.contains(&"homeassistant/binary_sensor/smoke-1/availability/config".to_string())
        );
        assert!(topics.contains(&"homeassistant/binary_sensor/smoke-1/tamper/config".to_string()));
        let fire = all
            .iter()
            .find(|e| e.topic.to_string().ends_with("/fire/config"))
            .expect("fire");
        assert_eq!(
            fire.config["state_topic"],
            "gs/v1/site/lianhua/alarms/smoke-1"
        );
        assert_eq!(fire.config["device_class"], "smoke");
        assert_eq!(fire.config["unique_id"], "gridsense-gw01-smoke-1-fire");
        assert_eq!(
            fire.config["availability"][0]["topic"],
            "gs/v1/site/lianhua/device/smoke-1/availability"
        );
        assert!(fire.config.get("command_topic").is_none(), "read-only");
        let uniques: BTreeSet<&str> = all
            .iter()
            .filter_map(|e| e.config["unique_id"].as_str())
            .collect();
        assert_eq!(uniques.len(), all.len(), "unique ids are unique");
    }

    #[test]
    fn sensors_take_the_profiles_units_and_follow_the_telemetry_feed() {
        let profiles = Profiles::builtin();
        let d = device("th-1", "temp-humidity");
        let p = profiles.get("temp-humidity").expect("profile");
        let all = announcer().entities(&d, Some(p));
        for f in &p.fields {
            let e = all
                .iter()
                .find(|e| {
                    e.topic.to_string() == format!("homeassistant/sensor/th-1/{}/config", f.name)
                })
                .unwrap_or_else(|| panic!("no sensor for {}", f.name));
            assert_eq!(e.config["state_topic"], "gs/v1/site/lianhua/tel/th-1");
            assert_eq!(
                e.config["unit_of_measurement"].as_str().unwrap_or(""),
                f.unit
            );
            let t = e.config["value_template"].as_str().expect("template");
            assert!(t.contains(&format!("readings['{}']", f.name)), "{t}");
        }
    }

    #[test]
    fn an_enumeration_is_an_enum_sensor_and_its_alarms_binary_sensors() {
        let profiles = Profiles::builtin();
        let p = profiles.get("fire-panel-modbus").expect("profile");
        let kinds = alarm_kinds(Some(p));
        assert!(kinds.contains(&AlarmKind::Fire) && kinds.contains(&AlarmKind::Tamper));
        let d = device("panel-1", "fire-panel-modbus");
        let all = announcer().entities(&d, Some(p));
        let zone = all
            .iter()
            .find(|e| e.topic.to_string() == "homeassistant/sensor/panel-1/zone_state/config")
            .expect("zone sensor");
        assert_eq!(zone.config["device_class"], "enum");
        assert_eq!(
            zone.config["options"],
            json!(["normal", "pre-alarm", "fire", "isolated"])
        );
        let t = zone.config["value_template"].as_str().expect("template");
        assert!(t.contains(r#""2":"fire""#), "{t}");
    }

    #[test]
    fn threshold_alarms_of_a_profile_become_binary_sensors() {
        let profiles = Profiles::builtin();
        let kinds = alarm_kinds(profiles.get("gas-modbus"));
        assert!(kinds.contains(&AlarmKind::Gas));
        assert!(
            !kinds.contains(&AlarmKind::LowBattery),
            "a wired device has no battery"
        );
        assert!(alarm_kinds(profiles.get("gas")).contains(&AlarmKind::LowBattery));
        assert_eq!(title("water-leak"), "Water leak");
    }
}
