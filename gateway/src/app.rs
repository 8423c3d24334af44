//! Wiring only: builds every stage from the configuration, connects them
//! with bounded channels and runs them until shutdown.
//!
//! ```text
//! broker ──evt/state/cmd-ack──► ingest(priority) ──► events ──► analysis ──► linkage cmds
//!        ──tel────────────────► ingest(telemetry) ─► telemetry ─► analysis    (publisher)
//!                                   │ state ──► presence ──► changes ─► analysis
//!                                   └─► store writer (own thread) ◄── presence, record
//! api (axum) ──control──► analysis ──alarm changes, linkage records──► record
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::alarms::Engine;
use crate::analysis::{Analysis, AnalysisOut, Control};
use crate::bus::{self, Bus, Denied, Publisher};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::ingest::{self, Dedupe, Ingest, IngestParts, LastSeen, Outputs, RegistryCell, Rejects};
use crate::linkage::{Linkage, ModbusLink};
use crate::orders::{BusFeedback, Fanout, Feedback, OrderEngine, Webhook};
use crate::presence::{self, Change, Presence, PresenceTask};
use crate::registry::Profiles;
use crate::registry::Registry;
use crate::rules::Rules;
use crate::sources::bridge::Bridge;
use crate::store::{self, Store, StoreConfig, StoreHandle};
use crate::uplink::Uplink;
use modbus::ModbusSource;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The broker did not come up.
    #[error("broker: {0}")]
    Bus(#[from] bus::BusError),
    /// Profiles failed to load.
    #[error("profiles: {}", .0.join("; "))]
    Profiles(Vec<String>),
    /// The order engine or uplink could not start.
    #[error("governance: {0}")]
    Governance(String),
    /// A configured threshold refers to an unknown profile or field.
    #[error("rules: {}", .0.join("; "))]
    Rules(Vec<String>),
    /// The `[modbus]` section does not fit the profiles.
    #[error("{0}")]
    Modbus(#[from] modbus::ConfigError),
    /// A thread could not be started.
    #[error("thread: {0}")]
    Io(#[from] std::io::Error),
}

/// Capacity of the event channel to analysis (events are never shed).
const EVENT_QUEUE: usize = 8_192;
/// Capacity of the telemetry channel to analysis (shed when full).
const TELEMETRY_QUEUE: usize = 65_536;

/// What flows out of the spine into analysis.
#[derive(Debug)]
pub struct SpineOutputs {
    /// Events, commits and command acks.
    pub events: mpsc::Receiver<ingest::Ingested>,
    /// Telemetry.
    pub telemetry: mpsc::Receiver<ingest::Ingested>,
    /// Availability changes.
    pub presence: mpsc::Receiver<Change>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    /// Where the MQTT listener is bound.
    pub mqtt_addr: SocketAddr,
    /// Where the MQTT TLS listener is bound, when configured.
    pub mqtt_tls_addr: Option<SocketAddr>,
    /// Cancel to stop every task.
    pub shutdown: CancellationToken,
    /// The store writer, for stats and flushing.
    pub store: StoreHandle,
    /// Ingest counters.
    pub ingest: Ingest,
    /// Rejections per reason.
    pub rejects: Arc<Rejects>,
    /// The publisher (acks, commands, integrator feeds).
    pub publisher: Publisher,
    /// The registry in force.
    pub registry: Arc<RegistryCell>,
    /// The profiles in force.
    pub profiles: Arc<Profiles>,
    /// Requests to the analysis task (operators, maintenance).
    pub control: mpsc::Sender<Control>,
    /// Where the operators' HTTP API is bound.
    pub api_addr: SocketAddr,
    /// The gateway's clock.
    pub clock: SharedClock,
    tasks: JoinSet<()>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// Starts the gateway: broker, ingest, presence, analysis, API.
///
/// # Errors
/// [`StartError`] when the store, profiles or broker cannot start.
pub async fn start(cfg: &Config, clock: SharedClock) -> Result<Gateway, StartError> {
    let profiles = Arc::new(
        Profiles::load(cfg.gateway.profiles_dir.as_deref()).map_err(StartError::Profiles)?,
    );
    let problems = rule_problems(cfg, &profiles);
    if !problems.is_empty() {
        return Err(StartError::Rules(problems));
    }
    let modbus = match &cfg.modbus {
        Some(m) => {
            let by_name = profiles
                .iter()
                .map(|(k, p)| (k.to_string(), p.clone()))
                .collect();
            Some(ModbusSource::build(m, &by_name)?)
        }
        None => None,
    };
    let mut db = Store::open(&cfg.store.path)?;
    if let Some(password) = crate::registry::ensure_admin(&db)? {
        // Printed once, at first start; never stored in clear.
        println!(
            "gridsense: created admin credential: username `admin`, password `{password}` (shown once)"
        );
    }
    let registry = Arc::new(RegistryCell::new(Registry::load(&db)?));
    let dedupe = Dedupe::from_stored(db.max_event_seqs()?);
    let presence = Presence::from_rows(db.presence_list()?);
    let open_alarms = (db.open_alarms()?, db.last_alarm_number()?);
    let maintenance = db.maintenance_at_start(clock.now_ms())?;
    let (store, writer) = store::spawn_writer(
        db,
        StoreConfig {
            telemetry_retention_days: cfg.store.telemetry_retention_days,
            max_telemetry_rows: cfg.store.max_telemetry_rows,
            outbox_max_bytes: cfg.outbox.max_mib << 20,
            ..StoreConfig::default()
        },
        clock.clone(),
    )?;

    let rejects = Arc::new(Rejects::default());
    let (sink, denied) = denied_sink(&rejects, &clock);
    let bus = Bus::new(&cfg.mqtt, Arc::new(RegistryAuth(registry.clone())), sink);
    let priority = bus.subscribe(
        "gridsense-ingest",
        &[
            protocol::topic::filter::EVENTS,
            protocol::topic::filter::STATES,
            protocol::topic::filter::COMMAND_ACKS,
        ],
    )?;
    let telemetry = bus.subscribe("gridsense-telemetry", &[protocol::topic::filter::TELEMETRY])?;
    let publisher = Publisher::spawn(bus.link("gridsense-publisher")?)?;
    let bound = bus.start_all()?;
    let mqtt_addr = bound.get("lan").copied().unwrap_or(cfg.mqtt.listen);
    let mqtt_tls_addr = bound.get("lan-tls").copied();
    tracing::info!(%mqtt_addr, devices = registry.get().devices().count(), profiles = profiles.len(), "MQTT broker listening");

    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let (telemetry_tx, telemetry_rx) = mpsc::channel(TELEMETRY_QUEUE);
    let (states_tx, states_rx) = mpsc::channel(1024);
    let (changes_tx, changes_rx) = mpsc::channel(1024);
    let last_seen = Arc::new(LastSeen::default());
    let ingest = Ingest::new(IngestParts {
        registry: registry.clone(),
        store: store.clone(),
        publisher: publisher.clone(),
        clock: clock.clone(),
        rejects: rejects.clone(),
        dedupe,
        last_seen: last_seen.clone(),
        out: Outputs {
            events: events_tx,
            telemetry: telemetry_tx.clone(),
            states: states_tx.clone(),
        },
    });
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(ingest.clone().run_priority(priority, shutdown.clone()));
    tasks.spawn(ingest.clone().run_telemetry(telemetry, shutdown.clone()));
    let presence_task = PresenceTask {
        presence,
        site: cfg.gateway.site.clone(),
        registry: registry.clone(),
        profiles: profiles.clone(),
        last_seen,
        store: store.clone(),
        publisher: publisher.clone(),
        clock: clock.clone(),
        changes: changes_tx,
        sweep_every: Duration::from_secs(1),
    };
    tasks.spawn(presence::run(presence_task, states_rx, shutdown.clone()));
    tasks.spawn(reload_registry(
        store.clone(),
        registry.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(record_denied(denied, store.clone(), shutdown.clone()));

    let spine = SpineOutputs {
        events,
        telemetry: telemetry_rx,
        presence: changes_rx,
    };
    let (control, control_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let mut linkage = Linkage::new(publisher.clone(), profiles.clone());
    if let Some(source) = modbus {
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (writes_tx, writes_rx) = mpsc::channel(64);
        tasks.spawn(source.run(events_tx, writes_rx, shutdown.clone()));
        let bridge = Bridge {
            registry: registry.clone(),
            store: store.clone(),
            telemetry: telemetry_tx,
            states: states_tx,
        };
        tasks.spawn(bridge.run(events_rx, shutdown.clone()));
        let (records, mut records_rx) = mpsc::unbounded_channel();
        linkage = linkage.with_modbus(ModbusLink {
            writes: writes_tx,
            records,
        });
        let out = out_tx.clone();
        tasks.spawn(async move {
            while let Some(r) = records_rx.recv().await {
                let _ = out.send(AnalysisOut::Linkage(r));
            }
        });
    }
    let mut engine = Engine::new(cfg.gateway.id.clone(), cfg.alarms.clone(), open_alarms.1);
    engine.resume(open_alarms.0);
    crate::alarms::maintenance::resume(&mut engine, maintenance);
    let analysis = Analysis {
        engine,
        rules: Rules::new(profiles.clone(), cfg.rules.clone(), clock.now_ms()),
        linkage,
        registry: registry.clone(),
        publisher: publisher.clone(),
        clock: clock.clone(),
        site: cfg.gateway.site.clone(),
        changes: out_tx,
    };
    tasks.spawn(analysis.run(spine, control_rx, shutdown.clone()));
    let orders = start_governance(cfg, &clock, &publisher, &store, &mut tasks, &shutdown).await?;
    tasks.spawn(record(out_rx, store.clone(), clock.clone(), orders));

    let listener = tokio::net::TcpListener::bind(cfg.api.listen).await?;
    let api_addr = listener.local_addr()?;
    let router = crate::api::router(crate::api::ApiState {
        control: control.clone(),
        rejects: rejects.clone(),
        operators: crate::api::Operators::new(&store, &registry, &clock, &cfg.alarms),
    });
    let stop = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "HTTP API stopped");
        }
    });
    tracing::info!(%api_addr, "operators' API listening");
    let gw = Gateway {
        mqtt_addr,
        mqtt_tls_addr,
        shutdown,
        store,
        ingest,
        rejects,
        publisher,
        registry,
        profiles,
        control,
        api_addr,
        clock: clock.clone(),
        tasks,
        writer: Some(writer),
    };
    Ok(gw)
}

/// Stores what analysis reports (alarm changes with their audit records,
/// linkage records, expired maintenance windows) and hands each alarm change to the order engine once it
/// is committed: the uplink acts on committed alarms only. Runs until
/// analysis ends (its sender dropped), so nothing it said is lost.
async fn record(
    mut rx: mpsc::UnboundedReceiver<AnalysisOut>,
    store: StoreHandle,
    clock: SharedClock,
    orders: mpsc::Sender<protocol::feed::AlarmFeed>,
) {
    while let Some(out) = rx.recv().await {
        let r = match &out {
            AnalysisOut::Alarm(feed) => store.save_alarm(feed, clock.now_ms()).await,
            AnalysisOut::Linkage(rec) => store.record_linkage(rec).await,
            AnalysisOut::Aggregate(a) => store.save_aggregate(a).await,
            AnalysisOut::MaintenanceExpired(w) => store.maintenance_expired(w).await,
        };
        match (r, out) {
            (Ok(()), AnalysisOut::Alarm(feed)) => {
                let _ = orders.send(*feed).await;
            }
            (Ok(()), _) => {}
            (Err(e), _) => tracing::error!(error = %e, "alarm record not stored"),
        }
    }
}

/// Starts the order engine and, when configured, the uplink; both keep
/// their state in the store.
async fn start_governance(
    cfg: &Config,
    clock: &SharedClock,
    publisher: &Publisher,
    store: &StoreHandle,
    tasks: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) -> Result<mpsc::Sender<protocol::feed::AlarmFeed>, StartError> {
    let mut sinks: Vec<Arc<dyn Feedback>> = vec![Arc::new(BusFeedback {
        site: cfg.gateway.site.clone(),
        publisher: publisher.clone(),
    })];
    if let Some(w) = &cfg.webhook {
        sinks.push(Arc::new(
            Webhook::spawn(w).map_err(|e| StartError::Governance(e.join("; ")))?,
        ));
    }
    let engine = OrderEngine::new(
        &cfg.orders,
        cfg.gateway.id.clone(),
        cfg.gateway.site.clone(),
        store.clone(),
        clock.clone(),
        Arc::new(Fanout(sinks)),
    )
    .await
    .map_err(|e| StartError::Governance(e.to_string()))?;
    let (alarms_tx, alarms_rx) = mpsc::channel(1024);
    let (status_tx, status_rx) = mpsc::channel(1024);
    if let Some(u) = &cfg.uplink {
        let uplink = Uplink::new(u, &cfg.gateway.id, store.outbox())
            .map_err(|e| StartError::Governance(e.to_string()))?;
        let stop = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = uplink.run(status_tx, stop).await {
                tracing::error!(error = %e, "uplink stopped");
            }
        });
    } else {
        tracing::warn!("no [uplink] configured: work orders wait in the outbox");
        drop(status_tx);
    }
    let stop = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = engine.run(alarms_rx, status_rx, stop).await {
            tracing::error!(error = %e, "order engine stopped");
        }
    });
    Ok(alarms_tx)
}

