//! The district for a simulated month: the platform's side of
//! `docs/upstream.md` (receipt for every revision, idempotent on the order
//! id, the highest revision kept) with responders who accept and close each
//! order at seeded times drawn against its deadlines, all on the run's
//! virtual clock. It records what it received and answered, when: the
//! district's half of the report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use gateway::clock::SharedClock;
use protocol::{OrderState, OrderUp, StatusUpdate, Topic, UpstreamState};

use super::plan::{Responders, lognormal};

/// One revision as the district received it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Revision.
    pub revision: u32,
    /// Tier it was addressed to.
    pub tier: String,
    /// The gateway's state in it.
    pub state: String,
    /// Virtual ms it arrived.
    pub at: u64,
}

/// One order as the district keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    /// Grid cell.
    pub cell: String,
    /// Alarm kind.
    pub kind: String,
    /// Urgency.
    pub urgency: String,
    /// Deadlines the gateway set.
    pub ack_by: u64,
    /// Close deadline.
    pub close_by: u64,
    /// Distinct revisions, in arrival order.
    pub received: Vec<Received>,
    /// Redeliveries of a revision already received.
    pub duplicates: u32,
    /// Statuses answered (besides receipts): state and virtual ms.
    pub answered: Vec<(String, u64)>,
    /// When the responders mean to accept and close it.
    pub planned: Option<(u64, u64)>,
    /// The gateway cancelled it.
    pub cancelled: bool,
    /// The current state published again (after a redelivery, and hourly
    /// for 12 h after each answer: docs/upstream.md, clean sessions).
    pub repeats: u32,
    #[serde(skip)]
    highest: u32,
    /// The highest revision received.
    #[serde(skip)]
    up: Option<OrderUp>,
}

#[derive(Debug, Default)]
struct Book {
    tickets: BTreeMap<String, Ticket>,
    /// (virtual ms, order, step) → the answer to give then.
    agenda: BTreeMap<(u64, String, u8), UpstreamState>,
    /// (virtual ms, order): publish the order's current state again.
    repeats: BTreeMap<(u64, String), ()>,
}

/// The district simulator's shared state.
#[derive(Debug)]
pub struct District {
    book: Mutex<Book>,
    client: AsyncClient,
    clock: SharedClock,
    responders: Responders,
    seed: u64,
}

fn draw(r: &Responders, rng: &mut ChaCha8Rng, from: u64, deadline: u64, window: u64) -> u64 {
    let w = window.max(1_000) as f64;
    let u: f64 = rng.random_range(0.0..1.0);
    let (late, very) = (r.late_ack, r.very_late_ack);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let t = if u < very {
        deadline + (w * rng.random_range(1.1..1.5)) as u64
    } else if u < very + late {
        deadline + (w * rng.random_range(0.1..0.8)) as u64
    } else {
        let d = lognormal(rng, r.ack_median * w, r.sigma)
            .min(0.9 * w)
            .max(1_000.0);
        from + d as u64
    };
    t.max(from + 1_000)
}

