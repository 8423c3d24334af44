//! One run: the world, the burst, the injected faults, the checks after each
//! one, and the final judgement.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::node::{Cause, CommandKind, CommandReason, EventKind};
use tokio::sync::watch;

use crate::checker::{self, Findings};
use crate::district::District;
use crate::nodes::{self, Ledger, NodeOpts};
use crate::proxy::Proxy;
use crate::rng::Rng;
use crate::world::{self, ConfigKnobs, Res, Role, Sizes, World};

/// Which fault is injected, over and over.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL at a random instant, restart at once.
    Kill,
    /// A power cut: SIGKILL, then every store file back to its last fsync
    /// (the power-cut layer), restart at once.
    PowerCut,
    /// SIGSTOP for `hold`, then SIGCONT.
    Stop {
        /// How long the process stays stopped.
        hold: Duration,
    },
    /// The uplink's TCP connection cut for `hold`.
    UplinkCut {
        /// How long the link stays down.
        hold: Duration,
    },
    /// The store's file system (a small tmpfs) filled for `hold`, then freed.
    DiskFull {
        /// How long the disk stays full.
        hold: Duration,
        /// Size of the tmpfs, MiB.
        size_mib: u64,
    },
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill -9",
            Self::PowerCut => "power cut",
            Self::Stop { .. } => "SIGSTOP/SIGCONT",
            Self::UplinkCut { .. } => "uplink cut",
            Self::DiskFull { .. } => "disk full",
        }
    }
}

/// Knobs shared by every fault.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The `gridsense` binary [default: $GRIDSENSE_BIN, else the newest target/{release,debug}/gridsense].
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Keep the run's files here (config, store, logs) [default: a temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of every random choice (instants, devices, restores).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fire alarms (one detector each, "alarm at once" zones) released between two faults.
    #[arg(long, default_value_t = 4)]
    pub fires: usize,
    /// Sensor faults released between two faults.
    #[arg(long, default_value_t = 1)]
    pub sensor_faults: usize,
    /// Escape-route locks, one in each of the first fire zones (linkage checks).
    #[arg(long, default_value_t = 2)]
    pub locks: usize,
    /// Telemetry messages per second, over all telemetry nodes.
    #[arg(long, default_value_t = 10_000)]
    pub telemetry_rate: u32,
    /// Telemetry nodes sharing that rate.
    #[arg(long, default_value_t = 50)]
    pub telemetry_nodes: usize,
    /// Shortest time between a (re)start and the next fault, ms.
    #[arg(long, default_value_t = 100)]
    pub min_up_ms: u64,
    /// Longest time between a (re)start and the next fault, ms.
    #[arg(long, default_value_t = 3_000)]
    pub max_up_ms: u64,
    /// A node repeats an unacknowledged event this often, ms.
    #[arg(long, default_value_t = 500)]
    pub repeat_ms: u64,
    /// A restarted gateway must re-assert door release within this long, ms.
    #[arg(long, default_value_t = 1_500)]
    pub linkage_ms: u64,
    /// Stop injecting after this many seconds even if fewer faults were made
    /// (the figures say how many); 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub budget_s: u64,
    /// After the last fault: how long everything may take to settle, s.
    #[arg(long, default_value_t = 60)]
    pub settle_s: u64,
}

/// Figures of a run beyond the checker's.
#[derive(Debug, Default)]
struct Counts {
    faults: usize,
    store_checks: usize,
    held_orders: usize,
    disk_filled_mib: u64,
    integrity_failures: Vec<String>,
    audit_failures: Vec<String>,
    linkage_judged: usize,
    linkage_failures: Vec<String>,
    drain_failures: Vec<String>,
    restart_failures: Vec<String>,
    /// Restarts whose lock was not back (or not long enough) before the next fault.
    linkage_unjudged: usize,
    cut_writes: usize,
    cut_bytes: u64,
    cuts_losing: usize,
}

async fn listening(addr: SocketAddr, timeout: Duration) -> bool {
    tokio::task::spawn_blocking(move || world::wait_listening(addr, timeout))
        .await
        .unwrap_or(false)
}