impl Gateway {
    /// Stops every task, then lets the store writer commit what it holds and exit.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final store flush failed");
        }
        let writer = self.writer.take();
        drop(self);
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

/// Lets the broker check credentials against the registry.
struct RegistryAuth(Arc<RegistryCell>);

impl bus::Authenticator for RegistryAuth {
    fn authenticate(&self, username: &str, password: &str) -> Option<bus::Role> {
        self.0
            .get()
            .verify(username, password)
            .map(|role| match role {
                crate::registry::Role::Device => bus::Role::Device,
                crate::registry::Role::Integrator => bus::Role::Integrator,
                crate::registry::Role::Admin => bus::Role::Admin,
            })
    }
}

/// The broker reports refusals from its own threads; they are counted at
/// once and handed to a task that records them in the quarantine table. The
/// broker outlives the gateway's tasks (rumqttd has no stop), so it holds only
/// a channel, never a store handle: the store writer can exit at shutdown.
fn denied_sink(
    rejects: &Arc<Rejects>,
    clock: &SharedClock,
) -> (bus::DeniedSink, flume::Receiver<store::QuarantineRecord>) {
    let (tx, rx) = flume::bounded(1024);
    let (rejects, clock) = (rejects.clone(), clock.clone());
    let sink: bus::DeniedSink = Arc::new(move |d: Denied| {
        let now = clock.now_ms();
        let (reason, source, topic) = match d {
            Denied::Auth {
                client_id,
                username,
            } => ("auth", username, format!("(connect as client {client_id})")),
            Denied::Topic {
                username,
                action,
                topic,
                ..
            } => {
                let reason = if action == bus::acl::Action::Publish {
                    "acl-publish"
                } else {
                    "acl-subscribe"
                };
                (reason, username.unwrap_or_else(|| "?".into()), topic)
            }
        };
        rejects.record(now, reason, &source, &topic);
        let _ = tx.try_send(store::QuarantineRecord {
            at_ms: now,
            source,
            reason,
            topic,
            detail: "refused by the broker".into(),
        });
    });
    (sink, rx)
}

