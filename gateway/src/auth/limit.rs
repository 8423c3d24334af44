//! A fixed-window rate limit per key (a login name, a client address, a
//! site's report form): at most `max` hits per `window_ms`.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts hits per key in fixed windows.
#[derive(Debug)]
pub struct Limiter {
    max: u32,
    window_ms: u64,
    /// Key → (window start, hits in it).
    hits: Mutex<HashMap<String, (u64, u32)>>,
}

/// Most keys remembered; past it, finished windows are forgotten first.
const KEYS_MAX: usize = 10_000;

impl Limiter {
    /// At most `max` hits per `window_ms` per key.
    pub fn new(max: u32, window_ms: u64) -> Self {
        Self {
            max,
            window_ms,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit on `key` at `now`; false when the key is over its limit.
    pub fn hit(&self, key: &str, now: u64) -> bool {
        // A panic while holding the lock leaves a map that is still whole.
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if hits.len() >= KEYS_MAX {
            let w = self.window_ms;
            hits.retain(|_, (start, _)| now.saturating_sub(*start) < w);
        }
        let e = hits.entry(key.to_string()).or_insert((now, 0));
        if now.saturating_sub(e.0) >= self.window_ms {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_limit_waits_for_the_next_window() {
        let l = Limiter::new(2, 1000);
        assert!(l.hit("a", 0));
        assert!(l.hit("a", 10));
        assert!(!l.hit("a", 20));
        assert!(l.hit("b", 20), "another key has its own count");
        assert!(l.hit("a", 1000), "a new window");
    }
}
