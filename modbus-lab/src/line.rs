//! An RS-485 line emulator between two pseudo-terminals.
//!
//! A pty moves bytes at memory speed, so a Modbus RTU master and its slaves
//! talking over one would never meet the timing of a real line. The emulator
//! owns two pty pairs: the master opens [`LineEmulator::master_path`], the
//! slaves open [`LineEmulator::bus_path`], and a pacing thread relays each
//! frame on **one shared half-duplex line**: byte `i` of a frame is delivered
//! `i + 1` character times after the frame starts, a frame never starts while
//! another is on the line, and a slave's reply starts no sooner than 3.5
//! characters after the request ended (the slave's end-of-frame detection).
//!
//! The thread sleeps for coarse waits and spins (yielding) for the last
//! fraction of a millisecond before a frame's final byte, so frame ends land
//! within tens of microseconds. It also checks that the master honours the
//! 3.5-character inter-frame gap ([`LineStats::gap_violations`]) and injects
//! [`Fault`]s into replies.
//!
//! One read from a pty is taken as one frame: both tokio-modbus's server and
//! the gateway write each frame with a single write.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use crate::fault::{Fault, FaultBook, FaultRule};
use modbus::timing::LineTiming;

/// What the emulator has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Frames the master sent.
    pub requests: u64,
    /// Frames the slaves sent (before faults).
    pub replies: u64,
    /// Master frames that started less than 3.5 characters after the line
    /// went quiet.
    pub gap_violations: u64,
    /// Faults applied.
    pub faults: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Master,
    Bus,
}

/// A frame read from one side, with the time it was read.
struct Chunk {
    from: Side,
    bytes: Vec<u8>,
    at: Instant,
}

/// A frame waiting for the line.
struct Pending {
    to: Side,
    bytes: Vec<u8>,
    earliest: Instant,
}

/// A running emulator; its threads stop when it is dropped.
#[derive(Debug)]
pub struct LineEmulator {
    master_path: String,
    bus_path: String,
    faults: FaultBook,
    stats: Arc<Mutex<LineStats>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The slave ends, held open so the pty masters never see a hang-up.
    _slave_ends: (TTYPort, TTYPort),
}

