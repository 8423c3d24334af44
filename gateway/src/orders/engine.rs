//! The order engine: one task owns every open order. Alarms come in (an
//! `mpsc` of [`AlarmFeed`] changes), status updates come in from the uplink,
//! a timer checks deadlines. Each change commits the order, its outbox row
//! and its audit record in one SQLite transaction, then tells [`Feedback`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::feed::AlarmFeed;
use protocol::{Name, OrderId, OrderState, OrderUp, StatusUpdate, Tier};

use super::config::OrdersConfig;
pub use super::error::OrdersError;
use super::feedback::Feedback;
use super::record::{Card, Moved, OrderRecord, clip, summary};
use super::store;
use super::triage::Policy;
use crate::clock::SharedClock;
use crate::uplink::{OutMsg, Outbox};

/// Counters of the engine.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Orders opened.
    pub created: AtomicU64,
    /// Revisions queued upstream (first ones included).
    pub revisions: AtomicU64,
    /// Status updates that would move an order backwards or out of a final state.
    pub stale_status: AtomicU64,
    /// Status updates for orders this gateway does not know.
    pub unknown_status: AtomicU64,
    /// Yellow cards given.
    pub yellow_cards: AtomicU64,
    /// Red cards given.
    pub red_cards: AtomicU64,
}

/// The engine: build with [`OrderEngine::new`], then [`OrderEngine::run`],
/// or drive it by hand with `on_alarm`, `on_status` and `supervise`.
#[derive(Debug)]
pub struct OrderEngine {
    gateway: Name,
    site: Name,
    policy: Policy,
    supervise_every: Duration,
    conn: Connection,
    clock: SharedClock,
    outbox: Outbox,
    feedback: Arc<dyn Feedback>,
    /// Open orders by id.
    open: HashMap<OrderId, OrderRecord>,
    /// Open orders by alarm id.
    by_alarm: HashMap<String, OrderId>,
    stats: Arc<EngineStats>,
}

