//! A virtual clock shared between processes through a small file: what a
//! time-compressed simulation (`gridsense-demo simulate month`) runs the
//! real gateway on, so the gateway, the simulated nodes and the simulated
//! district all live the same month in minutes.
//!
//! The file holds one record: the virtual time `base_ms` at the real instant
//! `base_real_ns` (Unix time, ns), the rate (virtual ms per real ms) and a
//! cap the virtual time does not pass until the controller moves it. The
//! time read is `min(base_ms + (real_now - base_real) × rate, cap)`; only the
//! controller ([`WarpControl`]) writes the file, every reader
//! ([`WarpClock`]) reads it at each `now_ms` (one `pread`) and never goes
//! backwards. `gridsense run` uses it when `GRIDSENSE_WARP_CLOCK` names the
//! file; nothing else does.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Clock;

/// The environment variable `gridsense run` reads the clock file's path from.
pub const WARP_ENV: &str = "GRIDSENSE_WARP_CLOCK";

const MAGIC: u64 = 0x4753_5741_5250_0001; // "GSWARP" v1
const LEN: usize = 48;

/// One state of the virtual clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warp {
    /// Virtual time at `base_real_ns`, ms since the epoch.
    pub base_ms: u64,
    /// Real time (Unix, ns) of `base_ms`.
    pub base_real_ns: u64,
    /// Virtual ms per real ms (0: stopped).
    pub rate: f64,
    /// The virtual time does not pass this.
    pub cap: u64,
}

fn real_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Warp {
    /// The virtual time at real time `real` (Unix ns).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "the product is finite and non-negative; `as` saturates"
    )]
    pub fn at(&self, real: u64) -> u64 {
        let dt_ms = real.saturating_sub(self.base_real_ns) as f64 / 1e6;
        let v = self.base_ms.saturating_add((dt_ms * self.rate) as u64);
        v.min(self.cap)
    }

    fn encode(&self) -> [u8; LEN] {
        let words = [
            MAGIC,
            self.base_ms,
            self.base_real_ns,
            self.rate.to_bits(),
            self.cap,
        ];
        let sum = words.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |a, w| {
            a.rotate_left(13) ^ w.wrapping_mul(0x100_0000_01b3)
        });
        let mut out = [0u8; LEN];
        for (i, w) in words.iter().chain(std::iter::once(&sum)).enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    fn decode(b: &[u8; LEN]) -> Option<Self> {
        let w = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(x)
        };
        let warp = Self {
            base_ms: w(1),
            base_real_ns: w(2),
            rate: f64::from_bits(w(3)),
            cap: w(4),
        };
        (w(0) == MAGIC && warp.encode() == *b).then_some(warp)
    }
}

/// The controller's side: owns the state and writes the file.
#[derive(Debug)]
pub struct WarpControl {
    file: File,
    state: Mutex<Warp>,
    last: AtomicU64,
}

impl WarpControl {
    /// A clock standing at `start_ms`, stopped (rate 0, cap `start_ms`),
    /// written to a new file at `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn create(path: &Path, start_ms: u64) -> std::io::Result<Self> {
        let file = File::create(path)?;
        let w = Warp {
            base_ms: start_ms,
            base_real_ns: real_ns(),
            rate: 0.0,
            cap: start_ms,
        };
        file.write_all_at(&w.encode(), 0)?;
        Ok(Self {
            file,
            state: Mutex::new(w),
            last: AtomicU64::new(start_ms),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Warp> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From now on: `rate` virtual ms per real ms, never past `cap` (a cap
    /// below the current time holds the clock where it is).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn set(&self, rate: f64, cap: u64) -> std::io::Result<u64> {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            0.0
        };
        let mut s = self.lock();
        let real = real_ns();
        let now = s.at(real).max(self.last.load(Ordering::SeqCst));
        *s = Warp {
            base_ms: now,
            base_real_ns: real,
            rate,
            cap: cap.max(now),
        };
        self.file.write_all_at(&s.encode(), 0)?;
        Ok(now)
    }

    /// The state in force.
    pub fn state(&self) -> Warp {
        *self.lock()
    }
}

impl Clock for WarpControl {
    fn now_ms(&self) -> u64 {
        let v = self.lock().at(real_ns());
        self.last.fetch_max(v, Ordering::SeqCst).max(v)
    }
}

/// A reader of a clock file (the gateway's side).
#[derive(Debug)]
pub struct WarpClock {
    file: File,
    last: AtomicU64,
}

impl WarpClock {
    /// Opens the clock file at `path` and checks it holds a clock.
    ///
    /// # Errors
    /// The file cannot be read or holds no clock.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let c = Self {
            file: File::open(path)?,
            last: AtomicU64::new(0),
        };
        c.read().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not a clock file")
        })?;
        Ok(c)
    }

    fn read(&self) -> Option<Warp> {
        let mut b = [0u8; LEN];
        // A read torn by a concurrent write fails its checksum: read again.
        (0..64).find_map(|_| {
            self.file.read_exact_at(&mut b, 0).ok()?;
            Warp::decode(&b)
        })
    }
}

impl Clock for WarpClock {
    fn now_ms(&self) -> u64 {
        let v = self.read().map_or(0, |w| w.at(real_ns()));
        self.last.fetch_max(v, Ordering::SeqCst).max(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_follows_the_controller_and_never_passes_the_cap() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("clock");
        let ctl = WarpControl::create(&path, 1_000_000).expect("create");
        let rd = WarpClock::open(&path).expect("open");
        assert_eq!(rd.now_ms(), 1_000_000, "stopped at its start");
        ctl.set(1_000.0, 1_000_000 + 3_600_000).expect("set");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let t = rd.now_ms();
        assert!(t >= 1_000_000 + 15_000, "{t}");
        ctl.set(1e9, 1_000_000 + 3_600_000).expect("set");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(rd.now_ms(), 1_000_000 + 3_600_000, "held at the cap");
        assert_eq!(ctl.now_ms(), rd.now_ms());
        // Slower again: the time read does not go back.
        let before = rd.now_ms();
        ctl.set(0.0, 0).expect("set");
        assert!(rd.now_ms() >= before);
    }

    #[test]
    fn a_file_that_is_not_a_clock_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("clock");
        std::fs::write(&path, [7u8; LEN]).expect("write");
        assert!(WarpClock::open(&path).is_err());
    }
}