impl LineEmulator {
    /// Opens two pty pairs and starts relaying between them.
    ///
    /// # Errors
    /// A pty could not be opened or a thread not spawned.
    pub fn start(settings: LineTiming) -> io::Result<Self> {
        let (master_pty, master_end) = TTYPort::pair().map_err(io::Error::other)?;
        let (bus_pty, bus_end) = TTYPort::pair().map_err(io::Error::other)?;
        let name = |p: &TTYPort| p.name().ok_or_else(|| io::Error::other("pty has no name"));
        let (master_path, bus_path) = (name(&master_end)?, name(&bus_end)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let mut threads = Vec::new();
        for (side, pty) in [(Side::Master, &master_pty), (Side::Bus, &bus_pty)] {
            let reader = pty.try_clone_native().map_err(io::Error::other)?;
            let (tx, stop) = (tx.clone(), stop.clone());
            threads.push(
                thread::Builder::new()
                    .name(format!("line-read-{side:?}"))
                    .spawn(move || read_loop(side, reader, &tx, &stop))?,
            );
        }
        let faults = FaultBook::default();
        let stats = Arc::new(Mutex::new(LineStats::default()));
        let mut pacer = Pacer {
            settings,
            master: master_pty,
            bus: bus_pty,
            faults: faults.clone(),
            stats: stats.clone(),
            queue: Vec::new(),
            line_quiet_at: Instant::now(),
            request_end: Instant::now(),
        };
        let pacer_stop = stop.clone();
        threads.push(
            thread::Builder::new()
                .name("line-pacer".into())
                .spawn(move || pacer.run(&rx, &pacer_stop))?,
        );
        Ok(Self {
            master_path,
            bus_path,
            faults,
            stats,
            stop,
            threads,
            _slave_ends: (master_end, bus_end),
        })
    }

    /// The serial device the master opens.
    #[must_use]
    pub fn master_path(&self) -> &str {
        &self.master_path
    }

    /// The serial device the slaves open.
    #[must_use]
    pub fn bus_path(&self) -> &str {
        &self.bus_path
    }

    /// Arms a fault rule (rules are tried in the order added).
    pub fn add_fault(&self, rule: FaultRule) {
        self.faults.add(rule);
    }

    /// Disarms every fault rule.
    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> LineStats {
        *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for LineEmulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn read_loop(side: Side, mut pty: TTYPort, tx: &Sender<Chunk>, stop: &AtomicBool) {
    let _ = pty.set_timeout(Duration::from_millis(20));
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        match pty.read(&mut buf) {
            Ok(n) if n > 0 => {
                let chunk = Chunk {
                    from: side,
                    bytes: buf[..n].to_vec(),
                    at: Instant::now(),
                };
                if tx.send(chunk).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The pacing thread's state: the line and the frames waiting for it.
struct Pacer {
    settings: LineTiming,
    master: TTYPort,
    bus: TTYPort,
    faults: FaultBook,
    stats: Arc<Mutex<LineStats>>,
    queue: Vec<Pending>,
    /// When the last byte of the last frame was delivered.
    line_quiet_at: Instant,
    /// When the last request's last byte reached the slaves.
    request_end: Instant,
}

impl Pacer {
    fn run(&mut self, rx: &Receiver<Chunk>, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            while let Ok(chunk) = rx.try_recv() {
                self.intake(chunk);
            }
            let next = self
                .queue
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.earliest)
                .map(|(i, p)| (i, p.earliest));
            let now = Instant::now();
            let wait = match next {
                Some((i, at)) if at <= now + Duration::from_micros(500) => {
                    let frame = self.queue.swap_remove(i);
                    self.transmit(frame);
                    continue;
                }
                Some((_, at)) => at - now - Duration::from_micros(400),
                None => Duration::from_millis(20),
            };
            match rx.recv_timeout(wait) {
                Ok(chunk) => self.intake(chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn count(&self, f: impl FnOnce(&mut LineStats)) {
        f(&mut self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    fn intake(&mut self, chunk: Chunk) {
        match chunk.from {
            Side::Master => {
                let early = chunk.at < self.line_quiet_at + self.settings.gap();
                self.count(|s| {
                    s.requests += 1;
                    s.gap_violations += u64::from(early);
                });
                self.queue.push(Pending {
                    to: Side::Bus,
                    bytes: chunk.bytes,
                    earliest: chunk.at,
                });
            }
            Side::Bus => self.intake_reply(chunk),
        }
    }

    fn intake_reply(&mut self, chunk: Chunk) {
        let mut bytes = chunk.bytes;
        let mut earliest = chunk.at.max(self.request_end + self.settings.gap());
        let fault = bytes.first().and_then(|&unit| self.faults.pick(unit));
        self.count(|s| {
            s.replies += 1;
            s.faults += u64::from(fault.is_some());
        });
        match fault {
            None => {}
            Some(Fault::FlipByte) => {
                let mid = bytes.len() / 2;
                if let Some(b) = bytes.get_mut(mid) {
                    *b ^= 0x10;
                }
            }
            Some(Fault::Truncate(n)) => bytes.truncate(bytes.len().saturating_sub(n.max(1))),
            Some(Fault::Late(d)) => earliest += d,
            Some(Fault::Silence) => bytes.clear(),
            Some(Fault::Noise(extra)) => bytes.extend_from_slice(&extra),
        }
        if !bytes.is_empty() {
            self.queue.push(Pending {
                to: Side::Master,
                bytes,
                earliest,
            });
        }
    }

    /// Puts one frame on the line, byte by byte at the line's rate.
    fn transmit(&mut self, frame: Pending) {
        let start = frame.earliest.max(self.line_quiet_at);
        let ct = self.settings.char_time();
        let last = frame.bytes.len() - 1;
        let out = match frame.to {
            Side::Bus => &mut self.bus,
            Side::Master => &mut self.master,
        };
        let mut delivered = start;
        for (i, byte) in frame.bytes.iter().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            wait_until(start + ct * n, i == last);
            // Taken before the write: the receiver cannot see the byte any
            // sooner, so a gap measured from here is never overstated, even
            // if this thread is preempted right after the write.
            delivered = Instant::now();
            let _ = out.write_all(&[*byte]);
        }
        self.line_quiet_at = delivered;
        if frame.to == Side::Bus {
            self.request_end = self.line_quiet_at;
        }
    }
}

/// Sleeps until `t`; if `precise`, sleeps short and spins the rest.
fn wait_until(t: Instant, precise: bool) {
    let slack = Duration::from_micros(300);
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if !precise {
            thread::sleep(left);
        } else if left > slack {
            thread::sleep(left - slack);
        } else {
            thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_a_frame_at_line_rate() -> io::Result<()> {
        let line = LineEmulator::start(LineTiming::even(9600))?;
        let mut master = serialport::new(line.master_path(), 9600)
            .open_native()
            .map_err(io::Error::other)?;
        let mut bus = serialport::new(line.bus_path(), 9600)
            .open_native()
            .map_err(io::Error::other)?;
        bus.set_timeout(Duration::from_secs(2))
            .map_err(io::Error::other)?;
        let t0 = Instant::now();
        master.write_all(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])?;
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while got.len() < 10 {
            let n = bus.read(&mut buf)?;
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        // Ten characters of 11 bits at 9600 baud: never sooner than 11.4 ms.
        assert!(
            t0.elapsed() >= Duration::from_micros(11_400),
            "{:?}",
            t0.elapsed()
        );
        Ok(())
    }
}
