//! Every task the gateway spawns, in one tracker: a task that panics or
//! returns an error is logged by name, and shutdown waits for all of them.
//!
//! Supervision: a *stage* ([`Tasks::spawn_stage`]: ingest, analysis, the
//! order engine, the uplink ...) runs until shutdown. A stage that ends
//! before shutdown, or any task that panics, is a failure: one `error` line
//! names it, the gateway is shut down, and `gridsense run` exits non-zero so
//! its supervisor (systemd) restarts it. A gateway running on with a dead
//! stage would acknowledge events nobody evaluates.
//!
//! [`Tasks`] is cheap to clone; each stage that starts tasks of its own
//! (ingest's commit tasks, linkage's Modbus writes) holds a clone, so no
//! task runs outside it.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The gateway's task tracker and its shutdown signal.
#[derive(Debug, Clone)]
pub struct Tasks {
    /// Counts running tasks; [`Tasks::wait`] waits for it to empty.
    tracker: TaskTracker,
    /// Cancelled at shutdown; long waits inside tasks select on it.
    shutdown: CancellationToken,
    /// The first failure, and its signal.
    failure: Arc<Failure>,
    /// Stages running, by name.
    stages: Arc<Mutex<std::collections::BTreeMap<&'static str, usize>>>,
}

#[derive(Debug, Default)]
struct Failure {
    /// What failed first.
    what: Mutex<Option<String>>,
    /// Cancelled at the first failure.
    signal: CancellationToken,
}

/// What a task returns: nothing, or a result whose error is logged.
pub trait TaskOutcome: Send + 'static {
    /// The error to log, if the task failed.
    fn failure(self) -> Option<String>;
}

impl TaskOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: Display + Send + 'static> TaskOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

impl Tasks {
    /// A tracker whose tasks stop when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            tracker: TaskTracker::new(),
            shutdown,
            failure: Arc::default(),
            stages: Arc::default(),
        }
    }

    /// Stages running now, by name, with how many of each.
    pub fn stages(&self) -> Vec<(String, usize)> {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect()
    }

    fn stage_count(&self, name: &'static str, up: bool) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let n = stages.entry(name).or_default();
        if up {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                stages.remove(name);
            }
        }
    }

    /// Records a failure (the first one is kept), then shuts everything down.
    fn fail(&self, what: String) {
        let mut first = self.failure.what.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(what);
        }
        drop(first);
        self.shutdown.cancel();
        self.failure.signal.cancel();
    }

    /// The first failure, if a stage stopped or a task panicked.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .what
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resolves at the first failure, with what failed.
    pub async fn failed(&self) -> String {
        self.failure.signal.cancelled().await;
        self.failure().unwrap_or_default()
    }

    /// Runs the stage `fut`, named `name`, which must run until shutdown:
    /// ending before it (whatever it returns) or panicking is a failure.
    pub fn spawn_stage<F>(&self, name: &'static str, fut: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let me = self.clone();
        self.stage_count(name, true);
        self.spawn(name, async move {
            let out = fut.await;
            me.stage_count(name, false);
            let error = out.failure();
            if !me.shutdown.is_cancelled() {
                let why = error.unwrap_or_else(|| "it returned".into());
                tracing::error!(stage = name, reason = %why, "stage stopped while the gateway runs: shutting down to be restarted");
                me.fail(format!("stage {name} stopped: {why}"));
                return;
            }
            if let Some(error) = error {
                tracing::error!(task = name, %error, "task failed");
            }
        });
    }

    /// Runs `fut` as a tracked task named `name`. When it panics or returns
    /// an error, one `error` line names the task and says why.
    pub fn spawn<F>(&self, name: &'static str, fut: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let me = self.clone();
        self.tracker.spawn(async move {
            match catch_unwind(fut).await {
                Ok(out) => {
                    if let Some(error) = out.failure() {
                        tracing::error!(task = name, %error, "task failed");
                    }
                }
                Err(panic) => {
                    let panic = panic_message(panic.as_ref());
                    tracing::error!(task = name, %panic, "task panicked");
                    me.fail(format!("task {name} panicked: {panic}"));
                }
            }
        });
    }

    /// The shutdown signal the tasks obey.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Resolves once shutdown has been asked for.
    pub async fn cancelled(&self) {
        self.shutdown.cancelled().await;
    }

    /// Tasks still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether no task is running.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Waits until every task has ended. Tasks spawned meanwhile (a commit
    /// task started by a message in flight) are waited for too.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Polls `fut`, turning a panic into an `Err` carrying its payload.
async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| {
        // A future that panicked is not polled again: its state is dropped.
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}

