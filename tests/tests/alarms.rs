//! Alarm semantics against a running gateway with nodes on real MQTT
//! connections: confirmation, latching, faults, test mode, chatter,
//! grouping, and linkage (door release, valve close).

use std::time::Duration;

use gridsense_tests::{Compound, ack, alarm, event};

const SMOKE: &str = r#""type":"alarm","cause":"smoke""#;

fn ev(seq: u32, body: &str) -> String {
    format!(r#"{{"seq":{seq},{body}}}"#)
}

#[tokio::test]
async fn two_detectors_confirm_a_fire_and_the_escape_door_is_released() {
    // The uplink points at a port where nothing listens: the district is unreachable.
    let c = Compound::start("[uplink]\nhost = \"127.0.0.1\"\nport = 1\n").await;
    let mut it = c.integrator().await;
    let mut lock = c.node("lock-b2-stair").await;
    let mut a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(&a, "smoke-b2-101a", &ev(1, SMOKE)).await;
    let pre = alarm(&mut it, "pre-alarm", |v| v["state"] == "pre-alarm").await;
    assert_eq!(pre["kind"], "fire");
    assert_eq!(pre["zone"], "b2-u1-f1");
    ack(&mut a, 1).await;
    event(&b, "smoke-b2-101b", &ev(1, SMOKE)).await;
    let (_, cmd) = lock
        .wait_for("unlock", |t, v| {
            t.ends_with("/cmd") && v.get("cmd").is_some()
        })
        .await;
    assert_eq!(
        (cmd["cmd"].as_str(), cmd["reason"].as_str()),
        (Some("unlock"), Some("fire"))
    );
    let active = alarm(&mut it, "active", |v| v["state"] == "active").await;
    assert_eq!(active["id"], pre["id"], "one incident, one alarm");
    assert_eq!(active["confirmed_by"], "second-detector");
    assert_eq!(active["devices"].as_array().map(Vec::len), Some(2));
    // The lock answers; the linkage is recorded.
    let id = cmd["id"].as_u64().expect("id");
    lock.publish(
        "gs/v1/dev/lock-b2-stair/cmd/ack",
        &format!(r#"{{"id":{id},"ok":true}}"#),
        false,
    )
    .await;
    let alarm_id = active["id"].as_str().expect("id").to_string();
    let recorded = tokio::time::timeout(gridsense_tests::WAIT, async {
        loop {
            let rows = c.store().linkage_for(&alarm_id).expect("read");
            if !rows.is_empty() {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("linkage recorded");
    assert_eq!(recorded[0].0, "lock-b2-stair");
    assert!(recorded[0].3, "acknowledged ok");
}

#[tokio::test]
async fn an_unacknowledged_unlock_is_repeated_until_the_lock_answers() {
    let c = Compound::start("[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\n").await;
    let mut lock = c.node("lock-b2-stair").await;
    let a = c.node("smoke-b2-101a").await;
    event(&a, "smoke-b2-101a", &ev(1, SMOKE)).await;
    let (_, first) = lock
        .wait_for("unlock", |t, v| {
            t.ends_with("/cmd") && v.get("cmd").is_some()
        })
        .await;
    c.advance(Duration::from_secs(1));
    let (_, again) = lock
        .wait_for("repeat", |t, v| {
            t.ends_with("/cmd") && v.get("cmd").is_some()
        })
        .await;
    assert_eq!(first["id"], again["id"], "a repeat keeps its id");
}

#[tokio::test]
async fn a_fire_latches_until_an_operator_resets_it() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    let h = c.node("heat-b1-102").await;
    event(
        &h,
        "heat-b1-102",
        &ev(1, r#""type":"alarm","cause":"heat""#),
    )
    .await;
    let a = alarm(&mut it, "active", |v| v["state"] == "active").await;
    let id = a["id"].as_str().expect("id").to_string();
    let (status, _) = c.http("POST", &format!("/api/alarms/{id}/reset"), "").await;
    assert_eq!(status, 409, "reset refused while the detector is in alarm");
    event(
        &h,
        "heat-b1-102",
        &ev(2, r#""type":"restore","cause":"heat""#),
    )
    .await;
    let still = alarm(&mut it, "latched", |v| v["condition"] == false).await;
    assert_eq!(
        still["state"], "active",
        "latched after the detector restored"
    );
    let (status, _) = c.http("POST", &format!("/api/alarms/{id}/ack"), "").await;
    assert_eq!(status, 200);
    let (status, body) = c.http("POST", &format!("/api/alarms/{id}/reset"), "").await;
    assert_eq!(status, 200, "{body}");
    let done = alarm(&mut it, "reset", |v| v["state"] == "reset").await;
    assert_eq!(done["id"], id);
}

#[tokio::test]
async fn faults_are_not_fires_and_do_not_hide_one() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    let mut lock = c.node("lock-b2-stair").await;
    let a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(
        &a,
        "smoke-b2-101a",
        &ev(1, r#""type":"fault","cause":"sensor-open""#),
    )
    .await;
    let f = alarm(&mut it, "fault", |v| v["kind"] == "sensor-fault").await;
    assert_eq!(f["devices"][0], "smoke-b2-101a");
    assert!(
        lock.collect(Duration::from_millis(300), |t, v| t.ends_with("/cmd")
            && v.get("cmd").is_some())
            .await
            .is_empty()
    );
    event(&a, "smoke-b2-101a", &ev(2, SMOKE)).await;
    event(&b, "smoke-b2-101b", &ev(1, SMOKE)).await;
    let fire = alarm(&mut it, "fire", |v| {
        v["kind"] == "fire" && v["state"] == "active"
    })
    .await;
    assert_eq!(fire["severity"], "critical");
    lock.wait_for("unlock despite the fault", |t, v| {
        t.ends_with("/cmd") && v.get("cmd").is_some()
    })
    .await;
}

#[tokio::test]
async fn maintenance_records_test_alarms_and_releases_nothing() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    let mut lock = c.node("lock-b2-stair").await;
    let (status, _) = c
        .http(
            "POST",
            "/api/maintenance",
            r#"{"target":"b2-u1-f1","on":true,"by":"tech-wang","reason":"detector test","for_s":600}"#,
        )
        .await;
    assert_eq!(status, 200);
    let a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(&a, "smoke-b2-101a", &ev(1, SMOKE)).await;
    event(&b, "smoke-b2-101b", &ev(1, SMOKE)).await;
    let t = alarm(&mut it, "test alarm", |v| v["state"] == "active").await;
    assert_eq!(t["test"], true);
    assert!(
        lock.collect(Duration::from_millis(500), |t, v| t.ends_with("/cmd")
            && v.get("cmd").is_some())
            .await
            .is_empty(),
        "no linkage in test mode"
    );
}

#[tokio::test]
async fn a_lone_detector_is_confirmed_by_the_timeout_in_virtual_time() {
    let c = Compound::start("[alarms]\nconfirm_timeout_s = 120\n").await;
    let mut it = c.integrator().await;
    let mut s = c.node("smoke-b2-702").await;
    event(&s, "smoke-b2-702", &ev(1, SMOKE)).await;
    ack(&mut s, 1).await;
    alarm(&mut it, "pre-alarm", |v| v["state"] == "pre-alarm").await;
    c.advance(Duration::from_secs(119));
    assert!(
        it.collect(Duration::from_millis(300), |t, v| t.contains("/alarm/")
            && v["state"] == "active")
            .await
            .is_empty()
    );
    c.advance(Duration::from_secs(2));
    let a = alarm(&mut it, "confirmed", |v| v["state"] == "active").await;
    assert_eq!(a["confirmed_by"], "timeout");
}

#[tokio::test]
async fn a_chattering_detector_becomes_one_fault() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    let mut s = c.node("smoke-b1-201").await;
    for i in 0..6u32 {
        event(&s, "smoke-b1-201", &ev(2 * i + 1, SMOKE)).await;
        event(
            &s,
            "smoke-b1-201",
            &ev(2 * i + 2, r#""type":"restore","cause":"smoke""#),
        )
        .await;
    }
    ack(&mut s, 12).await;
    let f = alarm(&mut it, "chattering", |v| v["kind"] == "chattering").await;
    assert_eq!(f["devices"][0], "smoke-b1-201");
    let seen = it
        .collect(Duration::from_millis(500), |t, _| t.contains("/alarm/"))
        .await;
    let (status, open) = c.http("GET", "/api/alarms", "").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = open
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["chattering"],
        "one fault, no fire alarms open ({seen:?})"
    );
}

#[tokio::test]
async fn related_events_in_a_zone_are_one_alarm() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    for (id, cause) in [
        ("smoke-b1-101a", "smoke"),
        ("smoke-b1-101b", "smoke"),
        ("smoke-b1-102", "smoke"),
        ("mcp-b1-u1-f1", "manual-call"),
    ] {
        let n = c.node(id).await;
        event(
            &n,
            id,
            &ev(1, &format!(r#""type":"alarm","cause":"{cause}""#)),
        )
        .await;
    }
    let a = alarm(&mut it, "four devices", |v| {
        v["devices"].as_array().is_some_and(|d| d.len() == 4)
    })
    .await;
    let (_, open) = c.http("GET", "/api/alarms", "").await;
    let fires: Vec<_> = open
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| x["kind"] == "fire")
        .collect();
    assert_eq!(fires.len(), 1, "{open}");
    assert_eq!(fires[0]["id"], a["id"]);
}

#[tokio::test]
async fn a_gas_alarm_closes_the_zone_valve() {
    let c = Compound::start("").await;
    let mut g = c.node("gas-b1-u2-101").await;
    event(
        &g,
        "gas-b1-u2-101",
        &ev(1, r#""type":"pre-alarm","cause":"gas","value":12.0"#),
    )
    .await;
    assert!(
        g.collect(Duration::from_millis(300), |t, v| t.ends_with("/cmd")
            && v.get("cmd").is_some())
            .await
            .is_empty(),
        "no valve action on a pre-alarm"
    );
    event(
        &g,
        "gas-b1-u2-101",
        &ev(2, r#""type":"alarm","cause":"gas","value":30.0"#),
    )
    .await;
    let (_, cmd) = g
        .wait_for("valve close", |t, v| {
            t.ends_with("/cmd") && v.get("cmd").is_some()
        })
        .await;
    assert_eq!(
        (cmd["cmd"].as_str(), cmd["reason"].as_str()),
        (Some("valve-close"), Some("gas"))
    );
}

#[tokio::test]
async fn a_latched_fire_survives_a_gateway_restart() {
    let mut c = Compound::start("").await;
    let h = c.node("heat-b1-102").await;
    event(
        &h,
        "heat-b1-102",
        &ev(1, r#""type":"alarm","cause":"heat""#),
    )
    .await;
    let mut it = c.integrator().await;
    let a = alarm(&mut it, "active", |v| v["state"] == "active").await;
    c.down().await;
    c.up().await;
    let mut it = c.integrator().await;
    let again = alarm(&mut it, "republished", |v| v["id"] == a["id"]).await;
    assert_eq!(again["state"], "active");
}
