//! Is the pipeline moving? `/healthz` and the systemd watchdog ask here.
//!
//! The gateway is healthy when no stage has stopped (see `tasks`), every
//! stage is running, no supervised stage is stuck (see [`Progress`]), and
//! the store's writer answers a flush in time.
//! Liveness is measured on the monotonic clock of the process, not the
//! gateway's `Clock`, which tests and simulations move by hand.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::{StoreHandle, StoreStats};
use crate::tasks::Tasks;

/// The name analysis beats under.
pub const ANALYSIS: &str = "analysis";
/// A stage this long without progress, with work in hand, is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How long the store writer may take to answer a flush.
pub const STORE_WITHIN: Duration = Duration::from_secs(2);

/// A stage's heartbeat: when it last went round its loop, and its queue.
///
/// Two kinds of stage beat here. A *ticking* stage goes round on a timer
/// even with no input (analysis every 50 ms, presence every sweep, the
/// order engine every supervision tick): it is stuck when it has not gone
/// round for [`STUCK_AFTER`] plus two ticks. An *on-demand* stage waits for
/// input and may rightly sit idle for hours: it is stuck only when it took
/// an input ([`Progress::begin`]) and has shown no sign of life since for
/// [`STUCK_AFTER`]. A stage that retries a refusing store calls
/// [`Progress::alive`] each attempt: retrying is moving, and restarting the
/// process would not make a full disk any emptier.
#[derive(Debug)]
pub struct Progress {
    base: Instant,
    /// Milliseconds after `base` of the last round or sign of life.
    last_ms: AtomicU64,
    /// Milliseconds after `base`, plus one, of the input in hand; 0: none.
    busy_ms: AtomicU64,
    /// Inputs waiting at the last round.
    queued: AtomicUsize,
    /// The tick of a ticking stage.
    every: Option<Duration>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::on_demand()
    }
}

impl Progress {
    /// A stage that waits for input.
    #[must_use]
    pub fn on_demand() -> Self {
        Self {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy_ms: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            every: None,
        }
    }

    /// A stage that goes round at least every `every`.
    #[must_use]
    pub fn ticking(every: Duration) -> Self {
        Self {
            every: Some(every),
            ..Self::on_demand()
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// An input taken: from now on the stage owes a round.
    pub fn begin(&self) {
        let ms = self.now_ms();
        self.last_ms.store(ms, Ordering::Relaxed);
        self.busy_ms.store(ms + 1, Ordering::Relaxed);
    }

    /// Still working on the input in hand (a retry, a long batch).
    pub fn alive(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// One more round done, with `queued` inputs waiting.
    pub fn beat(&self, queued: usize) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
        self.busy_ms.store(0, Ordering::Relaxed);
        self.queued.store(queued, Ordering::Relaxed);
    }

    /// How long since the last round or sign of life.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        )
    }

    /// How long the input in hand has been in hand, if any.
    pub fn busy(&self) -> Option<Duration> {
        match self.busy_ms.load(Ordering::Relaxed) {
            0 => None,
            b => Some(Duration::from_millis(self.now_ms().saturating_sub(b - 1))),
        }
    }

    /// Whether the stage is stuck, by its kind's rule.
    pub fn stuck(&self) -> bool {
        let idle = self.idle();
        match self.every {
            Some(every) => idle > STUCK_AFTER + every * 2,
            None => self.busy().is_some() && idle > STUCK_AFTER,
        }
    }
}

/// The stages' heartbeats, by name, for `/healthz`.
#[derive(Debug, Clone, Default)]
pub struct Beats(Arc<Mutex<Vec<Beat>>>);

/// A stage's name and its heartbeat.
type Beat = (&'static str, Arc<Progress>);

impl Beats {
    /// Registers `progress` as stage `name`'s heartbeat; returns it.
    pub fn add(&self, name: &'static str, progress: Progress) -> Arc<Progress> {
        let p = Arc::new(progress);
        self.insert(name, p.clone());
        p
    }

    /// Registers a heartbeat a stage made itself.
    pub fn insert(&self, name: &'static str, progress: Arc<Progress>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, progress));
    }

    /// The heartbeat registered as `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Progress>> {
        self.all()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p)
    }

