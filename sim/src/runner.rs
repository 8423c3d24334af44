//! Wiring only: turns a scenario, a fleet and options into links and
//! shards, runs them to the end, and sums up.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::devices::DeviceSpec;
use crate::flash::profile_heartbeat_s;
use crate::gateway_api::{self, GatewayApi};
use crate::link::{self, LinkConfig};
use crate::node::{SimKind, SimNode};
use crate::plan::{self, Entry};
use crate::scenario::Scenario;
pub use crate::shard::SimClock;
use crate::shard::{Member, Shard, ShardTiming};
use crate::stats::{Stats, Summary, progress};

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Broker address, `host:port`.
    pub broker: String,
    /// Seed of every random choice in the plan.
    pub seed: u64,
    /// Heartbeat interval of every node (default: each profile's own).
    pub heartbeat_s: Option<u32>,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// Nodes connect evenly spread over this time, in fleet order.
    pub ramp: Duration,
    /// Time between progress lines.
    pub progress: Duration,
    /// Nodes per shard task.
    pub shard_size: usize,
    /// After the scenario ends, wait up to this long for pending acks.
    pub drain: Duration,
    /// Overrides the scenario's duration.
    pub duration: Option<Duration>,
    /// Wall-clock time at the start, ms since the epoch (event `ts`).
    pub epoch_ms: u64,
    /// The gateway's HTTP API, for the scenario's revocations.
    pub api: Option<GatewayApi>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            broker: "127.0.0.1:1883".into(),
            seed: 1,
            heartbeat_s: None,
            keep_alive: Duration::from_secs(60),
            ramp: Duration::ZERO,
            progress: Duration::from_secs(5),
            shard_size: 250,
            drain: Duration::from_secs(10),
            duration: None,
            epoch_ms: 1_767_225_600_000,
            api: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The broker address is not `host:port`.
    #[error("--broker {0:?}: expected host:port")]
    Broker(String),
    /// No device in the fleet has simulated firmware.
    #[error(
        "the fleet has no device whose profile the simulator runs (smoke, lock, card-reader, door-contact, gas, gas-modbus, camera)"
    )]
    NoNodes,
    /// The scenario does not fit the fleet.
    #[error("the scenario does not fit this fleet:\n{}", .0.join("\n"))]
    Plan(Vec<String>),
    /// The scenario revokes credentials, and no API was given.
    #[error(
        "the scenario revokes credentials at the gateway: give --api HOST:PORT and --api-token-file FILE"
    )]
    NoApi,
    /// A shard task panicked; its nodes' outcome is unknown.
    #[error("a simulator task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs `scenario` over `fleet` until it ends or `cancel` fires.
///
/// # Errors
/// [`SimError`] before anything connects, or [`SimError::Task`] if a shard panicked.
pub async fn run(
    scenario: &Scenario,
    fleet: &[DeviceSpec],
    opts: &SimOptions,
    cancel: CancellationToken,
) -> Result<Summary, SimError> {
    if !opts.broker.contains(':') {
        return Err(SimError::Broker(opts.broker.clone()));
    }
    let members: Vec<plan::Member<'_>> = fleet
        .iter()
        .filter_map(|spec| {
            SimKind::from_profile(spec.profile.as_str()).map(|kind| plan::Member { spec, kind })
        })
        .collect();
    if members.is_empty() {
        return Err(SimError::NoNodes);
    }
    let timeline = plan::build(scenario, &members, opts.seed).map_err(SimError::Plan)?;
    let revocations = plan::revocations(scenario);
    let api = match (&opts.api, revocations.is_empty()) {
        (_, true) => None,
        (Some(api), false) => Some(api.clone()),
        (None, false) => return Err(SimError::NoApi),
    };
    let timing = Timing {
        tick: Duration::from_millis(u64::from(scenario.tick_ms)),
        end_ms: duration_ms(scenario, opts),
        clock: None,
    };
    let stats = Arc::new(Stats::default());
    let gateway = cancel.child_token();
    if let Some(api) = api {
        tokio::spawn(gateway_api::run_revocations(
            api,
            revocations,
            stats.clone(),
            gateway.clone(),
        ));
    }
    let _stop_revocations = gateway.drop_guard();
    run_members(
        &scenario.name,
        fleet.len(),
        &members,
        timeline,
        opts,
        timing,
        stats,
        cancel,
    )
    .await
}

