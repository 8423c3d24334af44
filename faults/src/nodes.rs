//! Node clients written from docs/topics.md: each connects as its device
//! (client id = username = device id), publishes its events with QoS 1 and
//! repeats each until `evt/ack` names its `seq`, answers commands, and
//! publishes telemetry at a set rate. Everything sent and acknowledged goes
//! into the [`Ledger`], the checker's record of what the gateway promised.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::ident::DeviceId;
use protocol::node::{
    Cause, Command, CommandKind, CommandReason, DeviceState, EventKind, EvtAck, NodeEvent, Status,
};
use protocol::topic::{DeviceChannel, Topic};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};

use crate::world::Device;

/// One event as the node saw it.
#[derive(Debug, Clone)]
pub struct EventRec {
    /// Event type.
    pub kind: EventKind,
    /// Its cause.
    pub cause: Option<Cause>,
    /// Times it was published (first send and repeats).
    pub publishes: u32,
    /// When it was first published.
    pub first_sent: Instant,
    /// When its `evt/ack` first arrived.
    pub acked_at: Option<Instant>,
}

/// One command a node received.
#[derive(Debug, Clone)]
pub struct CmdRec {
    /// The device.
    pub device: String,
    /// What.
    pub cmd: CommandKind,
    /// Why.
    pub reason: CommandReason,
    /// When it arrived.
    pub at: Instant,
}

/// What the nodes sent and were told.
#[derive(Debug, Default)]
pub struct LedgerData {
    /// Events by (device, seq).
    pub events: BTreeMap<(String, u32), EventRec>,
    /// Commands received, in arrival order.
    pub cmds: Vec<CmdRec>,
    /// Telemetry messages handed to the client.
    pub tel_sent: u64,
    /// Telemetry messages the client could not take (queue full or offline).
    pub tel_skipped: u64,
    /// `evt/ack`s received (repeats included).
    pub acks: u64,
    /// Connections made (reconnects included).
    pub connects: u64,
    /// When each device's connections were accepted (CONNACK), in order.
    pub connacks: BTreeMap<String, Vec<Instant>>,
}

/// Shared between node tasks and the checker.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<LedgerData>);

impl Ledger {
    /// Locks the data (a poisoned lock still holds consistent records).
    pub fn lock(&self) -> MutexGuard<'_, LedgerData> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    tx: mpsc::UnboundedSender<(EventKind, Option<Cause>)>,
}

impl Node {
    /// Queues an event; the node sends it after the ones before it are acked.
    pub fn send(&self, kind: EventKind, cause: Option<Cause>) {
        let _ = self.tx.send((kind, cause));
    }
}

/// How a node behaves.
#[derive(Debug, Clone, Copy)]
pub struct NodeOpts {
    /// Repeat an unacked event this often.
    pub repeat: Duration,
    /// Telemetry messages per second (0: none).
    pub tel_rate: u32,
    /// Leave (clean disconnect) once every queued event is acked.
    pub leave_when_done: bool,
}

