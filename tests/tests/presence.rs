//! Presence without ticket storms, against a running gateway with nodes on
//! real MQTT connections: a flapping link is one `unstable-link` order, not
//! one offline order per last will; a client refused for publishing as
//! another device raises nothing, however often it comes back, and is
//! quarantined after repeated refusals.
//!
//! No `[uplink]` is configured, so every order waits in the outbox: its rows
//! are the orders the district would get.

use std::time::Duration;

use gridsense_tests::{Client, Compound, WAIT};
use rumqttc::{LastWill, MqttOptions, QoS};

/// The orders waiting in the outbox: `(order_id, kind)` of every row.
fn outbox_orders(c: &Compound) -> Vec<(String, String)> {
    c.store()
        .outbox_fetch((-1, 0), 1_000)
        .expect("outbox")
        .iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).ok()?;
            Some((v["order_id"].as_str()?.into(), v["kind"].as_str()?.into()))
        })
        .collect()
}

/// Every alarm stored, as `(kind, state)`.
fn alarms(c: &Compound) -> Vec<(String, String)> {
    c.store()
        .all_alarms()
        .expect("alarms")
        .iter()
        .map(|a| (a.kind.to_string(), format!("{:?}", a.state)))
        .collect()
}

/// Lets presence's sweep (every second, real time) run on the moved clock.
async fn sweep() {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
}