async fn record_denied(
    rx: flume::Receiver<store::QuarantineRecord>,
    store: StoreHandle,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = rx.recv_async() => match r {
                Ok(rec) => store.quarantine(rec),
                Err(_) => return,
            },
        }
    }
}

/// Re-reads the registry every few seconds (on the store's reader thread),
/// so devices added with the CLI while the gateway runs can connect.
async fn reload_registry(store: StoreHandle, cell: Arc<RegistryCell>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.read(Registry::load).await {
            Ok(r) => cell.replace(r),
            Err(e) => tracing::warn!(error = %e, "registry reload failed; keeping the old one"),
        }
    }
}

/// Runs the gateway until SIGTERM or Ctrl-C, then shuts down gracefully
/// (every task stopped, the store flushed).
///
/// # Errors
/// [`StartError`] when it cannot start.
pub async fn run_until_signal(
    cfg: &Config,
    path: &std::path::Path,
    clock: SharedClock,
) -> Result<(), StartError> {
    let gw = start(cfg, clock).await?;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = hangup() => {
                if let Err(problems) = reload(&gw, path).await {
                    for p in problems {
                        tracing::error!(problem = %p, "reload refused; the old rules keep running");
                    }
                }
            }
        }
    }
    tracing::info!("shutting down");
    gw.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Every configured threshold that does not fit the profiles, as `rules.thresholds[i]: ...`.