/// How a planned run keeps time.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Real time between two ticks of every node.
    pub tick: Duration,
    /// The run's end, ms of uptime.
    pub end_ms: u64,
    /// The nodes' uptime from this clock (default: real time since the start).
    pub clock: Option<SimClock>,
}

/// Runs a timeline built elsewhere (`timeline` indexes `members`) with
/// `timing`, counting into `stats` (which the caller may watch while it
/// runs), until its end or `cancel`.
///
/// # Errors
/// [`SimError::Task`] if a shard panicked.
#[allow(
    clippy::too_many_arguments,
    reason = "wiring: each is one part of the run"
)]
pub async fn run_members(
    name: &str,
    fleet_len: usize,
    members: &[plan::Member<'_>],
    timeline: Vec<Entry>,
    opts: &SimOptions,
    timing: Timing,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) -> Result<Summary, SimError> {
    let (host, port) = opts
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']).to_owned(), p.parse().ok()?)))
        .ok_or_else(|| SimError::Broker(opts.broker.clone()))?;
    let cfg = LinkConfig {
        host,
        port,
        keep_alive: opts.keep_alive,
        reconnect: Duration::from_secs(1),
    };
    let start = Instant::now();
    let nodes_cancel = cancel.child_token();
    let shards = spawn_shards(members, timeline, opts, &cfg, &stats, &nodes_cancel);
    let timing = ShardTiming {
        start,
        tick: timing.tick,
        end_ms: timing.end_ms,
        drain: opts.drain,
        clock: timing.clock,
    };
    tokio::spawn(progress(stats.clone(), opts.progress, nodes_cancel.clone()));
    let tasks: Vec<_> = shards
        .into_iter()
        .map(|s| tokio::spawn(s.run(timing.clone(), nodes_cancel.clone())))
        .collect();
    let mut pending = 0;
    for t in tasks {
        match t.await {
            Ok(p) => pending += p,
            Err(e) => {
                nodes_cancel.cancel();
                return Err(e.into());
            }
        }
    }
    nodes_cancel.cancel();
    Ok(Summary {
        scenario: name.to_string(),
        nodes: members.len(),
        skipped: fleet_len - members.len(),
        stats: stats.snapshot(),
        pending,
        elapsed: start.elapsed(),
    })
}

fn duration_ms(scenario: &Scenario, opts: &SimOptions) -> u64 {
    let d = opts
        .duration
        .unwrap_or_else(|| Duration::from_secs_f64(scenario.duration_s));
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn spawn_shards(
    members: &[plan::Member<'_>],
    timeline: Vec<Entry>,
    opts: &SimOptions,
    cfg: &LinkConfig,
    stats: &Arc<Stats>,
    cancel: &CancellationToken,
) -> Vec<Shard> {
    let size = opts.shard_size.max(1);
    let n = members.len();
    let mut shards: Vec<Shard> = members
        .chunks(size)
        .enumerate()
        .map(|(s, chunk)| {
            let (tx, rx) = mpsc::channel(1024);
            let nodes = chunk
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    let global = s * size + j;
                    let delay = opts.ramp.mul_f64(global as f64 / n as f64);
                    let hb = opts
                        .heartbeat_s
                        .unwrap_or_else(|| profile_heartbeat_s(m.spec.profile.as_str()));
                    let link = link::spawn(m.spec, cfg, j, delay, tx.clone(), cancel.clone());
                    Member::new(
                        m.spec.id.clone(),
                        SimNode::new(m.kind, hb, opts.epoch_ms),
                        link,
                        hb,
                        opts.epoch_ms,
                    )
                })
                .collect();
            Shard {
                members: nodes,
                plan: VecDeque::new(),
                rx,
                stats: stats.clone(),
            }
        })
        .collect();
    for mut e in timeline {
        let s = e.node / size;
        e.node %= size;
        shards[s].plan.push_back(e);
    }
    shards
}
