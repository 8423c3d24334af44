//! What the console's handlers share beyond the first API's state: the
//! store, registry and clock, the sessions and rate limits, the live
//! event channel, the order engine's local status input and the metrics'
//! sources.

use std::sync::Arc;

use protocol::StatusUpdate;
use tokio::sync::{broadcast, mpsc};

use super::ApiSection;
use super::live::LiveEvent;
use crate::auth::{Limiter, Sessions};
use crate::clock::SharedClock;
use crate::metrics::Sources;
use crate::registry::RegistryCell;
use crate::store::StoreHandle;

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
}

impl Console {
    /// The console's state for `[api]` over these parts.
    pub fn new(
        cfg: &ApiSection,
        store: &StoreHandle,
        registry: &Arc<RegistryCell>,
        clock: &SharedClock,
        site: &protocol::Name,
        metrics: Sources,
    ) -> Self {
        Self {
            store: store.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            site: site.clone(),
            sessions: Sessions::new(cfg.session_h.saturating_mul(3_600_000)),
            logins: Limiter::new(cfg.logins_per_min, 60_000),
            reports: Limiter::new(cfg.reports_per_h, 3_600_000),
            secure_cookie: cfg.secure_cookie,
            live: broadcast::channel(LIVE_BACKLOG).0,
            orders: None,
            order_alarms: None,
            metrics,
        }
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