/// Polls `f` until it holds (bounded by [`WAIT`]).
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn twenty_drops_in_forty_seconds_give_at_most_one_order() {
    let c = Compound::start("").await;
    let id = "smoke-b1-102";
    let mut it = c.integrator().await;
    // Sees each last will on the broker, so a reconnect never overtakes it.
    let mut o = MqttOptions::new("watch", "127.0.0.1", c.mqtt().port());
    o.set_credentials("admin", &c.admin_secret);
    let mut watch = Client::connect(o, &[format!("gs/v1/dev/{id}/state")]).await;
    let mut node = c.node(id).await;
    for _ in 0..20 {
        node.kill();
        watch
            .wait_for("last will", |_, v| v["status"] == "offline")
            .await;
        c.advance(Duration::from_secs(1));
        node = c.node(id).await;
        watch
            .wait_for("back online", |_, v| v["status"] == "online")
            .await;
        c.advance(Duration::from_secs(1));
    }
    // Past the grace period: the device is back, nothing is an outage.
    c.advance(Duration::from_secs(31));
    sweep().await;
    let fault =
        gridsense_tests::alarm(&mut it, "unstable link", |v| v["kind"] == "unstable-link").await;
    assert_eq!(fault["devices"][0], id);
    until("the order", || !outbox_orders(&c).is_empty()).await;
    let orders = outbox_orders(&c);
    let ids: std::collections::BTreeSet<_> = orders.iter().map(|(o, _)| o.clone()).collect();
    assert_eq!(ids.len(), 1, "one order for twenty drops: {orders:?}");
    assert!(
        orders.iter().all(|(_, k)| k == "unstable-link"),
        "{orders:?}"
    );
    let kinds = alarms(&c);
    assert!(
        !kinds.iter().any(|(k, _)| k == "device-offline"),
        "no drop was an outage: {kinds:?}"
    );
    assert_eq!(kinds.len(), 1, "{kinds:?}");
    // Stable for `stable_after_s` (300 s), heartbeats flowing: the fault
    // clears, still one order.
    for _ in 0..10 {
        c.advance(Duration::from_secs(30));
        node.publish(
            &format!("gs/v1/dev/{id}/state"),
            r#"{"status":"online","heartbeat_s":60}"#,
            true,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.advance(Duration::from_secs(1));
    sweep().await;
    let cleared = gridsense_tests::alarm(&mut it, "link stable", |v| {
        v["kind"] == "unstable-link" && v["state"] == "cleared"
    })
    .await;
    assert_eq!(cleared["id"], fault["id"]);
    let ids: std::collections::BTreeSet<_> =
        outbox_orders(&c).into_iter().map(|(o, _)| o).collect();
    assert_eq!(ids.len(), 1);
    drop(node);
}

#[tokio::test]
async fn a_refused_clients_retries_give_no_alarm_and_no_order() {
    let c = Compound::start("").await;
    let (me, other) = ("smoke-b1-101a", "smoke-b1-101b");
    // A standard client with smoke-b1-101a's credentials and last will that
    // publishes under smoke-b1-101b's prefix: refused and disconnected, it
    // reconnects and resends its unacknowledged publish, again and again.
    let mut o = MqttOptions::new(me, "127.0.0.1", c.mqtt().port());
    o.set_credentials(me, &c.secrets[me]);
    o.set_keep_alive(Duration::from_secs(5));
    // A persistent session: after a reconnect the client resends what was not acknowledged.
    o.set_clean_session(false);
    o.set_last_will(LastWill::new(
        format!("gs/v1/dev/{me}/state"),
        r#"{"status":"offline"}"#,
        QoS::AtLeastOnce,
        true,
    ));
    let node = Client::connect(o, &[]).await;
    node.publish(
        &format!("gs/v1/dev/{me}/state"),
        r#"{"status":"online","heartbeat_s":60}"#,
        true,
    )
    .await;
    node.publish(
        &format!("gs/v1/dev/{other}/evt"),
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
        false,
    )
    .await;
    // Each refusal is counted in quarantine; the clock moves a second per try.
    let refusals = |c: &Compound| {
        c.store()
            .quarantine_list()
            .expect("quarantine")
            .iter()
            .filter(|q| q.source == me && q.reason == "acl-publish")
            .map(|q| q.count)
            .sum::<u64>()
    };
    let mut seen = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while seen < 6 {
            let n = refusals(&c);
            if n > seen {
                c.advance(Duration::from_secs(1));
                seen = n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client kept coming back");
    // Past the grace period, the client still retrying.
    c.advance(Duration::from_secs(31));
    sweep().await;
    let kinds = alarms(&c);
    assert!(kinds.is_empty(), "a refusal raised {kinds:?}");
    assert!(outbox_orders(&c).is_empty(), "a refusal made an order");
    assert!(refusals(&c) >= 6, "every refusal counted in quarantine");
    let rows = c.store().presence_list().expect("presence");
    assert!(
        rows.iter()
            .filter(|r| r.device == me)
            .all(|r| r.status == protocol::Status::Online),
        "the refused client's wills are no outage of {me}: {rows:?}"
    );
    // Refused `refusals_before_quarantine` (10) times within a minute, the
    // client id is quarantined: its connections are refused at CONNECT, so
    // it publishes nothing more, and each attempt is counted, not logged.
    let rejects =
        |c: &Compound, reason: &str| c.gw.as_ref().expect("running").rejects.count(reason);
    until("quarantine", || rejects(&c, "quarantined") >= 2).await;
    assert!(
        rejects(&c, "acl-publish") <= 10,
        "no refusal after the quarantine"
    );
    until("quarantine recorded", || {
        c.store()
            .quarantine_list()
            .expect("quarantine")
            .iter()
            .any(|q| q.source == me && q.reason == "quarantined")
    })
    .await;
    c.advance(Duration::from_secs(31));
    sweep().await;
    assert!(alarms(&c).is_empty(), "quarantine raised an alarm");
    assert!(outbox_orders(&c).is_empty());
    node.kill();
}

/// A raw MQTT 3.1.1 CONNECT with a username and password.
fn connect_with_login(client_id: &str, user: &str, password: &str) -> Vec<u8> {
    let field = |s: &str| {
        let mut v = u16::try_from(s.len())
            .expect("short")
            .to_be_bytes()
            .to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 60];
    for s in [client_id, user, password] {
        body.extend(field(s));
    }
    let mut p = vec![0x10, u8::try_from(body.len()).expect("short")];
    p.extend(body);
    p
}

/// Connects over TCP and sends `packet`; the first bytes answered (empty
/// when the gateway closed the connection without a word).
async fn answer(c: &Compound, packet: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(c.mqtt()).await else {
        return Vec::new();
    };
    let _ = s.write_all(packet).await;
    let mut buf = [0u8; 4];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_source_address_that_keeps_guessing_is_closed_at_accept() {
    let c = Compound::start("").await;
    let node = "smoke-b1-101a";
    // A legitimate node connects from 127.0.0.1 (CONNACK, accepted).
    let good = connect_with_login(node, node, &c.secrets[node]);
    assert_eq!(answer(&c, &good).await, [0x20, 2, 0, 0]);
    // A host on the LAN guesses credentials under a new client id each time
    // (so no per-id quarantine holds it): `refusals_per_address_before_quarantine`
    // (30) refusals within a minute quarantine its address.
    for i in 0..30 {
        let guess = connect_with_login(&format!("guess-{i}"), "admin", &format!("pw{i}"));
        let a = answer(&c, &guess).await;
        assert_ne!(a, [0x20, 2, 0, 0], "guess {i} let in");
    }
    let rejects =
        |c: &Compound, reason: &str| c.gw.as_ref().expect("running").rejects.count(reason);
    until("the 30 refusals counted", || rejects(&c, "auth") >= 30).await;
    until("the address quarantined", || {
        c.store()
            .quarantine_list()
            .expect("quarantine")
            .iter()
            .any(|q| q.source == "127.0.0.1" && q.reason == "address-quarantined")
    })
    .await;
    // Every connection from it is now closed at accept, before any handshake
    // (the good node's too: it shares the address), counted, not stored per try.
    for _ in 0..5 {
        assert!(
            answer(&c, &good).await.is_empty(),
            "closed without a CONNACK"
        );
    }
    until("closed connections counted", || {
        rejects(&c, "address-quarantined") >= 5
    })
    .await;
    let rows = c.store().quarantine_list().expect("quarantine");
    let entered: Vec<_> = rows
        .iter()
        .filter(|q| q.reason == "address-quarantined")
        .collect();
    assert_eq!(entered.len(), 1, "{entered:?}");
    assert_eq!(
        entered[0].count, 1,
        "one record for the quarantine, not one per try"
    );
    c.advance(Duration::from_secs(31));
    sweep().await;
    assert!(alarms(&c).is_empty(), "refusals raised an alarm");
    assert!(outbox_orders(&c).is_empty(), "refusals made an order");
}
