//! The order engine: one task owns every open order. Alarms come in (an
//! `mpsc` of [`AlarmFeed`] changes), status updates come in from the uplink,
//! a timer checks deadlines. Each change is one request to the store, which
//! commits the order, its outbox row, its audit record and the cell's KPIs
//! in one transaction; then the engine tells [`Feedback`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::feed::AlarmFeed;
use protocol::{LocalMove, Name, OrderId, OrderState, OrderUp, StatusUpdate, Tier};

use super::config::OrdersConfig;
pub use super::error::OrdersError;
use super::feedback::Feedback;
use super::record::{Card, Moved, OrderRecord, clip, summary};
use super::triage::Policy;
use crate::clock::SharedClock;
use crate::store::{OrderCommit, OrderRow, OutMsg, StoreHandle, Write};

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
    store: StoreHandle,
    clock: SharedClock,
    feedback: Arc<dyn Feedback>,
    /// The last order number taken.
    number: u64,
    /// The store failed the last input (logged once until it recovers).
    stalled: bool,
    /// Open orders by id.
    open: HashMap<OrderId, OrderRecord>,
    /// Open orders by alarm id.
    by_alarm: HashMap<String, OrderId>,
    /// Alarm changes acted on and not yet marked in the store.
    handed: Vec<(String, String)>,
    stats: Arc<EngineStats>,
    /// Its heartbeat (a ticking stage: it supervises every `supervise_every`).
    progress: Arc<crate::health::Progress>,
}

/// What the engine is given to act on, in arrival order.
#[derive(Debug)]
enum Input {
    Alarm(Box<AlarmFeed>),
    /// From the platform.
    Status(StatusUpdate),
    /// A move made at the gateway's console.
    Local(StatusUpdate),
}

/// At most this many waiting inputs join one round.
const DRAIN: usize = 1024;

impl Input {
    /// The order a round takes its inputs in: life-safety alarms, other
    /// alarms, then status updates. It depends on the alarm's kind alone,
    /// which never changes, so one alarm's changes keep their order (the
    /// sort is stable).
    fn rank(&self) -> u8 {
        match self {
            Input::Alarm(a) if a.kind.is_life_safety() => 0,
            Input::Alarm(_) => 1,
            Input::Status(_) | Input::Local(_) => 2,
        }
    }
}

/// A stored record, decoded.
fn decode(id: String, body: &str) -> Result<OrderRecord, OrdersError> {
    serde_json::from_str(body).map_err(|source| OrdersError::Decode { id, source })
}

/// The store's row of `rec`.
fn row(rec: &OrderRecord) -> OrderRow {
    OrderRow {
        order_id: rec.up.order_id.to_string(),
        alarm_id: rec.up.alarm_id.to_string(),
        cell: rec.up.grid.cell.clone(),
        state: rec.state,
        opened_at: rec.opened_at,
        acked_at: rec.acked_at,
        ended_at: rec.ended_at,
        yellow: rec.yellow_cards,
        red: rec.red_cards,
        // Serializing our own types cannot fail (no non-string map keys).
        body: serde_json::to_string(rec).unwrap_or_default(),
    }
}

