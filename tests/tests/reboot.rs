//! Node reboots against the real gateway (real broker socket, real SQLite
//! file, nodes and the district on MQTT): a detector alarms, restores, is
//! reset by the operator, reboots — its `seq` starts at 1 again — and alarms
//! again. The second alarm must be raised and ticketed, with or without a
//! boot counter; an exact repeat is stored once and acknowledged every time.

use std::time::Duration;

use gridsense_tests::{Client, Compound, alarm, event};
use rumqttc::MqttOptions;
use serde_json::Value;

const ID: &str = "smoke-b2-101a";

/// The district's broker, and a client on it that sees every upstream message.
async fn district() -> (std::net::SocketAddr, Client) {
    let addr = demo::upstream_sim::district_broker("127.0.0.1:0".parse().expect("addr"))
        .expect("district broker");
    let mut o = MqttOptions::new("district-watch", "127.0.0.1", addr.port());
    o.set_keep_alive(Duration::from_secs(5));
    let watch = Client::connect(o, &["grid/v1/#".to_string()]).await;
    (addr, watch)
}

/// The example compound, its floor b2-u1-f1 an "alarm at once" zone, its
/// uplink on `district`.
async fn compound(district: std::net::SocketAddr) -> Compound {
    Compound::start(&format!(
        "[alarms]\nimmediate_zones = [\"b2-u1-f1\", \"b1-u1-f2\", \"b2-u1-f7\"]\n[uplink]\nhost = \"127.0.0.1\"\nport = {}\n",
        district.port()
    ))
    .await
}

