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
use crate::api::{ApiState, Server};
use crate::bus::{self, Bus, Publisher};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::config::validate::{self, FieldProblem};
use crate::ingest::{self, Dedupe, Ingest, Lanes, Rejects};
use crate::orders::{BusFeedback, Fanout, Feedback, OrderEngine, Webhook};
use crate::presence::Presence;
use crate::registry::{Profiles, Registry, RegistryCell};
use crate::rules::Rules;
use crate::sources::modbus::ModbusSource;
use crate::store::{self, Store, StoreConfig, StoreHandle};
use crate::uplink::{Outbox, Uplink};

mod modbus;
mod spine;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The broker did not come up.
    #[error("broker: {0}")]
    Bus(#[from] bus::BusError),
    /// The configuration does not pass validation (see [`crate::config::validate`]).
    #[error("configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldProblem>),
    /// The order engine or uplink could not start.
    #[error("governance: {0}")]
    Governance(String),
    /// The `[modbus]` section does not fit the profiles.
    #[error("{0}")]
    Modbus(#[from] crate::sources::modbus::ConfigError),
    /// A thread could not be started.
    #[error("thread: {0}")]
    Io(#[from] std::io::Error),
}

/// Capacity of the event channel to analysis (events are never shed).
const EVENT_QUEUE: usize = 8_192;
/// Capacity of the telemetry channel to analysis (shed when full).
const TELEMETRY_QUEUE: usize = 65_536;

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

/// What the stages being wired share.
struct Wiring<'a> {
    cfg: &'a Config,
    clock: SharedClock,
    profiles: Arc<Profiles>,
    registry: Arc<RegistryCell>,
    store: StoreHandle,
    publisher: Publisher,
    rejects: Arc<Rejects>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

/// Starts the gateway: broker, ingest, presence, analysis, API.
///
/// # Errors
/// [`StartError`] when the configuration is invalid or the store or the
/// broker cannot start.
pub async fn start(cfg: &Config, clock: SharedClock) -> Result<Gateway, StartError> {
    let profiles = Arc::new(validate::config(cfg).map_err(StartError::Invalid)?);
    let modbus = match &cfg.modbus {
        Some(m) => Some(ModbusSource::build(m, &validate::by_name(&profiles))?),
        None => None,
    };
    let db = Store::open(&cfg.store.path)?;
    // The alarm writes append to the audit chain in the store's transactions.
    crate::audit::chain::create(db.conn()).map_err(|e| StartError::Governance(e.to_string()))?;
    if let Some(password) = crate::registry::ensure_admin(&db)? {
        // Printed once, at first start; never stored in clear.
        println!(
            "gridsense: created admin credential: username `admin`, password `{password}` (shown once)"
        );
    }
    let registry = Arc::new(RegistryCell::new(Registry::load(&db)?));
    let dedupe = Dedupe::from_stored(db.max_event_seqs()?);
    let presence = Presence::from_stored(db.presence_entries()?);
    let open_alarms = (db.open_alarms()?, db.last_alarm_number()?);
    let (store, writer) = store::spawn_writer(
        db,
        StoreConfig {
            telemetry_retention_days: cfg.store.telemetry_retention_days,
            max_telemetry_rows: cfg.store.max_telemetry_rows,
            ..StoreConfig::default()
        },
        clock.clone(),
    );

    let rejects = Arc::new(Rejects::default());
    let (sink, refusals) = ingest::denied_sink(&rejects, &clock);
    let bus = Bus::new(&cfg.mqtt, registry.clone(), sink);
    let lanes = Lanes::subscribe(&bus)?;
    let publisher = Publisher::spawn(bus.link("gridsense-publisher")?)?;
    let bound = bus.start_all()?;
    let mqtt_addr = bound.get("lan").copied().unwrap_or(cfg.mqtt.listen);
    let mqtt_tls_addr = bound.get("lan-tls").copied();
    tracing::info!(%mqtt_addr, devices = registry.get().devices().count(), profiles = profiles.len(), "MQTT broker listening");

    let mut w = Wiring {
        cfg,
        clock,
        profiles,
        registry,
        store,
        publisher,
        rejects,
        shutdown: CancellationToken::new(),
        tasks: JoinSet::new(),
    };
    let (shutdown, store) = (w.shutdown.clone(), w.store.clone());
    w.tasks.spawn(refusals.run(store.clone(), shutdown.clone()));
    w.tasks.spawn(reload_registry(
        cfg.store.path.clone(),
        w.registry.clone(),
        shutdown.clone(),
    ));
    let (spine, ingest, feeds) = w.spine(lanes, dedupe, presence);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let linkage = w.linkage(modbus, feeds, &out_tx);
    let (control, control_rx) = mpsc::channel(64);
    let mut engine = Engine::new(cfg.gateway.id.clone(), cfg.alarms.clone(), open_alarms.1);
    engine.resume(open_alarms.0);
    let analysis = Analysis {
        engine,
        rules: Rules::new(w.profiles.clone(), cfg.rules.clone(), w.clock.now_ms()),
        linkage,
        registry: w.registry.clone(),
        publisher: w.publisher.clone(),
        clock: w.clock.clone(),
        site: cfg.gateway.site.clone(),
        changes: out_tx,
    };
    w.tasks
        .spawn(analysis.run(spine, control_rx, shutdown.clone()));
    let orders = start_governance(cfg, &w.clock, &w.publisher, &mut w.tasks, &shutdown)?;
    w.tasks
        .spawn(record(out_rx, store.clone(), w.clock.clone(), orders));

    let state = ApiState {
        control: control.clone(),
        rejects: w.rejects.clone(),
    };
    let api = Server::bind(cfg.api.listen, state).await?;
    let api_addr = api.local_addr()?;
    w.tasks.spawn(api.run(shutdown.clone()));
    tracing::info!(%api_addr, "operators' API listening");
    Ok(Gateway {
        mqtt_addr,
        mqtt_tls_addr,
        shutdown,
        store,
        ingest,
        rejects: w.rejects,
        publisher: w.publisher,
        registry: w.registry,
        profiles: w.profiles,
        control,
        api_addr,
        clock: w.clock,
        tasks: w.tasks,
        writer: Some(writer),
    })
}

/// Stores what analysis reports: alarm changes and linkage records. Runs
/// until analysis ends (its sender dropped), so nothing it said is lost.
/// Stores what analysis reports (alarm changes with their audit records,
/// linkage records) and hands each alarm change to the order engine once it
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
        };
        match (r, out) {
            (Ok(()), AnalysisOut::Alarm(feed)) => {
                let _ = orders.send(*feed).await;
            }
            (Ok(()), AnalysisOut::Linkage(_) | AnalysisOut::Aggregate(_)) => {}
            (Err(e), _) => tracing::error!(error = %e, "alarm record not stored"),
        }
    }
}

