//! Linkage and order latency, on real MQTT connections to a running gateway
//! while an admin client publishes 10,000 telemetry messages per second in
//! the background:
//! - a smoke alarm published by a node → the escape-door unlock command
//!   received by the lock node;
//! - a heat alarm published by a node → the work order received on the
//!   district broker (uplink, outbox, committed alarm on the way).
//!
//! Both with `GS_BENCH_NODES` (10,000 by default) more registered nodes
//! held connected, as a compound's fleet (`gridsense_tests::idle`).
//!
//! `ulimit -n 30000 && cargo bench -p gridsense-tests --bench linkage`
//! (under `cargo test` it makes a short smoke run, 50 nodes, whose figures
//! mean nothing).

use std::time::{Duration, Instant};

use gridsense_tests::{Compound, event, percentile};
use rumqttc::QoS;

/// Background telemetry rate, messages per second.
const RATE: u64 = 10_000;

/// Nodes held connected (and idle) during the run: `GS_BENCH_NODES`, or
/// 10,000 with `--bench` (50 in the smoke run).
fn nodes(full: bool) -> usize {
    std::env::var("GS_BENCH_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 50 })
}

/// Holds the registered idle nodes of `c` connected, from a child process
/// (`gridsense_tests::idle::hold_in_child`: both ends in this process would
/// need more descriptors than a process may have).
fn fleet(c: &Compound) -> gridsense_tests::idle::ChildFleet {
    let mut idle: Vec<(String, String)> = c
        .secrets
        .iter()
        .filter(|(id, _)| id.starts_with("idle-"))
        .map(|(id, s)| (id.clone(), s.clone()))
        .collect();
    idle.sort();
    let t0 = Instant::now();
    let held =
        tokio::task::block_in_place(|| gridsense_tests::idle::hold_in_child(c.mqtt(), &idle));
    println!(
        "  {} of {} idle nodes connected in {:.1} s",
        held.held,
        idle.len(),
        t0.elapsed().as_secs_f64()
    );
    held
}

fn rate() -> u64 {
    std::env::var("GS_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RATE)
}

/// Publishes `RATE` telemetry messages per second until `stop`, spread over
/// the compound's telemetry devices; returns how many were sent.
async fn background(
    c: &Compound,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<u64> {
    let load = c.admin("load-1").await;
    let devices = [
        "th-b2-702",
        "charger-carpark-01",
        "charger-carpark-02",
        "manhole-north-gate",
        "level-carpark-sump",
    ];
    tokio::spawn(async move {
        let start = Instant::now();
        let mut sent = 0u64;
        let mut seq = 0u32;
        while !*stop.borrow() {
            let due =
                u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX) * rate() / 1_000_000;
            while sent < due {
                seq = seq.wrapping_add(1);
                let d = devices[(sent % 5) as usize];
                let payload = format!(r#"{{"seq":{seq},"r":{{"temp":{}.5}}}}"#, seq % 40);
                if load
                    .client
                    .try_publish(
                        format!("gs/v1/dev/{d}/tel"),
                        QoS::AtMostOnce,
                        false,
                        payload,
                    )
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        sent
    })
}

async fn run(rounds: u32, idle: usize) {
    // Chatter detection off: the same detector alarms once per round.
    let c = Compound::start_with_idle(
        "[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\nchatter_events = 1000000\n",
        idle,
    )
    .await;
    let _fleet = fleet(&c);
    let mut lock = c.node("lock-b2-stair").await;
    let smoke = c.node("smoke-b2-101a").await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load = background(&c, stop_rx).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut lat = Vec::new();
    for i in 0..rounds {
        // Spread the alarms over the run so they meet the load at every phase.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        event(
            &smoke,
            "smoke-b2-101a",
            &format!(r#"{{"seq":{},"type":"alarm","cause":"smoke"}}"#, 2 * i + 1),
        )
        .await;
        let (_, cmd) = lock
            .wait_for("unlock", |t, v| t.ends_with("/cmd") && v["cmd"] == "unlock")
            .await;
        lat.push(t0.elapsed());
        let id = cmd["id"].as_u64().unwrap_or(0);
        lock.publish(
            "gs/v1/dev/lock-b2-stair/cmd/ack",
            &format!(r#"{{"id":{id},"ok":true}}"#),
            false,
        )
        .await;
        // End the incident so the next alarm is a new one.
        event(
            &smoke,
            "smoke-b2-101a",
            &format!(
                r#"{{"seq":{},"type":"restore","cause":"smoke"}}"#,
                2 * i + 2
            ),
        )
        .await;
        cancel_open_alarms(&c).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let sent = load.await.unwrap_or(0);
    let gw = c.gw.as_ref().expect("gw");
    let ingested = gw
        .ingest
        .stats()
        .telemetry
        .load(std::sync::atomic::Ordering::Relaxed);
    report("linkage latency, smoke alarm in -> unlock out", rounds, lat);
    #[allow(clippy::cast_precision_loss)]
    let rate = ingested as f64 / (elapsed.as_secs_f64() + 1.0);
    println!("  background: {sent} telemetry messages sent, {ingested} ingested (~{rate:.0}/s)");
}

/// Ends every open alarm, so the next signal raises a new one.
async fn cancel_open_alarms(c: &Compound) {
    // A confirmed fire is cancelled only once its detector's restore has
    // been evaluated (409 before): retry until nothing is open.
    let deadline = Instant::now() + gridsense_tests::WAIT;
    loop {
        let (_, open) = c.http("GET", "/api/alarms", "").await;
        let ids: Vec<String> = open
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["id"].as_str().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "alarms still open: {open}");
        for id in ids {
            c.http("POST", &format!("/api/alarms/{id}/cancel"), "")
                .await;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn report(what: &str, rounds: u32, lat: Vec<Duration>) {
    // Where the slowest fell in the run (round number), to tell a stall
    // after the fleet's connect from one spread over the run.
    let mut slowest: Vec<(usize, Duration)> = lat.iter().copied().enumerate().collect();
    slowest.sort_by_key(|&(_, d)| std::cmp::Reverse(d));
    let mut lat = lat;
    lat.sort();
    println!("{what}, {rounds} alarms");
    let worst: Vec<String> = slowest
        .iter()
        .take(5)
        .map(|(i, d)| format!("#{i} {:.1} ms", d.as_secs_f64() * 1e3))
        .collect();
    println!("  slowest: {}", worst.join(", "));
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
}

/// Heat alarm in → order on the district broker.
async fn orders(rounds: u32, idle: usize) {
    let district = demo::upstream_sim::district_broker("127.0.0.1:0".parse().expect("addr"))
        .expect("district");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut platform = demo::upstream_sim::SimConfig::new("127.0.0.1", district.port());
    platform.receipt_only = true;
    tokio::spawn(demo::upstream_sim::run(platform, stop.clone()));
    let c = Compound::start_with_idle(
        &format!(
            "[alarms]\nchatter_events = 1000000\n[uplink]\nhost = \"127.0.0.1\"\nport = {}\n",
            district.port()
        ),
        idle,
    )
    .await;
    let _fleet = fleet(&c);
    let mut o = rumqttc::MqttOptions::new("bench-spy", "127.0.0.1", district.port());
    o.set_keep_alive(Duration::from_secs(30));
    let mut spy = gridsense_tests::Client::connect(o, &["grid/v1/+/+/+/+/order".to_string()]).await;
    let heat = c.node("heat-b1-102").await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load = background(&c, stop_rx).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut lat = Vec::new();
    for i in 0..rounds {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t0 = Instant::now();
        event(
            &heat,
            "heat-b1-102",
            &format!(r#"{{"seq":{},"type":"alarm","cause":"heat"}}"#, 2 * i + 1),
        )
        .await;
        spy.wait_for("order", |_, v| v["revision"] == 1).await;
        lat.push(t0.elapsed());
        event(
            &heat,
            "heat-b1-102",
            &format!(r#"{{"seq":{},"type":"restore","cause":"heat"}}"#, 2 * i + 2),
        )
        .await;
        cancel_open_alarms(&c).await;
    }
    let _ = stop_tx.send(true);
    let sent = load.await.unwrap_or(0);
    stop.cancel();
    report(
        "order latency, heat alarm in -> order on the district broker",
        rounds,
        lat,
    );
    println!("  background: {sent} telemetry messages sent");
}

fn main() {
    // The child process holding the idle fleet, if this is it.
    gridsense_tests::idle::child_main();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}

async fn bench() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("smoke run (figures not meaningful; use cargo bench)");
    }
    let idle = nodes(full);
    run(if full { 500 } else { 5 }, idle).await;
    orders(if full { 300 } else { 3 }, idle).await;
}
