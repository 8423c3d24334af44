//! Home Assistant MQTT discovery against a running gateway: an integrator
//! with read-only credentials subscribes to `homeassistant/#` on the
//! embedded broker, as Home Assistant's MQTT integration does, and finds
//! every registered device announced, its alarms followed, and a device
//! added while the gateway runs announced too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gridsense_tests::{Client, Compound, WAIT, ack, deploy_dir, event};
use rumqttc::{MqttOptions, QoS};
use serde_json::Value;

/// The devices of `deploy/devices.csv`.
fn registered() -> Vec<(String, String)> {
    std::fs::read_to_string(deploy_dir().join("devices.csv"))
        .expect("devices.csv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("id,"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[1].to_string())
        })
        .collect()
}

/// Connects as the read-only integrator `it`, subscribed like Home Assistant.
async fn home_assistant(c: &Compound, client_id: &str) -> Client {
    let mut o = MqttOptions::new(client_id, "127.0.0.1", c.mqtt().port());
    o.set_credentials("it", &c.integrator_secret);
    o.set_keep_alive(Duration::from_secs(5));
    Client::connect(
        o,
        &["homeassistant/#".to_string(), "gs/v1/site/#".to_string()],
    )
    .await
}

/// Collects retained messages (discovery configs and site feeds, the last
/// one per topic) until every topic in `want` has been seen (bounded by
/// twice [`WAIT`]).
async fn configs_until(ha: &mut Client, want: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    while !want.iter().all(|t| seen.contains_key(t)) && tokio::time::Instant::now() < deadline {
        for (t, v) in ha.collect(Duration::from_millis(300), |_, _| true).await {
            seen.insert(t, v);
        }
    }
    let missing: Vec<&String> = want.iter().filter(|t| !seen.contains_key(*t)).collect();
    assert!(
        missing.is_empty(),
        "configs never seen: {missing:?}; seen {}",
        seen.len()
    );
    seen
}

fn connectivity(device: &str) -> String {
    format!("homeassistant/binary_sensor/{device}/availability/config")
}

