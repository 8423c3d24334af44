//! The run: starts every part, drives the virtual clock through the month,
//! does the month's actions at their virtual times, stops everything and
//! writes the report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gateway::clock::{Clock, SharedClock, WarpControl};
use gateway::orders::OrderRecord;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::actions::{Api, Cancel, Outcome};
use super::compound::{self, Files, Layout, Ports, SITE};
use super::district::District;
use super::plan::{self, Act, Hold, MonthScenario, RestartHow, Timeline};
use super::process::{GatewayProc, find_bin};
use super::proxy::Relay;
use super::{MONTH_TOML, MonthOptions, START_MS, report};

/// The driver's loop period (real time).
const STEP: Duration = Duration::from_millis(2);
/// How often the open orders' next deadlines are read from the store.
const POLL: Duration = Duration::from_millis(10);

/// A restart or kill as it went.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RestartRecord {
    /// Virtual ms of the month.
    pub at_ms: u64,
    /// How.
    pub how: RestartHow,
    /// The stopped process's exit status.
    pub exit: String,
    /// Real seconds until the gateway was back and every node reconnected.
    pub back_in_s: f64,
    /// Nodes connected when the run went on.
    pub nodes_back: i64,
}

/// What the run itself observed, besides the store and the district.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunLog {
    /// Guard-room and resident actions.
    pub actions: Vec<Outcome>,
    /// Restarts.
    pub restarts: Vec<RestartRecord>,
    /// Real seconds of the whole run.
    pub wall_s: f64,
    /// Real seconds the month itself took (after the nodes connected).
    pub month_wall_s: f64,
}

fn scenario(o: &MonthOptions) -> Result<MonthScenario, String> {
    match &o.scenario {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            MonthScenario::parse(&p.display().to_string(), &text)
        }
        None => MonthScenario::parse("month.toml", MONTH_TOML),
    }
}