/// Runs `count` faults of one kind; true when the checker found nothing.
pub async fn run(c: &Common, fault: Fault, count: usize) -> Res<bool> {
    let bin = world::find_binary(c.bin.clone())?;
    let tmp = tempfile::Builder::new()
        .prefix("gridsense-faults-")
        .tempdir()
        .map_err(|e| format!("tempdir: {e}"))?;
    let dir = c.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut rng = Rng::new(c.seed);
    let (_mosquitto, district_port) = world::start_mosquitto(&dir)?;
    let proxy = match fault {
        Fault::UplinkCut { .. } => {
            Some(Proxy::start(SocketAddr::from(([127, 0, 0, 1], district_port))).await?)
        }
        _ => None,
    };
    let sizes = Sizes {
        fire: count * c.fires + c.locks,
        fault: count * c.sensor_faults,
        locks: c.locks,
        telemetry: if c.telemetry_rate > 0 {
            c.telemetry_nodes.max(1)
        } else {
            0
        },
    };
    // Disk full: the store lives on its own small tmpfs.
    let disk = match fault {
        Fault::DiskFull { size_mib, .. } => {
            Some(crate::disk::Tmpfs::mount(&dir.join("disk"), size_mib)?)
        }
        _ => None,
    };
    let knobs = ConfigKnobs {
        store_dir: disk.as_ref().map(|d| d.path.clone()),
        // Telemetry rows unbounded on the small disk, so that the store must
        // grow; elsewhere bounded low, so that the integrity check after
        // every fault reads a store of steady size (about 20 MB).
        max_telemetry_rows: if disk.is_some() { None } else { Some(20_000) },
        uplink_port: proxy.as_ref().map_or(district_port, |p| p.port),
        resend_after_ms: 5_000,
        max_rate_per_device: 100_000.0,
    };
    let mut w = World::create(&bin, dir.clone(), sizes, &knobs)?;
    let layer = match fault {
        Fault::PowerCut => {
            let layer = crate::powercut::Layer::prepare(&dir, &w.db)?;
            w.env = layer.env();
            Some(layer)
        }
        _ => None,
    };
    let w = w;
    println!(
        "{}: {count} × {}, seed {}, {} devices, telemetry {}/s, binary {}, files in {}",
        fault.name(),
        match fault {
            Fault::Kill => "SIGKILL".to_owned(),
            Fault::PowerCut => "SIGKILL + unsynced writes lost".to_owned(),
            Fault::Stop { hold } | Fault::UplinkCut { hold } | Fault::DiskFull { hold, .. } =>
                format!("{} ms", hold.as_millis()),
        },
        c.seed,
        w.devices.len(),
        c.telemetry_rate,
        bin.display(),
        dir.display()
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let district = Arc::new(District::default());
    crate::district::spawn(district_port, district.clone(), stop_rx.clone());
    let ledger = Arc::new(Ledger::default());
    let mut gw = world::start_gateway(&bin, &w)?;
    if !listening(w.mqtt, Duration::from_secs(30)).await {
        return Err(format!(
            "gridsense run did not listen on {} (see {}/gateway.log)",
            w.mqtt,
            dir.display()
        ));
    }
    let start = Instant::now();
    let opts = |tel_rate, leave| NodeOpts {
        repeat: Duration::from_millis(c.repeat_ms),
        tel_rate,
        leave_when_done: leave,
    };
    // Locks and telemetry nodes stay for the whole run.
    let mut lock_of_zone = BTreeMap::new();
    let mut keep = Vec::new();
    for d in w.of(Role::Lock) {
        lock_of_zone.insert(d.zone.clone(), d.id.clone());
        keep.push(nodes::spawn(
            &d,
            w.mqtt,
            opts(0, false),
            ledger.clone(),
            stop_rx.clone(),
        )?);
    }
    let tel_nodes = w.of(Role::Telemetry);
    let per_node = if tel_nodes.is_empty() {
        0
    } else {
        c.telemetry_rate
            .div_ceil(u32::try_from(tel_nodes.len()).unwrap_or(u32::MAX))
    };
    for d in &tel_nodes {
        keep.push(nodes::spawn(
            d,
            w.mqtt,
            opts(per_node, false),
            ledger.clone(),
            stop_rx.clone(),
        )?);
    }
    let zone_of: BTreeMap<String, String> = w
        .devices
        .values()
        .map(|d| (d.id.clone(), d.zone.clone()))
        .collect();
    // Detectors join when their event is due and leave once acked.
    let mut fires = w.of(Role::Fire).into_iter();
    let mut sensor_faults = w.of(Role::Fault).into_iter();
    let release =
        |dev: crate::world::Device, at: Duration, raise: (EventKind, Cause), restore: bool| {
            let (ledger, stop_rx, broker) = (ledger.clone(), stop_rx.clone(), w.mqtt);
            let o = opts(0, true);
            tokio::spawn(async move {
                tokio::time::sleep(at).await;
                if let Ok(n) = nodes::spawn(&dev, broker, o, ledger, stop_rx) {
                    n.send(raise.0, Some(raise.1));
                    if restore {
                        n.send(EventKind::Restore, Some(raise.1));
                    }
                }
            });
        };
    // The lock zones' fires first, so that every restart has linkage to re-assert.
    // (With a full disk, they come one per fault, while the disk is full.)
    let mut lock_fires = Vec::new();
    for _ in 0..c.locks {
        if let Some(d) = fires.next() {
            if disk.is_some() {
                lock_fires.push(d);
            } else {
                release(d, Duration::ZERO, (EventKind::Alarm, Cause::Smoke), false);
            }
        }
    }
    let mut lock_fires = lock_fires.into_iter();
    let mut n = Counts::default();
    let mut fault_times = Vec::new();
    let mut restart: Option<(usize, Instant)> = None;
    for i in 1..=count {
        if c.budget_s > 0 && start.elapsed() > Duration::from_secs(c.budget_s) {
            println!("  budget of {} s spent after {} faults", c.budget_s, i - 1);
            break;
        }
        let up = Duration::from_millis(rng.range(c.min_up_ms, c.max_up_ms));
        // Events keep coming while a stopped gateway or a cut uplink holds.
        let window = match fault {
            Fault::Kill | Fault::PowerCut => up,
            Fault::Stop { hold } | Fault::UplinkCut { hold } | Fault::DiskFull { hold, .. } => {
                up + hold
            }
        };
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        for _ in 0..c.fires {
            if let Some(d) = fires.next() {
                let at = Duration::from_millis(rng.range(0, window_ms));
                release(d, at, (EventKind::Alarm, Cause::Smoke), rng.chance(0.5));
            }
        }
        for _ in 0..c.sensor_faults {
            if let Some(d) = sensor_faults.next() {
                let at = Duration::from_millis(rng.range(0, window_ms));
                release(
                    d,
                    at,
                    (EventKind::Fault, Cause::SensorOpen),
                    rng.chance(0.5),
                );
            }
        }
        tokio::time::sleep(up).await;
        if let Some((k, at)) = restart.take() {
            judge_linkage(
                &ledger,
                &lock_of_zone,
                &zone_of,
                k,
                at,
                Instant::now(),
                c.linkage_ms,
                &mut n,
            );
        }
        let t = Instant::now();
        fault_times.push(t);
        n.faults += 1;
        match fault {
            Fault::Kill | Fault::PowerCut => {
                gw.kill9();
                if let Some(layer) = &layer {
                    let cut = layer.cut()?;
                    n.cut_writes += cut.writes;
                    n.cut_bytes += cut.bytes;
                    n.cuts_losing += usize::from(cut.writes > 0);
                }
                let db = w.db.clone();
                let b = bin.clone();
                let (ig, au) = tokio::task::spawn_blocking(move || {
                    (checker::integrity(&db), checker::audit_verify(&b, &db))
                })
                .await
                .map_err(|e| e.to_string())?;
                n.store_checks += 1;
                if let Err(e) = ig {
                    n.integrity_failures.push(format!("after kill {i}: {e}"));
                }
                if let Err(e) = au {
                    n.audit_failures.push(format!("after kill {i}: {e}"));
                }
                gw = world::start_gateway(&bin, &w)?;
                let at = Instant::now();
                if !listening(w.mqtt, Duration::from_secs(30)).await {
                    n.restart_failures
                        .push(format!("kill {i}: not listening after 30 s"));
                }
                // The linkage owed at this restart: fires acked before the kill.
                restart = Some((i, at));
                let _ = t;
            }
            Fault::Stop { hold } => {
                gw.signal("STOP")?;
                tokio::time::sleep(hold).await;
                gw.signal("CONT")?;
            }
            Fault::UplinkCut { hold } => {
                let p = proxy.as_ref().ok_or("no proxy")?;
                p.set_cut(true);
                let cut_at = Instant::now();
                tokio::time::sleep(hold).await;
                p.set_cut(false);
                let back = Instant::now();
                drain_order(&district, Some(cut_at), back, i, &mut n).await;
            }
            Fault::DiskFull { hold, .. } => {
                let d = disk.as_ref().ok_or("no tmpfs")?;
                let log = dir.join("gateway.log");
                let log_from = std::fs::metadata(&log).map_or(0, |m| m.len());
                let filled = d.fill()?;
                let full_at = Instant::now();
                n.disk_filled_mib += filled >> 20;
                // A fire in a lock zone while the disk is full: its door must open at once.
                let lock = lock_fires.next().map(|f| {
                    let lock = lock_of_zone.get(&f.zone).cloned();
                    let detector = f.id.clone();
                    release(f, Duration::ZERO, (EventKind::Alarm, Cause::Smoke), false);
                    (lock, detector)
                });
                tokio::time::sleep(hold).await;
                if let Some((Some(lock), detector)) = lock {
                    n.linkage_judged += 1;
                    // Judged from the detector's first send of its alarm, so a
                    // node slow to connect on a loaded machine does not count.
                    let l = ledger.lock();
                    let sent = l
                        .events
                        .iter()
                        .filter(|((d, _), e)| *d == detector && e.kind == EventKind::Alarm)
                        .map(|(_, e)| e.first_sent)
                        .min();
                    let released = sent.is_some_and(|sent| {
                        let deadline = sent + Duration::from_millis(c.linkage_ms);
                        l.cmds.iter().any(|x| {
                            x.device == lock
                                && x.cmd == CommandKind::Unlock
                                && x.reason == CommandReason::Fire
                                && x.at >= full_at
                                && x.at <= deadline
                        })
                    });
                    if !released {
                        n.linkage_failures.push(match sent {
                            Some(_) => format!(
                                "disk full {i}: a fire in {lock}'s zone did not release it within {} ms of its alarm",
                                c.linkage_ms
                            ),
                            None => format!(
                                "disk full {i}: {detector} never sent its alarm while the disk was full"
                            ),
                        });
                    }
                }
                if !crate::disk::log_says_full(&log, log_from) {
                    n.restart_failures.push(format!(
                        "disk full {i}: no gateway log line says the disk is full ({})",
                        log.display()
                    ));
                }
                d.free()?;
                let back = Instant::now();
                drain_order(&district, None, back, i, &mut n).await;
            }
        }
        if let Some(st) = gw.exited() {
            n.restart_failures
                .push(format!("after fault {i}: gridsense exited by itself: {st}"));
            gw = world::start_gateway(&bin, &w)?;
        }
        if i % 10 == 0 || i == count {
            let l = ledger.lock();
            let acked = l.events.values().filter(|e| e.acked_at.is_some()).count();
            println!(
                "  fault {i}/{count}: {} events, {acked} acked, {} tickets upstream, {:.0} s",
                l.events.len(),
                district.lock().tickets.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    // Settle: every event acked, every ticketed alarm at the platform.
    let end = Instant::now() + Duration::from_secs(c.settle_s);
    loop {
        let all_acked = ledger.lock().events.values().all(|e| e.acked_at.is_some());
        let store = checker::read_store(&w.db).ok();
        let all_orders = store.as_ref().is_some_and(|s| {
            let d = district.lock();
            s.alarms
                .iter()
                .filter(|a| !a.test && w.ticketed.contains(&a.kind.as_str()))
                .all(|a| d.tickets.values().any(|t| t.alarm_id == a.id.as_str()))
        });
        // The last restart's door release is judged from each lock's
        // return: wait until every lock to judge is back and its
        // `linkage_ms` have passed.
        let linkage_due = restart.is_none_or(|(_, at)| {
            linkage_judgeable_at(&ledger, &lock_of_zone, &zone_of, at, c.linkage_ms)
                .is_some_and(|t| Instant::now() >= t)
        });
        if (all_acked && all_orders && linkage_due) || Instant::now() >= end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if let Some((k, at)) = restart.take() {
        judge_linkage(
            &ledger,
            &lock_of_zone,
            &zone_of,
            k,
            at,
            Instant::now(),
            c.linkage_ms,
            &mut n,
        );
    }
    let status = gw.stop(Duration::from_secs(15));
    let _ = stop_tx.send(true);
    if status.is_none() {
        n.restart_failures
            .push("gridsense did not stop within 15 s of SIGTERM".to_owned());
    }
    let db = w.db.clone();
    let b = bin.clone();
    let (ig, au, store) = tokio::task::spawn_blocking(move || {
        (
            checker::integrity(&db),
            checker::audit_verify(&b, &db),
            checker::read_store(&db),
        )
    })
    .await
    .map_err(|e| e.to_string())?;
    n.store_checks += 1;
    if let Err(e) = ig {
        n.integrity_failures.push(format!("at the end: {e}"));
    }
    if let Err(e) = au {
        n.audit_failures.push(format!("at the end: {e}"));
    }
    let store = store?;
    let f = checker::judge(
        &ledger.lock(),
        &w.devices,
        &store,
        &district.lock(),
        &w.ticketed,
        start,
        &fault_times,
    );
    let ok = report(&f, &n, &ledger, start);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(keep);
    if c.dir.is_none() && !ok {
        // Keep the evidence of a failed run.
        let kept = tmp.keep();
        println!("files kept in {}", kept.display());
    }
    Ok(ok)
}

/// The locks whose door release the restart at `at` must re-assert (their
/// zone had a fire acked before `at`), each with its zone and its return:
/// its first CONNACK after `at` (`None`: not back yet; a lock still
/// reconnecting cannot be told anything).
fn locks_to_judge<'a>(
    l: &nodes::LedgerData,
    lock_of_zone: &'a BTreeMap<String, String>,
    zone_of: &BTreeMap<String, String>,
    at: Instant,
) -> Vec<(&'a str, &'a str, Option<Instant>)> {
    lock_of_zone
        .iter()
        .filter(|(zone, _)| {
            l.events.iter().any(|((dev, _), e)| {
                e.kind == EventKind::Alarm
                    && e.acked_at.is_some_and(|t| t < at)
                    && zone_of.get(dev) == Some(*zone)
            })
        })
        .map(|(zone, lock)| {
            let back = l
                .connacks
                .get(lock)
                .and_then(|t| t.iter().find(|t| **t >= at).copied());
            (zone.as_str(), lock.as_str(), back)
        })
        .collect()
}

/// When the door release after the restart at `at` can be judged in full:
/// the latest of `back + linkage_ms` over [`locks_to_judge`]; `None` while
/// one of them is not back yet.
fn linkage_judgeable_at(
    ledger: &Ledger,
    lock_of_zone: &BTreeMap<String, String>,
    zone_of: &BTreeMap<String, String>,
    at: Instant,
    linkage_ms: u64,
) -> Option<Instant> {
    let l = ledger.lock();
    locks_to_judge(&l, lock_of_zone, zone_of, at)
        .into_iter()
        .try_fold(at, |latest, (_, _, back)| {
            Some(latest.max(back? + Duration::from_millis(linkage_ms)))
        })
}

/// Whether a restart re-asserted door release: every lock of
/// [`locks_to_judge`] must get `unlock` (reason fire) within `linkage_ms`
/// of its return. Judged only when that much time passed before `until`
/// (the next fault).
#[allow(clippy::too_many_arguments)]
fn judge_linkage(
    ledger: &Ledger,
    lock_of_zone: &BTreeMap<String, String>,
    zone_of: &BTreeMap<String, String>,
    k: usize,
    at: Instant,
    until: Instant,
    linkage_ms: u64,
    n: &mut Counts,
) {
    let l = ledger.lock();
    for (zone, lock, back) in locks_to_judge(&l, lock_of_zone, zone_of, at) {
        let Some(back) = back else {
            n.linkage_unjudged += 1;
            continue;
        };
        let deadline = back + Duration::from_millis(linkage_ms);
        if until < deadline {
            n.linkage_unjudged += 1;
            continue;
        }
        n.linkage_judged += 1;
        let reasserted = l.cmds.iter().any(|c| {
            c.device == lock
                && c.cmd == CommandKind::Unlock
                && c.reason == CommandReason::Fire
                && c.at >= at
                && c.at <= deadline
        });
        if !reasserted {
            n.linkage_failures.push(format!(
                "restart after fault {k}: {lock} (zone {zone}, fire acked before the fault) got no unlock within {linkage_ms} ms of its return"
            ));
        }
    }
}

/// After an uplink outage: orders created during it must drain life-safety first.
/// Orders that reached the platform while the link was cut are a harness
/// failure (the cut did not hold); the backlog is what arrived in the first
/// seconds after it, before new events are released.
async fn drain_order(
    district: &District,
    cut_at: Option<Instant>,
    back: Instant,
    i: usize,
    n: &mut Counts,
) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = district.lock();
    let during = cut_at.map_or(0, |cut_at| {
        d.arrivals
            .iter()
            .filter(|(t, ..)| *t > cut_at + Duration::from_millis(200) && *t < back)
            .count()
    });
    if during > 0 {
        n.restart_failures.push(format!(
            "uplink cut {i}: {during} order deliveries arrived while the link was cut"
        ));
    }
    let mut firsts: Vec<(&Instant, &str, protocol::kinds::AlarmKind)> = d
        .tickets
        .iter()
        .filter(|(_, t)| t.first_at >= back)
        .map(|(id, t)| (&t.first_at, id.as_str(), t.kind))
        .collect();
    n.held_orders += firsts.len();
    firsts.sort();
    let mut seen_other = None;
    for (_, id, kind) in firsts {
        if kind.is_life_safety() {
            if let Some(o) = seen_other {
                n.drain_failures.push(format!(
                    "after fault {i}: life-safety order {id} reached the district after {o}"
                ));
                break;
            }
        } else if seen_other.is_none() {
            seen_other = Some(id.to_owned());
        }
    }
}

fn report(f: &Findings, n: &Counts, ledger: &Ledger, start: Instant) -> bool {
    let l = ledger.lock();
    println!("figures ({:.0} s):", start.elapsed().as_secs_f64());
    println!("  faults injected            {}", n.faults);
    println!(
        "  events sent / publishes    {} / {}",
        f.events, f.publishes
    );
    println!("  events acked / stored once {} / {}", f.acked, f.stored);
    println!(
        "  alarms implied / right     {} / {}",
        f.alarms_expected, f.alarms_ok
    );
    println!("  ticketed alarms in store   {}", f.ticketed);
    println!(
        "  orders at the district     {} ({} deliveries)",
        f.tickets, f.deliveries
    );
    println!(
        "  telemetry sent / skipped   {} / {}",
        l.tel_sent, l.tel_skipped
    );
    println!("  node connections           {}", l.connects);
    println!(
        "  linkage restarts judged    {} ({} failed; {} not judged: the lock was not back in time)",
        n.linkage_judged,
        n.linkage_failures.len(),
        n.linkage_unjudged
    );
    println!(
        "  store checks (integrity + audit verify) {}",
        n.store_checks
    );
    if n.disk_filled_mib > 0 {
        println!("  filler written to full    {} MiB", n.disk_filled_mib);
    }
    if n.cut_writes > 0 {
        println!(
            "  unsynced writes cut        {} ({} KiB, in {} of the cuts)",
            n.cut_writes,
            n.cut_bytes >> 10,
            n.cuts_losing
        );
    }
    if n.held_orders > 0 {
        println!("  orders in a backlog drained {}", n.held_orders);
    }
    println!("  lost                       {}", f.lost);
    println!("  duplicated                 {}", f.duplicated);
    println!(
        "  integrity failures         {}",
        n.integrity_failures.len()
    );
    println!("  audit failures             {}", n.audit_failures.len());
    let all: Vec<&String> = f
        .violations
        .iter()
        .chain(&n.integrity_failures)
        .chain(&n.audit_failures)
        .chain(&n.linkage_failures)
        .chain(&n.drain_failures)
        .chain(&n.restart_failures)
        .collect();
    if all.is_empty() {
        println!("PASS");
        return true;
    }
    println!("FAIL: {} violation(s)", all.len());
    for v in all.iter().take(200) {
        println!("  - {v}");
    }
    if all.len() > 200 {
        println!("  ... and {} more", all.len() - 200);
    }
    false
}