/// Starts the order engine and, when configured, the uplink.
fn start_governance(
    cfg: &Config,
    clock: &SharedClock,
    publisher: &Publisher,
    tasks: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) -> Result<mpsc::Sender<protocol::feed::AlarmFeed>, StartError> {
    let db = &cfg.store.path;
    let conn = crate::sqlite::open(db).map_err(|e| StartError::Governance(e.to_string()))?;
    let outbox = Outbox::open(&conn, cfg.outbox.max_mib << 20)
        .map_err(|e| StartError::Governance(e.to_string()))?;
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
        db,
        clock.clone(),
        outbox.clone(),
        Arc::new(Fanout(sinks)),
    )
    .map_err(|e| StartError::Governance(e.to_string()))?;
    let (alarms_tx, alarms_rx) = mpsc::channel(1024);
    let (status_tx, status_rx) = mpsc::channel(1024);
    if let Some(u) = &cfg.uplink {
        let uplink = Uplink::new(u, &cfg.gateway.id, db, outbox)
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

/// Re-reads the registry every few seconds, so devices added with the CLI
/// while the gateway runs can connect.
async fn reload_registry(
    path: std::path::PathBuf,
    cell: Arc<RegistryCell>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let p = path.clone();
        let loaded =
            tokio::task::spawn_blocking(move || Store::open(&p).and_then(|s| Registry::load(&s)))
                .await;
        match loaded {
            Ok(Ok(r)) => cell.replace(r),
            Ok(Err(e)) => tracing::warn!(error = %e, "registry reload failed; keeping the old one"),
            Err(e) => tracing::warn!(error = %e, "registry reload task failed"),
        }
    }
}