    fn all(&self) -> Vec<Beat> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One stage's heartbeat as `/healthz` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StageProgress {
    /// The stage.
    pub name: &'static str,
    /// Milliseconds since its last round or sign of life.
    pub idle_ms: u64,
    /// Milliseconds it has held its current input, when it holds one.
    pub busy_ms: Option<u64>,
    /// Inputs waiting at its last round.
    pub queued: usize,
    /// Whether it is stuck (see [`Progress`]).
    pub stuck: bool,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What `/healthz` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Everything below is fine.
    pub ok: bool,
    /// The first stage that stopped or task that panicked.
    pub failure: Option<String>,
    /// Stages running, by name (a name may run more than once).
    pub stages: Vec<(String, usize)>,
    /// Milliseconds since analysis last went round its loop.
    pub analysis_idle_ms: u64,
    /// Events waiting for analysis then.
    pub analysis_queued: usize,
    /// Every supervised stage's heartbeat.
    pub progress: Vec<StageProgress>,
    /// Whether the store writer answered a flush within [`STORE_WITHIN`].
    pub store_ok: bool,
    /// The store writer's counters.
    pub store: StoreStats,
    /// Why it is not ok, one reason per problem.
    pub problems: Vec<String>,
}

/// The gateway's health, asked at any time.
#[derive(Debug, Clone)]
pub struct Health {
    /// The tracker (failures, stages running).
    pub tasks: Tasks,
    /// The stages' heartbeats (analysis among them).
    pub beats: Beats,
    /// The store, to see its writer answer.
    pub store: StoreHandle,
}

impl Health {
    /// Checks every part now.
    pub async fn check(&self) -> Report {
        let mut problems = Vec::new();
        let failure = self.tasks.failure();
        if let Some(f) = &failure {
            problems.push(f.clone());
        }
        let progress: Vec<StageProgress> = self
            .beats
            .all()
            .into_iter()
            .map(|(name, p)| StageProgress {
                name,
                idle_ms: millis(p.idle()),
                busy_ms: p.busy().map(millis),
                queued: p.queued.load(Ordering::Relaxed),
                stuck: p.stuck(),
            })
            .collect();
        for s in progress.iter().filter(|s| s.stuck) {
            problems.push(format!("{} made no progress for {} ms", s.name, s.idle_ms));
        }
        let analysis = progress.iter().find(|s| s.name == ANALYSIS);
        let store_ok = matches!(
            tokio::time::timeout(STORE_WITHIN, self.store.flush()).await,
            Ok(Ok(()))
        );
        if !store_ok {
            problems.push("the store writer does not answer".into());
        }
        Report {
            ok: problems.is_empty(),
            failure,
            stages: self.tasks.stages(),
            analysis_idle_ms: analysis.map_or(0, |a| a.idle_ms),
            analysis_queued: analysis.map_or(0, |a| a.queued),
            progress,
            store_ok,
            store: self.store.stats(),
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heartbeat whose clock started `ago` and which never beat since.
    fn started(ago: Duration, every: Option<Duration>) -> Progress {
        let base = Instant::now().checked_sub(ago).expect("uptime");
        Progress {
            base,
            every,
            ..Progress::on_demand()
        }
    }

    #[test]
    fn a_stage_waiting_for_input_is_never_stuck() {
        let p = started(STUCK_AFTER * 3, None);
        assert!(p.idle() > STUCK_AFTER);
        assert!(p.busy().is_none());
        assert!(!p.stuck());
    }

    #[test]
    fn a_stage_holding_an_input_too_long_is_stuck_until_it_shows_life() {
        let p = started(STUCK_AFTER * 3, None);
        p.busy_ms.store(1, Ordering::Relaxed);
        assert!(
            p.stuck(),
            "an input in hand since the start, no sign of life"
        );
        p.alive();
        assert!(!p.stuck(), "a retry is a sign of life");
        assert!(p.busy().is_some_and(|b| b > STUCK_AFTER));
        p.beat(3);
        assert!(p.busy().is_none());
        assert_eq!(p.queued.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_ticking_stage_that_stops_ticking_is_stuck() {
        let every = Duration::from_millis(50);
        let p = started(STUCK_AFTER * 3, Some(every));
        assert!(p.stuck(), "no round since the start");
        p.beat(0);
        assert!(!p.stuck());
        // A slow tick is allowed two periods beyond the rule.
        let slow = started(
            STUCK_AFTER + Duration::from_secs(1),
            Some(Duration::from_secs(1)),
        );
        assert!(!slow.stuck());
    }

    #[test]
    fn beats_are_listed_by_name() {
        let beats = Beats::default();
        let a = beats.add(ANALYSIS, Progress::ticking(Duration::from_millis(50)));
        beats.insert("record", Arc::new(Progress::on_demand()));
        a.beat(7);
        let got = beats.get(ANALYSIS).expect("registered");
        assert_eq!(got.queued.load(Ordering::Relaxed), 7);
        assert!(beats.get("record").is_some());
        assert!(beats.get("nobody").is_none());
    }
}
