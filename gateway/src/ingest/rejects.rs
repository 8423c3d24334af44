//! Counting and logging rejected input: per reason, with a rate-limited log,
//! so a flood of bad messages costs a counter increment, not a log line each.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::presence::Refused;

/// Every reason a message or connection is refused.
pub const REASONS: &[&str] = &[
    "too-large",
    "syntax",
    "missing-field",
    "unknown-value",
    "invalid",
    "out-of-range",
    "unknown-device",
    "wrong-topic",
    "acl-publish",
    "acl-subscribe",
    "auth",
    "quarantined",
    "address-quarantined",
    "shed-telemetry",
    "camera-auth",
    "store-error",
];

/// Least time between two log lines for the same reason.
const LOG_EVERY_MS: u64 = 10_000;

/// Counters per reason and the last time each was logged.
#[derive(Debug)]
pub struct Rejects {
    /// Users the broker refused lately, for presence.
    pub refused: Arc<Refused>,
    counts: Vec<AtomicU64>,
    logged: Mutex<BTreeMap<&'static str, (u64, u64)>>,
}

impl Default for Rejects {
    fn default() -> Self {
        Self {
            refused: Arc::default(),
            counts: REASONS.iter().map(|_| AtomicU64::new(0)).collect(),
            logged: Mutex::default(),
        }
    }
}

impl Rejects {
    fn index(reason: &str) -> usize {
        REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(REASONS.len() - 1)
    }

    /// Counts one rejection and logs it unless the reason was logged lately.
    pub fn record(&self, now_ms: u64, reason: &'static str, source: &str, detail: &str) {
        self.counts[Self::index(reason)].fetch_add(1, Ordering::Relaxed);
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let entry = logged.entry(reason).or_insert((0, 0));
        if entry.0 == 0 || now_ms.saturating_sub(entry.0) >= LOG_EVERY_MS {
            let suppressed = entry.1;
            *entry = (now_ms.max(1), 0);
            tracing::warn!(reason, source, detail, suppressed, "message rejected");
        } else {
            entry.1 += 1;
        }
    }

    /// How many were rejected for `reason`.
    pub fn count(&self, reason: &str) -> u64 {
        self.counts[Self::index(reason)].load(Ordering::Relaxed)
    }

    /// Every non-zero counter.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        REASONS
            .iter()
            .zip(&self.counts)
            .map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_reason_and_limits_logging() {
        let r = Rejects::default();
        for i in 0..100 {
            r.record(1_000 + i, "syntax", "dev-1", "bad");
        }
        r.record(1_000, "unknown-device", "ghost", "");
        assert_eq!(r.count("syntax"), 100);
        assert_eq!(r.count("unknown-device"), 1);
        let logged = r.logged.lock().expect("lock");
        assert_eq!(
            logged["syntax"],
            (1_000, 99),
            "99 suppressed after the first"
        );
    }
}
