//! Operators' actions that touch life safety, against a running gateway on
//! a real SQLite file, with nodes on real MQTT connections and the HTTP API
//! over a socket: the latch on cancel, and maintenance windows (stored,
//! audited, expiring by the clock, covering a site subtree).

use std::time::Duration;

use gateway::clock::Clock;
use gridsense_tests::{Compound, alarm, event};

const SMOKE: &str = r#""type":"alarm","cause":"smoke""#;
const HEAT: &str = r#""type":"alarm","cause":"heat""#;

fn ev(seq: u32, body: &str) -> String {
    format!(r#"{{"seq":{seq},{body}}}"#)
}

/// The audit chain as `(kind, subject, body)`, in order.
fn audit(c: &Compound) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    c.store().export_audit(&mut out).expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["kind"].as_str().unwrap_or_default().to_string(),
                v["subject"].as_str().unwrap_or_default().to_string(),
                v["body"].clone(),
            )
        })
        .collect()
}

/// Waits until the audit chain has a record matching `f`.
async fn audited(
    c: &Compound,
    what: &str,
    f: impl Fn(&(String, String, serde_json::Value)) -> bool,
) -> (String, String, serde_json::Value) {
    tokio::time::timeout(gridsense_tests::WAIT, async {
        loop {
            if let Some(r) = audit(c).into_iter().find(|r| f(r)) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no audit record: {what}"))
}

#[tokio::test]
async fn a_confirmed_fire_cannot_be_cancelled_while_in_alarm() {
    let c = Compound::start("").await;
    let mut it = c.integrator().await;
    let h = c.node("heat-b1-102").await;
    event(&h, "heat-b1-102", &ev(1, HEAT)).await;
    let a = alarm(&mut it, "active", |v| v["state"] == "active").await;
    let id = a["id"].as_str().expect("id").to_string();

    let (status, body) = c
        .http(
            "POST",
            &format!("/api/alarms/{id}/cancel"),
            r#"{"by":"guard-li","reason":"looks like a false alarm"}"#,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let why = body["error"].as_str().expect("a reason");
    assert!(
        why.contains("cannot be cancelled") && why.contains("heat-b1-102"),
        "{why}"
    );
    let (_, _, rec) = audited(&c, "refused cancel", |(k, s, _)| {
        k == "operator.refused" && *s == id
    })
    .await;
    assert_eq!(rec["by"], "guard-li");
    assert_eq!(rec["action"], "cancel");
    let (_, open) = c.http("GET", "/api/alarms", "").await;
    assert_eq!(open[0]["state"], "active", "still latched and active");

    // Maintenance over the burning building is refused too.
    let (status, body) = c
        .http(
            "POST",
            "/api/maintenance",
            r#"{"target":"b1","on":true,"by":"tech-wang","reason":"test","for_s":600}"#,
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Once the detector restores, the latch rules allow withdrawing it.
    event(
        &h,
        "heat-b1-102",
        &ev(2, r#""type":"restore","cause":"heat""#),
    )
    .await;
    alarm(&mut it, "restored", |v| v["condition"] == false).await;
    let (status, body) = c
        .http(
            "POST",
            &format!("/api/alarms/{id}/cancel"),
            r#"{"by":"guard-li","reason":"burnt toast, checked on site"}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = alarm(&mut it, "cancelled", |v| v["state"] == "cancelled").await;
    assert_eq!(done["id"], id);
    audited(&c, "accepted cancel", |(k, s, b)| {
        k == "operator" && *s == id && b["reason"] == "burnt toast, checked on site"
    })
    .await;
}

#[tokio::test]
async fn maintenance_persisted_across_a_restart_and_covering_a_buildings_rooms() {
    let mut c = Compound::start("").await;
    let (status, body) = c
        .http(
            "POST",
            "/api/maintenance",
            r#"{"target":"b2","on":true,"by":"tech-wang","reason":"annual detector test","for_s":120}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "site");
    let until = body["until"].as_u64().expect("until");
    assert_eq!(until, gridsense_tests::T0 + 120_000);

    c.down().await;
    c.up().await;

    let (status, list) = c.http("GET", "/api/maintenance", "").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["target"], "b2", "{list}");
    assert_eq!(list[0]["by"], "tech-wang");
    let (_, _, rec) = audited(&c, "start", |(k, s, _)| {
        k == "maintenance.start" && s == "b2"
    })
    .await;
    assert_eq!(rec["reason"], "annual detector test");

    // Two detectors in a room of building 2: a test fire, no door released.
    let mut it = c.integrator().await;
    let mut lock = c.node("lock-b2-stair").await;
    let a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(&a, "smoke-b2-101a", &ev(1, SMOKE)).await;
    event(&b, "smoke-b2-101b", &ev(1, SMOKE)).await;
    let t = alarm(&mut it, "test fire", |v| v["state"] == "active").await;
    assert_eq!(t["test"], true, "{t}");
    assert!(
        lock.collect(Duration::from_millis(500), |t, v| t.ends_with("/cmd")
            && v.get("cmd").is_some())
            .await
            .is_empty(),
        "no linkage in maintenance"
    );

    // The window ends by the clock: the same detectors now raise a real fire.
    c.advance(Duration::from_secs(121));
    audited(&c, "expiry", |(k, s, _)| {
        k == "maintenance.expired" && s == "b2"
    })
    .await;
    let (_, list) = c.http("GET", "/api/maintenance", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    event(&a, "smoke-b2-101a", &ev(2, SMOKE)).await;
    event(&b, "smoke-b2-101b", &ev(2, SMOKE)).await;
    let real = alarm(&mut it, "real fire", |v| {
        v["state"] == "active" && v["test"] == false
    })
    .await;
    assert_ne!(real["id"], t["id"]);
    lock.wait_for("unlock after the window", |t, v| {
        t.ends_with("/cmd") && v.get("cmd").is_some()
    })
    .await;
}

#[tokio::test]
async fn maintenance_requests_that_cannot_be_honoured_are_errors() {
    let c = Compound::start("").await;
    let ask = |body: &'static str| c.http("POST", "/api/maintenance", body);
    let (status, body) =
        ask(r#"{"target":"b9","on":true,"by":"tech-wang","reason":"x","for_s":60}"#).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("b9")),
        "{body}"
    );
    for bad in [
        r#"{"target":"b2","on":true,"reason":"no one","for_s":60}"#,
        r#"{"target":"b2","on":true,"by":"tech-wang","for_s":60}"#,
        r#"{"target":"b2","on":true,"by":"tech-wang","reason":"no end"}"#,
        r#"{"target":"b2","on":true,"by":"tech-wang","reason":"past","until":1}"#,
        r#"{"target":"b2","on":true,"by":"tech-wang","reason":"too long","for_s":864000}"#,
        r#"{"target":"b2","on":true,"by":"tech-wang","reason":"typo","for_sec":60}"#,
    ] {
        let (status, body) = ask(bad).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
    let (status, body) =
        ask(r#"{"target":"b2","on":false,"by":"tech-wang","reason":"done"}"#).await;
    assert_eq!(status, 409, "nothing to end: {body}");
    // A device is a target too; ending its window is audited.
    let (status, body) =
        ask(r#"{"target":"smoke-b2-702","on":true,"by":"tech-wang","reason":"swap","for_s":60}"#)
            .await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("device")),
        "{body}"
    );
    let (status, body) =
        ask(r#"{"target":"smoke-b2-702","on":false,"by":"tech-wang","reason":"swapped"}"#).await;
    assert_eq!(status, 200, "{body}");
    audited(&c, "end", |(k, s, b)| {
        k == "maintenance.end" && s == "smoke-b2-702" && b["reason"] == "swapped"
    })
    .await;
    let log = c.store().maintenance_log().expect("log");
    assert!(
        log.iter()
            .all(|r| r.window.target == "smoke-b2-702" && r.ended_at.is_some())
    );
    assert!(
        c.store()
            .maintenance_in_force(c.clock.now_ms())
            .expect("read")
            .is_empty()
    );
}
