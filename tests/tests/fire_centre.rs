//! The fire remote-monitoring centre's link (GB/T 26875.3) against the
//! centre simulator over real TCP, with the real gateway and its real
//! SQLite file: a confirmed fire reaches the centre as a component state
//! with the fire-alarm bit, is sent again until the centre confirms it,
//! survives an outage and a restart, and goes ahead of other frames. The
//! simulator reads frames with its own parser, not the gateway's decoder.

use std::time::Duration;

use gridsense_tests::centre_sim::{CentreSim, Received};
use gridsense_tests::{Compound, T0, ack, alarm, event};

const DEVICE: u64 = 0x2601_0001;
const CENTRE: u64 = 0x0571;
const WAIT: Duration = Duration::from_secs(15);

/// Bit 1 of a component state: fire alarm.
const FIRE: u16 = 1 << 1;
/// Bit 2: fault.
const FAULT: u16 = 1 << 2;

fn section(addr: &str) -> String {
    format!(
        "[fire_centre]\naddr = \"{addr}\"\naddress = {DEVICE}\ncentre_address = {CENTRE}\nconfirm_timeout_ms = 300\nretries = 1000\nheartbeat_s = 1\nreconnect_ms = 100\nfault_after_ms = 300\n"
    )
}

fn is_fire(r: &Received) -> bool {
    r.command == 2 && r.components().iter().any(|c| c.status & FIRE != 0)
}