pub fn rule_problems(cfg: &Config, profiles: &Profiles) -> Vec<String> {
    cfg.rules
        .thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.validate(profiles)
                .err()
                .map(|e| format!("rules.thresholds[{i}]: {e}"))
        })
        .collect()
}

/// Re-reads the configuration file and the profiles directory and, if both
/// are valid, replaces the rules; otherwise the old rules keep running.
///
/// # Errors
/// Every problem found, with file and line where known.
pub async fn reload(gw: &Gateway, path: &std::path::Path) -> Result<(), Vec<String>> {
    let cfg = Config::load(path).map_err(|e| vec![e.to_string()])?;
    let profiles = Arc::new(Profiles::load(cfg.gateway.profiles_dir.as_deref())?);
    let problems = located(path, rule_problems(&cfg, &profiles));
    if !problems.is_empty() {
        return Err(problems);
    }
    let rules = Rules::new(profiles, cfg.rules.clone(), gw.clock.now_ms());
    gw.control
        .send(Control::ReloadRules(Box::new(rules)))
        .await
        .map_err(|_| vec!["the gateway is shutting down".to_string()])
}

/// Prefixes each `rules.thresholds[i]: ...` problem with `FILE:LINE:`.
pub fn located(path: &std::path::Path, problems: Vec<String>) -> Vec<String> {
    let src = std::fs::read_to_string(path).unwrap_or_default();
    problems
        .into_iter()
        .map(|p| {
            let index = p
                .strip_prefix("rules.thresholds[")
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse().ok());
            match index.and_then(|i| crate::config::table_line(&src, "rules.thresholds", i)) {
                Some(line) => format!("{}:{line}: {p}", path.display()),
                None => format!("{}: {p}", path.display()),
            }
        })
        .collect()
}

/// Resolves on SIGHUP (never elsewhere).
async fn hangup() {
    #[cfg(unix)]
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        s.recv().await;
        return;
    }
    std::future::pending::<()>().await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