#[tokio::test]
async fn an_integrator_finds_every_device_announced_for_home_assistant() {
    let c = Compound::start("[homeassistant]\nenabled = true\n").await;
    let mut ha = home_assistant(&c, "ha-1").await;
    let devices = registered();
    let smoke = devices
        .iter()
        .find(|(_, p)| p == "smoke")
        .map(|(d, _)| d.clone())
        .expect("a smoke detector");
    let mut want: BTreeSet<String> = devices.iter().map(|(d, _)| connectivity(d)).collect();
    want.insert("homeassistant/sensor/th-b2-702/temp/config".into());
    want.insert(format!("homeassistant/binary_sensor/{smoke}/fire/config"));
    let smoke_state = format!("gs/v1/site/lianhua/alarms/{smoke}");
    want.insert(smoke_state.clone());
    want.extend(
        devices
            .iter()
            .map(|(d, _)| format!("gs/v1/site/lianhua/alarms/{d}")),
    );
    let mut retained = configs_until(&mut ha, &want).await;
    // What else was retained arrives with them; take it too.
    for (t, v) in ha.collect(Duration::from_millis(500), |_, _| true).await {
        retained.insert(t, v);
    }
    let configs: BTreeMap<String, Value> = retained
        .iter()
        .filter(|(t, _)| t.starts_with("homeassistant/"))
        .map(|(t, v)| (t.clone(), v.clone()))
        .collect();

    let mut uniques = BTreeSet::new();
    for (topic, v) in &configs {
        let levels: Vec<&str> = topic.split('/').collect();
        assert_eq!(levels.len(), 5, "{topic}");
        assert!(matches!(levels[1], "sensor" | "binary_sensor"), "{topic}");
        assert_eq!(levels[4], "config");
        assert!(v.is_object(), "{topic}: not a JSON object: {v}");
        let unique = v["unique_id"].as_str().expect("unique_id");
        assert!(uniques.insert(unique.to_string()), "{unique} twice");
        let state = v["state_topic"].as_str().expect("state_topic");
        assert!(state.starts_with("gs/v1/site/lianhua/"), "{topic}: {state}");
        assert!(v.get("command_topic").is_none(), "{topic} is read-only");
        let device = levels[2];
        let availability = format!("gs/v1/site/lianhua/device/{device}/availability");
        if levels[3] == "availability" {
            assert_eq!(state, availability);
        } else {
            assert_eq!(
                v["availability"][0]["topic"],
                availability.as_str(),
                "{topic}"
            );
        }
        assert_eq!(
            v["device"]["identifiers"][0],
            format!("gridsense-gw01-{device}")
        );
    }
    // Sensors carry their profile's units; alarms their kind.
    let temp = &configs["homeassistant/sensor/th-b2-702/temp/config"];
    assert_eq!(temp["unit_of_measurement"], "°C");
    assert_eq!(temp["state_topic"], "gs/v1/site/lianhua/tel/th-b2-702");
    let fire = &configs[&format!("homeassistant/binary_sensor/{smoke}/fire/config")];
    assert_eq!(fire["device_class"], "smoke");
    assert_eq!(
        fire["state_topic"],
        format!("gs/v1/site/lianhua/alarms/{smoke}").as_str()
    );

    // Each device's alarm state is retained: nothing open at the start.
    assert_eq!(retained[&smoke_state]["active"], serde_json::json!([]));
    for (d, _) in &devices {
        let t = format!("gs/v1/site/lianhua/alarms/{d}");
        assert!(retained.contains_key(&t), "no alarm state for {d}");
    }

    // A smoke alarm shows on the detector's alarm state.
    let mut node = c.node(&smoke).await;
    event(
        &node,
        &smoke,
        r#"{"seq":1,"type":"alarm","cause":"smoke","value":3.2}"#,
    )
    .await;
    ack(&mut node, 1).await;
    let (_, state) = ha
        .wait_for("fire open at the detector", |t, v| {
            t.ends_with(&format!("/alarms/{smoke}"))
                && (v["active"]
                    .as_array()
                    .is_some_and(|a| a.contains(&"fire".into()))
                    || v["pre_alarm"]
                        .as_array()
                        .is_some_and(|a| a.contains(&"fire".into())))
        })
        .await;
    assert_eq!(state["device"], smoke.as_str());

    // Read-only: a publish on a config topic costs the client its
    // connection, and the config stays as the gateway made it.
    ha.publish(&connectivity(&smoke), r#"{"name":"x"}"#, true)
        .await;
    let mut again = home_assistant(&c, "ha-2").await;
    let (_, v) = again
        .wait_for("the retained connectivity config", |t, _| {
            t == connectivity(&smoke)
        })
        .await;
    assert_eq!(v["device_class"], "connectivity");
}

#[tokio::test]
async fn a_device_added_while_running_is_announced_and_a_birth_republishes() {
    let c = Compound::start("[homeassistant]\nenabled = true\n").await;
    let mut ha = home_assistant(&c, "ha-1").await;
    let first = registered()[0].0.clone();
    configs_until(&mut ha, &BTreeSet::from([connectivity(&first)])).await;

    let mut store = gateway::store::Store::open(&c.cfg.store.path).expect("store");
    let profiles = gateway::registry::Profiles::load(None).expect("profiles");
    let fields = gateway::registry::DeviceFields {
        id: "th-b1-roof".into(),
        profile: "temp-humidity".into(),
        location: "b1".into(),
        fire_zone: String::new(),
        escape_route: String::new(),
        installed: String::new(),
        gbt: Default::default(),
    };
    gateway::registry::add_device(&mut store, &fields, &profiles, gridsense_tests::T0)
        .expect("device added");
    drop(store);
    // The registry is re-read every 5 s; discovery follows it.
    let want = BTreeSet::from([
        connectivity("th-b1-roof"),
        "homeassistant/sensor/th-b1-roof/humidity/config".to_string(),
    ]);
    let seen = configs_until(&mut ha, &want).await;
    assert_eq!(
        seen["homeassistant/sensor/th-b1-roof/humidity/config"]["unit_of_measurement"],
        "%RH"
    );

    // Home Assistant's birth message makes the gateway announce again.
    ha.client
        .publish("homeassistant/status", QoS::AtLeastOnce, false, "online")
        .await
        .expect("birth");
    ha.wait_for("a republished config", |t, _| t == connectivity(&first))
        .await;
}
