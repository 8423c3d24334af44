//! Opens the store and restores what the stages resume from: the registry,
//! each device's last event seq, presence, the open alarms and the
//! maintenance windows in force; then hands
//! the database to the store's threads.

use std::sync::Arc;
use std::thread::JoinHandle;

use protocol::feed::{AlarmFeed, AlarmState};

use super::StartError;
use crate::alarms::Window;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::ingest::Dedupe;
use crate::message::{Body, Ingested};
use crate::presence::Presence;
use crate::registry::{Registry, RegistryCell};
use crate::store::{self, Store, StoreConfig, StoreHandle};
use protocol::NodeEvent;

/// The store, running, and what was restored from it.
pub(super) struct Restored {
    pub(super) store: StoreHandle,
    pub(super) writer: JoinHandle<()>,
    pub(super) registry: Arc<RegistryCell>,
    pub(super) dedupe: Dedupe,
    pub(super) presence: Presence,
    /// The open alarms and the last alarm number given.
    pub(super) open_alarms: (Vec<AlarmFeed>, u64),
    /// The alarm changes handed to the order engine first.
    pub(super) resume: Vec<AlarmFeed>,
    /// Maintenance windows in force (those that ended while the gateway
    /// was down are recorded as expired).
    pub(super) maintenance: Vec<Window>,
    /// Events committed (and acknowledged) but not evaluated before the
    /// gateway stopped: replayed through analysis before live traffic.
    pub(super) replay: Vec<Ingested>,
}

/// Each unevaluated event as analysis reads it: the event, then its commit.
fn replay(db: &Store, registry: &Registry) -> Result<Vec<Ingested>, StartError> {
    let mut out = Vec::new();
    for row in db.unevaluated_events()? {
        let Some(device) = registry.device(&row.device).cloned() else {
            tracing::warn!(device = %row.device, event = row.id, "unevaluated event of an unknown device: not replayed");
            continue;
        };
        let ev: NodeEvent = match protocol::codec::decode(&row.payload) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(device = %row.device, event = row.id, error = %e, "unevaluated event does not decode: not replayed");
                continue;
            }
        };
        let seq = ev.seq;
        let at_ms = row.received_ms;
        out.push(Ingested {
            device: device.clone(),
            at_ms,
            body: Body::Event(ev),
        });
        out.push(Ingested {
            device,
            at_ms,
            body: Body::Committed {
                seq,
                id: Some(row.id),
            },
        });
    }
    if !out.is_empty() {
        tracing::warn!(
            events = out.len() / 2,
            "replaying events committed but not evaluated before the stop"
        );
    }
    Ok(out)
}

/// Opens the database (creating the admin credential at first start) and
/// starts the store's threads.
pub(super) fn open(cfg: &Config, clock: &SharedClock) -> Result<Restored, StartError> {
    let mut db = Store::open(&cfg.store.path)?;
    // At first start: the password goes to a 0600 file, never to the log.
    match crate::registry::ensure_admin_file(&db, &cfg.store.path) {
        Ok(Some(file)) => tracing::info!(
            file = %file.display(),
            "admin credential created: user `admin`, password in this file (mode 0600); read it, then delete it"
        ),
        Ok(None) => {}
        Err(e) => tracing::error!(problem = %e, "admin credential"),
    }
    let loaded = Registry::load(&db)?;
    let replay = replay(&db, &loaded)?;
    let registry = Arc::new(RegistryCell::new(loaded));
    let dedupe = Dedupe::from_stored(db.max_event_seqs()?);
    let open_alarms = (db.open_alarms()?, db.last_alarm_number()?);
    let resume = resume_orders(db.unhanded_alarms()?);
    let mut presence = Presence::from_rows(db.presence_list()?);
    // An unstable link open at the stop clears only once the link holds again.
    presence.resume_unstable(
        open_alarms
            .0
            .iter()
            .filter(|a| a.kind == protocol::AlarmKind::UnstableLink && !a.state.is_final())
            .flat_map(|a| a.devices.first().cloned()),
        clock.now_ms(),
    );
    let maintenance = db.maintenance_at_start(clock.now_ms())?;
    let (store, writer) = store::spawn_writer(
        db,
        StoreConfig {
            telemetry_retention_days: cfg.store.telemetry_retention_days,
            max_telemetry_rows: cfg.store.max_telemetry_rows,
            outbox_max_bytes: cfg.outbox_max_bytes(),
            ..StoreConfig::default()
        },
        clock.clone(),
    )?;
    Ok(Restored {
        store,
        writer,
        registry,
        dedupe,
        presence,
        open_alarms,
        resume,
        maintenance,
        replay,
    })
}

/// What the order engine is handed at start-up, in store order: every
/// alarm whose last change it had not acted on when the gateway stopped
/// (the order engine keeps its open orders itself). An alarm that ended
/// after its confirmation is handed as confirmed first, then ended, so one
/// raised and cleared within moments of a crash still gets the order
/// (and its later changes) it would have had without the crash; the
/// engine ignores what already has its order or wants none.
fn resume_orders(unhanded: Vec<AlarmFeed>) -> Vec<AlarmFeed> {
    let mut out = Vec::with_capacity(unhanded.len());
    for feed in unhanded {
        if feed.state.is_final() && feed.confirmed_at.is_some() {
            out.push(AlarmFeed {
                state: AlarmState::Active,
                condition: true,
                ended_at: None,
                snapshot: None,
                ..feed.clone()
            });
        }
        out.push(feed);
    }
    out
}
