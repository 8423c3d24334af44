//! The district platform, written from docs/upstream.md: it subscribes to
//! every order topic, keys tickets by `order_id`, and answers `received`
//! with the revision it stored. It records what arrived, in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::kinds::AlarmKind;
use protocol::order::{OrderUp, StatusUpdate, UpstreamState};
use protocol::topic::filter;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;

/// One ticket at the platform.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The alarm the first delivery named.
    pub alarm_id: String,
    /// Its kind.
    pub kind: AlarmKind,
    /// Highest revision seen.
    pub revision: u32,
    /// Deliveries (redeliveries included).
    pub deliveries: u32,
    /// First arrival.
    pub first_at: Instant,
}

/// What the platform received.
#[derive(Debug, Default)]
pub struct DistrictData {
    /// Tickets by `order_id`.
    pub tickets: BTreeMap<String, Ticket>,
    /// Every delivery in arrival order: (when, order_id, revision, kind).
    pub arrivals: Vec<(Instant, String, u32, AlarmKind)>,
    /// Contract breaches seen on the wire (undecodable order, one order_id naming two alarms).
    pub breaches: Vec<String>,
}

/// Shared with the checker.
#[derive(Debug, Default)]
pub struct District(Mutex<DistrictData>);

impl District {
    /// Locks the records.
    pub fn lock(&self) -> MutexGuard<'_, DistrictData> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Starts the platform's client against the district broker.
pub fn spawn(port: u16, rec: Arc<District>, mut stop: watch::Receiver<bool>) {
    let mut mo = MqttOptions::new("district-platform", "127.0.0.1", port);
    mo.set_keep_alive(Duration::from_secs(30));
    // A persistent session: orders routed while the platform reconnects wait for it.
    mo.set_clean_session(false);
    let (client, mut el) = AsyncClient::new(mo, 10_000);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                res = stop.changed() => if res.is_err() || *stop.borrow() { break },
                ev = el.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(filter::ORDERS_UP, QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let order: OrderUp = match serde_json::from_slice(&p.payload) {
                            Ok(o) => o,
                            Err(e) => {
                                rec.lock().breaches.push(format!("undecodable order on {}: {e}", p.topic));
                                continue;
                            }
                        };
                        let id = order.order_id.as_str().to_owned();
                        {
                            let mut r = rec.lock();
                            let now = Instant::now();
                            r.arrivals.push((now, id.clone(), order.revision, order.kind));
                            let breach = match r.tickets.get_mut(&id) {
                                Some(t) => {
                                    t.deliveries += 1;
                                    t.revision = t.revision.max(order.revision);
                                    (t.alarm_id != order.alarm_id.as_str()).then(|| format!(
                                        "order {id} named alarm {} and later {}", t.alarm_id, order.alarm_id))
                                }
                                None => {
                                    r.tickets.insert(id.clone(), Ticket {
                                        alarm_id: order.alarm_id.as_str().to_owned(),
                                        kind: order.kind,
                                        revision: order.revision,
                                        deliveries: 1,
                                        first_at: now,
                                    });
                                    None
                                }
                            };
                            if let Some(b) = breach {
                                r.breaches.push(b);
                            }
                        }
                        let stored = rec.lock().tickets.get(&id).map_or(order.revision, |t| t.revision);
                        let answer = StatusUpdate {
                            order_id: order.order_id.clone(),
                            revision: stored,
                            state: UpstreamState::Received,
                            at: now_ms(),
                            by: None,
                            note: None,
                        };
                        if let Ok(body) = serde_json::to_vec(&answer) {
                            let _ = client.try_publish(format!("{}/{id}/status", p.topic), QoS::AtLeastOnce, false, body);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
            }
        }
    });
}
