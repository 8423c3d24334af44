//! `gridsense-bench`: the gateway's embedded broker and mosquitto side by
//! side in one run, one table, written to BENCHMARKS.md.
//!
//! Rows: a connect storm of N device clients (one attempt each, 5 s timeout
//! per step): connected after 20 s and time to all; RSS holding the N idle
//! clients; CPU of the whole broker process (and of rumqttd's router
//! thread) while the N clients heartbeat every 30 s.

mod access;
mod fleet;
mod idle;
mod ingest;
mod mqtt;
mod peers;
mod procfs;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Runs the gateway and mosquitto side by side and prints one table.
#[derive(Debug, Parser)]
#[command(name = "gridsense-bench")]
struct Args {
    /// Device clients.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// The CI form: 500 devices, short windows; writes no BENCHMARKS.md
    /// unless --out is given.
    #[arg(long)]
    short: bool,
    /// The gridsense binary [default: next to this one].
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// The mosquitto binary.
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// Working directory (store, configs, logs) [default: a new one in /tmp].
    #[arg(long)]
    work: Option<PathBuf>,
    /// Where to write the report [default: BENCHMARKS.md, not with --short].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds of the storm's window.
    #[arg(long, default_value_t = 20)]
    window_s: u64,
    /// Seconds over which CPU is measured while heartbeating.
    #[arg(long, default_value_t = 60)]
    cpu_s: u64,
    /// Heartbeat period, seconds.
    #[arg(long, default_value_t = 30)]
    heartbeat_s: u64,
    /// The peers to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "gateway,mosquitto")]
    peers: Vec<String>,
    /// A wrapper command for the gateway (e.g. `heaptrack`), for profiling.
    #[arg(long)]
    wrap: Option<String>,
    /// Seconds to hold the idle clients after reading their RSS (before
    /// heartbeating): time to take a heap profile of the held connections.
    #[arg(long, default_value_t = 0)]
    hold_s: u64,
    /// Instead: the access-control benchmark (rush hour at 30 doors, list
    /// sync of 5,000 credentials); prints its Markdown section.
    #[arg(long)]
    access: bool,
    /// With --access: minutes of rush hour (20 cards per door per minute).
    #[arg(long, default_value_t = 1)]
    access_minutes: u32,
    /// Seconds each ingest run publishes (gateway and bare rumqttd, QoS 0
    /// and 1); 0 skips the ingest rows.
    #[arg(long, default_value_t = 20)]
    ingest_s: u64,
    /// Clients publishing telemetry in the ingest rows.
    #[arg(long, default_value_t = 50)]
    ingest_clients: usize,
    /// Instead: the gateway alone, no client connected, with each of these
    /// counts of devices registered (e.g. `1000,10000,50000`); prints its
    /// RSS once settled, as a Markdown table.
    #[arg(long, value_delimiter = ',')]
    registered: Vec<usize>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let mut a = Args::parse();
    if a.short {
        a.devices = a.devices.min(500);
        a.cpu_s = a.cpu_s.min(10);
        a.heartbeat_s = a.heartbeat_s.min(5);
        a.ingest_s = a.ingest_s.min(3);
        a.ingest_clients = a.ingest_clients.min(10);
    }
    if a.access {
        let args = access::AccessArgs {
            doors: 30,
            credentials: 5_000,
            per_min: 20,
            minutes: a.access_minutes,
            tick_ms: 50,
        };
        return match access::run(&args).await {
            Ok(section) => {
                println!("{section}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gridsense-bench --access: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if !a.registered.is_empty() {
        return registered(&a).await;
    }
    match run(&a).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gridsense-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The gateway's own memory with devices registered and no client.
async fn registered(a: &Args) -> std::process::ExitCode {
    let bin = match &a.gateway {
        Some(p) => p.clone(),
        None => match std::env::current_exe() {
            Ok(e) => e.with_file_name("gridsense"),
            Err(e) => {
                eprintln!("gridsense-bench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    let work = a.work.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("gridsense-bench-{}", std::process::id()))
    });
    match idle::run(&bin, &work, &a.registered, a.wrap.as_deref()).await {
        Ok(r) => {
            println!("{}", idle::table(&r));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gridsense-bench --registered: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(a: &Args) -> std::io::Result<()> {
    let need = a.devices as u64 + 256;
    if procfs::nofile() < need {
        return Err(std::io::Error::other(format!(
            "open-file limit {} is below {need}: raise it with `ulimit -n` first",
            procfs::nofile()
        )));
    }
    let gw_bin = match &a.gateway {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("gridsense"),
    };
    let work = match &a.work {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("gridsense-bench-{}", std::process::id())),
    };
    let mut results = Vec::new();
    // The gateway registers the devices; mosquitto is given the same list.
    let dir = work.join("gateway");
    let mut devices = Vec::new();
    for p in &a.peers {
        let peer = match p.as_str() {
            "gateway" => {
                let (gw, d) = peers::gateway(&gw_bin, &dir, a.devices, "", a.wrap.as_deref())?;
                devices = d;
                gw
            }
            "mosquitto" => {
                if devices.is_empty() {
                    devices = peers::fleet_of(&gw_bin, &dir, a.devices)?;
                }
                peers::mosquitto(&a.mosquitto, &work.join("mosquitto"))?
            }
            other => return Err(std::io::Error::other(format!("unknown peer {other}"))),
        };
        eprintln!(
            "{} up on {} with {} devices",
            peer.name,
            peer.addr,
            devices.len()
        );
        results.push(measure(a, peer, &devices).await);
    }
    let mut table = report::table(a.devices, a.window_s, a.heartbeat_s, &results);
    if a.ingest_s > 0 {
        let i = ingest_rows(a, &gw_bin, &work).await?;
        table.push_str(&report::ingest_table(&i));
    }
    println!("{table}");
    let out = a
        .out
        .clone()
        .or_else(|| (!a.short).then(|| PathBuf::from("BENCHMARKS.md")));
    if let Some(out) = out {
        report::write(&out, &table)?;
        eprintln!("written to {}", out.display());
    }
    Ok(())
}

/// What one peer measured.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    /// "gateway" or "mosquitto".
    pub(crate) name: &'static str,
    /// Connected within the window.
    pub(crate) connected: usize,
    /// Milliseconds to the last CONNACK, when every client connected.
    pub(crate) all_ms: Option<u32>,
    /// RSS before the storm, KiB.
    pub(crate) rss_base: u64,
    /// RSS holding the idle clients, KiB.
    pub(crate) rss_idle: u64,
    /// RSS at the end of the heartbeat window, KiB: what the heartbeats
    /// left behind (a broker that keeps delivered messages grows here).
    pub(crate) rss_after: u64,
    /// Percent of a core, whole process, while heartbeating.
    pub(crate) cpu: f64,
    /// Percent of a core, router thread.
    pub(crate) cpu_router: Option<f64>,
    /// Heartbeats sent in the CPU window.
    pub(crate) heartbeats: u64,
    /// Connections the broker closed during the run.
    pub(crate) dropped: usize,
}

async fn measure(a: &Args, mut peer: peers::Peer, devices: &[fleet::Device]) -> Measured {
    let pid = peer.pid();
    // The base is the broker at rest with its devices registered: RSS once
    // it stopped growing (the gateway's stages finish starting after its
    // listener is up), so that the per-client figure is the clients' own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_base, _) = idle::settle(pid, Duration::from_secs(5), Duration::from_secs(60)).await;
    let mut m = Measured {
        name: peer.name,
        rss_base,
        ..Measured::default()
    };
    let devs = &devices[..a.devices.min(devices.len())];
    let f = fleet::Fleet::storm(peer.addr, devs);
    let (connected, all) = f.settle(devs.len(), Duration::from_secs(a.window_s)).await;
    m.connected = connected;
    m.all_ms = all;
    eprintln!(
        "{}: {connected}/{} connected within {} s, all in {all:?} ms",
        peer.name,
        devs.len(),
        a.window_s
    );
    // Let the subscriptions and retained states settle, then hold idle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    m.rss_idle = procfs::rss_kib(pid).unwrap_or(0);
    eprintln!(
        "{}: RSS {} KiB idle (base {} KiB)",
        peer.name, m.rss_idle, m.rss_base
    );
    if a.hold_s > 0 {
        eprintln!("{}: holding {} s (pid {pid})", peer.name, a.hold_s);
        tokio::time::sleep(Duration::from_secs(a.hold_s)).await;
    }
    let period = Duration::from_secs(a.heartbeat_s);
    let _ = f.control.heartbeat.send(period);
    // One period for every client to be on its schedule.
    tokio::time::sleep(period).await;
    let tid = peer.router_thread.and_then(|n| procfs::thread(pid, n));
    let sent0 = f.stats.published.load(std::sync::atomic::Ordering::Relaxed);
    let w = procfs::CpuWindow::start(pid, tid);
    tokio::time::sleep(Duration::from_secs(a.cpu_s)).await;
    (m.cpu, m.cpu_router) = w.percent();
    m.rss_after = procfs::rss_kib(pid).unwrap_or(0);
    m.heartbeats = f.stats.published.load(std::sync::atomic::Ordering::Relaxed) - sent0;
    m.dropped = f.stats.dropped.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "{}: CPU {:.1} % (router {:?}) over {} s, {} heartbeats, {} dropped; RSS {} KiB after",
        peer.name, m.cpu, m.cpu_router, a.cpu_s, m.heartbeats, m.dropped, m.rss_after
    );
    if !peer.alive() {
        eprintln!("{} exited during the run", peer.name);
    }
    f.stop().await;
    peer.stop();
    m
}

/// Waits until `read` has not grown for 3 s (the last messages drained),
/// at most 120 s; its last value and when it last grew.
async fn settled<F, Fut>(mut read: F) -> (u64, std::time::Instant)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut last = read().await;
    let mut grew = std::time::Instant::now();
    let mut still = 0;
    for _ in 0..480 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = read().await;
        if now > last {
            (last, grew, still) = (now, std::time::Instant::now(), 0);
        } else {
            still += 1;
            if still >= 12 {
                break;
            }
        }
    }
    (last, grew)
}

/// The ingest rows: the same clients against the gateway, then against bare
/// rumqttd, at QoS 0 and at QoS 1.
async fn ingest_rows(
    a: &Args,
    gw_bin: &std::path::Path,
    work: &std::path::Path,
) -> std::io::Result<ingest::Ingest> {
    let mut out = ingest::Ingest {
        clients: a.ingest_clients,
        ..ingest::Ingest::default()
    };
    let dir = work.join("gateway-ingest");
    // Smoke detectors are 16 of every 20 devices registered.
    let (peer, devices) = peers::gateway(gw_bin, &dir, a.ingest_clients * 2, "", None)?;
    let token = peers::token(gw_bin, &dir)?;
    let api = peer.api.ok_or_else(|| std::io::Error::other("no API"))?;
    let smoke: Vec<fleet::Device> = devices
        .into_iter()
        .filter(|d| d.id.starts_with("smoke-"))
        .take(a.ingest_clients)
        .collect();
    let counts = || async {
        ingest::gateway_counts(api, &token)
            .await
            .unwrap_or((0, 0, 0))
    };
    for (q, run) in out.gateway.iter_mut().enumerate() {
        let (c0, a0, k0) = counts().await;
        let (sent, start) = ingest::publish(peer.addr, &smoke, a.ingest_s, q == 1).await;
        let (committed, done) = settled(|| async { counts().await.0 }).await;
        let (_, a1, k1) = counts().await;
        let taken = committed.saturating_sub(c0);
        *run = ingest::IngestRun {
            sent,
            taken,
            shed: a1.saturating_sub(a0).saturating_sub(taken),
            skipped: k1.saturating_sub(k0),
            secs: done.duration_since(start).as_secs_f64(),
        };
        eprintln!("ingest gateway QoS {q}: {run:?}");
        if let Ok(m) = ingest::metrics(api, &token).await {
            for l in m.lines().filter(|l| l.starts_with("gridsense_drops_total")) {
                eprintln!("  {l}");
            }
        }
    }
    peer.stop();
    let (addr, taken) = ingest::bare_rumqttd()?;
    let load = || {
        let t = taken.clone();
        async move { t.load(std::sync::atomic::Ordering::Relaxed) }
    };
    for (q, run) in out.bare.iter_mut().enumerate() {
        let t0 = load().await;
        let (sent, start) = ingest::publish(addr, &smoke, a.ingest_s, q == 1).await;
        let (t1, done) = settled(&load).await;
        *run = ingest::IngestRun {
            sent,
            taken: t1 - t0,
            shed: 0,
            skipped: 0,
            secs: done.duration_since(start).as_secs_f64(),
        };
        eprintln!("ingest bare rumqttd QoS {q}: {run:?}");
    }
    Ok(out)
}