/// Runs the month; writes `report.json`, `report.md` and the plots in
/// `o.out`; returns the report.
///
/// # Errors
/// A message naming the part that failed.
pub async fn run(o: &MonthOptions) -> Result<report::Report, String> {
    let wall = Instant::now();
    let mut s = scenario(o)?;
    if let Some(f) = o.fast {
        s.clock.fast = f.max(s.clock.slow);
    }
    let days = o.days.unwrap_or(s.days);
    let nodes = o.nodes.unwrap_or(s.fleet.nodes);
    let layout = compound::layout(nodes, s.fleet.buildings, s.fleet.cells);
    let timeline = plan::build(&s, &layout, days, o.seed);
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let files = Files::in_dir(&o.out);
    let _ = std::fs::remove_file(&files.log);
    let port = || compound::free_port().map_err(|e| e.to_string());
    let ports = Ports {
        mqtt: port()?,
        api: port()?,
        uplink: port()?,
    };
    let control = Arc::new(WarpControl::create(&files.clock, START_MS).map_err(|e| e.to_string())?);
    let clock: SharedClock = control.clone();
    let token = compound::write(&files, &layout, ports, s.fleet.heartbeat_s, START_MS)?;
    let bin = find_bin(o.gateway_bin.as_deref())?;
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();

    let district_addr =
        crate::upstream_sim::district_broker("127.0.0.1:0".parse().map_err(|_| "addr")?)
            .map_err(|e| e.to_string())?;
    let (district, _task) = District::start(
        district_addr.port(),
        clock.clone(),
        s.responders.clone(),
        o.seed,
        stop.clone(),
    );
    let relay = Relay::start(ports.uplink, district_addr.port(), stop.clone())
        .await
        .map_err(|e| e.to_string())?;
    let gw = {
        let (b, f) = (bin.clone(), files.clone());
        tokio::task::spawn_blocking(move || GatewayProc::start(&b, &f, ports))
            .await
            .map_err(|e| e.to_string())??
    };
    eprintln!(
        "simulate month: {} nodes, {} buildings, {} cells, {days} days, seed {}; gateway {}, clock file {}, out {}",
        layout.nodes.len(),
        layout.buildings.len(),
        s.fleet.cells,
        o.seed,
        bin.display(),
        files.clock.display(),
        o.out.display()
    );
    let stats = Arc::new(sim::stats::Stats::default());
    let fleet_stop = stop.child_token();
    let fleet = start_fleet(
        &files,
        &layout,
        &timeline,
        &s,
        ports,
        o.seed,
        &clock,
        &stats,
        fleet_stop.clone(),
    )?;
    // The month begins once the compound is connected (clock stopped till then).
    let t0 = Instant::now();
    while stats.connected.load(Ordering::Relaxed) < layout.nodes.len() as i64
        && t0.elapsed() < Duration::from_secs(180)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "simulate month: {} of {} nodes connected in {:.1} s; the month begins",
        stats.connected.load(Ordering::Relaxed),
        layout.nodes.len(),
        t0.elapsed().as_secs_f64()
    );
    let month_wall = Instant::now();
    let mut d = Driver {
        s: &s,
        t: &timeline,
        control: &control,
        district: &district,
        relay: &relay,
        api: Api::new(ports.api, token),
        stats: &stats,
        db: files.db.clone(),
        log: RunLog::default(),
        acts: timeline
            .acts
            .iter()
            .enumerate()
            .map(|(i, (t, a))| ((*t, i as u64), a.clone()))
            .collect(),
        holds: timeline.holds.clone(),
        known_deadlines: HashSet::new(),
        known_answers: HashSet::new(),
        tries: HashMap::new(),
        orders: (0, 0),
        waiting: HashMap::new(),
        given_up: HashSet::new(),
        answers: HashMap::new(),
    };
    let gw = d.drive(gw, &bin, &files, ports).await?;
    // The month is over: the clock stops at its end; the pipeline settles.
    let _ = control.set(0.0, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.log.month_wall_s = month_wall.elapsed().as_secs_f64();
    fleet_stop.cancel();
    let _ = fleet.await;
    let exit = tokio::task::spawn_blocking(move || gw.stop())
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = exit {
        eprintln!("simulate month: {e}");
    }
    stop.cancel();
    d.log.wall_s = wall.elapsed().as_secs_f64();
    let tickets = district.tickets();
    let log = std::mem::take(&mut d.log);
    write_json(&o.out.join("district.json"), &tickets)?;
    write_json(&o.out.join("run.json"), &log)?;
    let rep = report::build(&report::Inputs {
        db: &files.db,
        start_ms: START_MS,
        timeline: &timeline,
        layout: &layout,
        tickets: &tickets,
        run: &log,
        seed: o.seed,
        scenario: &s,
        days,
    })?;
    report::write(&o.out, &rep)?;
    super::plots::write(&o.out, &rep)?;
    Ok(rep)
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[allow(clippy::too_many_arguments, reason = "wiring")]
fn start_fleet(
    files: &Files,
    layout: &Layout,
    timeline: &Timeline,
    s: &MonthScenario,
    ports: Ports,
    seed: u64,
    clock: &SharedClock,
    stats: &Arc<sim::stats::Stats>,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let specs = sim::devices::read_csv_file(&files.creds).map_err(|e| e.to_string())?;
    let mut by_id: HashMap<String, sim::devices::DeviceSpec> =
        specs.into_iter().map(|d| (d.id.to_string(), d)).collect();
    let ordered: Vec<sim::devices::DeviceSpec> = layout
        .nodes
        .iter()
        .map(|n| {
            by_id
                .remove(&n.id)
                .ok_or_else(|| format!("{} not in the credentials export", n.id))
        })
        .collect::<Result<_, _>>()?;
    // One run per process: the fleet lives as long as it.
    let ordered: &'static [sim::devices::DeviceSpec] = Box::leak(ordered.into_boxed_slice());
    let members: Vec<sim::plan::Member<'static>> = ordered
        .iter()
        .map(|spec| {
            let kind = sim::node::SimKind::from_profile(spec.profile.as_str()).ok_or("profile")?;
            Ok(sim::plan::Member { spec, kind })
        })
        .collect::<Result<_, &str>>()?;
    let opts = sim::runner::SimOptions {
        broker: format!("127.0.0.1:{}", ports.mqtt),
        seed,
        heartbeat_s: Some(s.fleet.heartbeat_s),
        ramp: Duration::from_secs(5),
        progress: Duration::from_secs(86_400),
        drain: Duration::ZERO,
        epoch_ms: START_MS,
        ..sim::runner::SimOptions::default()
    };
    let c = clock.clone();
    let timing = sim::runner::Timing {
        tick: Duration::from_millis(20),
        end_ms: timeline.end_ms + 86_400_000,
        clock: Some(sim::runner::SimClock(Arc::new(move || {
            c.now_ms().saturating_sub(START_MS)
        }))),
    };
    let entries = timeline.entries.clone();
    let (stats, n) = (stats.clone(), ordered.len());
    Ok(tokio::spawn(async move {
        if let Err(e) =
            sim::runner::run_members("month", n, &members, entries, &opts, timing, stats, stop)
                .await
        {
            eprintln!("simulate month: fleet: {e}");
        }
    }))
}

struct Driver<'a> {
    s: &'a MonthScenario,
    t: &'a Timeline,
    control: &'a Arc<WarpControl>,
    district: &'a District,
    relay: &'a Relay,
    api: Api,
    stats: &'a sim::stats::Stats,
    db: std::path::PathBuf,
    log: RunLog,
    acts: BTreeMap<(u64, u64), Act>,
    holds: Vec<Hold>,
    known_deadlines: HashSet<u64>,
    known_answers: HashSet<u64>,
    tries: HashMap<String, u32>,
    orders: (u64, u64),
    waiting: HashMap<u64, Instant>,
    given_up: HashSet<u64>,
    /// District answers the gateway has not yet recorded: order → (state rank, since).
    answers: HashMap<String, (u8, Instant)>,
}

