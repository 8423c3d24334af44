//! Which poll a line runs next: pure bookkeeping over time, no I/O.
//!
//! Each device has up to two jobs: its alarm registers and its telemetry
//! registers, each with its own period. The job that is due runs; alarm jobs
//! (and telemetry jobs a whole period late) go before other telemetry, then
//! the longest overdue first, which makes a saturated line round-robin. A device whose poll fails is backed off
//! exponentially (`initial_ms`, doubling, up to `max_ms`), so a dead or slow
//! slave costs the line one attempt per back-off period and never starves
//! the others; after `offline_after` failures in a row it is declared
//! offline, and its first good poll declares it online again.

use std::time::{Duration, Instant};

use crate::config::BackoffConfig;

/// A poll to run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Index of the job (for [`Scheduler::done`]).
    pub id: usize,
    /// Index of the device on the line.
    pub device: usize,
    /// Alarm registers (`true`) or telemetry.
    pub alarm: bool,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run this job now.
    Run(Job),
    /// Nothing is due before this instant.
    Idle(Instant),
}

/// A change of a device's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// First good poll, or good again after being offline.
    Online,
    /// `offline_after` failed polls in a row.
    Offline,
}

#[derive(Debug, Clone)]
struct Slot {
    job: Job,
    period: Duration,
    due: Instant,
}

#[derive(Debug, Clone, Default)]
struct DeviceState {
    failures: u32,
    online: Option<bool>,
    hold_until: Option<Instant>,
}

/// The poll schedule of one line.
#[derive(Debug, Clone)]
pub struct Scheduler {
    slots: Vec<Slot>,
    devices: Vec<DeviceState>,
    backoff: BackoffConfig,
    offline_after: u32,
}

impl Scheduler {
    /// A schedule with no jobs yet.
    #[must_use]
    pub fn new(backoff: BackoffConfig, offline_after: u32) -> Self {
        Self {
            slots: Vec::new(),
            devices: Vec::new(),
            backoff,
            offline_after: offline_after.max(1),
        }
    }

    /// Adds a job for `device`, first due at `now`.
    pub fn add(&mut self, device: usize, alarm: bool, period: Duration, now: Instant) {
        if self.devices.len() <= device {
            self.devices.resize(device + 1, DeviceState::default());
        }
        let id = self.slots.len();
        self.slots.push(Slot {
            job: Job { id, device, alarm },
            period,
            due: now,
        });
    }

    /// The next job, or when one will be due.
    #[must_use]
    pub fn next(&self, now: Instant) -> Next {
        let ready = |s: &&Slot| self.ready_at(s) <= now;
        // Alarm jobs first; a telemetry job a whole period late joins them,
        // so an overloaded line slows telemetry down but never starves it.
        let urgent = |s: &Slot| s.job.alarm || now.saturating_duration_since(s.due) >= s.period;
        let best = self
            .slots
            .iter()
            .filter(ready)
            .min_by_key(|s| (!urgent(s), s.due));
        match best {
            Some(s) => Next::Run(s.job),
            None => Next::Idle(
                self.slots
                    .iter()
                    .map(|s| self.ready_at(s))
                    .min()
                    .unwrap_or(now + Duration::from_secs(3600)),
            ),
        }
    }

    fn ready_at(&self, s: &Slot) -> Instant {
        match self.devices[s.job.device].hold_until {
            Some(h) => h.max(s.due),
            None => s.due,
        }
    }

    /// Records the outcome of `job` at `now`; returns a change of availability.
    pub fn done(&mut self, job: Job, ok: bool, now: Instant) -> Option<Availability> {
        let slot = &mut self.slots[job.id];
        let next = slot.due + slot.period;
        slot.due = if next < now { now } else { next };
        let dev = &mut self.devices[job.device];
        if ok {
            dev.failures = 0;
            dev.hold_until = None;
            return (dev.online != Some(true)).then(|| {
                dev.online = Some(true);
                Availability::Online
            });
        }
        dev.failures = dev.failures.saturating_add(1);
        dev.hold_until = Some(now + self.backoff.delay(dev.failures));
        (dev.failures >= self.offline_after && dev.online != Some(false)).then(|| {
            dev.online = Some(false);
            Availability::Offline
        })
    }

