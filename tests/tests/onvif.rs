//! ONVIF cameras against the camera simulator over real HTTP, with the real
//! gateway, its broker and its SQLite file: an intrusion becomes a camera
//! alarm carrying the snapshot address (stored, in the API, on the
//! integrator feed); a camera that stops answering goes offline with one
//! fault and one order, and comes back; refused credentials are a fault,
//! not a crash; the subscription is renewed, re-created after the camera
//! restarts, and ended when the gateway stops. The simulator reads requests
//! with its own scanning, not the gateway's parser.

use std::time::Duration;

use gridsense_tests::onvif_sim::OnvifSim;
use gridsense_tests::{Client, Compound, alarm};
use protocol::AlarmKind;

const CAM: &str = "cam-north-gate";
const USER: &str = "gridsense";
const PASS: &str = "camera-2026";
const WAIT: Duration = Duration::from_secs(15);
const INSIDE: &str = "tns1:RuleEngine/FieldDetector/ObjectsInside";

fn section(sim: &OnvifSim, password: &str) -> String {
    format!(
        "[[cameras]]\nid = \"{CAM}\"\naddress = \"{}\"\nusername = \"{USER}\"\npassword = \"{password}\"\npull_timeout_s = 1\ntermination_s = 10\nrequest_timeout_ms = 500\noffline_after = 2\nretry_ms = 200\n",
        sim.device_url()
    )
}

async fn availability(it: &mut Client, status: &str) {
    it.wait_for(&format!("{CAM} {status}"), |t, v| {
        t.ends_with(&format!("/device/{CAM}/availability")) && v["status"] == status
    })
    .await;
}