fn topic(id: &DeviceId, ch: DeviceChannel) -> String {
    Topic::dev(id, ch).to_string()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Starts a node task; it stops when `stop` turns true (or, with
/// `leave_when_done`, when its queue is empty after at least one event).
pub fn spawn(
    dev: &Device,
    broker: SocketAddr,
    opts: NodeOpts,
    ledger: Arc<Ledger>,
    mut stop: watch::Receiver<bool>,
) -> Result<Node, String> {
    let id = DeviceId::new(&dev.id).map_err(|e| format!("{}: {e}", dev.id))?;
    let mut mo = MqttOptions::new(dev.id.clone(), broker.ip().to_string(), broker.port());
    mo.set_credentials(dev.id.clone(), dev.secret.clone());
    mo.set_keep_alive(Duration::from_secs(60));
    mo.set_clean_session(true);
    let offline = serde_json::to_vec(&DeviceState {
        status: Status::Offline,
        fw: None,
        heartbeat_s: None,
        boot: None,
    })
    .map_err(|e| e.to_string())?;
    mo.set_last_will(LastWill::new(
        topic(&id, DeviceChannel::State),
        offline,
        QoS::AtLeastOnce,
        true,
    ));
    let (client, mut el) = AsyncClient::new(mo, 4096);
    let (tx, mut rx) = mpsc::unbounded_channel::<(EventKind, Option<Cause>)>();
    let name = dev.id.clone();
    // The event loop runs in its own task: `poll` must not be dropped in the
    // middle of a connect by the node's other timers.
    let (net_tx, mut net) = mpsc::channel::<Option<Packet>>(1024);
    let (done_tx, mut done) = watch::channel(false);
    let mut stop2 = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = done.changed() => break,
                res = stop2.changed() => if res.is_err() || *stop2.borrow() { break },
                ev = el.poll() => match ev {
                    Ok(Event::Incoming(p @ (Packet::ConnAck(_) | Packet::Publish(_)))) => {
                        if net_tx.send(Some(p)).await.is_err() { break }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        if net_tx.send(None).await.is_err() { break }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        // Let a DISCONNECT already queued leave before the socket closes.
        let _ = tokio::time::timeout(Duration::from_millis(300), el.poll()).await;
    });
    tokio::spawn(async move {
        let evt = topic(&id, DeviceChannel::Evt);
        let ack_topic = topic(&id, DeviceChannel::EvtAck);
        let cmd_topic = topic(&id, DeviceChannel::Cmd);
        let cmd_ack = topic(&id, DeviceChannel::CmdAck);
        let tel_topic = topic(&id, DeviceChannel::Tel);
        let online = serde_json::to_vec(&DeviceState {
            status: Status::Online,
            fw: None,
            heartbeat_s: None,
            boot: None,
        })
        .unwrap_or_default();
        let mut queue: VecDeque<NodeEvent> = VecDeque::new();
        let mut next_seq = 1u32;
        let mut had_any = false;
        let mut connected = false;
        let mut repeat = tokio::time::interval(opts.repeat);
        let mut tel = tokio::time::interval(Duration::from_millis(10));
        let mut tel_seq = 0u32;
        let mut tel_carry = 0u32;
        let publish = |c: &AsyncClient, ev: &NodeEvent, l: &Ledger| {
            if let Ok(body) = serde_json::to_vec(ev)
                && c.try_publish(evt.clone(), QoS::AtLeastOnce, false, body)
                    .is_ok()
                && let Some(r) = l.lock().events.get_mut(&(name.clone(), ev.seq))
            {
                r.publishes += 1;
            }
        };
        loop {
            if opts.leave_when_done && had_any && queue.is_empty() {
                let _ = client.try_disconnect();
                let _ = done_tx.send(true);
                break;
            }
            tokio::select! {
                res = stop.changed() => {
                    if res.is_err() || *stop.borrow() {
                        let _ = client.try_disconnect();
                        break;
                    }
                }
                Some(ev) = net.recv() => match ev {
                    Some(Packet::ConnAck(_)) => {
                        connected = true;
                        {
                            let mut l = ledger.lock();
                            l.connects += 1;
                            l.connacks.entry(name.clone()).or_default().push(Instant::now());
                        }
                        let _ = client.try_subscribe(ack_topic.clone(), QoS::AtLeastOnce);
                        let _ = client.try_subscribe(cmd_topic.clone(), QoS::AtLeastOnce);
                        let _ = client.try_publish(
                            topic(&id, DeviceChannel::State), QoS::AtLeastOnce, true, online.clone());
                        if let Some(front) = queue.front() {
                            publish(&client, front, &ledger);
                        }
                    }
                    Some(Packet::Publish(p)) => {
                        if p.topic == ack_topic {
                            if let Ok(a) = serde_json::from_slice::<EvtAck>(&p.payload) {
                                let mut l = ledger.lock();
                                l.acks += 1;
                                if let Some(r) = l.events.get_mut(&(name.clone(), a.seq))
                                    && r.acked_at.is_none()
                                {
                                    r.acked_at = Some(Instant::now());
                                }
                                drop(l);
                                if queue.front().is_some_and(|f| f.seq == a.seq) {
                                    queue.pop_front();
                                    if let Some(front) = queue.front() {
                                        publish(&client, front, &ledger);
                                    }
                                }
                            }
                        } else if p.topic == cmd_topic
                            && let Ok(c) = serde_json::from_slice::<Command>(&p.payload)
                        {
                            ledger.lock().cmds.push(CmdRec {
                                device: name.clone(),
                                cmd: c.cmd,
                                reason: c.reason,
                                at: Instant::now(),
                            });
                            let body = serde_json::json!({"id": c.id, "ok": true}).to_string();
                            let _ = client.try_publish(cmd_ack.clone(), QoS::AtLeastOnce, false, body);
                        }
                    }
                    Some(_) => {}
                    None => connected = false,
                },
                Some((kind, cause)) = rx.recv() => {
                    let ev = NodeEvent {
                        seq: next_seq, boot: None, ts: Some(now_ms()), kind, cause,
                        value: None, battery: Some(90), snapshot: None,
                    };
                    next_seq += 1;
                    had_any = true;
                    ledger.lock().events.insert((name.clone(), ev.seq), EventRec {
                        kind, cause, publishes: 0, first_sent: Instant::now(), acked_at: None,
                    });
                    queue.push_back(ev);
                    if queue.len() == 1 && connected {
                        publish(&client, &queue[0], &ledger);
                    }
                }
                _ = repeat.tick() => {
                    if connected && let Some(front) = queue.front() {
                        publish(&client, front, &ledger);
                    }
                }
                _ = tel.tick(), if opts.tel_rate > 0 => {
                    tel_carry += opts.tel_rate;
                    let n = tel_carry / 100;
                    tel_carry %= 100;
                    let (mut sent, mut skipped) = (0u64, 0u64);
                    for _ in 0..n {
                        tel_seq = tel_seq.wrapping_add(1);
                        #[allow(clippy::cast_precision_loss)]
                        let t = 20.0 + (tel_seq % 50) as f32 / 10.0;
                        let body = format!(r#"{{"seq":{tel_seq},"r":{{"temp":{t:.1},"humidity":48.0}}}}"#);
                        if connected && client.try_publish(tel_topic.clone(), QoS::AtMostOnce, false, body).is_ok() {
                            sent += 1;
                        } else {
                            skipped += 1;
                        }
                    }
                    let mut l = ledger.lock();
                    l.tel_sent += sent;
                    l.tel_skipped += skipped;
                }
            }
        }
    });
    Ok(Node { tx })
}
