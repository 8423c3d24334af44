//! Fire confirmed → frame at the fire remote-monitoring centre: a manual
//! call point's alarm (confirmed on arrival) published by a node over MQTT
//! → the GB/T 26875.3 component state with the fire-alarm bit read by the
//! centre simulator over TCP. On the way: ingest, analysis, the alarm's
//! commit (SQLite, synchronous=FULL), the link's queue row (a second
//! commit) and the frame. Each round then restores, acknowledges and
//! resets the alarm, and waits for the centre to hear the normal state.
//!
//! `cargo bench -p gridsense-tests --bench fire_centre` (under `cargo test`
//! it makes a short smoke run whose figures mean nothing).

use std::time::{Duration, Instant};

use gridsense_tests::centre_sim::CentreSim;
use gridsense_tests::{Compound, ack, alarm, event, percentile};

const FIRE: u16 = 1 << 1;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 100 } else { 3 };
    let sim = CentreSim::start("127.0.0.1:0", 0x0571).await.expect("sim");
    let c = Compound::start(&format!(
        "[fire_centre]\naddr = \"{}\"\naddress = 637599745\ncentre_address = 1393\nheartbeat_s = 30\n",
        sim.addr()
    ))
    .await;
    let mut it = c.integrator().await;
    let mut mcp = c.node("mcp-b1-u1-f1").await;
    let wait = Duration::from_secs(10);
    let mut lat = Vec::with_capacity(rounds);
    let mut seq = 0u64;
    for round in 0..rounds {
        seq += 1;
        let t0 = Instant::now();
        event(
            &mcp,
            "mcp-b1-u1-f1",
            &format!(r#"{{"seq":{seq},"type":"alarm","cause":"manual-call"}}"#),
        )
        .await;
        let frame = sim
            .wait_for(wait, |r| {
                r.command == 2 && r.components().iter().any(|c| c.status & FIRE != 0)
            })
            .await
            .expect("the fire frame of this round");
        // The simulator's arrival stamp, not this loop's wake-up.
        lat.push(frame.at.saturating_sub(t0.duration_since(sim.started())));
        ack(&mut mcp, seq).await;
        let a = alarm(&mut it, "the fire", |v| {
            v["kind"] == "fire" && v["state"] == "active"
        })
        .await;
        let id = a["id"].as_str().expect("id").to_string();
        seq += 1;
        event(
            &mcp,
            "mcp-b1-u1-f1",
            &format!(r#"{{"seq":{seq},"type":"restore","cause":"manual-call"}}"#),
        )
        .await;
        ack(&mut mcp, seq).await;
        c.http("POST", &format!("/api/alarms/{id}/ack"), "").await;
        let (status, body) = c.http("POST", &format!("/api/alarms/{id}/reset"), "").await;
        assert!(status < 300, "round {round}: reset {status} {body}");
        sim.wait_for(wait, |r| {
            r.command == 2 && r.components().iter().any(|c| c.status & FIRE == 0)
        })
        .await
        .expect("the normal state");
        alarm(&mut it, "reset", |v| {
            v["id"] == id.as_str() && v["state"] == "reset"
        })
        .await;
        // The sim keeps everything: drop what was matched so the next
        // round's waits see only new frames.
        sim.clear();
        // An hour between fires on the gateway's clock: a call point that
        // fired again every few seconds would be chattering, not on fire.
        c.advance(Duration::from_secs(3600));
    }
    lat.sort();
    println!(
        "fire confirmed (manual call point event published) -> GB/T 26875.3 frame at the centre, {} rounds: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().expect("rounds").as_secs_f64() * 1e3
    );
}
