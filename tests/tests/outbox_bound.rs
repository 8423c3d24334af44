//! The outbox's disk bound on a running gateway whose district broker is
//! unreachable: `[uplink.outbox] max_mib` is what bounds it, the bound holds
//! on disk (the outbox's pages in the store file), and the fire order is
//! never among the rows shed.

use std::time::Duration;

use gateway::store::{Class, OutMsg, Store};
use gridsense_tests::{Compound, WAIT, ack, alarm, event};

const SMOKE: &str = r#""type":"alarm","cause":"smoke""#;

#[tokio::test]
async fn a_dead_uplink_fills_the_outbox_to_its_bound_and_the_fire_order_stays() {
    // Nothing listens on port 1: every order waits in the outbox.
    let c =
        Compound::start("[uplink]\nhost = \"127.0.0.1\"\nport = 1\n[uplink.outbox]\nmax_mib = 1\n")
            .await;
    let mut it = c.integrator().await;
    let mut a = c.node("smoke-b2-101a").await;
    let b = c.node("smoke-b2-101b").await;
    event(&a, "smoke-b2-101a", &format!(r#"{{"seq":1,{SMOKE}}}"#)).await;
    ack(&mut a, 1).await;
    event(&b, "smoke-b2-101b", &format!(r#"{{"seq":1,{SMOKE}}}"#)).await;
    alarm(&mut it, "confirmed fire", |v| {
        v["kind"] == "fire" && v["state"] == "active"
    })
    .await;
    let gw = c.gw.as_ref().expect("running");
    let outbox = gw.store.outbox();
    let fire = tokio::time::timeout(WAIT, async {
        loop {
            let rows = outbox.fetch((-1, 0), 10).await.expect("fetch");
            if let Some(r) = rows.into_iter().find(|r| r.class == Class::Alarm) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the fire order is queued");

    // Three times the bound of other traffic: routine reports and orders
    // that are not life-safety, queued behind the dead uplink.
    for i in 0..1500 {
        let class = if i % 3 == 0 {
            Class::Routine
        } else {
            Class::Order
        };
        let m = OutMsg {
            class,
            key: format!("gw01-x{i}"),
            revision: 1,
            topic: fire.topic.clone(),
            payload: vec![b'x'; 2000],
        };
        outbox
            .enqueue(gridsense_tests::T0, vec![m])
            .await
            .expect("enqueue");
    }

    let stats = outbox.stats();
    let rows = outbox.fetch((-1, 0), 5000).await.expect("fetch");
    assert!(
        rows.iter()
            .any(|r| r.key == fire.key && r.class == Class::Alarm),
        "the fire order was shed"
    );
    assert!(
        stats.shed + stats.shed_orders > 0,
        "nothing was shed: {stats:?}"
    );
    let store = Store::open_read_only(&c.cfg.store.path).expect("store");
    let pages = store.outbox_pages().expect("dbstat");
    let bound: u64 = 1 << 20;
    eprintln!("outbox pages {pages} of {bound}; {stats:?}");
    assert!(
        pages <= bound + bound / 8,
        "outbox pages {pages} over the bound"
    );
}