/// A manual call point confirms a fire at once.
async fn fire(c: &Compound, seq: u64) {
    let mut mcp = c.node("mcp-b1-u1-f1").await;
    event(
        &mcp,
        "mcp-b1-u1-f1",
        &format!(r#"{{"seq":{seq},"type":"alarm","cause":"manual-call"}}"#),
    )
    .await;
    ack(&mut mcp, seq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_fire_reaches_the_centre_with_the_fire_bit_and_is_resent_until_confirmed() {
    let sim = CentreSim::start("127.0.0.1:0", CENTRE).await.expect("sim");
    let c = Compound::start(&section(&sim.addr().to_string())).await;
    // The link is up: a heartbeat (type 21) comes and is confirmed.
    let beat = sim
        .wait_for(WAIT, |r| r.kind() == Some(21) && r.command == 2)
        .await
        .expect("a heartbeat");
    assert_eq!(beat.source, DEVICE);
    assert_eq!(beat.destination, CENTRE);
    assert_eq!(beat.version, [1, 1]);
    assert_eq!(
        beat.device_state().map(|s| s & 1),
        Some(1),
        "normal monitoring"
    );
    // The centre stops confirming; a fire is confirmed at the gateway.
    sim.set_confirming(false);
    fire(&c, 1).await;
    let first = sim.wait_for(WAIT, is_fire).await.expect("the fire frame");
    let comp = &first.components()[0];
    assert_eq!(comp.component_type, 23, "manual call point");
    assert_eq!(comp.status & FIRE, FIRE);
    assert_eq!(comp.description, "mcp-b1-u1-f1");
    // Sent again with the same serial while unconfirmed.
    let again = sim
        .wait_for(WAIT, |r| {
            is_fire(r) && r.serial == first.serial && r.at > first.at
        })
        .await
        .expect("a re-send");
    assert_eq!(again.serial, first.serial);
    assert_eq!(again.data, first.data, "the same data unit");
    // Now the centre confirms: the frame leaves the gateway's queue.
    sim.set_confirming(true);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !sim.confirmed().contains(&first.serial) {
        assert!(tokio::time::Instant::now() < deadline, "confirmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = c.gw.as_ref().expect("gw").store.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pending = store.fire_centre_pending().await.expect("queue");
        if pending.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue drained: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The centre asks for the device state: a response (5) with the same serial.
    let serial = sim.send(DEVICE, 4, &[81, 1, 0]);
    let resp = sim
        .wait_for(WAIT, |r| r.command == 5 && r.serial == serial)
        .await
        .expect("a response");
    assert_eq!(resp.kind(), Some(21));
    assert_eq!(
        resp.device_state().map(|s| s & 0b10),
        Some(0b10),
        "fire bit"
    );
    // A roll call (查岗) is confirmed and answered with an operation record.
    let serial = sim.send(DEVICE, 1, &[91, 1, 10]);
    sim.wait_for(WAIT, |r| r.command == 3 && r.serial == serial)
        .await
        .expect("roll call confirmed");
    let rec = sim
        .wait_for(WAIT, |r| r.kind() == Some(24))
        .await
        .expect("roll call answered");
    assert_eq!(rec.data[2] & (1 << 5), 1 << 5, "roll-call answer bit");
    // A clock sync is confirmed.
    let serial = sim.send(DEVICE, 1, &[90, 1, 5, 4, 15, 1, 12, 26]);
    sim.wait_for(WAIT, |r| r.command == 3 && r.serial == serial)
        .await
        .expect("clock sync confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_in_an_outage_survive_a_restart_and_arrive_fire_first() {
    // Nothing listens here: the centre is unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let mut c = Compound::start("").await;
    // A device stands for the link: its offline fault is the link's failure.
    c.down().await;
    {
        let mut store = gateway::store::Store::open(&c.dir.path().join("gw.db")).expect("store");
        let profiles = gateway::registry::Profiles::load(None).expect("profiles");
        let fields = gateway::registry::DeviceFields {
            id: "fire-centre-link".into(),
            profile: "fire-centre-link".into(),
            location: "b1".into(),
            ..Default::default()
        };
        gateway::registry::add_device(&mut store, &fields, &profiles, T0).expect("link device");
    }
    let cfg = gateway::config::Config::parse(
        &format!(
            "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n{}",
            section(&dead)
        ),
        "t",
    )
    .expect("section");
    let mut fc = cfg.fire_centre.expect("fire_centre");
    fc.link_device = Some("fire-centre-link".into());
    c.cfg.fire_centre = Some(fc.clone());
    c.up().await;
    let mut it = c.integrator().await;
    // The link is down long enough: a fault operators and integrators see.
    alarm(&mut it, "the link's fault", |v| {
        v["kind"] == "device-offline" && v["devices"][0] == "fire-centre-link"
    })
    .await;
    // A fault first, then a fire, both while the centre is unreachable.
    let mut smoke = c.node("smoke-b1-201").await;
    event(
        &smoke,
        "smoke-b1-201",
        r#"{"seq":1,"type":"fault","cause":"sensor-open"}"#,
    )
    .await;
    ack(&mut smoke, 1).await;
    alarm(&mut it, "the detector's fault", |v| {
        v["kind"] == "sensor-fault"
    })
    .await;
    fire(&c, 1).await;
    alarm(&mut it, "the fire", |v| {
        v["kind"] == "fire" && v["state"] == "active"
    })
    .await;
    let store = c.gw.as_ref().expect("gw").store.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let q = store.fire_centre_pending().await.expect("queue");
        if q.len() >= 2 {
            assert_eq!(q[0].class, 0, "fire first in the queue: {q:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "both queued: {q:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Restart, now with the centre reachable (the writer stops once the
    // last handle on it is gone).
    drop(store);
    c.down().await;
    let sim = CentreSim::start("127.0.0.1:0", CENTRE).await.expect("sim");
    fc.addr = sim.addr().to_string();
    c.cfg.fire_centre = Some(fc);
    c.up().await;
    let fire_frame = sim
        .wait_for(WAIT, is_fire)
        .await
        .expect("the fire after the restart");
    let fault_frame = sim
        .wait_for(WAIT, |r| {
            r.command == 2 && r.components().iter().any(|c| c.status & FAULT != 0)
        })
        .await
        .expect("the fault after the restart");
    let got = sim.received();
    let pos = |f: &Received| got.iter().position(|r| r == f).expect("received");
    assert!(
        pos(&fire_frame) < pos(&fault_frame),
        "fire ahead of the fault: {got:?}"
    );
    assert_eq!(fire_frame.components()[0].description, "mcp-b1-u1-f1");
    assert_eq!(fault_frame.components()[0].description, "smoke-b1-201");
    // The link is back: its fault ends (seen by an integrator connected
    // after the restart).
    let mut it = c.integrator().await;
    let v = alarm(&mut it, "the link's fault ended", |v| {
        v["kind"] == "device-offline"
            && v["devices"][0] == "fire-centre-link"
            && v["condition"] == false
    })
    .await;
    assert_ne!(v["state"], "active", "{v}");
}
