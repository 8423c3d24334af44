//! The gateway spine end to end: real broker, real SQLite file, real MQTT
//! clients for nodes and integrators.

use std::time::Duration;

use gridsense_tests::{Compound, ack, event};

#[tokio::test]
async fn an_event_is_committed_then_acknowledged_and_a_repeat_is_stored_once() {
    let c = Compound::start("").await;
    let id = "smoke-b1-201";
    let mut n = c.node(id).await;
    let ev = r#"{"seq":1,"type":"test"}"#;
    event(&n, id, ev).await;
    ack(&mut n, 1).await;
    // The ack means committed: another connection sees the row now.
    assert_eq!(c.store().events_for(id).expect("read").len(), 1);
    event(&n, id, ev).await;
    ack(&mut n, 1).await;
    event(&n, id, r#"{"seq":2,"type":"low-battery","battery":9}"#).await;
    ack(&mut n, 2).await;
    let rows = c.store().events_for(id).expect("read");
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2],
        "the repeat is stored once"
    );
}

#[tokio::test]
async fn bad_input_is_quarantined_per_reason_and_the_gateway_carries_on() {
    let c = Compound::start("").await;
    let id = "smoke-b1-202";
    let mut n = c.node(id).await;
    event(&n, id, r#"{"seq":1,"type":"ala"#).await;
    event(&n, id, r#"{"seq":2,"type":"explosion"}"#).await;
    event(
        &n,
        id,
        &format!(r#"{{"seq":3,"type":"test","pad":"{}"}}"#, "x".repeat(600)),
    )
    .await;
    n.publish(
        &format!("gs/v1/dev/{id}/tel"),
        r#"{"seq":1,"r":{"temp":"hot"}}"#,
        false,
    )
    .await;
    event(&n, id, r#"{"seq":4,"type":"test"}"#).await;
    ack(&mut n, 4).await;
    let (status, rejects) = c.http("GET", "/api/rejects", "").await;
    assert_eq!(status, 200);
    assert_eq!(rejects["syntax"], 1, "{rejects}");
    assert_eq!(rejects["unknown-value"], 1, "{rejects}");
    assert_eq!(rejects["too-large"], 1, "{rejects}");
    assert_eq!(rejects["invalid"], 1, "{rejects}");
    c.gw.as_ref()
        .expect("gw")
        .store
        .flush()
        .await
        .expect("flush");
    let q = c.store().quarantine_list().expect("read");
    let reasons: Vec<&str> = q
        .iter()
        .filter(|r| r.source == id)
        .map(|r| r.reason.as_str())
        .collect();
    for r in ["syntax", "unknown-value", "too-large", "invalid"] {
        assert!(reasons.contains(&r), "{r} missing from {reasons:?}");
    }
}

#[tokio::test]
async fn a_spoofing_device_is_refused_and_recorded() {
    let c = Compound::start("").await;
    let n = c.node("smoke-b1-201").await;
    n.publish(
        "gs/v1/dev/smoke-b1-202/evt",
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        c.store()
            .events_for("smoke-b1-202")
            .expect("read")
            .is_empty()
    );
    let (_, rejects) = c.http("GET", "/api/rejects", "").await;
    assert_eq!(rejects["acl-publish"], 1, "{rejects}");
}

#[tokio::test]
async fn telemetry_is_stored_and_republished_past_its_deadband() {
    let c = Compound::start("").await;
    let id = "th-b2-702";
    let n = c.node(id).await;
    let mut it = c.integrator().await;
    n.publish(
        &format!("gs/v1/dev/{id}/tel"),
        r#"{"seq":1,"r":{"temp":21.5,"humidity":40}}"#,
        false,
    )
    .await;
    let (_, v) = it
        .wait_for("telemetry feed", |t, _| {
            t == "gs/v1/site/lianhua/tel/th-b2-702"
        })
        .await;
    assert_eq!(v["readings"]["temp"], 21.5);
    c.gw.as_ref()
        .expect("gw")
        .store
        .flush()
        .await
        .expect("flush");
    assert_eq!(c.store().telemetry_count().expect("count"), 2);
}

#[tokio::test]
async fn availability_follows_the_last_will_and_survives_a_restart() {
    let mut c = Compound::start("").await;
    let id = "lock-b2-stair";
    let mut it = c.integrator().await;
    let n = c.node(id).await;
    let topic = "gs/v1/site/lianhua/device/lock-b2-stair/availability";
    let (_, v) = it
        .wait_for("online", |t, v| t == topic && v["status"] == "online")
        .await;
    assert_eq!(v["reason"], "connected");
    n.kill();
    // Offline once the grace period after the last will passed (the clock
    // moves until presence's sweep sees it).
    let (_, v) = tokio::time::timeout(gridsense_tests::WAIT, async {
        loop {
            c.advance(std::time::Duration::from_secs(31));
            let seen = it
                .collect(std::time::Duration::from_millis(1_500), |t, v| {
                    t == topic && v["status"] == "offline"
                })
                .await;
            if let Some(s) = seen.into_iter().next() {
                return s;
            }
        }
    })
    .await
    .expect("offline after the grace period");
    assert_eq!(v["reason"], "last-will");
    c.down().await;
    c.up().await;
    let rows = c.store().presence_list().expect("read");
    let row = rows.iter().find(|r| r.device == id).expect("stored");
    assert_eq!(row.status, protocol::Status::Offline);
    // The broker's retained messages died with it; the gateway republishes them.
    let mut it = c.integrator().await;
    let (_, v) = it
        .wait_for("retained after restart", |t, _| t == topic)
        .await;
    assert_eq!(
        (v["status"].as_str(), v["reason"].as_str()),
        (Some("offline"), Some("restored"))
    );
}
