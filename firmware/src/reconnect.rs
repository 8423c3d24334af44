//! When to (re)connect to the gateway's broker: exponential backoff with
//! full jitter, and a jittered first attempt.
//!
//! After a power cut every node of a compound boots at the same moment. If
//! each connected at once and, on a slow CONNACK, retried after a fixed
//! pause, the broker would see the whole fleet in one instant and then
//! again at every pause, each retry with the same client id replacing an
//! attempt still in progress ("duplicate client id" churn). So a node:
//! - makes its first attempt at a random point of `first_spread_ms`;
//! - after a failed attempt waits a random time in `[0, cap)`, where `cap`
//!   starts at `base_ms`, doubles on each failure up to `max_ms` (full
//!   jitter: the retries of a fleet spread over the whole window);
//! - gives each attempt a CONNACK timeout that grows with the same cap
//!   (never under `attempt_timeout_ms`), so a broker under load is given
//!   time to answer instead of being asked again;
//! - starts over at `base_ms` once connected.
//!
//! A pure state machine: the caller passes the time and opens sockets; the
//! randomness is a small xorshift generator seeded per node (its device id),
//! so two nodes never share a schedule and a test can replay one.

/// The schedule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The first attempt falls at a random point of this window (ms).
    pub first_spread_ms: u32,
    /// Backoff cap after the first failure (ms).
    pub base_ms: u32,
    /// Largest backoff cap (ms).
    pub max_ms: u32,
    /// Shortest CONNACK timeout of an attempt (ms).
    pub attempt_timeout_ms: u32,
}

impl ReconnectPolicy {
    /// A compound's defaults: first attempt within 5 s, backoff from 1 s up
    /// to 60 s, CONNACK timeout from 5 s.
    pub const DEFAULT: Self = Self {
        first_spread_ms: 5_000,
        base_ms: 1_000,
        max_ms: 60_000,
        attempt_timeout_ms: 5_000,
    };
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where a node's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting; the next attempt is due at this time (ms).
    Waiting {
        /// When to attempt.
        at_ms: u64,
    },
    /// An attempt is in progress; it has failed if no CONNACK came by
    /// `deadline_ms`.
    Connecting {
        /// When the attempt times out.
        deadline_ms: u64,
    },
    /// Connected.
    Up,
}

/// The reconnect state machine of one node.
#[derive(Debug, Clone)]
pub struct Reconnect {
    policy: ReconnectPolicy,
    state: LinkState,
    failures: u32,
    rng: u64,
}

