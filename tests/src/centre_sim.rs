//! `fire-centre-sim`: a fire remote-monitoring centre speaking GB/T
//! 26875.3-2011 over TCP, for tests and the demo. Its frame parser is its
//! own, written from the standard's tables (it does not use the protocol
//! crate's decoder), so a test against it checks the gateway's encoder
//! against a second reading of the standard.
//!
//! It listens, reads frames from every connection, confirms each
//! command-2 frame (command 3, same serial, addresses swapped, empty data
//! unit) while confirming is on, records everything it received, and can
//! drop its links, stop confirming, and send requests (clock sync, roll
//! call, state queries) to the connected device.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, broadcast};

/// A frame the centre received, as its own parser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Business serial number (bytes 3-4, low first).
    pub serial: u16,
    /// Protocol version bytes.
    pub version: [u8; 2],
    /// The time tag as sent: s, min, h, day, month, year-2000.
    pub time: [u8; 6],
    /// Source address (low byte first on the wire).
    pub source: u64,
    /// Destination address.
    pub destination: u64,
    /// Command byte.
    pub command: u8,
    /// The application data unit.
    pub data: Vec<u8>,
    /// The whole frame.
    pub raw: Vec<u8>,
    /// Which connection (1, 2, ... in accept order).
    pub link: u64,
    /// When it arrived, since the simulator started.
    pub at: Duration,
}

/// A component state (type 2) in a received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentState {
    /// The frame's serial.
    pub serial: u16,
    /// System type.
    pub system_type: u8,
    /// System address.
    pub system_addr: u8,
    /// Component type.
    pub component_type: u8,
    /// Component address.
    pub component_addr: u32,
    /// Status bits (bit 1: fire alarm).
    pub status: u16,
    /// The description, zero padding cut.
    pub description: String,
}

impl Received {
    /// The type flag of its data unit, if it has one.
    pub fn kind(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Its component states (empty unless a type-2 data unit).
    pub fn components(&self) -> Vec<ComponentState> {
        if self.data.len() < 2 || self.data[0] != 2 {
            return Vec::new();
        }
        self.data[2..]
            .chunks_exact(46)
            .map(|o| ComponentState {
                serial: self.serial,
                system_type: o[0],
                system_addr: o[1],
                component_type: o[2],
                component_addr: u32::from_le_bytes([o[3], o[4], o[5], o[6]]),
                status: u16::from_le_bytes([o[7], o[8]]),
                description: String::from_utf8_lossy(&o[9..40])
                    .trim_end_matches('\0')
                    .to_string(),
            })
            .collect()
    }

    /// The transmission device state byte of a type-21 data unit.
    pub fn device_state(&self) -> Option<u8> {
        (self.data.first() == Some(&21)).then(|| self.data.get(2).copied())?
    }
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    confirming: bool,
    /// Serials confirmed, in order.
    confirmed: Vec<u16>,
    links: u64,
    serial: u16,
}

/// A running centre simulator.
#[derive(Debug, Clone)]
pub struct CentreSim {
    addr: SocketAddr,
    own: u64,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    drop_links: broadcast::Sender<()>,
    to_device: broadcast::Sender<Vec<u8>>,
    started: Instant,
}

/// Sum mod 256 of the bytes (the standard's checksum).
fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
}

/// Reads one frame from the front of `buf`: `Ok(Some((frame fields, len)))`,
/// `Ok(None)` when more bytes are needed, `Err(skip)` when the front is not
/// a frame (skip that many bytes).
fn parse(buf: &[u8]) -> Result<Option<(Received, usize)>, usize> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'@' || (buf.len() > 1 && buf[1] != b'@') {
        return Err(1);
    }
    if buf.len() < 27 {
        return Ok(None);
    }
    let n = usize::from(buf[24]) | usize::from(buf[25]) << 8;
    if n > 1024 {
        return Err(2);
    }
    let total = 27 + n + 3;
    if buf.len() < total {
        return Ok(None);
    }
    if &buf[total - 2..total] != b"##" || sum(&buf[2..27 + n]) != buf[27 + n] {
        return Err(2);
    }
    let addr = |at: usize| (0..6).fold(0u64, |a, i| a | u64::from(buf[at + i]) << (8 * i));
    let mut time = [0u8; 6];
    time.copy_from_slice(&buf[6..12]);
    Ok(Some((
        Received {
            serial: u16::from(buf[2]) | u16::from(buf[3]) << 8,
            version: [buf[4], buf[5]],
            time,
            source: addr(12),
            destination: addr(18),
            command: buf[26],
            data: buf[27..27 + n].to_vec(),
            raw: buf[..total].to_vec(),
            link: 0,
            at: Duration::ZERO,
        },
        total,
    )))
}

/// The centre's clock as a time tag (UTC).
fn now_tag() -> [u8; 6] {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (s / 86_400) as i64;
    let rem = s % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [
        (rem % 60) as u8,
        ((rem / 60) % 60) as u8,
        (rem / 3600) as u8,
        d as u8,
        m as u8,
        (y - 2000).clamp(0, 99) as u8,
    ]
}