impl OrderEngine {
    /// Loads the open orders and the last order number from the store, so
    /// supervision resumes after a restart.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub async fn new(
        cfg: &OrdersConfig,
        gateway: Name,
        site: Name,
        store: StoreHandle,
        clock: SharedClock,
        feedback: Arc<dyn Feedback>,
    ) -> Result<Self, OrdersError> {
        let policy = Policy::new(cfg).map_err(OrdersError::Config)?;
        let (stored, number) = store
            .read(|s| Ok((s.open_orders()?, s.last_order_number()?)))
            .await?;
        let open: HashMap<_, _> = stored
            .into_iter()
            .map(|(id, body)| decode(id, &body))
            .collect::<Result<Vec<_>, _>>()?
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
            store,
            clock,
            feedback,
            number,
            stalled: false,
            open,
            by_alarm,
            handed: Vec::new(),
            stats: Arc::default(),
            progress: Arc::new(crate::health::Progress::ticking(Duration::from_millis(
                cfg.supervise_every_ms,
            ))),
        })
    }

    /// Its heartbeat, for `/healthz`.
    pub fn progress(&self) -> Arc<crate::health::Progress> {
        self.progress.clone()
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

    /// Any order, open or not, from the store.
    ///
    /// # Errors
    /// [`OrdersError::Store`].
    pub async fn load(&self, id: &str) -> Result<Option<OrderRecord>, OrdersError> {
        let owned = id.to_string();
        let body = self.store.read(move |s| s.order(&owned)).await?;
        body.map(|b| decode(id.to_string(), &b)).transpose()
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
        mut local: mpsc::Receiver<StatusUpdate>,
        shutdown: CancellationToken,
    ) -> Result<(), OrdersError> {
        let mut tick = tokio::time::interval(self.supervise_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backlog = VecDeque::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                s = status.recv(), if !status.is_closed() => if let Some(s) = s { backlog.push_back(Input::Status(s)) },
                s = local.recv(), if !local.is_closed() => if let Some(s) = s { backlog.push_back(Input::Local(s)) },
                a = alarms.recv() => match a {
                    Some(a) => backlog.push_back(Input::Alarm(Box::new(a))),
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    if backlog.is_empty() && let Err(e) = self.supervise().await {
                        tracing::error!(error = %e, "order supervision not stored; retried at the next tick");
                    }
                }
            }
            // Whatever else is already waiting joins this round, and the
            // round goes life safety first (a queue builds at start-up and
            // after the store refused writes, e.g. a full disk).
            for _ in 0..DRAIN {
                if let Ok(s) = status.try_recv() {
                    backlog.push_back(Input::Status(s));
                } else if let Ok(s) = local.try_recv() {
                    backlog.push_back(Input::Local(s));
                } else if let Ok(a) = alarms.try_recv() {
                    backlog.push_back(Input::Alarm(Box::new(a)));
                } else {
                    break;
                }
            }
            if backlog.len() > 1 {
                backlog.make_contiguous().sort_by_key(Input::rank);
            }
            self.progress.begin();
            self.work_off(&mut backlog).await;
            self.progress
                .beat(backlog.len() + alarms.len() + status.len() + local.len());
        }
    }

    /// Handles queued inputs in order. A store failure (a full disk, say)
    /// keeps the input and everything after it for the next round, so a
    /// change is never lost nor applied out of order; an input that can
    /// never succeed (a record that does not decode) is dropped and logged.
    async fn work_off(&mut self, backlog: &mut VecDeque<Input>) {
        self.work_inputs(backlog).await;
        self.mark_handed().await;
    }

    /// Tells the store which alarm changes the engine has acted on, so a
    /// restart hands it only the others. A failed write keeps the marks for
    /// the next round (an alarm handed twice is a no-op).
    async fn mark_handed(&mut self) {
        if self.handed.is_empty() {
            return;
        }
        let seen = std::mem::take(&mut self.handed);
        if let Err(e) = self.store.write(Write::Handed(seen.clone())).await {
            tracing::debug!(error = %e, "alarms handed not marked; retried");
            self.handed = seen;
        }
    }

    async fn work_inputs(&mut self, backlog: &mut VecDeque<Input>) {
        while let Some(input) = backlog.front() {
            let r = match input {
                Input::Alarm(a) => self.on_alarm(a).await,
                Input::Status(s) => self.on_status(s).await,
                Input::Local(s) => self.on_local(s).await,
            };
            match r {
                Ok(()) => {}
                Err(OrdersError::Store(e)) => {
                    if !self.stalled {
                        tracing::error!(error = %e, queued = backlog.len(), "order change not stored; kept and retried");
                    }
                    self.stalled = true;
                    return;
                }
                Err(e) => tracing::error!(error = %e, "order input dropped"),
            }
            if std::mem::take(&mut self.stalled) {
                tracing::info!("order changes stored again");
            }
            if let Some(Input::Alarm(a)) = backlog.pop_front() {
                // The same serialization the store keeps (store::alarms).
                let json = serde_json::to_string(&a).unwrap_or_default();
                self.handed.push((a.id.to_string(), json));
            }
        }
    }

    /// Opens an order for a new confirmed alarm, or follows a known alarm's change.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub async fn on_alarm(&mut self, a: &AlarmFeed) -> Result<(), OrdersError> {
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
                self.commit(rec, event, true, None).await?;
            }
            return Ok(());
        }
        if !self.policy.wants_order(a) {
            return Ok(());
        }
        let alarm = a.id.to_string();
        if self
            .store
            .read(move |s| s.order_for_alarm(&alarm))
            .await?
            .is_some()
        {
            return Ok(());
        }
        self.create(a, now).await
    }

    async fn create(&mut self, a: &AlarmFeed, now: u64) -> Result<(), OrdersError> {
        let t = self.policy.triage(a);
        let n = self.number + 1;
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
            local: None,
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
        tracing::info!(order = %rec.up.order_id, alarm = %a.id, kind = %a.kind, "order opened");
        self.commit(rec, "order.created", true, Some(n)).await?;
        self.number = n;
        self.stats.created.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Moves an order on a status update from the platform; stale or
    /// backward updates are ignored and counted.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub async fn on_status(&mut self, su: &StatusUpdate) -> Result<(), OrdersError> {
        tracing::debug!(order = %su.order_id, state = %su.state, "status from the platform");
        self.on_move(su, false).await
    }

    /// Applies a move made at the gateway's console (the platform out of
    /// reach) through the same state machine, and tells the platform by a
    /// new revision carrying it (`local`), queued in the outbox like any
    /// other: the platform learns what was done on site when it is back.
    ///
    /// # Errors
    /// [`OrdersError`].
    pub async fn on_local(&mut self, su: &StatusUpdate) -> Result<(), OrdersError> {
        tracing::info!(order = %su.order_id, state = %su.state, by = ?su.by, "local move");
        self.on_move(su, true).await
    }

    async fn on_move(&mut self, su: &StatusUpdate, local: bool) -> Result<(), OrdersError> {
        let Some(mut rec) = self.open.get(&su.order_id).cloned() else {
            let id = su.order_id.to_string();
            let known = self.store.read(move |s| s.order(&id)).await?.is_some();
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
                if local {
                    rec.up.revision += 1;
                    rec.up.local = Some(LocalMove {
                        state: su.state,
                        at: su.at,
                        by: su.by.clone(),
                        note: su.note.clone(),
                    });
                }
                self.commit(rec, &format!("order.{to}"), local, None)
                    .await?;
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
    pub async fn supervise(&mut self) -> Result<(), OrdersError> {
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
            self.commit(rec, event, escalated, None).await?;
        }
        Ok(())
    }

    /// Commits `rec` (+ its outbox row if `publish`, + the order number
    /// taken for a new order) and its audit record in one transaction, then
    /// updates memory, KPIs and feedback.
    async fn commit(
        &mut self,
        rec: OrderRecord,
        event: &str,
        publish: bool,
        number: Option<u64>,
    ) -> Result<(), OrdersError> {
        let now = self.clock.now_ms();
        let feed = rec.feed();
        let outbox = publish.then(|| {
            let class = Policy::class(rec.up.kind, rec.up.severity, rec.up.urgency);
            OutMsg::order(&rec.up, class)
        });
        let done = self
            .store
            .commit_order(OrderCommit {
                at: now,
                row: row(&rec),
                number,
                outbox,
                audit_kind: event.to_string(),
                audit_body: serde_json::to_value(&feed).unwrap_or_default(),
                kpi: super::kpi::compute,
            })
            .await?;
        if publish {
            self.stats.revisions.fetch_add(1, Ordering::Relaxed);
        }
        self.feedback.order(&feed);
        self.feedback.kpi(&done.kpi);
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
