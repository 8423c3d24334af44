//! The link's one task: it owns the queue in memory (mirrored in the
//! store), the TCP connection to the centre, the serial numbers, the
//! heartbeat and the link's fault. Stop-and-resend per frame: each frame
//! waits for the centre's confirmation (command 3, same serial) and is sent
//! again after `confirm_timeout_ms`; after `retries` re-sends the link
//! counts as failed and is reconnected. Fire rows go first and are never
//! held back by the window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::feed::AlarmFeed;
use protocol::gbt26875::{self as gbt, Address, Command, Header, TimeTag};
use protocol::{DeviceState, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::answer::{Answer, answer, next_frame};
use super::config::FireCentreConfig;
use super::frames::Frames;
use crate::clock::SharedClock;
use crate::message::{Body, Ingested};
use crate::registry::{DeviceInfo, RegistryCell};
use crate::store::{FireQueued, StoreHandle};

/// Where a failed link is reported: as the availability of `device`, into
/// presence like a polled device's.
#[derive(Debug, Clone)]
pub struct LinkFault {
    /// The registry device standing for the link.
    pub device: Arc<DeviceInfo>,
    /// Presence's input for polled sources.
    pub states: mpsc::Sender<Ingested>,
}

/// The link to the fire remote-monitoring centre.
#[derive(Debug)]
pub struct FireCentre {
    /// Its configuration (validated).
    pub cfg: FireCentreConfig,
    /// The queue's home.
    pub store: StoreHandle,
    /// Devices, for their GB/T names.
    pub registry: Arc<RegistryCell>,
    /// Time tags.
    pub clock: SharedClock,
    /// Where a failed link is reported, if anywhere.
    pub fault: Option<LinkFault>,
}

/// Class of heartbeats in the queue (after fire 0 and others 1).
const HEARTBEAT: u8 = 2;

/// A frame waiting for the centre's confirmation.
#[derive(Debug)]
struct Pending {
    /// Its row in the store (positive key) or none (heartbeat, roll-call
    /// answer, or a row the store refused).
    stored: bool,
    /// The application data unit.
    data: Vec<u8>,
    /// Its serial on this connection, once sent.
    serial: Option<u16>,
    /// When it was last sent.
    sent: Option<Instant>,
    /// Re-sends so far.
    tries: u32,
}

struct Conn {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    buf: Vec<u8>,
}

struct State {
    frames: Frames,
    /// `(class, seq)` → frame; unstored frames have negative seqs.
    queue: BTreeMap<(u8, i64), Pending>,
    serial: u16,
    unstored: i64,
    down_since: Option<Instant>,
    /// What the link device was last reported as (none yet in this run:
    /// the store may still hold an offline from before a restart).
    reported: Option<Status>,
    last_heartbeat: Option<Instant>,
    /// No connection attempt before this.
    next_connect: Instant,
}

impl FireCentre {
    fn header(&self, serial: u16, command: Command) -> Header {
        Header {
            serial,
            version: gbt::VERSION,
            time: TimeTag::from_unix_ms(self.clock.now_ms()),
            source: Address(self.cfg.address),
            destination: Address(self.cfg.centre_address),
            command,
        }
    }

    /// Runs until shutdown: queues what `alarms` says, keeps the link up,
    /// drains the queue.
    pub async fn run(
        self,
        mut alarms: mpsc::UnboundedReceiver<AlarmFeed>,
        shutdown: CancellationToken,
    ) {
        let mut st = State {
            frames: Frames::new((self.cfg.system_type, self.cfg.system_addr)),
            queue: BTreeMap::new(),
            serial: 0,
            unstored: 0,
            down_since: Some(Instant::now()),
            reported: None,
            last_heartbeat: None,
            next_connect: Instant::now(),
        };
        match self.store.fire_centre_pending().await {
            Ok(rows) => {
                if !rows.is_empty() {
                    tracing::info!(
                        rows = rows.len(),
                        "fire centre: queued frames from before the restart"
                    );
                }
                for r in rows {
                    st.queue.insert((r.class, r.seq), pending(r.data, true));
                }
            }
            Err(e) => tracing::error!(error = %e, "fire centre: queue not read"),
        }
        let mut conn: Option<Conn> = None;
        let mut connecting: Option<JoinHandle<std::io::Result<TcpStream>>> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut alarms_open = true;
        loop {
            if conn.is_none() && connecting.is_none() && Instant::now() >= st.next_connect {
                let addr = self.cfg.addr.clone();
                let limit = Duration::from_millis(self.cfg.connect_timeout_ms);
                connecting = Some(tokio::spawn(async move {
                    match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
                        Ok(r) => r,
                        Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut)),
                    }
                }));
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                a = alarms.recv(), if alarms_open => match a {
                    Some(a) => {
                        self.on_alarm(&mut st, &a).await;
                        self.pump(&mut st, &mut conn).await;
                    }
                    None => alarms_open = false,
                },
                r = read_some(&mut conn) => match r {
                    Ok(0) | Err(_) => self.lost(&mut st, &mut conn, "closed by the centre"),
                    Ok(_) => self.on_bytes(&mut st, &mut conn).await,
                },
                r = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                    connecting = None;
                    match r {
                        Ok(Ok(sock)) => {
                            let _ = sock.set_nodelay(true);
                            let (read, write) = sock.into_split();
                            conn = Some(Conn { read, write, buf: Vec::with_capacity(2048) });
                            tracing::info!(addr = %self.cfg.addr, "fire centre: connected");
                            st.last_heartbeat = None;
                            self.pump(&mut st, &mut conn).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "fire centre: connect failed");
                            st.down_since.get_or_insert_with(Instant::now);
                            st.next_connect = Instant::now() + Duration::from_millis(self.cfg.reconnect_ms);
                        }
                        Err(_) => st.next_connect = Instant::now() + Duration::from_millis(self.cfg.reconnect_ms),
                    }
                },
                _ = tick.tick() => self.on_tick(&mut st, &mut conn).await,
            }
        }
    }

    async fn on_alarm(&self, st: &mut State, a: &AlarmFeed) {
        let now = self.clock.now_ms();
        let reg = self.registry.get();
        let units = st.frames.on_alarm(a, &|id| reg.device(id).cloned(), now);
        if units.is_empty() {
            return;
        }
        let rows: Vec<FireQueued> = units
            .iter()
            .map(|u| FireQueued {
                class: u.class,
                data: u.data.clone(),
                queued_ms: now,
                alarm: a.id.to_string(),
            })
            .collect();
        match self.store.fire_centre_queue(rows).await {
            Ok(seqs) => {
                for (u, seq) in units.into_iter().zip(seqs) {
                    st.queue.insert((u.class, seq), pending(u.data, true));
                }
            }
            Err(e) => {
                // Sent all the same; lost only if the gateway stops first.
                tracing::error!(error = %e, alarm = %a.id, "fire centre: frame not stored; sending it unstored");
                for u in units {
                    st.unstored -= 1;
                    st.queue
                        .insert((u.class, st.unstored), pending(u.data, false));
                }
            }
        }
    }

    /// Sends what waits: fire rows always, others while the window has room.
    async fn pump(&self, st: &mut State, conn: &mut Option<Conn>) {
        if conn.is_none() {
            return;
        }
        let mut inflight = st.queue.values().filter(|p| p.sent.is_some()).count();
        let keys: Vec<(u8, i64)> = st
            .queue
            .iter()
            .filter(|(_, p)| p.sent.is_none())
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            if key.0 != 0 && inflight >= self.cfg.window {
                break;
            }
            let Some(p) = st.queue.get_mut(&key) else {
                continue;
            };
            let serial = *p.serial.get_or_insert_with(|| {
                let s = st.serial;
                st.serial = st.serial.wrapping_add(1);
                s
            });
            p.sent = Some(Instant::now());
            inflight += 1;
            let data = p.data.clone();
            if !self.send(conn, serial, Command::SendData, &data).await {
                self.lost(st, conn, "write failed");
                return;
            }
        }
    }

    async fn send(&self, conn: &mut Option<Conn>, serial: u16, cmd: Command, data: &[u8]) -> bool {
        let Some(c) = conn.as_mut() else { return false };
        let mut buf = [0u8; gbt::MAX_FRAME];
        let Ok(n) = gbt::encode(&self.header(serial, cmd), data, &mut buf) else {
            tracing::error!("fire centre: frame not encodable; dropped");
            return true;
        };
        let limit = Duration::from_millis(self.cfg.confirm_timeout_ms);
        matches!(
            tokio::time::timeout(limit, c.write.write_all(&buf[..n])).await,
            Ok(Ok(()))
        )
    }

    fn lost(&self, st: &mut State, conn: &mut Option<Conn>, why: &str) {
        if conn.take().is_some() {
            tracing::warn!(why, "fire centre: link lost; frames stay queued");
            st.next_connect = Instant::now() + Duration::from_millis(self.cfg.reconnect_ms);
        }
        st.down_since.get_or_insert_with(Instant::now);
        st.queue.retain(|k, _| k.0 != HEARTBEAT);
        for p in st.queue.values_mut() {
            p.serial = None;
            p.sent = None;
            p.tries = 0;
        }
    }

    async fn report(&self, status: Status) {
        let Some(f) = &self.fault else { return };
        let msg = Ingested {
            device: f.device.clone(),
            at_ms: self.clock.now_ms(),
            body: Body::State(DeviceState {
                status,
                fw: None,
                heartbeat_s: None,
                boot: None,
            }),
        };
        let _ = f.states.send(msg).await;
    }

    async fn on_tick(&self, st: &mut State, conn: &mut Option<Conn>) {
        let timeout = Duration::from_millis(self.cfg.confirm_timeout_ms);
        if let Some(t) = st.down_since
            && st.reported != Some(Status::Offline)
            && t.elapsed() >= Duration::from_millis(self.cfg.fault_after_ms)
        {
            st.reported = Some(Status::Offline);
            tracing::error!(addr = %self.cfg.addr, "fire centre: link down; reported as a fault");
            self.report(Status::Offline).await;
        }
        if conn.is_none() {
            return;
        }
        let due: Vec<(u8, i64)> = st
            .queue
            .iter()
            .filter(|(_, p)| p.sent.is_some_and(|t| t.elapsed() >= timeout))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(p) = st.queue.get_mut(&key) else {
                continue;
            };
            if p.tries >= self.cfg.retries {
                self.lost(st, conn, "no confirmation after the re-sends");
                return;
            }
            p.tries += 1;
            p.sent = Some(Instant::now());
            let (serial, data) = (p.serial.unwrap_or(0), p.data.clone());
            tracing::debug!(serial, tries = p.tries, "fire centre: re-sending");
            if !self.send(conn, serial, Command::SendData, &data).await {
                self.lost(st, conn, "write failed");
                return;
            }
        }
        let beat = Duration::from_secs(self.cfg.heartbeat_s);
        if st.last_heartbeat.is_none_or(|t| t.elapsed() >= beat)
            && !st.queue.keys().any(|k| k.0 == HEARTBEAT)
        {
            st.last_heartbeat = Some(Instant::now());
            st.unstored -= 1;
            let data = st.frames.device_state(false, self.clock.now_ms());
            st.queue
                .insert((HEARTBEAT, st.unstored), pending(data, false));
        }
        self.pump(st, conn).await;
    }

    async fn on_bytes(&self, st: &mut State, conn: &mut Option<Conn>) {
        loop {
            let Some(c) = conn.as_mut() else { return };
            let Some((header, data)) = next_frame(&mut c.buf) else {
                return;
            };
            self.on_frame(st, conn, &header, &data).await;
        }
    }

    async fn on_frame(&self, st: &mut State, conn: &mut Option<Conn>, h: &Header, data: &[u8]) {
        match h.command {
            Command::Confirm => {
                let key = st
                    .queue
                    .iter()
                    .find(|(_, p)| p.sent.is_some() && p.serial == Some(h.serial))
                    .map(|(k, _)| *k);
                if let Some(key) = key
                    && let Some(p) = st.queue.remove(&key)
                    && p.stored
                    && let Err(e) = self.store.fire_centre_confirmed(vec![key.1]).await
                {
                    tracing::error!(error = %e, "fire centre: confirmation not stored (frame may be sent again)");
                }
                st.down_since = None;
                if st.reported != Some(Status::Online) {
                    if st.reported.is_some() {
                        tracing::info!("fire centre: link restored");
                    }
                    st.reported = Some(Status::Online);
                    self.report(Status::Online).await;
                }
                self.pump(st, conn).await;
            }
            Command::Deny => {
                if let Some(p) = st.queue.values_mut().find(|p| p.serial == Some(h.serial)) {
                    p.sent = None;
                    p.tries += 1;
                }
                self.pump(st, conn).await;
            }
            Command::Control | Command::Request => self.on_request(st, conn, h, data).await,
            Command::SendData | Command::Response | Command::Other(_) => {}
        }
    }

    /// Answers the centre: controls are confirmed (command 3), requests
    /// get a response (command 5), both with the request's serial; what
    /// cannot be read is denied (command 6). What to answer: [`answer`].
    async fn on_request(&self, st: &mut State, conn: &mut Option<Conn>, h: &Header, data: &[u8]) {
        match answer(&st.frames, data, self.clock.now_ms()) {
            Answer::Deny(e) => {
                tracing::warn!(error = %e, "fire centre: request not understood; denied");
                self.send(conn, h.serial, Command::Deny, &[]).await;
            }
            Answer::ClockSync { offset_s } => {
                tracing::info!(
                    offset_s,
                    "fire centre: clock sync received (the system clock is NTP's to set)"
                );
                self.send(conn, h.serial, Command::Confirm, &[]).await;
            }
            Answer::Confirm => {
                self.send(conn, h.serial, Command::Confirm, &[]).await;
            }
            Answer::RollCall { minutes, record } => {
                tracing::warn!(minutes, "fire centre: roll call (查岗) received; answered");
                self.send(conn, h.serial, Command::Confirm, &[]).await;
                // The answer is an operation record (type 24), confirmed like data.
                if !record.is_empty() {
                    st.unstored -= 1;
                    st.queue.insert((1, st.unstored), pending(record, false));
                    self.pump(st, conn).await;
                }
            }
            Answer::Response(unit) => {
                self.send(conn, h.serial, Command::Response, &unit).await;
            }
        }
    }
}

fn pending(data: Vec<u8>, stored: bool) -> Pending {
    Pending {
        stored,
        data,
        serial: None,
        sent: None,
        tries: 0,
    }
}

async fn read_some(conn: &mut Option<Conn>) -> std::io::Result<usize> {
    match conn {
        Some(c) => c.read.read_buf(&mut c.buf).await,
        None => std::future::pending().await,
    }
}
