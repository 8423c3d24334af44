//! What the handlers share ([`ApiState`]): the analysis task's control
//! channel and the first API's parts, and the console's ([`Console`]): the
//! store, registry and clock, the sessions and rate limits, the live event
//! channel, the order engine's inputs, device registration and the
//! metrics' sources.

use std::sync::Arc;

use protocol::StatusUpdate;
use tokio::sync::{broadcast, mpsc};

use super::ApiSection;
use super::operators::Operators;
use crate::analysis::Control;
use crate::auth::{Limiter, Sessions};
use crate::clock::SharedClock;
use crate::ingest::Rejects;
use crate::metrics::Sources;
use crate::registry::RegistryCell;
use crate::store::StoreHandle;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Requests to the analysis task.
    pub control: mpsc::Sender<Control>,
    /// Rejection counters.
    pub rejects: Arc<Rejects>,
    /// Whether the pipeline is moving.
    pub health: crate::health::Health,
    /// Maintenance windows and the audit of operators' actions.
    pub operators: Operators,
    /// Users, sessions, live events, the store's views, metrics.
    pub console: Arc<Console>,
}

impl axum::extract::FromRef<ApiState> for Operators {
    fn from_ref(s: &ApiState) -> Self {
        s.operators.clone()
    }
}

/// One change for the console.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveEvent {
    /// `alarm`, `order`, `device`, `kpi` or `notice`.
    pub kind: &'static str,
    /// The alarm, order, device or cell id.
    pub id: String,
    /// The feed's payload as published.
    pub data: serde_json::Value,
}

/// Where registration writes: the database file and the profiles in force.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The store's file.
    pub db: std::path::PathBuf,
    /// The profiles devices are checked against.
    pub profiles: Arc<crate::registry::Profiles>,
}

/// Events kept for slow live clients before they miss some (they reload).
const LIVE_BACKLOG: usize = 1024;

/// The console's shared state.
#[derive(Debug)]
pub struct Console {
    /// The store (reads on its reader thread, writes through the writer).
    pub store: StoreHandle,
    /// Devices and the site tree.
    pub registry: Arc<RegistryCell>,
    /// The gateway's clock.
    pub clock: SharedClock,
    /// The gateway's site (the residents' form is per site).
    pub site: protocol::Name,
    /// The gateway's id (names the alarms of residents' reports).
    pub gateway: protocol::Name,
    /// Completion notices of closed orders by alarm id, for the residents'
    /// status page (filled from the notice feed).
    pub notices: Arc<Notices>,
    /// Console logins.
    pub sessions: Sessions,
    /// Login attempts per user name and per address.
    pub logins: Limiter,
    /// Residents' reports per site form and per address.
    pub reports: Limiter,
    /// Mark the session cookie `Secure`.
    pub secure_cookie: bool,
    /// Alarm, order and device changes for server-sent events.
    pub live: broadcast::Sender<LiveEvent>,
    /// Local order moves into the order engine's state machine (the same
    /// input the district platform's status updates take); `None` when the
    /// engine is not running.
    pub orders: Option<mpsc::Sender<StatusUpdate>>,
    /// Alarms to the order engine: a resident's report opens an order
    /// through the same triage, SLA and cards as an alarm.
    pub order_alarms: Option<mpsc::Sender<protocol::feed::AlarmFeed>>,
    /// What `/metrics` reads.
    pub metrics: Sources,
    /// Where installers' device registrations are written; `None`: refused.
    pub registration: Option<Registration>,
}

impl Console {
    /// The console's state for `[api]` over these parts.
    pub fn new(
        cfg: &ApiSection,
        store: &StoreHandle,
        registry: &Arc<RegistryCell>,
        clock: &SharedClock,
        ids: (&protocol::Name, &protocol::Name),
        metrics: Sources,
    ) -> Self {
        let (gateway, site) = ids;
        Self {
            store: store.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            site: site.clone(),
            gateway: gateway.clone(),
            notices: Arc::default(),
            sessions: Sessions::new(cfg.session_h.saturating_mul(3_600_000)),
            logins: Limiter::new(cfg.logins_per_min, 60_000),
            reports: Limiter::new(cfg.reports_per_h, 3_600_000),
            secure_cookie: cfg.secure_cookie || cfg.tls.is_some(),
            live: broadcast::channel(LIVE_BACKLOG).0,
            orders: None,
            order_alarms: None,
            metrics,
            registration: None,
        }
    }

    /// With device registration into the store file `db`, checked against `profiles`.
    #[must_use]
    pub fn with_registration(
        mut self,
        db: std::path::PathBuf,
        profiles: Arc<crate::registry::Profiles>,
    ) -> Self {
        self.registration = Some(Registration { db, profiles });
        self
    }

    /// With the order engine's inputs.
    #[must_use]
    pub fn with_orders(
        mut self,
        status: mpsc::Sender<StatusUpdate>,
        alarms: mpsc::Sender<protocol::feed::AlarmFeed>,
    ) -> Self {
        self.orders = Some(status);
        self.order_alarms = Some(alarms);
        self
    }
}

/// Most completion notices kept for residents' status pages.
const NOTICES_MAX: usize = 10_000;

/// Completion notices by alarm id.
#[derive(Debug, Default)]
pub struct Notices(std::sync::Mutex<std::collections::HashMap<String, serde_json::Value>>);

impl Notices {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, serde_json::Value>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a notice (the feed's payload) under its alarm id.
    pub fn keep(&self, notice: &serde_json::Value) {
        let Some(alarm) = notice["alarm_id"].as_str() else {
            return;
        };
        let mut map = self.lock();
        if map.len() >= NOTICES_MAX {
            map.clear();
        }
        map.insert(alarm.to_string(), notice.clone());
    }

    /// The notice of the order behind `alarm`, once it closed.
    pub fn get(&self, alarm: &str) -> Option<serde_json::Value> {
        self.lock().get(alarm).cloned()
    }
}