impl District {
    /// Connects to the district broker at `port`; the returned task runs the
    /// MQTT loop until `stop`.
    pub fn start(
        port: u16,
        clock: SharedClock,
        responders: Responders,
        seed: u64,
        stop: CancellationToken,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let mut o = MqttOptions::new("district-month", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(1000);
        o.set_max_packet_size(64 * 1024, 64 * 1024);
        let (client, mut ev) = AsyncClient::new(o, 4096);
        let me = Arc::new(Self {
            book: Mutex::default(),
            client: client.clone(),
            clock,
            responders,
            seed,
        });
        let d = me.clone();
        let task = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    n = ev.poll() => n,
                };
                match next {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client
                            .subscribe(protocol::topic::filter::ORDERS_UP, QoS::AtLeastOnce)
                            .await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => d.on_order(&p.payload),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        (me, task)
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn on_order(&self, payload: &[u8]) {
        let Ok(up) = protocol::codec::decode::<OrderUp>(payload) else {
            return;
        };
        let now = self.clock.now_ms();
        let id = up.order_id.to_string();
        let again = {
            let mut b = self.book();
            let fresh = !b.tickets.contains_key(&id);
            let t = b.tickets.entry(id.clone()).or_insert_with(|| Ticket {
                cell: up.grid.cell.to_string(),
                kind: up.kind.to_string(),
                urgency: up.urgency.to_string(),
                ack_by: up.ack_by,
                close_by: up.close_by,
                received: Vec::new(),
                duplicates: 0,
                answered: Vec::new(),
                planned: None,
                cancelled: false,
                repeats: 0,
                highest: 0,
                up: None,
            });
            let mut again = None;
            if t.received.iter().any(|r| r.revision == up.revision) {
                t.duplicates += 1;
                // A redelivery: the gateway may have missed our last answer.
                again = t.answered.last().and_then(|(s, _)| parse_state(s));
                t.repeats += u32::from(again.is_some());
            } else {
                t.received.push(Received {
                    revision: up.revision,
                    tier: up.tier.to_string(),
                    state: up.state.to_string(),
                    at: now,
                });
            }
            if up.revision >= t.highest {
                t.highest = up.revision;
                t.up = Some(up.clone());
            }
            t.cancelled |= up.state == OrderState::Cancelled;
            if fresh && !t.cancelled {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv(&id));
                let r = &self.responders;
                let accept = draw(r, &mut rng, now, up.ack_by, up.ack_by.saturating_sub(now));
                let close_r = Responders {
                    ack_median: r.close_median,
                    late_ack: r.late_close,
                    very_late_ack: r.very_late_close,
                    ..r.clone()
                };
                // The work takes its share of the order's whole close window,
                // counted from acceptance (late acceptance, late closure).
                let window = up.close_by.saturating_sub(now);
                let close = draw(&close_r, &mut rng, accept, up.close_by.max(accept), window)
                    .max(accept + 3_000);
                t.planned = Some((accept, close));
                let dispatch = accept + 1_000;
                let resolve = close.saturating_sub(1_000).max(dispatch + 1);
                for (k, (at, s)) in [
                    (accept, UpstreamState::Accepted),
                    (dispatch, UpstreamState::Dispatched),
                    (resolve, UpstreamState::Resolved),
                    (close, UpstreamState::Closed),
                ]
                .into_iter()
                .enumerate()
                {
                    b.agenda.insert((at, id.clone(), k as u8), s);
                }
            }
            again
        };
        self.answer(&up, up.revision, UpstreamState::Received, now);
        if let Some(state) = again {
            self.answer(&up, up.revision, state, now);
        }
    }

    fn answer(&self, up: &OrderUp, revision: u32, state: UpstreamState, at: u64) {
        let su = StatusUpdate {
            order_id: up.order_id.clone(),
            revision,
            state,
            at,
            by: (state != UpstreamState::Received).then(|| format!("{}-responder", up.grid.cell)),
            note: (state == UpstreamState::Closed).then(|| "verified on site".to_string()),
        };
        let topic = Topic::OrderStatus {
            cell: (&up.grid).into(),
            order: up.order_id.clone(),
        };
        let _ = self.client.try_publish(
            topic.to_string(),
            QoS::AtLeastOnce,
            false,
            protocol::codec::encode(&su),
        );
    }

    /// The next answer's virtual time.
    pub fn next_due(&self) -> Option<u64> {
        self.book().agenda.keys().next().map(|k| k.0)
    }

    /// Gives every answer due by `now`; returns the orders answered and
    /// the states given.
    pub fn fire(&self, now: u64) -> Vec<(String, UpstreamState)> {
        let mut again = Vec::new();
        let due: Vec<((u64, String, u8), UpstreamState)> = {
            let mut b = self.book();
            let mut out = Vec::new();
            while let Some(e) = b.agenda.first_entry() {
                if e.key().0 > now {
                    break;
                }
                out.push(e.remove_entry());
            }
            for ((_, id, _), s) in &out {
                if let Some(t) = b.tickets.get_mut(id)
                    && !t.cancelled
                {
                    t.answered.push((s.to_string(), now));
                }
                for h in 1..=REPEAT_FOR_H {
                    b.repeats.insert((now + h * 3_600_000, id.clone()), ());
                }
            }
            // Hourly repeats of the current state: a status published while
            // the gateway's uplink was down is not lost for good.
            while let Some(e) = b.repeats.first_entry() {
                if e.key().0 > now {
                    break;
                }
                let ((_, id), ()) = e.remove_entry();
                if let Some(t) = b.tickets.get_mut(&id)
                    && !t.cancelled
                    && let Some(state) = t.answered.last().and_then(|(s, _)| parse_state(s))
                    && let Some(up) = t.up.clone()
                {
                    t.repeats += 1;
                    again.push((up, state));
                }
            }
            out
        };
        for (up, state) in again {
            self.answer(&up, up.revision, state, now);
        }
        let mut n = Vec::new();
        for ((_, id, _), s) in due {
            let up = self
                .book()
                .tickets
                .get(&id)
                .filter(|t| !t.cancelled)
                .and_then(|t| t.up.clone());
            if let Some(up) = up {
                self.answer(&up, up.revision, s, now);
                n.push((id, s));
            }
        }
        n
    }

    /// Tickets so far.
    pub fn tickets_len(&self) -> usize {
        self.book().tickets.len()
    }

    /// What the district has seen, by order id.
    pub fn tickets(&self) -> BTreeMap<String, Ticket> {
        self.book().tickets.clone()
    }
}

/// Hours the district repeats an answer (hourly) after giving it.
const REPEAT_FOR_H: u64 = 12;

fn parse_state(s: &str) -> Option<UpstreamState> {
    [
        UpstreamState::Accepted,
        UpstreamState::Dispatched,
        UpstreamState::Resolved,
        UpstreamState::Closed,
    ]
    .into_iter()
    .find(|x| x.to_string() == s)
}

/// FNV-1a of an order id (a per-order seed stream).
pub fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