/// Builds a frame from the centre.
fn frame(serial: u16, src: u64, dst: u64, command: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![b'@', b'@'];
    f.extend_from_slice(&serial.to_le_bytes());
    f.extend_from_slice(&[1, 1]);
    f.extend_from_slice(&now_tag());
    f.extend_from_slice(&src.to_le_bytes()[..6]);
    f.extend_from_slice(&dst.to_le_bytes()[..6]);
    f.extend_from_slice(&(data.len() as u16).to_le_bytes());
    f.push(command);
    f.extend_from_slice(data);
    let c = sum(&f[2..]);
    f.push(c);
    f.extend_from_slice(b"##");
    f
}

impl CentreSim {
    /// Listens on `listen` (port 0 for any) as the centre with address `own`.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(listen: &str, own: u64) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let sim = Self {
            addr: listener.local_addr()?,
            own,
            state: Arc::new(Mutex::new(State {
                confirming: true,
                ..State::default()
            })),
            arrived: Arc::new(Notify::new()),
            drop_links: broadcast::channel(4).0,
            to_device: broadcast::channel(16).0,
            started: Instant::now(),
        };
        let s = sim.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                let link = {
                    let mut st = s.state.lock().expect("state");
                    st.links += 1;
                    st.links
                };
                tokio::spawn(s.clone().serve(sock, link));
            }
        });
        Ok(sim)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Confirm frames (the default) or ignore them.
    pub fn set_confirming(&self, on: bool) {
        self.state.lock().expect("state").confirming = on;
    }

    /// Closes every open connection (the device should reconnect).
    pub fn drop_links(&self) {
        let _ = self.drop_links.send(());
    }

    /// Connections accepted so far.
    pub fn links(&self) -> u64 {
        self.state.lock().expect("state").links
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// When it started (the origin of [`Received::at`]).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Forgets what it received so far (benchmarks: each round waits for
    /// new frames only).
    pub fn clear(&self) {
        let mut st = self.state.lock().expect("state");
        st.received.clear();
        st.confirmed.clear();
    }

    /// The serials it confirmed, in order.
    pub fn confirmed(&self) -> Vec<u16> {
        self.state.lock().expect("state").confirmed.clone()
    }

    /// Sends a request or control command (`command` 1 or 4) with data unit
    /// `data` to the connected device; returns its serial.
    pub fn send(&self, device: u64, command: u8, data: &[u8]) -> u16 {
        let serial = {
            let mut st = self.state.lock().expect("state");
            st.serial = st.serial.wrapping_add(1);
            st.serial
        };
        let _ = self
            .to_device
            .send(frame(serial, self.own, device, command, data));
        serial
    }

    /// Waits up to `limit` for a received frame that `pred` accepts.
    pub async fn wait_for(
        &self,
        limit: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let woken = self.arrived.notified();
            if let Some(r) = self.received().into_iter().find(|r| pred(r)) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return None;
            }
        }
    }

    async fn serve(self, mut sock: TcpStream, link: u64) {
        let mut drop_rx = self.drop_links.subscribe();
        let mut out_rx = self.to_device.subscribe();
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 2048];
        loop {
            tokio::select! {
                _ = drop_rx.recv() => return,
                f = out_rx.recv() => match f {
                    Ok(f) => if sock.write_all(&f).await.is_err() { return },
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                },
                n = sock.read(&mut chunk) => {
                    let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                    buf.extend_from_slice(&chunk[..n]);
                    loop {
                        match parse(&buf) {
                            Ok(None) => break,
                            Err(skip) => { buf.drain(..skip.min(buf.len())); }
                            Ok(Some((mut r, used))) => {
                                buf.drain(..used);
                                r.link = link;
                                r.at = self.started.elapsed();
                                let confirm = {
                                    let mut st = self.state.lock().expect("state");
                                    let c = st.confirming && r.command == 2;
                                    if c { st.confirmed.push(r.serial); }
                                    st.received.push(r.clone());
                                    c
                                };
                                self.arrived.notify_waiters();
                                if confirm {
                                    let ack = frame(r.serial, self.own, r.source, 3, &[]);
                                    if sock.write_all(&ack).await.is_err() { return; }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_builds_and_skips_garbage() {
        let f = frame(0x0102, 0x0571, 0x2601_0001, 3, &[]);
        assert_eq!(f.len(), 30);
        let mut buf = b"zz".to_vec();
        buf.extend_from_slice(&f);
        assert_eq!(parse(&buf), Err(1));
        let (r, used) = parse(&buf[2..]).expect("frame").expect("whole");
        assert_eq!(used, 30);
        assert_eq!((r.serial, r.command, r.source), (0x0102, 3, 0x0571));
        assert_eq!(parse(&f[..20]), Ok(None));
    }
}
