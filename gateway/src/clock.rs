//! Time as the gateway sees it: a small [`Clock`] seam so retention, presence
//! and supervision can run on real time, on compressed time (demos, soak
//! tests) or on a hand-moved clock (unit tests).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub mod warp;

pub use warp::{WarpClock, WarpControl};

/// The clock `gridsense run` keeps time with: the system's, or the virtual
/// clock file `GRIDSENSE_WARP_CLOCK` names (time-compressed simulations).
///
/// # Errors
/// The variable names a file that is not a clock.
pub fn from_env() -> Result<SharedClock, String> {
    match std::env::var_os(warp::WARP_ENV) {
        None => Ok(Arc::new(SystemClock)),
        Some(p) => WarpClock::open(std::path::Path::new(&p))
            .map(|c| Arc::new(c) as SharedClock)
            .map_err(|e| format!("{}={}: {e}", warp::WARP_ENV, p.to_string_lossy())),
    }
}

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// A clock shared by every stage of the gateway.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock before 1970 reads as 0; more milliseconds than u64 holds is
        // 584 million years away.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when a test tells it to.
#[derive(Debug, Default)]
pub struct ManualClock {
    /// The current time, in ms since the epoch.
    now: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self {
            now: AtomicU64::new(start_ms),
        }
    }

    /// Sets the time to `ms`.
    pub fn set(&self, ms: u64) {
        self.now.store(ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Compressed time: `start + elapsed_real × factor`, so a demo or soak test
/// can live through days of retention and supervision in minutes.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    /// The simulated time at `origin`.
    start_ms: u64,
    /// The real instant the clock started.
    origin: Instant,
    /// Simulated milliseconds per real millisecond.
    factor: f64,
}

impl ScaledClock {
    /// A clock standing at `start_ms` now and running `factor` times faster
    /// than real time (a negative or NaN factor is treated as 0).
    pub fn new(start_ms: u64, factor: f64) -> Self {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            0.0
        };
        Self {
            start_ms,
            origin: Instant::now(),
            factor,
        }
    }
}

impl Clock for ScaledClock {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the product is finite and non-negative; `as` saturates at u64::MAX"
    )]
    fn now_ms(&self) -> u64 {
        let elapsed = self.origin.elapsed().as_secs_f64() * 1000.0 * self.factor;
        self.start_ms.saturating_add(elapsed as u64)
    }
}

/// The civil date (`YYYY-MM-DD`, UTC) of a time in ms since the epoch.
pub fn date_of(ms: u64) -> String {
    let days = i64::try_from(ms / 86_400_000).unwrap_or(i64::MAX / 2);
    let (year, month, day) = protocol::civil::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set(10);
        assert_eq!(c.now_ms(), 10);
    }

    #[test]
    fn scaled_clock_runs_faster_than_real_time() {
        let c = ScaledClock::new(0, 1000.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now_ms() >= 20_000, "{}", c.now_ms());
        assert_eq!(ScaledClock::new(7, f64::NAN).now_ms(), 7);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(951_782_400_000), "2000-02-29");
        assert_eq!(date_of(1_767_225_599_000), "2025-12-31");
    }
}