impl OrderEngine {
    /// Opens the order tables in the SQLite file `db` (its own connection)
    /// and loads the open orders, so supervision resumes after a restart.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub fn new(
        cfg: &OrdersConfig,
        gateway: Name,
        site: Name,
        db: &Path,
        clock: SharedClock,
        outbox: Outbox,
        feedback: Arc<dyn Feedback>,
    ) -> Result<Self, OrdersError> {
        let policy = Policy::new(cfg).map_err(OrdersError::Config)?;
        let conn = crate::sqlite::open(db)?;
        store::create(&conn)?;
        crate::audit::chain::create(&conn)?;
        let open: HashMap<_, _> = store::load_open(&conn)?
            .into_iter()
            .map(|r| (r.up.order_id.clone(), r))
            .collect();
        let by_alarm = open
            .values()
            .map(|r| (r.up.alarm_id.to_string(), r.up.order_id.clone()))
            .collect();
        Ok(Self {
            gateway,
            site,
            policy,
            supervise_every: Duration::from_millis(cfg.supervise_every_ms),
            conn,
            clock,
            outbox,
            feedback,
            open,
            by_alarm,
            stats: Arc::default(),
        })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<EngineStats> {
        self.stats.clone()
    }

    /// An open order.
    pub fn open_order(&self, id: &str) -> Option<&OrderRecord> {
        self.open
            .iter()
            .find(|(k, _)| k.as_str() == id)
            .map(|(_, r)| r)
    }

    /// Any order, open or not, from the table.
    ///
    /// # Errors
    /// [`OrdersError::Store`].
    pub fn load(&self, id: &str) -> Result<Option<OrderRecord>, OrdersError> {
        Ok(store::load(&self.conn, id)?)
    }

    /// Runs until `shutdown` or until the alarm stream ends.
    ///
    /// # Errors
    /// [`OrdersError::Store`] when the tables cannot be written: the engine
    /// stops rather than act on state it could not keep.
    pub async fn run(
        mut self,
        mut alarms: mpsc::Receiver<AlarmFeed>,
        mut status: mpsc::Receiver<StatusUpdate>,
        shutdown: CancellationToken,
    ) -> Result<(), OrdersError> {
        let mut tick = tokio::time::interval(self.supervise_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                s = status.recv(), if !status.is_closed() => if let Some(s) = s { self.on_status(&s)? },
                a = alarms.recv() => match a {
                    Some(a) => self.on_alarm(&a)?,
                    None => return Ok(()),
                },
                _ = tick.tick() => self.supervise()?,
            }
        }
    }

    /// Opens an order for a new confirmed alarm, or follows a known alarm's change.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub fn on_alarm(&mut self, a: &AlarmFeed) -> Result<(), OrdersError> {
        let now = self.clock.now_ms();
        if let Some(id) = self.by_alarm.get(a.id.as_str()).cloned() {
            let Some(mut rec) = self.open.get(&id).cloned() else {
                return Ok(());
            };
            if rec.follow(a, now) {
                rec.up.revision += 1;
                let event = if rec.is_final() {
                    "order.cancelled"
                } else {
                    "order.updated"
                };
                self.commit(rec, event, true)?;
            }
            return Ok(());
        }
        if !self.policy.wants_order(a)
            || store::order_for_alarm(&self.conn, a.id.as_str())?.is_some()
        {
            return Ok(());
        }
        self.create(a, now)
    }

    fn create(&mut self, a: &AlarmFeed, now: u64) -> Result<(), OrdersError> {
        let t = self.policy.triage(a);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = store::next_seq(&tx)?;
        tx.commit()?;
        let raw = format!("{}-{n}", self.gateway);
        let order_id = OrderId::new(&raw).map_err(|_| OrdersError::Id(raw))?;
        let Some(device) = a.devices.first().cloned() else {
            return Ok(());
        };
        let up = OrderUp {
            order_id,
            revision: 1,
            gateway: self.gateway.clone(),
            site: self.site.clone(),
            grid: a.grid.clone(),
            tier: Tier::Grid,
            alarm_id: a.id.clone(),
            kind: a.kind,
            severity: t.severity,
            urgency: t.urgency,
            device,
            location: clip(a.location.clone()),
            summary: summary(a),
            raised_at: a.raised_at.min(now),
            ack_by: now + t.ack_ms,
            close_by: now + t.close_ms.max(t.ack_ms),
            state: OrderState::New,
        };
        let rec = OrderRecord {
            up,
            state: OrderState::New,
            opened_at: now,
            acked_at: None,
            ended_at: None,
            yellow_cards: 0,
            red_cards: 0,
            stage: 0,
            devices: a.devices.clone(),
        };
        self.stats.created.fetch_add(1, Ordering::Relaxed);
        tracing::info!(order = %rec.up.order_id, alarm = %a.id, kind = %a.kind, "order opened");
        self.commit(rec, "order.created", true)
    }

    /// Moves an order on a status update from the platform; stale or
    /// backward updates are ignored and counted.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub fn on_status(&mut self, su: &StatusUpdate) -> Result<(), OrdersError> {
        tracing::debug!(order = %su.order_id, state = %su.state, "status from the platform");
        let Some(mut rec) = self.open.get(&su.order_id).cloned() else {
            let known = store::load(&self.conn, su.order_id.as_str())?.is_some();
            let counter = if known {
                &self.stats.stale_status
            } else {
                &self.stats.unknown_status
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        match rec.apply(su, self.clock.now_ms()) {
            Moved::Receipt => Ok(()),
            Moved::Stale => {
                self.stats.stale_status.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(order = %su.order_id, state = %su.state, "stale status ignored");
                Ok(())
            }
            Moved::To(_, to) => {
                let done = (to == OrderState::Closed).then(|| rec.notice(su));
                self.commit(rec, &format!("order.{to}"), false)?;
                if let Some(n) = done {
                    self.feedback.notice(&n);
                }
                Ok(())
            }
        }
    }

    /// Gives the cards due now and escalates (a new revision upstream).
    ///
    /// # Errors
    /// [`OrdersError`].
    pub fn supervise(&mut self) -> Result<(), OrdersError> {
        let now = self.clock.now_ms();
        let esc = self.policy.escalation;
        let mut changed = Vec::new();
        for rec in self.open.values() {
            let mut r = rec.clone();
            let cards = r.supervise(now, &esc);
            if !cards.is_empty() {
                changed.push((r, cards));
            }
        }
        for (mut rec, cards) in changed {
            let escalated = cards.iter().any(|c| matches!(c, Card::Red(Some(_))));
            for c in &cards {
                let counter = match c {
                    Card::Yellow => &self.stats.yellow_cards,
                    Card::Red(_) => &self.stats.red_cards,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(order = %rec.up.order_id, card = ?c, tier = %rec.up.tier, "order overdue");
            }
            if escalated {
                rec.up.revision += 1;
            }
            let event = if escalated {
                "order.escalated"
            } else {
                "order.card"
            };
            self.commit(rec, event, escalated)?;
        }
        Ok(())
    }

    /// Commits `rec` (+ its outbox row if `publish`) and its audit record in
    /// one transaction, then updates memory, KPIs and feedback.
    fn commit(&mut self, rec: OrderRecord, event: &str, publish: bool) -> Result<(), OrdersError> {
        let now = self.clock.now_ms();
        let feed = rec.feed();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        store::save(&tx, &rec)?;
        if publish {
            let class = Policy::class(rec.up.kind, rec.up.severity, rec.up.urgency);
            self.outbox
                .enqueue(&tx, now, &OutMsg::order(&rec.up, class))?;
        }
        let body = serde_json::to_value(&feed).unwrap_or_default();
        crate::audit::chain::append_in(&tx, now, event, rec.up.order_id.as_str(), &body)?;
        let kpi = super::kpi::compute(
            &rec.up.grid.cell,
            &store::kpi_rows(&tx, &rec.up.grid.cell)?,
            now,
        );
        store::save_kpi(&tx, &kpi)?;
        tx.commit()?;
        if publish {
            self.stats.revisions.fetch_add(1, Ordering::Relaxed);
            self.outbox.wake();
        }
        self.feedback.order(&feed);
        self.feedback.kpi(&kpi);
        let id = rec.up.order_id.clone();
        if rec.is_final() {
            self.open.remove(&id);
            self.by_alarm.remove(rec.up.alarm_id.as_str());
        } else {
            self.by_alarm
                .insert(rec.up.alarm_id.to_string(), id.clone());
            self.open.insert(id, rec);
        }
        Ok(())
    }
}
