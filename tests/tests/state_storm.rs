//! A fleet coming back after a power cut sends thousands of state reports
//! at once, and presence commits an availability change for each. An alarm
//! raised in the middle of that is not held behind them: events and state
//! reports are separate lanes of ingest, so the escape door is released
//! while presence is still working through the fleet.

use std::time::Duration;

use gridsense_tests::Compound;
use rumqttc::QoS;

/// State reports published at once: several times presence's queue (1,024),
/// so that a lane shared with events would wait on presence for most of them.
const FLEET: usize = 4_000;

/// Availability records presence has stored for the idle fleet.
fn fleet_presence(c: &Compound) -> usize {
    c.store()
        .presence_list()
        .expect("presence")
        .iter()
        .filter(|p| p.device.starts_with("idle-"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_is_not_held_behind_a_fleet_of_state_reports() {
    let c = Compound::start_with_idle("[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\n", FLEET).await;
    let mut lock = c.node("lock-b2-stair").await;
    let smoke = c.node("smoke-b2-101a").await;
    let storm = c.admin("power-restored").await;
    for i in 0..FLEET {
        storm
            .client
            .publish(
                format!("gs/v1/dev/idle-{i:05}/state"),
                QoS::AtMostOnce,
                true,
                r#"{"status":"online"}"#,
            )
            .await
            .expect("queued");
    }
    // Every report is with the broker (one loopback connection, in order)
    // before the alarm is raised.
    tokio::time::sleep(Duration::from_millis(300)).await;
    smoke
        .client
        .publish(
            "gs/v1/dev/smoke-b2-101a/evt",
            QoS::AtLeastOnce,
            false,
            r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
        )
        .await
        .expect("queued");
    lock.wait_for("unlock", |t, v| t.ends_with("/cmd") && v["cmd"] == "unlock")
        .await;
    let stored = fleet_presence(&c);
    assert!(
        stored < FLEET - 1_024,
        "the unlock came after presence had stored {stored} of {FLEET} availability changes: it waited behind them"
    );
    // And presence loses none of them: every report is stored in the end.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fleet_presence(&c) < FLEET {
        assert!(
            std::time::Instant::now() < deadline,
            "presence stored {} of {FLEET}",
            fleet_presence(&c)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