/// A node connection announcing `boot` (if any) in its online state.
async fn node(c: &Compound, boot: Option<u32>) -> Client {
    let n = c.node(ID).await;
    if let Some(b) = boot {
        n.publish(
            &format!("gs/v1/dev/{ID}/state"),
            &format!(r#"{{"status":"online","heartbeat_s":60,"boot":{b}}}"#),
            true,
        )
        .await;
    }
    n
}

/// `"boot":N,` or nothing.
fn boot_field(boot: Option<u32>) -> String {
    boot.map(|b| format!(r#""boot":{b},"#)).unwrap_or_default()
}

/// Waits for the `evt/ack` of `seq`, which must echo `boot`.
async fn ack(n: &mut Client, boot: Option<u32>, seq: u32) -> Value {
    let (_, v) = n
        .wait_for(&format!("evt/ack {boot:?}/{seq}"), |t, v| {
            t.ends_with("/evt/ack") && v["seq"] == seq
        })
        .await;
    match boot {
        Some(b) => assert_eq!(v["boot"], b, "the ack echoes the boot: {v}"),
        None => assert!(v.get("boot").is_none(), "no boot, none echoed: {v}"),
    }
    v
}

/// Waits for the work order of `alarm_id` on the district broker.
async fn order_upstream(watch: &mut Client, alarm_id: &str) -> Value {
    watch
        .wait_for(&format!("order of {alarm_id}"), |t, v| {
            t.contains("/order") && v["alarm_id"] == alarm_id
        })
        .await
        .1
}

/// Alarm, restore, operator ack and reset: the detector's first life.
/// Returns the first alarm's id.
async fn first_life(
    c: &Compound,
    it: &mut Client,
    watch: &mut Client,
    boot: Option<u32>,
) -> String {
    let mut n = node(c, boot).await;
    let b = boot_field(boot);
    event(
        &n,
        ID,
        &format!(r#"{{{b}"seq":1,"type":"alarm","cause":"smoke","value":3.2}}"#),
    )
    .await;
    ack(&mut n, boot, 1).await;
    let first = alarm(it, "first fire", |v| {
        v["state"] == "active" && v["kind"] == "fire"
    })
    .await;
    let id = first["id"].as_str().expect("id").to_string();
    order_upstream(watch, &id).await;
    event(
        &n,
        ID,
        &format!(r#"{{{b}"seq":2,"type":"restore","cause":"smoke"}}"#),
    )
    .await;
    ack(&mut n, boot, 2).await;
    alarm(it, "detector restored", |v| {
        v["id"] == id.as_str() && v["condition"] == false
    })
    .await;
    let (status, body) = c.http("POST", &format!("/api/alarms/{id}/ack"), "").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = c.http("POST", &format!("/api/alarms/{id}/reset"), "").await;
    assert_eq!(status, 200, "{body}");
    alarm(it, "reset", |v| {
        v["id"] == id.as_str() && v["state"] == "reset"
    })
    .await;
    // The battery is changed: the connection drops without a goodbye.
    n.kill();
    id
}

/// The second life: seq 1 again with a new reading. It must become a new
/// alarm with its own order upstream. Returns the second alarm's id.
async fn second_life(
    c: &Compound,
    it: &mut Client,
    watch: &mut Client,
    boot: Option<u32>,
    first: &str,
) -> String {
    let mut n = node(c, boot).await;
    let b = boot_field(boot);
    event(
        &n,
        ID,
        &format!(r#"{{{b}"seq":1,"type":"alarm","cause":"smoke","value":4.1}}"#),
    )
    .await;
    ack(&mut n, boot, 1).await;
    let second = alarm(it, "fire after the reboot", |v| {
        v["state"] == "active" && v["kind"] == "fire" && v["id"] != first
    })
    .await;
    let id = second["id"].as_str().expect("id").to_string();
    let order = order_upstream(watch, &id).await;
    assert_eq!(order["kind"], "fire");
    assert_eq!(order["device"], ID);
    let orders = c.store().open_orders().expect("orders");
    assert!(orders.len() >= 2, "an order per alarm: {orders:?}");
    id
}

#[tokio::test]
async fn reboot_with_seq_reset_and_a_boot_counter_raises_a_new_alarm_and_order() {
    let (addr, mut watch) = district().await;
    let c = compound(addr).await;
    let mut it = c.integrator().await;
    let first = first_life(&c, &mut it, &mut watch, Some(1)).await;
    let second = second_life(&c, &mut it, &mut watch, Some(2), &first).await;
    assert_ne!(first, second);
    let gw = c.gw.as_ref().expect("gw");
    gw.store.flush().await.expect("flush");
    let rows = c.store().events_for(ID).expect("read");
    let keys: Vec<_> = rows
        .iter()
        .map(|r| (r.boot, r.seq, r.kind.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (Some(1), 1, "alarm"),
            (Some(1), 2, "restore"),
            (Some(2), 1, "alarm")
        ]
    );
    assert_eq!(
        gw.ingest
            .stats()
            .sequence_resets
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a boot counter leaves nothing to guess"
    );
}

#[tokio::test]
async fn reboot_with_seq_reset_and_no_boot_counter_raises_a_new_alarm_and_order() {
    let (addr, mut watch) = district().await;
    let c = compound(addr).await;
    let mut it = c.integrator().await;
    let first = first_life(&c, &mut it, &mut watch, None).await;
    let second = second_life(&c, &mut it, &mut watch, None, &first).await;
    assert_ne!(first, second);
    let gw = c.gw.as_ref().expect("gw");
    gw.store.flush().await.expect("flush");
    let rows = c.store().events_for(ID).expect("read");
    let keys: Vec<_> = rows.iter().map(|r| (r.epoch, r.seq, r.value)).collect();
    assert_eq!(
        keys,
        [(0, 1, Some(3.2)), (0, 2, None), (1, 1, Some(4.1))],
        "the reused seq is stored as a new event after a sequence reset"
    );
    assert_eq!(
        gw.ingest
            .stats()
            .sequence_resets
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "counted"
    );
    assert_eq!(gw.store.stats().sequence_resets, 1);
}

#[tokio::test]
async fn an_exact_repeat_is_acked_every_time_stored_once_and_raises_one_alarm() {
    let (addr, mut watch) = district().await;
    let c = compound(addr).await;
    let mut it = c.integrator().await;
    let mut raised = Vec::new();
    for (id, boot) in [("smoke-b1-201", None), ("smoke-b2-702", Some(7))] {
        let mut n = c.node(id).await;
        let payload = format!(
            r#"{{{}"seq":1,"type":"alarm","cause":"smoke","value":3.2}}"#,
            boot_field(boot)
        );
        for _ in 0..3 {
            event(&n, id, &payload).await;
            ack(&mut n, boot, 1).await;
        }
        let a = alarm(&mut it, "the alarm", |v| {
            v["devices"][0] == id && v["state"] == "active"
        })
        .await;
        let alarm_id = a["id"].as_str().expect("id").to_string();
        order_upstream(&mut watch, &alarm_id).await;
        let gw = c.gw.as_ref().expect("gw");
        gw.store.flush().await.expect("flush");
        let rows = c.store().events_for(id).expect("read");
        assert_eq!(rows.len(), 1, "{id}: stored once: {rows:?}");
        let alarms: Vec<_> = c
            .store()
            .all_alarms()
            .expect("alarms")
            .into_iter()
            .filter(|a| a.devices.iter().any(|d| d.as_str() == id))
            .collect();
        assert_eq!(alarms.len(), 1, "{id}: one alarm: {alarms:?}");
        assert_eq!(alarms[0].id.as_str(), alarm_id);
        raised.push(alarm_id);
    }
    // Each alarm has one order (its revisions share the order id); the
    // repeats made none.
    let later = watch
        .collect(Duration::from_millis(500), |t, _| t.contains("/order"))
        .await;
    for alarm_id in &raised {
        let orders: std::collections::BTreeSet<_> = later
            .iter()
            .filter(|(_, v)| v["alarm_id"] == alarm_id.as_str())
            .filter_map(|(_, v)| v["order_id"].as_str())
            .collect();
        assert!(orders.len() <= 1, "{alarm_id}: {orders:?}");
        let stored = c.store().order_for_alarm(alarm_id).expect("read");
        assert!(stored.is_some(), "{alarm_id}: its order is stored");
    }
    let gw = c.gw.as_ref().expect("gw");
    let stats = gw.ingest.stats();
    let dups = stats.duplicates.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dups, 4, "two repeats of each, acked and not stored");
    assert_eq!(
        stats
            .sequence_resets
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "an exact repeat is no reset"
    );
}
