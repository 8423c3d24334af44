//! API latency under load, on a running gateway with real sockets: 200
//! requests per second (open loop: each on its own connection, sent on
//! schedule however slow the last one was) spread over the console's
//! reads, with a bearer token, while an admin client publishes 10,000
//! telemetry messages per second.
//!
//! `cargo bench -p gridsense-tests --bench api` (20 s; `GS_BENCH_SECS`,
//! `GS_BENCH_RATE` and `GS_BENCH_RPS` change it). Under `cargo test` it
//! makes a 2 s smoke run whose figures mean nothing.

use std::time::{Duration, Instant};

use gridsense_tests::Compound;
use rumqttc::QoS;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const PATHS: [&str; 6] = [
    "/api/alarms",
    "/api/orders?open=true",
    "/api/devices",
    "/api/site",
    "/api/kpi",
    "/api/quarantine",
];

/// Publishes `rate` telemetry messages per second until `stop`; returns how many were sent.
async fn background(
    c: &Compound,
    rate: u64,
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
        let (mut sent, mut seq) = (0u64, 0u32);
        while !*stop.borrow() {
            let due =
                u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX) * rate / 1_000_000;
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

/// One GET with the token on a fresh connection: `(status, time to the whole answer)`.
async fn get(addr: std::net::SocketAddr, token: &str, path: &str) -> (u16, Duration) {
    let t0 = Instant::now();
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, t0.elapsed());
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return (0, t0.elapsed());
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let status = std::str::from_utf8(&out[..out.len().min(12)])
        .ok()
        .and_then(|l| l.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, t0.elapsed())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

async fn run(secs: u64) {
    let c = Compound::start("").await;
    let gw = c.gw.as_ref().expect("gw");
    let addr = gw.api_addr;
    let (rate, rps) = (env("GS_BENCH_RATE", 10_000), env("GS_BENCH_RPS", 200));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load = background(&c, rate, stop_rx).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ingested0 = gw
        .ingest
        .stats()
        .telemetry
        .load(std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = tokio::task::JoinSet::new();
    let total = secs * rps;
    for i in 0..total {
        tick.tick().await;
        let token = c.api_token.clone();
        let path = PATHS[usize::try_from(i).unwrap_or(0) % PATHS.len()];
        calls.spawn(async move { (path, get(addr, &token, path).await) });
    }
    let mut by_path: std::collections::BTreeMap<&str, Vec<Duration>> =
        std::collections::BTreeMap::new();
    let mut all = Vec::new();
    let mut failed = 0;
    while let Some(r) = calls.join_next().await {
        let (path, (status, d)) = r.expect("request task");
        if status != 200 {
            failed += 1;
        }
        by_path.entry(path).or_default().push(d);
        all.push(d);
    }
    let elapsed = started.elapsed();
    let ingested = gw
        .ingest
        .stats()
        .telemetry
        .load(std::sync::atomic::Ordering::Relaxed)
        - ingested0;
    let _ = stop_tx.send(true);
    let sent = load.await.unwrap_or(0);
    all.sort();
    #[allow(clippy::cast_precision_loss)]
    let (got_rps, ing_rate) = (
        all.len() as f64 / elapsed.as_secs_f64(),
        ingested as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "API under load: {} requests in {:.1} s (~{got_rps:.0}/s), {failed} not 200",
        all.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  all      p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        pct(&all, 0.5),
        pct(&all, 0.9),
        pct(&all, 0.99),
        pct(&all, 1.0)
    );
    for (path, mut v) in by_path {
        v.sort();
        println!(
            "  {path:<22} p50 {:.2} ms  p99 {:.2} ms",
            pct(&v, 0.5),
            pct(&v, 0.99)
        );
    }
    println!(
        "  background: {sent} telemetry messages sent, {ingested} ingested during the run (~{ing_rate:.0}/s)"
    );
    assert_eq!(failed, 0, "every request answered 200");
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(if bench { env("GS_BENCH_SECS", 20) } else { 2 }));
}