impl Driver<'_> {
    fn month_now(&self) -> u64 {
        self.control.now_ms().saturating_sub(START_MS)
    }

    async fn drive(
        &mut self,
        mut gw: GatewayProc,
        bin: &Path,
        files: &Files,
        ports: Ports,
    ) -> Result<GatewayProc, String> {
        let end = self.t.end_ms;
        let (mut entry, mut last_poll, mut last_print) =
            (0usize, Instant::now() - POLL, Instant::now());
        let mut conn = open_db(&self.db);
        let mut deadlines: Vec<u64> = Vec::new();
        let mut set = (f64::NAN, 0u64);
        loop {
            let m = self.month_now();
            if m >= end {
                return Ok(gw);
            }
            while let Some((&(at, k), _)) = self.acts.first_key_value() {
                if at > m {
                    break;
                }
                let act = self.acts.remove(&(at, k)).unwrap_or(Act::Outage(false));
                if let Act::Restart(how) = act {
                    gw = self.restart(gw, how, m, bin, files, ports).await?;
                    conn = open_db(&self.db);
                    set = (f64::NAN, 0);
                } else {
                    self.act(m, k, act).await;
                }
            }
            for (id, st) in self.district.fire(self.control.now_ms()) {
                // The clock waits until the gateway has taken the answer in
                // (unless the line is cut: then it cannot), so the order's
                // times are the district's.
                if !self.relay.is_down() {
                    self.answers
                        .insert(id, (rank(&st.to_string()), Instant::now()));
                }
            }
            if last_poll.elapsed() >= POLL {
                last_poll = Instant::now();
                if conn.is_none() {
                    conn = open_db(&self.db);
                }
                match conn.as_ref().map(next_deadlines) {
                    Some(Ok((d, counts, states))) => {
                        deadlines = d.into_iter().map(|x| x.saturating_sub(START_MS)).collect();
                        self.orders = counts;
                        self.answers.retain(|id, (want, since)| {
                            states.get(id).is_none_or(|s| rank(s) < *want)
                                && since.elapsed() < Duration::from_secs(3)
                        });
                    }
                    Some(Err(e)) => {
                        eprintln!("simulate month: reading the store: {e}");
                        conn = None;
                    }
                    None => {}
                }
                for &d in &deadlines {
                    if self.known_deadlines.insert(d) {
                        self.holds.push(Hold {
                            from: d,
                            until: d + 3_000,
                            rate: self.s.clock.slow,
                        });
                    }
                }
            }
            if let Some(a) = self.district.next_due().map(|x| x.saturating_sub(START_MS))
                && a > m
                && self.known_answers.insert(a)
            {
                self.holds.push(Hold {
                    from: a,
                    until: a + 5_000,
                    rate: self.s.clock.slow * 10.0,
                });
            }
            while entry < self.t.entries.len() && self.t.entries[entry].at_ms <= m {
                entry += 1;
            }
            self.holds.retain(|h| h.until > m);
            let mut cap = end;
            let mut consider = |x: u64| {
                if x > m {
                    cap = cap.min(x);
                }
            };
            if let Some(&(at, _)) = self.acts.keys().next() {
                consider(at);
            }
            if let Some(e) = self.t.entries.get(entry) {
                consider(e.at_ms);
            }
            if let Some(a) = self.district.next_due() {
                consider(a.saturating_sub(START_MS));
            }
            deadlines.iter().for_each(|&d| consider(d));
            self.holds.iter().for_each(|h| consider(h.from));
            // A deadline reached and still listed has not been carded yet:
            // the clock waits there (up to 3 s of real time) so the card
            // carries the deadline's time.
            for &d in &deadlines {
                if d <= m && !self.given_up.contains(&d) {
                    let since = *self.waiting.entry(d).or_insert_with(Instant::now);
                    if since.elapsed() < Duration::from_secs(3) {
                        cap = cap.min(d);
                    } else {
                        self.given_up.insert(d);
                        eprintln!(
                            "simulate month: a deadline at day {:.3} not carded within 3 s",
                            d as f64 / 86_400_000.0
                        );
                    }
                }
            }
            if !self.answers.is_empty() {
                cap = cap.min(m);
            }
            let rate = self
                .holds
                .iter()
                .filter(|h| h.from <= m)
                .map(|h| h.rate)
                .fold(self.s.clock.fast, f64::min);
            if set != (rate, cap) {
                set = (rate, cap);
                self.control
                    .set(rate, START_MS + cap)
                    .map_err(|e| e.to_string())?;
            }
            if last_print.elapsed() >= Duration::from_secs(2) {
                last_print = Instant::now();
                self.progress(m, rate);
            }
            tokio::time::sleep(STEP).await;
        }
    }

    fn progress(&self, m: u64, rate: f64) {
        eprintln!(
            "day {:>5.2}/{:.0}  x{:<6.0} orders {} (final {})  district tickets {}  nodes up {}  uplink {}",
            m as f64 / 86_400_000.0,
            self.t.end_ms as f64 / 86_400_000.0,
            rate,
            self.orders.0,
            self.orders.1,
            self.district.tickets_len(),
            self.stats.connected.load(Ordering::Relaxed),
            if self.relay.open() > 0 { "up" } else { "down" },
        );
    }

    async fn act(&mut self, m: u64, k: u64, act: Act) {
        let api = self.api.clone();
        let outcome = match act {
            Act::GuardCancel(dev) => {
                let d = dev.clone();
                let r = tokio::task::spawn_blocking(move || api.cancel_false(&d))
                    .await
                    .unwrap_or(Cancel::Failed("join".into()));
                let (status, detail) = match &r {
                    Cancel::Done(id) => (200, id.clone()),
                    Cancel::Later(id) => (409, id.clone()),
                    Cancel::Nothing => (0, "no open fire alarm of the device".into()),
                    Cancel::Failed(e) => (0, e.clone()),
                };
                // Refused (a detector still in alarm) or unanswered: again in
                // 30 s. No alarm yet: the guard cannot cancel what is not on
                // the screen; the detector's alarm can reach the gateway after
                // the guard's planned moment (the clock runs at 100× and more
                // while the event is on its way), so look again every 5 s for
                // the two minutes of the verification delay.
                let tries = self.tries.entry(dev.clone()).or_default();
                if matches!(r, Cancel::Done(_)) {
                    *tries = 0;
                }
                let again = match r {
                    Cancel::Later(_) | Cancel::Failed(_) if *tries < 20 => Some(30_000),
                    Cancel::Nothing if *tries < 24 => Some(5_000),
                    _ => None,
                };
                if let Some(after) = again {
                    *tries += 1;
                    let at = m + after;
                    self.acts.insert(
                        (at, k + 1_000_000 * u64::from(*tries)),
                        Act::GuardCancel(dev.clone()),
                    );
                    self.holds.push(Hold {
                        from: at,
                        until: at + 10_000,
                        rate: self.s.clock.slow,
                    });
                }
                Outcome {
                    at: m,
                    what: "cancel".into(),
                    subject: dev,
                    status,
                    detail,
                }
            }
            Act::Report(place, text) => {
                let p = place.clone();
                let (status, detail) =
                    tokio::task::spawn_blocking(move || api.report(SITE, &p, &text))
                        .await
                        .unwrap_or((0, "join".into()));
                Outcome {
                    at: m,
                    what: "report".into(),
                    subject: place,
                    status,
                    detail,
                }
            }
            Act::Outage(down) => {
                self.relay.set_down(down);
                let what = if down { "uplink-down" } else { "uplink-up" };
                Outcome {
                    at: m,
                    what: what.into(),
                    subject: "uplink".into(),
                    status: 0,
                    detail: String::new(),
                }
            }
            Act::Restart(_) => return,
        };
        self.log.actions.push(outcome);
    }

    async fn restart(
        &mut self,
        gw: GatewayProc,
        how: RestartHow,
        m: u64,
        bin: &Path,
        files: &Files,
        ports: Ports,
    ) -> Result<GatewayProc, String> {
        // Real time while the gateway is away: the nodes' reconnections and
        // the gateway's start take what they take.
        self.control.set(1.0, u64::MAX).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let before = self.stats.connected.load(Ordering::Relaxed);
        let exit = tokio::task::spawn_blocking(move || match how {
            RestartHow::Graceful => gw.stop(),
            RestartHow::Kill => gw.kill9(),
        })
        .await
        .map_err(|e| e.to_string())?;
        let exit = match exit {
            Ok(st) => st.to_string(),
            Err(e) => e,
        };
        let (b, f) = (bin.to_path_buf(), files.clone());
        let gw = tokio::task::spawn_blocking(move || GatewayProc::start(&b, &f, ports))
            .await
            .map_err(|e| e.to_string())??;
        // Back: every node connected before is again (or the count held
        // still for 5 s, a node the plan keeps down), and the uplink is up.
        let (mut last, mut still) = (-1, Instant::now());
        loop {
            let n = self.stats.connected.load(Ordering::Relaxed);
            if n != last {
                (last, still) = (n, Instant::now());
            }
            let settled = n >= before || (n > 0 && still.elapsed() > Duration::from_secs(5));
            let uplink = self.relay.open() > 0 || self.relay.is_down();
            if (settled && uplink) || t0.elapsed() > Duration::from_secs(120) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let rec = RestartRecord {
            at_ms: m,
            how,
            exit,
            back_in_s: t0.elapsed().as_secs_f64(),
            nodes_back: self.stats.connected.load(Ordering::Relaxed),
        };
        eprintln!(
            "simulate month: gateway {how:?} at day {:.2}: back in {:.1} s, {} nodes",
            m as f64 / 86_400_000.0,
            rec.back_in_s,
            rec.nodes_back
        );
        let now = self.month_now();
        self.holds.push(Hold {
            from: now,
            until: now + 120_000,
            rate: self.s.clock.slow,
        });
        self.log.restarts.push(rec);
        Ok(gw)
    }
}

