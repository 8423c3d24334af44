//! Quarantine of clients that keep coming back to be refused: a client id
//! refused `refusals_before_quarantine` times within `refusal_window_s` is
//! not let in again for `quarantine_s` (its CONNECT is refused at once,
//! before it can publish, so it costs one counter increment per attempt).
//! Pure state over a millisecond clock; the broker's hooks drive it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Most client ids tracked; beyond it, stale ones are forgotten first.
const MAX_TRACKED: usize = 4_096;

#[derive(Debug, Default)]
struct Entry {
    refusals: VecDeque<u64>,
    until: u64,
}

/// Refusals per client id and the quarantines they earned.
#[derive(Debug)]
pub struct Throttle {
    after: usize,
    window_ms: u64,
    quarantine_ms: u64,
    clients: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// `after` refusals within `window_ms` quarantine a client for
    /// `quarantine_ms`; `after == 0` never quarantines.
    pub fn new(after: usize, window_ms: u64, quarantine_ms: u64) -> Self {
        Self {
            after,
            window_ms,
            quarantine_ms,
            clients: Mutex::default(),
        }
    }

    /// `client` was refused at `now`; true if that put it in quarantine.
    pub fn refused(&self, client: &str, now: u64) -> bool {
        if self.after == 0 {
            return false;
        }
        let mut m = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_TRACKED && !m.contains_key(client) {
            let (w, q) = (self.window_ms, self.quarantine_ms);
            m.retain(|_, e| {
                e.until > now
                    || e.refusals
                        .back()
                        .is_some_and(|t| now.saturating_sub(*t) <= w.max(q))
            });
        }
        let e = m.entry(client.to_string()).or_default();
        e.refusals.push_back(now);
        while e
            .refusals
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > self.window_ms)
        {
            e.refusals.pop_front();
        }
        if e.refusals.len() >= self.after && e.until <= now {
            e.until = now + self.quarantine_ms;
            e.refusals.clear();
            return true;
        }
        false
    }

    /// Whether `client` is in quarantine at `now`.
    pub fn quarantined(&self, client: &str, now: u64) -> bool {
        let m = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        m.get(client).is_some_and(|e| e.until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_refusals_quarantine_a_client_for_a_while() {
        let t = Throttle::new(3, 10_000, 60_000);
        assert!(!t.refused("smoke-1", 0));
        assert!(!t.refused("smoke-1", 1_000));
        assert!(!t.quarantined("smoke-1", 1_500));
        assert!(t.refused("smoke-1", 2_000), "the third within the window");
        assert!(t.quarantined("smoke-1", 2_001));
        assert!(!t.quarantined("smoke-2", 2_001), "per client id");
        assert!(t.quarantined("smoke-1", 61_999));
        assert!(!t.quarantined("smoke-1", 62_000), "it ends");
    }

    #[test]
    fn spread_out_refusals_and_a_zero_threshold_never_quarantine() {
        let t = Throttle::new(3, 10_000, 60_000);
        for i in 0..10 {
            assert!(!t.refused("smoke-1", i * 6_000));
        }
        let off = Throttle::new(0, 10_000, 60_000);
        for i in 0..10 {
            assert!(!off.refused("smoke-1", i));
        }
        assert!(!off.quarantined("smoke-1", 10));
    }
}