    /// Whether `device` is currently backed off.
    #[must_use]
    pub fn is_held(&self, device: usize, now: Instant) -> bool {
        self.devices
            .get(device)
            .and_then(|d| d.hold_until)
            .is_some_and(|h| h > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn sched(t0: Instant) -> Scheduler {
        let mut s = Scheduler::new(
            BackoffConfig {
                initial_ms: 100,
                max_ms: 400,
            },
            2,
        );
        s.add(0, false, 1000 * MS, t0);
        s.add(0, true, 250 * MS, t0);
        s.add(1, false, 1000 * MS, t0);
        s
    }

    fn run(s: &Scheduler, now: Instant) -> Job {
        match s.next(now) {
            Next::Run(j) => j,
            Next::Idle(at) => panic!("idle until {:?}", at - now),
        }
    }

    #[test]
    fn alarm_jobs_go_first_then_the_most_overdue() {
        let t0 = Instant::now();
        let mut s = sched(t0);
        let order: Vec<_> = (0..3)
            .map(|_| {
                let j = run(&s, t0);
                s.done(j, true, t0);
                (j.device, j.alarm)
            })
            .collect();
        assert_eq!(order, [(0, true), (0, false), (1, false)]);
        assert_eq!(s.next(t0), Next::Idle(t0 + 250 * MS));
    }

    #[test]
    fn telemetry_a_period_late_is_not_starved_by_alarms() {
        let t0 = Instant::now();
        let mut s = sched(t0);
        let j = run(&s, t0);
        assert!(j.alarm);
        // Much later the alarm job is due again, but telemetry is a period late.
        let late = t0 + 1000 * MS;
        s.done(j, true, late);
        let next = run(&s, late);
        assert!(!next.alarm, "{next:?}");
    }

    #[test]
    fn failing_device_backs_off_exponentially_and_goes_offline() {
        let t0 = Instant::now();
        let mut s = sched(t0);
        let j = run(&s, t0);
        assert_eq!(s.done(j, false, t0), None);
        assert!(s.is_held(0, t0 + 99 * MS));
        // The other device is not held up.
        assert_eq!(run(&s, t0).device, 1);
        let t1 = t0 + 100 * MS;
        let j = run(&s, t1);
        assert_eq!(j.device, 0);
        assert_eq!(s.done(j, false, t1), Some(Availability::Offline));
        assert!(s.is_held(0, t1 + 199 * MS) && !s.is_held(0, t1 + 200 * MS));
        let t2 = t1 + 200 * MS;
        let j = run(&s, t2);
        s.done(j, false, t2);
        let t3 = t2 + 400 * MS;
        assert!(!s.is_held(0, t3), "capped at max_ms");
        let j = run(&s, t3);
        assert_eq!(s.done(j, true, t3), Some(Availability::Online));
    }

    #[test]
    fn a_failing_device_is_never_held_longer_than_max_ms() {
        let t0 = Instant::now();
        let mut s = sched(t0);
        let mut now = t0;
        for failure in 1..=100 {
            let j = run(&s, now);
            assert_eq!(j.device, 0, "failure {failure}");
            s.done(j, false, now);
            assert!(s.is_held(0, now), "failure {failure}");
            assert!(
                !s.is_held(0, now + 400 * MS),
                "failure {failure}: over max_ms"
            );
            now += 400 * MS;
            // Keep device 1 out of the way: it polls fine.
            while let Next::Run(j) = s.next(now) {
                if j.device == 0 {
                    break;
                }
                s.done(j, true, now);
            }
        }
    }

    #[test]
    fn backoff_delay_doubles_up_to_the_cap_whatever_the_settings() {
        let b = BackoffConfig {
            initial_ms: 500,
            max_ms: 30_000,
        };
        let waits: Vec<u64> = (0..=8)
            .map(|n| u64::try_from(b.delay(n).as_millis()).expect("ms"))
            .collect();
        assert_eq!(
            waits,
            [0, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]
        );
        for (initial_ms, max_ms) in [(1, 1), (400, 100), (u32::MAX, 7), (3, u32::MAX), (0, 0)] {
            let b = BackoffConfig { initial_ms, max_ms };
            for failures in [1, 2, 20, 21, 32, 64, u32::MAX] {
                let d = b.delay(failures);
                assert!(
                    d <= Duration::from_millis(u64::from(max_ms)),
                    "{b:?} after {failures}: {d:?}"
                );
            }
        }
    }
}
