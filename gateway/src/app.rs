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

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analysis::Control;
use crate::api::{ApiState, Server};
use crate::bus::{self, Bus, Publisher};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::config::validate::{self, FieldProblem};
use crate::homeassistant::Discovery;
use crate::ingest::{self, Ingest, Lanes, Rejects};
use crate::registry::{Profiles, RegistryCell};
use crate::store::{self, StoreHandle};
use crate::tasks::Tasks;
use modbus::ModbusSource;

mod access;
mod analysis;
mod console;
mod firecentre;
mod governance;
mod onvif;
mod restore;
mod running;
mod sources;
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
    Modbus(#[from] modbus::ConfigError),
    /// A thread could not be started.
    #[error("thread: {0}")]
    Io(#[from] std::io::Error),
    /// A stage stopped (or a task panicked) while the gateway ran.
    #[error("{0}; the gateway stopped")]
    Stopped(String),
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
    /// Whether the pipeline is moving (`/healthz`, the watchdog).
    pub health: crate::health::Health,
    /// The access stage's counters.
    pub access: Arc<crate::access::AccessStats>,
    tasks: Tasks,
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
    tasks: Tasks,
    /// The stages' heartbeats.
    beats: crate::health::Beats,
    /// Network connections the broker holds now.
    broker_connections: Arc<std::sync::atomic::AtomicI64>,
    /// Messages the broker's subscribers lost to falling behind.
    broker_skipped: Arc<std::sync::atomic::AtomicU64>,
    /// When each device was last heard from: ingest and the access stage
    /// write it, presence reads it.
    last_seen: Arc<crate::presence::LastSeen>,
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
    let mut restored = restore::open(cfg, &clock)?;
    let registry = restored.registry.clone();
    let rejects = Arc::new(Rejects::default());
    let (sink, refusals) = ingest::denied_sink(&rejects, &clock);
    let ha = &cfg.homeassistant;
    let scope = ha
        .enabled
        .then(|| bus::IntegratorScope::with_discovery(ha.prefix.as_str()));
    let bus = Bus::new_scoped(&cfg.mqtt, registry.clone(), sink, scope.unwrap_or_default());
    let lanes = Lanes::subscribe(&bus)?;
    let discovery = Discovery::subscribe(&bus, ha, &cfg.gateway.site, &cfg.gateway.id)?;
    let live = bus.subscribe("gridsense-console", &[protocol::topic::filter::INTEGRATOR])?;
    let access = crate::access::subscribe(&bus)?;
    let modbus_stats = modbus.as_ref().map(ModbusSource::stats);
    let publisher = Publisher::spawn_with(bus.link("gridsense-publisher")?, cfg.mqtt.feed_queue)?;
    let broker_connections = bus.connections();
    let broker_skipped = bus.skipped_messages();
    let bound = bus.start_all()?;
    // With `plain = false` the TLS listener is the LAN's.
    let mqtt_addr = (bound.get("lan").or_else(|| bound.get("lan-tls")))
        .copied()
        .unwrap_or(cfg.mqtt.listen);
    let mqtt_tls_addr = bound.get("lan-tls").copied();
    tracing::info!(%mqtt_addr, devices = registry.get().devices().count(), profiles = profiles.len(), "MQTT broker listening");

    let shutdown = CancellationToken::new();
    // A failed start stops what it already spawned.
    let started = shutdown.clone().drop_guard();
    let mut w = Wiring {
        cfg,
        clock,
        profiles,
        registry,
        store: restored.store.clone(),
        publisher,
        rejects,
        tasks: Tasks::new(shutdown.clone()),
        shutdown,
        beats: crate::health::Beats::default(),
        broker_connections,
        broker_skipped,
        last_seen: Arc::default(),
    };
    let (shutdown, store) = (w.shutdown.clone(), w.store.clone());
    w.tasks.spawn_stage(
        "record-denied",
        refusals.run(store.clone(), shutdown.clone()),
    );
    w.tasks.spawn_stage(
        "reload-registry",
        crate::registry::reload(store.clone(), w.registry.clone(), shutdown.clone()),
    );
    let inputs = crate::homeassistant::task::Inputs {
        registry: w.registry.clone(),
        profiles: w.profiles.clone(),
        publisher: w.publisher.clone(),
    };
    w.tasks
        .spawn_stage("homeassistant", discovery.run(inputs, shutdown.clone()));
    let access = w.access(access);
    let (spine, ingest, feeds) =
        w.spine(lanes, restored.dedupe, restored.presence, restored.replay);
    let resume = std::mem::take(&mut restored.resume);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let link_states = feeds.states.clone();
    let linkage = w.linkage(modbus, feeds, &out_tx);
    let control = w.analysis(
        spine,
        linkage,
        restored.open_alarms,
        restored.maintenance,
        out_tx,
    );
    let (orders, local_status) = w.governance().await?;
    let order_alarms = orders.clone();
    w.cameras(&ingest, &link_states)?;
    let orders = w.fire_centre(orders, link_states)?;
    w.tasks.spawn_stage(
        "record",
        crate::commit::run(
            out_rx,
            store.clone(),
            w.clock.clone(),
            orders,
            resume,
            w.beats.add("record", crate::health::Progress::on_demand()),
            shutdown.clone(),
        ),
    );

    let health = crate::health::Health {
        tasks: w.tasks.clone(),
        beats: w.beats.clone(),
        store: store.clone(),
    };
    let state = ApiState {
        control: control.clone(),
        rejects: w.rejects.clone(),
        health: health.clone(),
        operators: crate::api::Operators::new(&control, &store, &w.registry, &w.clock, &cfg.alarms),
        console: w.console(
            &ingest,
            &health,
            modbus_stats,
            (local_status, order_alarms),
            live,
        ),
    };
    let mut api = Server::bind(cfg.api.listen, state).await?;
    if let Some(tls) = &cfg.api.tls {
        let config = tls
            .server_config()
            .map_err(|e| StartError::Invalid(vec![FieldProblem::new("api.tls", e.to_string())]))?;
        api = api.with_tls(config);
    }
    let api_addr = api.local_addr()?;
    w.tasks.spawn_stage("api", api.run(shutdown.clone()));
    tracing::info!(%api_addr, "operators' API listening");
    started.disarm();
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
        health,
        access,
        tasks: w.tasks,
        writer: Some(restored.writer),
    })
}
