//! The embedded broker with real MQTT clients over TCP: authentication and
//! the topic ACL (a device cannot publish or subscribe as another).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway::bus::MqttSection;
use gateway::bus::{Authenticator, Bus, Denied, Role};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

struct Users(HashMap<&'static str, (&'static str, Role)>);

impl Authenticator for Users {
    fn authenticate(&self, username: &str, password: &str) -> Option<Role> {
        self.0
            .get(username)
            .filter(|(p, _)| *p == password)
            .map(|(_, r)| *r)
    }
}

struct Harness {
    addr: std::net::SocketAddr,
    sub: gateway::bus::Subscription,
    denied: Arc<Mutex<Vec<Denied>>>,
}

fn start() -> Harness {
    let users = Users(HashMap::from([
        ("smoke-1", ("s1-secret", Role::Device)),
        ("smoke-2", ("s2-secret", Role::Device)),
        ("ha", ("ha-secret", Role::Integrator)),
    ]));
    let denied: Arc<Mutex<Vec<Denied>>> = Arc::default();
    let d = denied.clone();
    let cfg = MqttSection {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..MqttSection::default()
    };
    let bus = Bus::new(
        &cfg,
        Arc::new(users),
        Arc::new(move |x| d.lock().expect("lock").push(x)),
    );
    let sub = bus
        .subscribe("test-ingest", &["gs/v1/dev/+/#"])
        .expect("subscribe");
    let addr = bus.start().expect("start");
    Harness { addr, sub, denied }
}

fn client(h: &Harness, client_id: &str, user: &str, pass: &str) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(client_id, h.addr.ip().to_string(), h.addr.port());
    o.set_credentials(user, pass);
    o.set_keep_alive(Duration::from_secs(5));
    AsyncClient::new(o, 16)
}

/// Polls until CONNACK or an error; true when connected.
async fn connects(ev: &mut EventLoop) -> bool {
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(a))) => {
                    return a.code == rumqttc::ConnectReturnCode::Success;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    r.unwrap_or(false)
}

/// Drives the event loop until it fails (disconnected) or `limit` passes.
async fn drive_until_error(ev: &mut EventLoop, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        loop {
            if ev.poll().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

async fn next_topic(h: &mut Harness) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(5), h.sub.next())
        .await
        .ok()
        .flatten()
        .map(|(t, _)| String::from_utf8_lossy(&t).into_owned())
}

#[tokio::test]
async fn a_device_publishes_under_its_own_prefix() {
    let mut h = start();
    let (c, mut ev) = client(&h, "smoke-1", "smoke-1", "s1-secret");
    assert!(connects(&mut ev).await);
    c.publish("gs/v1/dev/smoke-1/evt", QoS::AtLeastOnce, false, "{}")
        .await
        .expect("queue");
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    assert_eq!(
        next_topic(&mut h).await.as_deref(),
        Some("gs/v1/dev/smoke-1/evt")
    );
}

#[tokio::test]
async fn a_device_cannot_publish_as_another_and_is_disconnected() {
    let mut h = start();
    let (c, mut ev) = client(&h, "smoke-1", "smoke-1", "s1-secret");
    assert!(connects(&mut ev).await);
    c.publish("gs/v1/dev/smoke-2/evt", QoS::AtLeastOnce, false, "{}")
        .await
        .expect("queue");
    assert!(
        drive_until_error(&mut ev, Duration::from_secs(5)).await,
        "spoofing client stays connected"
    );
    // A legitimate message from the real smoke-2 is the first thing ingest sees.
    let (c2, mut ev2) = client(&h, "smoke-2", "smoke-2", "s2-secret");
    assert!(connects(&mut ev2).await);
    c2.publish("gs/v1/dev/smoke-2/tel", QoS::AtLeastOnce, false, "{}")
        .await
        .expect("queue");
    tokio::spawn(async move { while ev2.poll().await.is_ok() {} });
    assert_eq!(
        next_topic(&mut h).await.as_deref(),
        Some("gs/v1/dev/smoke-2/tel")
    );
    let denied = h.denied.lock().expect("lock");
    assert!(denied.iter().any(|d| matches!(d,
        Denied::Topic { username: Some(u), topic, .. } if u == "smoke-1" && topic == "gs/v1/dev/smoke-2/evt")));
    drop(c);
}

#[tokio::test]
async fn a_device_cannot_subscribe_to_another_devices_commands() {
    let h = start();
    let (c, mut ev) = client(&h, "smoke-1", "smoke-1", "s1-secret");
    assert!(connects(&mut ev).await);
    c.subscribe("gs/v1/dev/smoke-2/cmd", QoS::AtLeastOnce)
        .await
        .expect("queue");
    assert!(drive_until_error(&mut ev, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_last_will_on_another_devices_topic_is_refused() {
    let h = start();
    let mut o = MqttOptions::new("smoke-1", h.addr.ip().to_string(), h.addr.port());
    o.set_credentials("smoke-1", "s1-secret");
    o.set_last_will(rumqttc::LastWill::new(
        "gs/v1/dev/smoke-2/state",
        "{\"status\":\"offline\"}",
        QoS::AtLeastOnce,
        true,
    ));
    let (_c, mut ev) = AsyncClient::new(o, 4);
    assert!(!connects(&mut ev).await);
}

#[tokio::test]
async fn wrong_secrets_and_borrowed_client_ids_are_refused() {
    let h = start();
    let (_c, mut ev) = client(&h, "smoke-1", "smoke-1", "wrong");
    assert!(!connects(&mut ev).await, "wrong password");
    let (_c, mut ev) = client(&h, "smoke-2", "smoke-1", "s1-secret");
    assert!(!connects(&mut ev).await, "device using another client id");
    let (_c, mut ev) = client(&h, "nobody", "nobody", "x");
    assert!(!connects(&mut ev).await, "unknown user");
    let denied = h.denied.lock().expect("lock");
    assert_eq!(
        denied
            .iter()
            .filter(|d| matches!(d, Denied::Auth { .. }))
            .count(),
        3
    );
}

#[tokio::test]
async fn integrators_read_site_feeds_only() {
    let h = start();
    let (c, mut ev) = client(&h, "ha-1", "ha", "ha-secret");
    assert!(connects(&mut ev).await);
    c.subscribe("gs/v1/site/#", QoS::AtLeastOnce)
        .await
        .expect("queue");
    let ok = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Packet::SubAck(_))) = ev.poll().await {
                return true;
            }
        }
    })
    .await;
    assert_eq!(ok, Ok(true));
    c.subscribe("gs/v1/dev/+/evt", QoS::AtLeastOnce)
        .await
        .expect("queue");
    assert!(drive_until_error(&mut ev, Duration::from_secs(5)).await);
}