/// A 64-bit FNV-1a hash: a node's seed from its device id.
pub fn seed_from(id: &[u8]) -> u64 {
    id.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Reconnect {
    /// A node that booted at `now_ms`: its first attempt is due somewhere in
    /// the first-spread window.
    pub fn new(policy: ReconnectPolicy, seed: u64, now_ms: u64) -> Self {
        let mut r = Self {
            policy,
            state: LinkState::Up,
            failures: 0,
            // xorshift needs a non-zero state.
            rng: seed | 1,
        };
        let first = r.below(policy.first_spread_ms);
        r.state = LinkState::Waiting {
            at_ms: now_ms + u64::from(first),
        };
        r
    }

    /// The current state.
    pub const fn state(&self) -> LinkState {
        self.state
    }

    /// Consecutive failed attempts.
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64* (Marsaglia; Vigna's multiplier).
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform value in `[0, n)` (0 when `n` is 0).
    fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: no modulo bias worth the name for n < 2^32.
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// The backoff cap after `failures` failures: base × 2^(failures-1),
    /// at most max.
    fn cap(&self) -> u32 {
        let shift = self.failures.saturating_sub(1).min(31);
        self.policy
            .base_ms
            .saturating_mul(1u32 << shift)
            .min(self.policy.max_ms)
    }

    /// Whether an attempt should start now; if so the state becomes
    /// [`LinkState::Connecting`]. Also turns a timed-out attempt into a
    /// failure.
    pub fn poll(&mut self, now_ms: u64) -> bool {
        match self.state {
            LinkState::Waiting { at_ms } if now_ms >= at_ms => {
                let timeout = self.cap().max(self.policy.attempt_timeout_ms);
                self.state = LinkState::Connecting {
                    deadline_ms: now_ms + u64::from(timeout),
                };
                true
            }
            LinkState::Connecting { deadline_ms } if now_ms >= deadline_ms => {
                self.failed(now_ms);
                false
            }
            _ => false,
        }
    }

    /// The attempt got its CONNACK: the backoff starts over.
    pub fn connected(&mut self) {
        self.failures = 0;
        self.state = LinkState::Up;
    }

    /// The attempt failed or an established connection was lost: the next
    /// attempt is due after a random wait below the (grown) cap. Returns
    /// that wait (ms).
    pub fn failed(&mut self, now_ms: u64) -> u32 {
        // A connection that was up and dropped counts as the first failure.
        self.failures = self.failures.saturating_add(1);
        let wait = self.below(self.cap());
        self.state = LinkState::Waiting {
            at_ms: now_ms + u64::from(wait),
        };
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy::DEFAULT
    }

    #[test]
    fn first_attempt_falls_in_the_spread_window() {
        for id in 0..200u32 {
            let r = Reconnect::new(policy(), seed_from(&id.to_le_bytes()), 1_000);
            let LinkState::Waiting { at_ms } = r.state() else {
                panic!("a new node waits for its first attempt");
            };
            assert!((1_000..6_000).contains(&at_ms), "{at_ms}");
        }
    }

    #[test]
    fn first_attempts_of_a_fleet_spread_over_the_window() {
        // 1,000 nodes booting together: no 500 ms slice of the 5 s window
        // holds more than a quarter of them (uniform: a tenth each).
        let mut slots = [0u32; 10];
        for i in 0..1_000u32 {
            let id = format!("smoke-b1-f{}-{}", i / 20, i % 20);
            let r = Reconnect::new(policy(), seed_from(id.as_bytes()), 0);
            let LinkState::Waiting { at_ms } = r.state() else {
                panic!()
            };
            slots[(at_ms / 500) as usize] += 1;
        }
        assert!(slots.iter().all(|&n| n < 250), "{slots:?}");
        assert!(slots.iter().all(|&n| n > 0), "{slots:?}");
    }

    #[test]
    fn backoff_doubles_up_to_the_max_with_full_jitter() {
        let mut r = Reconnect::new(policy(), 42, 0);
        let mut now = 0;
        let mut caps = Vec::new();
        for _ in 0..12 {
            while !r.poll(now) {
                now += 10;
            }
            let wait = r.failed(now);
            caps.push(r.cap());
            assert!(wait < r.cap(), "wait {wait} below cap {}", r.cap());
        }
        assert_eq!(
            &caps[..7],
            &[1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]
        );
        assert!(caps[7..].iter().all(|&c| c == 60_000));
    }

    #[test]
    fn an_unanswered_attempt_times_out_into_a_failure_and_the_timeout_grows() {
        let mut r = Reconnect::new(policy(), 7, 0);
        let mut now = 0;
        while !r.poll(now) {
            now += 1;
        }
        let LinkState::Connecting { deadline_ms } = r.state() else {
            panic!()
        };
        assert_eq!(
            deadline_ms - now,
            5_000,
            "the first attempt's CONNACK timeout"
        );
        assert!(!r.poll(deadline_ms - 1));
        assert!(
            !r.poll(deadline_ms),
            "the timeout is a failure, not a new attempt"
        );
        assert_eq!(r.failures(), 1);
        // After 4 failures the cap (8 s) exceeds the minimum timeout.
        for _ in 0..3 {
            now = deadline_ms;
            while !r.poll(now) {
                now += 1;
            }
            let LinkState::Connecting { deadline_ms: d } = r.state() else {
                panic!()
            };
            r.failed(d);
        }
        while !r.poll(now) {
            now += 1;
        }
        let LinkState::Connecting { deadline_ms } = r.state() else {
            panic!()
        };
        assert_eq!(deadline_ms - now, 8_000);
    }

    #[test]
    fn connecting_resets_the_backoff() {
        let mut r = Reconnect::new(policy(), 9, 0);
        for _ in 0..5 {
            r.failed(0);
        }
        assert_eq!(r.cap(), 16_000);
        r.connected();
        assert_eq!(r.state(), LinkState::Up);
        assert!(!r.poll(1_000_000), "no attempt while up");
        r.failed(100);
        assert_eq!(r.failures(), 1);
        assert_eq!(r.cap(), 1_000);
    }

    #[test]
    fn two_nodes_have_different_schedules_and_one_node_replays() {
        let a = Reconnect::new(policy(), seed_from(b"smoke-1"), 0).state();
        let b = Reconnect::new(policy(), seed_from(b"smoke-2"), 0).state();
        let a2 = Reconnect::new(policy(), seed_from(b"smoke-1"), 0).state();
        assert_ne!(a, b);
        assert_eq!(a, a2);
    }
}
