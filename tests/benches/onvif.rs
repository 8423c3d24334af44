//! ONVIF camera event → camera alarm: the camera simulator answers the
//! gateway's waiting PullMessages with an intrusion notification (`IsInside`
//! true) → the intrusion alarm, active, on the integrator feed. On the way:
//! the HTTP answer, the SOAP parser, ingest (the event forwarded to analysis
//! and committed to SQLite, synchronous=FULL), the alarm engine, the
//! alarm's commit and its publication. Each round then empties the field and
//! waits for the alarm to clear.
//!
//! `cargo bench -p gridsense-tests --bench onvif` (under `cargo test` it
//! makes a short smoke run whose figures mean nothing).

use std::time::{Duration, Instant};

use gridsense_tests::onvif_sim::OnvifSim;
use gridsense_tests::{Compound, alarm, percentile};

const CAM: &str = "cam-north-gate";
const INSIDE: &str = "tns1:RuleEngine/FieldDetector/ObjectsInside";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 100 } else { 3 };
    let sim = OnvifSim::start("127.0.0.1:0", "gridsense", "camera-2026")
        .await
        .expect("sim");
    let c = Compound::start(&format!(
        "[[cameras]]\nid = \"{CAM}\"\naddress = \"{}\"\nusername = \"gridsense\"\npassword = \"camera-2026\"\n",
        sim.device_url()
    ))
    .await;
    let mut it = c.integrator().await;
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s.live_subscriptions() > 0)
            .await,
        "subscribed"
    );
    let mut lat = Vec::with_capacity(rounds);
    let mut last = String::new();
    for _ in 0..rounds {
        // The gateway's PullMessages is waiting at the camera: give it a moment.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t0 = Instant::now();
        assert_eq!(sim.emit(INSIDE, &[("IsInside", "true")]), 1);
        let a = alarm(&mut it, "intrusion", |v| {
            v["kind"] == "intrusion" && v["state"] == "active" && v["id"] != last.as_str()
        })
        .await;
        lat.push(t0.elapsed());
        last = a["id"].as_str().expect("id").to_string();
        sim.emit(INSIDE, &[("IsInside", "false")]);
        alarm(&mut it, "cleared", |v| {
            v["id"] == last.as_str() && v["state"] == "cleared"
        })
        .await;
    }
    lat.sort();
    println!(
        "ONVIF intrusion notification (answering the waiting PullMessages) -> camera alarm active on the integrator feed, {} rounds, one camera, no other load: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().expect("rounds").as_secs_f64() * 1e3
    );
}
