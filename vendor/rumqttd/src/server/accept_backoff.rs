//! GridSense patch: what the accept loop does after `accept()` fails.
//!
//! Stock rumqttd logged the error and called `accept()` again at once. The
//! errors that repeat are the ones that do not go away by themselves: out
//! of file descriptors (`EMFILE`, `ENFILE`) or of socket memory. The pending
//! connection stays in the backlog, so the next `accept()` fails the same
//! way: the listener's thread spun at 100 % of a core and wrote one error
//! line per turn, while the connections it already held starved. The loop
//! now pauses after a failure (10 ms, doubling to 1 s while failures go
//! on; back to none after the next accepted connection) and logs at most
//! one line per second with the number of failures since the last.

use std::time::{Duration, Instant};

/// First pause after a failed accept.
const FIRST: Duration = Duration::from_millis(10);
/// Longest pause between two attempts.
const MAX: Duration = Duration::from_secs(1);
/// At most one log line per this long.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The accept loop's memory of its failures.
#[derive(Debug, Default)]
pub(super) struct AcceptBackoff {
    pause: Option<Duration>,
    logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptBackoff {
    /// A connection was accepted: the next failure starts from the
    /// shortest pause again.
    pub(super) fn accepted(&mut self) {
        self.pause = None;
    }

    /// An accept failed at `now`: how long to pause, and whether to log it
    /// (with the number of failures it stands for, itself included).
    pub(super) fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let pause = self.pause.map_or(FIRST, |p| (p * 2).min(MAX));
        self.pause = Some(pause);
        self.unlogged += 1;
        let log = match self.logged {
            Some(at) if now.duration_since(at) < LOG_EVERY => None,
            _ => {
                self.logged = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        };
        (pause, log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_pause_longer_up_to_a_second_and_an_accept_resets_the_pause() {
        let mut b = AcceptBackoff::default();
        let t = Instant::now();
        let pauses: Vec<u128> = (0..10).map(|_| b.failed(t).0.as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        b.accepted();
        assert_eq!(b.failed(t).0, FIRST);
    }

    #[test]
    fn one_log_line_per_second_counts_the_failures_it_stands_for() {
        let mut b = AcceptBackoff::default();
        let t = Instant::now();
        assert_eq!(b.failed(t).1, Some(1));
        for i in 1..50 {
            assert_eq!(b.failed(t + Duration::from_millis(i * 10)).1, None);
        }
        // The next second: one line for the 49 silent ones and this one.
        assert_eq!(b.failed(t + Duration::from_millis(1_000)).1, Some(50));
    }
}
