//! Store writer throughput and latency on a real SQLite file (WAL,
//! `synchronous=FULL`): telemetry rows/s, and `commit_event` latency p50/p99
//! for one waiter at a time, for 100 concurrent waiters, and for one waiter
//! while telemetry saturates the writer.
//!
//! `cargo bench -p gridsense-gateway --bench store_writer`

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::clock::SystemClock;
use gateway::store::{EventRecord, Store, StoreConfig, StoreHandle, TelemetryRecord, spawn_writer};
use protocol::{DeviceId, EventKind, FieldName};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        telemetry_throughput().await;
        event_latency("sequential, 1 waiter", 1, 2_000, false).await;
        event_latency("concurrent, 100 waiters", 100, 50, false).await;
        event_latency("1 waiter under telemetry load", 1, 1_000, true).await;
    });
}

fn open() -> (tempfile::TempDir, StoreHandle, std::thread::JoinHandle<()>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db")).expect("open");
    let (h, join) =
        spawn_writer(store, StoreConfig::default(), Arc::new(SystemClock)).expect("writer");
    (dir, h, join)
}

fn reading(device: &DeviceId, seq: u32) -> TelemetryRecord {
    TelemetryRecord {
        device: device.clone(),
        seq,
        received_ms: 1,
        readings: vec![
            (FieldName::new("temp").expect("field"), 21.5),
            (FieldName::new("humidity").expect("field"), 55.0),
        ],
    }
}

async fn telemetry_throughput() {
    let (_dir, h, join) = open();
    let devices: Vec<_> = (0..1000)
        .map(|i| DeviceId::new(&format!("th-{i}")).expect("id"))
        .collect();
    let records = 200_000u32;
    let start = Instant::now();
    let mut sent = 0;
    for seq in 0..records {
        let mut rec = reading(&devices[seq as usize % devices.len()], seq);
        loop {
            match h.try_telemetry(rec.clone()) {
                Ok(()) => break,
                Err(_) => tokio::time::sleep(Duration::from_micros(200)).await,
            }
            rec.seq = seq;
        }
        sent += 1;
    }
    h.flush().await.expect("flush");
    let secs = start.elapsed().as_secs_f64();
    let s = h.stats();
    println!(
        "telemetry: {} rows ({sent} records) in {secs:.2} s = {:.0} rows/s, {} batches (avg {:.0} records/batch); sheds retried: {}",
        s.telemetry_rows,
        f64::from(u32::try_from(s.telemetry_rows).unwrap_or(u32::MAX)) / secs,
        s.batches,
        f64::from(sent) / f64::from(u32::try_from(s.batches.max(1)).unwrap_or(1)),
        s.shed
    );
    drop(h);
    join.join().expect("writer");
}

async fn event_latency(label: &str, waiters: u32, per_waiter: u32, load: bool) {
    let (_dir, h, join) = open();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = load.then(|| {
        let (h, stop) = (h.clone(), stop.clone());
        tokio::spawn(async move {
            let dev = DeviceId::new("th-load").expect("id");
            let mut seq = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seq += 1;
                if h.try_telemetry(reading(&dev, seq)).is_err() {
                    tokio::task::yield_now().await;
                }
            }
        })
    });
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..waiters {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let device = DeviceId::new(&format!("smoke-{w}")).expect("id");
            let mut lat = Vec::with_capacity(per_waiter as usize);
            for seq in 1..=per_waiter {
                let rec = EventRecord {
                    device: device.clone(),
                    boot: None,
                    seq,
                    kind: EventKind::Alarm,
                    cause: None,
                    value: None,
                    node_ts: None,
                    received_ms: 1,
                    payload: vec![b'x'; 120],
                };
                let t = Instant::now();
                h.commit_event(rec).await.expect("commit");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(l) = loader {
        l.await.expect("loader");
    }
    all.sort();
    let pct = |p: usize| all[(all.len() * p / 100).min(all.len() - 1)];
    let s = h.stats();
    println!(
        "commit_event {label}: {} events in {secs:.2} s = {:.0} events/s; p50 {:?}, p99 {:?}, max {:?}; {} batches, {} telemetry rows alongside",
        all.len(),
        f64::from(u32::try_from(all.len()).unwrap_or(u32::MAX)) / secs,
        pct(50),
        pct(99),
        all[all.len() - 1],
        s.batches,
        s.telemetry_rows
    );
    drop(h);
    join.join().expect("writer");
}