fn offline_alarms(c: &Compound) -> Vec<protocol::feed::AlarmFeed> {
    c.store()
        .all_alarms()
        .expect("alarms")
        .into_iter()
        .filter(|a| {
            a.kind == AlarmKind::DeviceOffline && a.devices.iter().any(|d| d.as_str() == CAM)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intrusion_becomes_a_camera_alarm_with_its_snapshot_address() {
    let sim = OnvifSim::start("127.0.0.1:0", USER, PASS)
        .await
        .expect("sim");
    let c = Compound::start(&section(&sim, PASS)).await;
    let mut it = c.integrator().await;
    assert!(
        sim.wait_until(WAIT, |s| s.live_subscriptions() > 0).await,
        "subscribed"
    );
    availability(&mut it, "online").await;
    assert_eq!(sim.emit(INSIDE, &[("IsInside", "true")]), 1);
    let a = alarm(&mut it, "intrusion alarm", |v| {
        v["kind"] == "intrusion" && v["devices"][0] == CAM
    })
    .await;
    let uri = sim.snapshot_uri();
    assert_eq!(a["snapshot"], uri.as_str(), "integrator feed: {a}");
    assert_eq!(a["state"], "active");
    let id = a["id"].as_str().expect("id").to_string();
    // Stored with it (the feed may go out before the commit), and in the
    // operators' API.
    let deadline = tokio::time::Instant::now() + WAIT;
    let row = loop {
        let stored = c.store().all_alarms().expect("alarms");
        if let Some(row) = stored.into_iter().find(|x| x.id.as_str() == id) {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row.snapshot.as_deref(), Some(uri.as_str()));
    let (code, open) = c.http("GET", "/api/alarms", "").await;
    assert_eq!(code, 200);
    let listed = open
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id.as_str()))
        .cloned()
        .expect("listed");
    assert_eq!(listed["snapshot"], uri.as_str());
    // The event is the camera's, stored like a camera node's.
    let events = c.store().events_for(CAM).expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "alarm" && e.cause.as_deref() == Some("intrusion")),
        "{events:?}"
    );
    // The area is clear again: the alarm clears (not latching).
    sim.emit(INSIDE, &[("IsInside", "false")]);
    alarm(&mut it, "intrusion cleared", |v| {
        v["id"] == id.as_str() && v["state"] == "cleared"
    })
    .await;
    // A line crossing is an intrusion too; motion is only a reading.
    sim.emit("tns1:VideoSource/MotionAlarm", &[("State", "true")]);
    sim.emit("tns1:RuleEngine/LineDetector/Crossed", &[("ObjectId", "7")]);
    let crossed = alarm(&mut it, "line crossing", |v| {
        v["kind"] == "intrusion" && v["id"] != id.as_str() && v["state"] == "active"
    })
    .await;
    assert_eq!(crossed["snapshot"], uri.as_str());
    let motion_alarms = c
        .store()
        .all_alarms()
        .expect("alarms")
        .into_iter()
        .filter(|a| a.devices.iter().any(|d| d.as_str() == CAM) && a.kind != AlarmKind::Intrusion)
        .count();
    assert_eq!(motion_alarms, 0, "motion raises no alarm");
    assert!(
        sim.requests().iter().all(|r| r.authorized),
        "every request authorized"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_stops_answering_goes_offline_once_and_comes_back() {
    let sim = OnvifSim::start("127.0.0.1:0", USER, PASS)
        .await
        .expect("sim");
    let c = Compound::start(&section(&sim, PASS)).await;
    let mut it = c.integrator().await;
    assert!(
        sim.wait_until(WAIT, |s| s.live_subscriptions() > 0).await,
        "subscribed"
    );
    availability(&mut it, "online").await;
    sim.set_answering(false);
    availability(&mut it, "offline").await;
    let off = alarm(&mut it, "device-offline", |v| {
        v["kind"] == "device-offline" && v["devices"][0] == CAM && v["state"] == "active"
    })
    .await;
    let id = off["id"].as_str().expect("id").to_string();
    // More requests fail while it is away: still one fault, one order.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(offline_alarms(&c).len(), 1, "one fault");
    let store = c.store();
    let deadline = tokio::time::Instant::now() + WAIT;
    while store.order_for_alarm(&id).expect("order").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "an order for the fault"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orders = store
        .open_orders()
        .expect("orders")
        .into_iter()
        .filter(|(_, body)| body.contains(&format!("\"{id}\"")))
        .count();
    assert_eq!(orders, 1, "one order");
    // It answers again: online, the fault cleared, a new subscription.
    let before = sim.count("CreatePullPointSubscription");
    sim.set_answering(true);
    availability(&mut it, "online").await;
    alarm(&mut it, "offline cleared", |v| {
        v["id"] == id.as_str() && v["state"] == "cleared"
    })
    .await;
    assert!(
        sim.wait_until(WAIT, |s| s.count("CreatePullPointSubscription") > before)
            .await,
        "subscribed again"
    );
    assert_eq!(offline_alarms(&c).len(), 1, "still one fault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_fault_of_the_camera_not_a_crash() {
    let sim = OnvifSim::start("127.0.0.1:0", USER, PASS)
        .await
        .expect("sim");
    let c = Compound::start(&section(&sim, "not-the-password")).await;
    let mut it = c.integrator().await;
    assert!(
        sim.wait_until(WAIT, |s| s
            .requests()
            .iter()
            .filter(|r| !r.authorized)
            .count()
            >= 2)
            .await,
        "requests refused"
    );
    availability(&mut it, "offline").await;
    alarm(&mut it, "device-offline", |v| {
        v["kind"] == "device-offline" && v["devices"][0] == CAM
    })
    .await;
    assert_eq!(
        sim.count("CreatePullPointSubscription"),
        0,
        "no subscription"
    );
    let refused = sim
        .requests()
        .into_iter()
        .find(|r| !r.authorized)
        .expect("refused");
    assert_eq!(refused.user.as_deref(), Some(USER));
    // The gateway runs on and says why.
    let (code, rejects) = c.http("GET", "/api/rejects", "").await;
    assert_eq!(code, 200);
    assert!(
        rejects["camera-auth"].as_u64().unwrap_or(0) >= 1,
        "{rejects}"
    );
    let (code, _) = c.http("GET", "/healthz", "").await;
    assert_eq!(code, 200, "every stage runs");
    // The camera's password is changed to the configured one: it recovers.
    sim.set_password("not-the-password");
    assert!(
        sim.wait_until(WAIT, |s| s.live_subscriptions() > 0).await,
        "subscribed"
    );
    availability(&mut it, "online").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_is_renewed_recreated_after_a_camera_restart_and_ended_at_shutdown() {
    let sim = OnvifSim::start("127.0.0.1:0", USER, PASS)
        .await
        .expect("sim");
    let mut c = Compound::start(&section(&sim, PASS)).await;
    let mut it = c.integrator().await;
    assert!(
        sim.wait_until(WAIT, |s| s.live_subscriptions() > 0).await,
        "subscribed"
    );
    // Granted 10 s: renewed at about half of it.
    assert!(
        sim.wait_until(WAIT, |s| s.count("Renew") >= 1).await,
        "renewed"
    );
    assert_eq!(
        sim.count("CreatePullPointSubscription"),
        1,
        "renewed, not re-created"
    );
    // The camera reboots: its subscriptions are gone; the gateway makes a new one.
    sim.restart();
    assert!(
        sim.wait_until(WAIT, |s| s.count("CreatePullPointSubscription") >= 2
            && s.live_subscriptions() > 0)
            .await,
        "re-created"
    );
    sim.emit(INSIDE, &[("IsInside", "true")]);
    alarm(&mut it, "intrusion after the restart", |v| {
        v["kind"] == "intrusion" && v["devices"][0] == CAM
    })
    .await;
    assert!(
        offline_alarms(&c).is_empty(),
        "a restart answered at once is no outage"
    );
    c.down().await;
    assert!(sim.count("Unsubscribe") >= 1, "unsubscribed at shutdown");
    assert_eq!(sim.live_subscriptions(), 0);
}
