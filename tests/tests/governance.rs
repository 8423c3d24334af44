//! The closed loop against a running gateway: a confirmed fire becomes a
//! work order on the district broker, the (simulated) platform answers,
//! and the gateway closes the order, notifies and keeps an audit trail.

use std::time::Duration;

use demo::upstream_sim::{self, SimConfig};
use gridsense_tests::{Compound, alarm, event};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_fire_becomes_an_order_upstream_and_the_platform_closes_the_loop() {
    let district = upstream_sim::district_broker("127.0.0.1:0".parse().expect("addr"))
        .expect("district broker");
    let stop = CancellationToken::new();
    let mut sim = SimConfig::new("127.0.0.1", district.port());
    (sim.accept_ms, sim.dispatch_ms, sim.resolve_ms, sim.close_ms) = (50, 50, 50, 50);
    tokio::spawn(upstream_sim::run(sim, stop.clone()));
    let c = Compound::start(&format!(
        "[uplink]\nhost = \"127.0.0.1\"\nport = {}\n",
        district.port()
    ))
    .await;
    let mut it = c.integrator().await;
    let a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(
        &a,
        "smoke-b2-101a",
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
    )
    .await;
    event(
        &b,
        "smoke-b2-101b",
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
    )
    .await;
    let fire = alarm(&mut it, "fire", |v| v["state"] == "active").await;
    let (_, order) = it
        .wait_for("closed order", |t, v| {
            t.contains("/order/") && v["state"] == "closed"
        })
        .await;
    let (_, notice) = it
        .wait_for("completion notice", |t, _| t.contains("/notice/"))
        .await;
    assert_eq!(order["order"]["alarm_id"], fire["id"]);
    assert_eq!(order["order"]["kind"], "fire");
    assert_eq!(order["order"]["grid"]["cell"], "lianhua-g02");
    assert!(notice.is_object(), "{notice}");
    stop.cancel();
    // Every alarm and order change is on the audit chain, and it verifies.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let store = gateway::store::Store::open_read_only(&c.cfg.store.path).expect("open");
    let v = store
        .verify_audit()
        .expect("readable")
        .expect("chain intact");
    assert!(v.records >= 4, "{v:?}");
}