/// The message a panic was raised with, when it is text.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not text)")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// Collects what the tasks log, for the assertions.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Log {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
        }
    }

    /// One test of this module at a time (every one takes it), and each
    /// callsite's cached interest rebuilt once the capturing subscriber is
    /// set: with the tests in parallel, a test logging through the same
    /// callsites on another thread (no subscriber there) left the capturing
    /// test's log empty (seen with RUST_BACKTRACE=1, whose slower panics
    /// change the timing; the cause inside tracing's caches not pinned).
    static CAPTURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    struct Capture {
        _default: tracing::subscriber::DefaultGuard,
        _one: std::sync::MutexGuard<'static, ()>,
    }

    fn capture() -> (Log, Capture) {
        let one = CAPTURING.lock().unwrap_or_else(|e| e.into_inner());
        let log = Log::default();
        let w = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(false)
            .finish();
        let default = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        (
            log,
            Capture {
                _default: default,
                _one: one,
            },
        )
    }

    fn fall() {
        panic!("the sky fell");
    }

    // The default (current-thread) test runtime runs every task on this
    // thread, so the thread-local log subscriber sees them.
    #[tokio::test]
    async fn a_panicked_task_is_logged_by_name_and_wait_returns() {
        let (log, _guard) = capture();
        let tasks = Tasks::new(CancellationToken::new());
        tasks.spawn("doomed", async {
            tokio::task::yield_now().await;
            fall();
        });
        tasks.spawn("fine", async {});
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("wait returns");
        assert!(tasks.is_empty());
        let text = log.text();
        let line = text
            .lines()
            .find(|l| l.contains("task panicked"))
            .unwrap_or_else(|| panic!("no panic line in {text:?}"));
        assert!(
            line.contains("doomed") && line.contains("the sky fell"),
            "{line}"
        );
        // Nothing logged about the task that ended well (the panic's own
        // backtrace, with RUST_BACKTRACE set, may hold any word).
        assert!(!text.contains("task=\"fine\""), "{text}");
        assert!(!text.contains("task=fine"), "{text}");
    }

    #[tokio::test]
    async fn a_task_returning_an_error_is_logged() {
        let (log, _guard) = capture();
        let tasks = Tasks::new(CancellationToken::new());
        tasks.spawn("uplink", async { Err::<(), _>("broker refused") });
        tasks.spawn("quiet", async { Ok::<(), String>(()) });
        tasks.wait().await;
        let text = log.text();
        assert_eq!(text.matches("task failed").count(), 1, "{text}");
        assert!(
            text.contains("uplink") && text.contains("broker refused"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_stage_that_stops_before_shutdown_fails_the_gateway_and_stops_the_rest() {
        let (log, _guard) = capture();
        let tasks = Tasks::new(CancellationToken::new());
        let t = tasks.clone();
        tasks.spawn_stage("other", async move { t.cancelled().await });
        tasks.spawn_stage("analysis", async {
            tokio::task::yield_now().await;
        });
        let what = tokio::time::timeout(Duration::from_secs(5), tasks.failed())
            .await
            .expect("the failure is signalled");
        assert_eq!(what, "stage analysis stopped: it returned");
        assert!(
            tasks.shutdown().is_cancelled(),
            "everything is told to stop"
        );
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("the other stage stops");
        let text = log.text();
        assert_eq!(text.matches("stage stopped").count(), 1, "{text}");
        assert!(text.contains("analysis"), "{text}");
    }

    #[tokio::test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the lock only keeps the tests of this module apart (each on its own runtime)"
    )]
    async fn a_stage_ending_at_shutdown_and_a_finished_job_are_not_failures() {
        let _one = CAPTURING.lock().unwrap_or_else(|e| e.into_inner());
        let tasks = Tasks::new(CancellationToken::new());
        let t = tasks.clone();
        tasks.spawn_stage("api", async move { t.cancelled().await });
        tasks.spawn("replay", async {});
        tokio::task::yield_now().await;
        assert!(!tasks.shutdown().is_cancelled());
        tasks.shutdown().cancel();
        tasks.wait().await;
        assert_eq!(tasks.failure(), None);
    }

    #[tokio::test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the lock only keeps the tests of this module apart (each on its own runtime)"
    )]
    async fn a_panicked_job_is_a_failure() {
        let _one = CAPTURING.lock().unwrap_or_else(|e| e.into_inner());
        let tasks = Tasks::new(CancellationToken::new());
        tasks.spawn("ingest-commit", async {
            tokio::task::yield_now().await;
            fall();
        });
        let what = tokio::time::timeout(Duration::from_secs(5), tasks.failed())
            .await
            .expect("signalled");
        assert_eq!(what, "task ingest-commit panicked: the sky fell");
    }

    #[tokio::test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the lock only keeps the tests of this module apart (each on its own runtime)"
    )]
    async fn wait_waits_for_tasks_that_obey_the_shutdown() {
        let _one = CAPTURING.lock().unwrap_or_else(|e| e.into_inner());
        let tasks = Tasks::new(CancellationToken::new());
        let t = tasks.clone();
        tasks.spawn("sleeper", async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                () = t.cancelled() => {}
            }
        });
        assert_eq!(tasks.len(), 1);
        tasks.shutdown().cancel();
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("the sleeper stops at shutdown");
    }
}
