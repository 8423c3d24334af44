//! The simulator's MQTT loop and its ticket book.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::{OrderState, OrderUp, StatusUpdate, Tier, Topic, UpstreamState};

use gateway::clock::{Clock, SystemClock};

/// How the simulated platform behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// Delay from receipt to `accepted`, ms.
    pub accept_ms: u64,
    /// Delay from `accepted` to `dispatched`, ms.
    pub dispatch_ms: u64,
    /// Delay from `dispatched` to `resolved`, ms.
    pub resolve_ms: u64,
    /// Delay from `resolved` to `closed`, ms.
    pub close_ms: u64,
    /// Every Nth order is late: accepted only after it is escalated.
    pub late_every: Option<u32>,
    /// Answer `received` only (benchmarks, outbox tests).
    pub receipt_only: bool,
    /// MQTT username and password, if the broker asks for them.
    pub credentials: Option<(String, String)>,
}

impl SimConfig {
    /// Defaults for `host:port`: 1 s per step, no late orders.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port,
            client_id: "upstream-sim".into(),
            accept_ms: 1_000,
            dispatch_ms: 1_000,
            resolve_ms: 1_000,
            close_ms: 1_000,
            late_every: None,
            receipt_only: false,
            credentials: None,
        }
    }
}

/// Why the simulator stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The MQTT client refused a request (it has shut down).
    #[error("MQTT client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// One order revision as the platform first saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The order.
    pub order_id: String,
    /// Its revision.
    pub revision: u32,
    /// The tier it was addressed to.
    pub tier: Tier,
    /// The gateway's state (`new` or `cancelled`).
    pub state: OrderState,
}

#[derive(Debug, Default)]
struct Ticket {
    highest: u32,
    cancelled: bool,
    /// Late and not yet escalated: the lifecycle waits.
    waiting: bool,
}

#[derive(Debug, Default)]
struct Book {
    seen: Vec<Seen>,
    keys: HashSet<(String, u32)>,
    tickets: HashMap<String, Ticket>,
    duplicates: u64,
}

/// What the simulator has seen; shared with tests and the demo.
#[derive(Debug, Default)]
pub struct SimLog {
    book: Mutex<Book>,
}

impl SimLog {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every distinct `(order_id, revision)`, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.book().seen.clone()
    }

    /// Distinct `(order_id, revision)` pairs received.
    pub fn revisions(&self) -> usize {
        self.book().seen.len()
    }

    /// Tickets (distinct order ids).
    pub fn tickets(&self) -> usize {
        self.book().tickets.len()
    }

    /// Redeliveries of a revision already received (answered, not re-ticketed).
    pub fn duplicates(&self) -> u64 {
        self.book().duplicates
    }

    /// Records `up`; returns whether to start its lifecycle now.
    fn record(&self, up: &OrderUp, late_every: Option<u32>) -> bool {
        let mut b = self.book();
        let id = up.order_id.to_string();
        if !b.keys.insert((id.clone(), up.revision)) {
            b.duplicates += 1;
            return false;
        }
        b.seen.push(Seen {
            order_id: id.clone(),
            revision: up.revision,
            tier: up.tier,
            state: up.state,
        });
        let n = b.tickets.len() as u64 + 1;
        let fresh = !b.tickets.contains_key(&id);
        let t = b.tickets.entry(id).or_default();
        if up.revision < t.highest {
            return false;
        }
        t.highest = up.revision;
        t.cancelled |= up.state == OrderState::Cancelled;
        if fresh {
            t.waiting = late_every.is_some_and(|k| k > 0 && n.is_multiple_of(u64::from(k)));
            return !t.waiting && !t.cancelled;
        }
        if t.waiting && up.tier != Tier::Grid && !t.cancelled {
            t.waiting = false;
            return true;
        }
        false
    }

    fn cancelled(&self, id: &str) -> bool {
        self.book().tickets.get(id).is_none_or(|t| t.cancelled)
    }
}

/// Runs the simulator until `shutdown`.
///
/// # Errors
/// [`SimError`] if the MQTT client shuts down under it.
pub async fn run(cfg: SimConfig, shutdown: CancellationToken) -> Result<(), SimError> {
    run_with_log(cfg, Arc::default(), shutdown).await
}

/// Runs the simulator until `shutdown`, recording into `log`.
///
/// # Errors
/// [`SimError`] if the MQTT client shuts down under it.
pub async fn run_with_log(
    cfg: SimConfig,
    log: Arc<SimLog>,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let mut o = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(1000);
    o.set_max_packet_size(64 * 1024, 64 * 1024);
    if let Some((u, p)) = &cfg.credentials {
        o.set_credentials(u, p);
    }
    let (client, mut ev) = AsyncClient::new(o, 4096);
    ev.set_network_options(gateway::uplink::no_delay());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = shutdown.child_token();
    let _guard = stop.clone().drop_guard();
    let (c, s) = (client.clone(), stop.clone());
    let poller = tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = s.cancelled() => return,
                n = ev.poll() => n,
            };
            match next {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = c
                        .subscribe(protocol::topic::filter::ORDERS_UP, QoS::AtLeastOnce)
                        .await;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "upstream-sim reconnecting");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    let cfg = Arc::new(cfg);
    let result = loop {
        let payload = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            p = rx.recv() => match p { Some(p) => p, None => break Ok(()) },
        };
        if let Err(e) = on_order(&cfg, &log, &client, &payload, &stop).await {
            break Err(e);
        }
    };
    stop.cancel();
    let _ = poller.await;
    result
}

async fn on_order(
    cfg: &Arc<SimConfig>,
    log: &Arc<SimLog>,
    client: &AsyncClient,
    payload: &[u8],
    stop: &CancellationToken,
) -> Result<(), SimError> {
    let up = match protocol::codec::decode::<OrderUp>(payload) {
        Ok(up) => up,
        Err(e) => {
            tracing::warn!(error = %e, "upstream-sim: not an order");
            return Ok(());
        }
    };
    let start = log.record(&up, cfg.late_every);
    answer(client, &up, UpstreamState::Received).await?;
    if start && !cfg.receipt_only {
        let (cfg, log, client, stop) = (cfg.clone(), log.clone(), client.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = lifecycle(&cfg, &log, &client, &up) => {}
            }
        });
    }
    Ok(())
}

async fn lifecycle(cfg: &SimConfig, log: &SimLog, client: &AsyncClient, up: &OrderUp) {
    let steps = [
        (cfg.accept_ms, UpstreamState::Accepted),
        (cfg.dispatch_ms, UpstreamState::Dispatched),
        (cfg.resolve_ms, UpstreamState::Resolved),
        (cfg.close_ms, UpstreamState::Closed),
    ];
    for (delay, state) in steps {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if log.cancelled(up.order_id.as_str()) || answer(client, up, state).await.is_err() {
            return;
        }
    }
}

async fn answer(client: &AsyncClient, up: &OrderUp, state: UpstreamState) -> Result<(), SimError> {
    let su = StatusUpdate {
        order_id: up.order_id.clone(),
        revision: up.revision,
        state,
        at: SystemClock.now_ms(),
        by: (state != UpstreamState::Received).then(|| format!("{}-{}", up.grid.cell, up.tier)),
        note: (state == UpstreamState::Closed).then(|| "verified on site".to_string()),
    };
    let topic = Topic::OrderStatus {
        cell: (&up.grid).into(),
        order: up.order_id.clone(),
    };
    client
        .publish(
            topic.to_string(),
            QoS::AtLeastOnce,
            false,
            protocol::codec::encode(&su),
        )
        .await?;
    Ok(())
}
