//! Modbus source throughput, printed as figures (run in release):
//!
//! `cargo bench -p gridsense-modbus --bench modbus`
//!
//! 1. TCP: requests/s of the source polling 200 lab devices as fast as their
//!    profile allows (saturating the connection), as a ratio of a bare
//!    tokio-modbus client reading the same blocks in a loop, same server,
//!    same run. Target >= 0.8.
//! 2. RTU: transactions/s through the line emulator at 19,200 baud 8E1, as a
//!    share of the line's theoretical rate with the 3.5-character gap kept
//!    on both turns (master and slave). Target >= 90%.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use modbus::StatsHandle;
use modbus_lab::{Bank, LineTiming, RtuBus, TcpSlaves};
use protocol::modbus::Table;
use tokio_modbus::client::Reader;
use tokio_modbus::prelude::SlaveContext;

const TCP_UNITS: u8 = 200;

fn total_requests(stats: &StatsHandle) -> u64 {
    stats.snapshot().iter().map(|s| s.requests).sum()
}

/// The blocks the source reads for one lab device, as (table, address, count).
fn lab_blocks() -> Vec<(Table, u16, u16)> {
    let map = common::lab_profile(10).modbus.expect("map");
    let plan = modbus::plan::DevicePlan::new(&map, 4);
    plan.alarm
        .iter()
        .chain(&plan.telemetry)
        .map(|b| (b.table, b.address, b.count))
        .collect()
}

async fn bare_tcp(addr: std::net::SocketAddr, run: Duration) -> f64 {
    let mut ctx = tokio_modbus::client::tcp::connect(addr)
        .await
        .expect("connect");
    let blocks = lab_blocks();
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < run {
        for unit in 1..=TCP_UNITS {
            ctx.set_slave(tokio_modbus::Slave(unit));
            for &(table, a, c) in &blocks {
                let ok = match table {
                    Table::Coil => ctx.read_coils(a, c).await.map(|r| r.is_ok()),
                    Table::Discrete => ctx.read_discrete_inputs(a, c).await.map(|r| r.is_ok()),
                    Table::Holding => ctx.read_holding_registers(a, c).await.map(|r| r.is_ok()),
                    Table::Input => ctx.read_input_registers(a, c).await.map(|r| r.is_ok()),
                };
                assert!(matches!(ok, Ok(true)));
                n += 1;
            }
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn measure(stats: &StatsHandle, warmup: Duration, run: Duration) -> f64 {
    tokio::time::sleep(warmup).await;
    let (t0, n0) = (Instant::now(), total_requests(stats));
    tokio::time::sleep(run).await;
    (total_requests(stats) - n0) as f64 / t0.elapsed().as_secs_f64()
}

fn drain(mut src: common::Running) -> (StatsHandle, tokio_util::sync::CancellationToken) {
    let (stats, stop) = (src.stats.clone(), src.stop.clone());
    tokio::spawn(async move { while src.events.recv().await.is_some() {} });
    (stats, stop)
}

async fn tcp_bench(scale: u32) {
    let units: Vec<u8> = (1..=TCP_UNITS).collect();
    let slaves = TcpSlaves::start(Bank::with_units(units.clone()))
        .await
        .expect("server");
    let run = Duration::from_millis(1500) / scale;
    let cfg = format!(
        "[[lines]]\ntcp = {{ addr = \"{}\" }}\n{}",
        slaves.addr,
        common::devices_toml(&units)
    );
    // Alternate the two, three rounds each, so a change of load on the
    // machine hits both alike.
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    let mut errors = 0;
    for _ in 0..3 {
        bare.push(bare_tcp(slaves.addr, run).await);
        let (stats, stop) = drain(common::start(&common::config(&cfg), 10));
        ours.push(measure(&stats, Duration::from_millis(300), run).await);
        stop.cancel();
        errors += stats
            .snapshot()
            .iter()
            .map(|s| s.transport_errors() + s.exceptions)
            .sum::<u64>();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (b, o) = (median(&mut bare), median(&mut ours));
    println!(
        "tcp: {TCP_UNITS} devices; bare tokio-modbus loop {b:.0} req/s, ModbusSource {o:.0} req/s (medians of 3), ratio {:.2} (target >= 0.80); rounds bare {bare:.0?} ours {ours:.0?}; {errors} errors",
        o / b
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn rtu_bench(scale: u32) {
    let settings = LineTiming::even(19_200);
    let bus = RtuBus::start(Bank::with_units([1, 2, 3, 4]), settings).expect("bus");
    // A device of one input block of two registers: every transaction is an
    // 8-byte request and a 9-byte reply.
    let profile = "name = \"bench-2reg\"\nkind = \"gas\"\n[[fields]]\nname = \"a\"\n[[fields]]\nname = \"b\"\n[modbus]\npoll_ms = 10\n[modbus.registers.a]\ntable = \"input\"\naddress = 0\n[modbus.registers.b]\ntable = \"input\"\naddress = 1\n";
    let mut profiles = common::profiles(10);
    profiles.insert(
        "bench-2reg".into(),
        protocol::profile::Profile::from_toml(profile).expect("profile"),
    );
    let devices: String = (1..=4)
        .map(|u| {
            format!(
                "[[lines.devices]]\ndevice = \"dev-{u}\"\nunit_id = {u}\nprofile = \"bench-2reg\"\n"
            )
        })
        .collect();
    let cfg = common::config(&format!(
        "[[lines]]\nrtu = {{ path = \"{}\", baud = 19200 }}\n{devices}",
        bus.path()
    ));
    let source = modbus::ModbusSource::build(&cfg, &profiles).expect("config");
    let stats = source.stats();
    let (out, mut events) = tokio::sync::mpsc::channel(1024);
    let (_writes, wrx) = tokio::sync::mpsc::channel(1);
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(source.run(out, wrx, stop.clone()));
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let ours = measure(
        &stats,
        Duration::from_millis(500),
        Duration::from_secs(6) / scale,
    )
    .await;
    stop.cancel();
    let ct = settings.char_time().as_secs_f64();
    let cycle = 17.0 * ct + 2.0 * settings.gap().as_secs_f64();
    let theory = 1.0 / cycle;
    let line = bus.stats();
    println!(
        "rtu: 19200 8E1, {:.2} ms per transaction in theory = {theory:.1} tx/s; ModbusSource {ours:.1} tx/s = {:.1}% (target >= 90%); gap violations {}, errors {}",
        cycle * 1e3,
        100.0 * ours / theory,
        line.gap_violations,
        stats
            .snapshot()
            .iter()
            .map(modbus::DeviceStats::transport_errors)
            .sum::<u64>()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and
    // then a short smoke run only proves the benchmark still works.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { 1 } else { 10 };
    if !full {
        println!("smoke run (figures not meaningful; use cargo bench)");
    }
    rt.block_on(async {
        tcp_bench(scale).await;
        rtu_bench(scale).await;
    });
}