fn open_db(path: &Path) -> Option<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()?;
    c.busy_timeout(Duration::from_millis(200)).ok()?;
    Some(c)
}

/// The next supervision deadline of every open order that would give a
/// card (the rule of docs/governance.md, "Supervision"), and the count of
/// orders and of final ones.
/// Order of the states (final ones last).
fn rank(s: &str) -> u8 {
    match s {
        "new" => 0,
        "sent" | "received" => 1,
        "accepted" => 2,
        "dispatched" => 3,
        "resolved" => 4,
        "closed" => 5,
        _ => 9,
    }
}

type Polled = (Vec<u64>, (u64, u64), HashMap<String, String>);

fn next_deadlines(c: &rusqlite::Connection) -> rusqlite::Result<Polled> {
    let mut st = c.prepare_cached(
        "SELECT body FROM orders WHERE state NOT IN ('closed', 'cancelled', 'rejected')",
    )?;
    let bodies: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for b in bodies {
        let Ok(rec) = serde_json::from_str::<OrderRecord>(&b) else {
            continue;
        };
        let deadline = if rec.acked_at.is_none() {
            rec.up.ack_by
        } else {
            rec.up.close_by
        };
        let interval = deadline.saturating_sub(rec.opened_at).max(1);
        let tier_left = rec.up.tier.up().is_some();
        if rec.stage <= 1 || tier_left {
            out.push(deadline + interval * u64::from(rec.stage));
        }
    }
    let mut st = c.prepare_cached("SELECT order_id, state FROM orders")?;
    let states: HashMap<String, String> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let counts = c.query_row(
        "SELECT count(*), coalesce(sum(state IN ('closed', 'cancelled', 'rejected')), 0) FROM orders",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?;
    Ok((out, counts, states))
}
