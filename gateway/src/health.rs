//! Is the pipeline moving? `/healthz` and the systemd watchdog ask here.
//!
//! The gateway is healthy when no stage has stopped (see `tasks`), every
//! stage is running, analysis made progress recently (it ticks every 50 ms
//! even with no input), and the store's writer answers a flush in time.
//! Liveness is measured on the monotonic clock of the process, not the
//! gateway's `Clock`, which tests and simulations move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::{StoreHandle, StoreStats};
use crate::tasks::Tasks;

/// Analysis older than this without progress is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How long the store writer may take to answer a flush.
pub const STORE_WITHIN: Duration = Duration::from_secs(2);

/// A stage's heartbeat: when it last went round its loop, and its queue.
#[derive(Debug)]
pub struct Progress {
    base: Instant,
    /// Milliseconds after `base` of the last round.
    last_ms: AtomicU64,
    /// Events waiting for it at the last round.
    queued: AtomicUsize,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
        }
    }
}

impl Progress {
    /// One more round, with `queued` inputs waiting.
    pub fn beat(&self, queued: usize) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
        self.queued.store(queued, Ordering::Relaxed);
    }

    /// How long since the last round.
    pub fn idle(&self) -> Duration {
        let now = self.base.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
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
    /// Analysis's heartbeat.
    pub analysis: Arc<Progress>,
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
        let idle = self.analysis.idle();
        if idle > STUCK_AFTER {
            problems.push(format!(
                "analysis made no progress for {} ms",
                idle.as_millis()
            ));
        }
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
            analysis_idle_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            analysis_queued: self.analysis.queued.load(Ordering::Relaxed),
            store_ok,
            store: self.store.stats(),
            problems,
        }
    }
}
