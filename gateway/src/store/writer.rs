//! The writer thread: owns the connection, takes everything queued (priority
//! queue first, up to `batch_max`), writes it in one transaction, commits,
//! then answers each waiter. Between batches it runs retention by the clock.
//! Beside it, the reader thread answers queries on its own connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::TelemetryRecord;
use super::batch::Batch;
use super::handle::{Counters, Job, ReadJob, Reply};
use super::outbox::Shared;
use super::retention::Retention;
use super::sql::write_tx;
use super::{Commit, Store, StoreConfig, StoreError, StoreHandle};
use crate::clock::SharedClock;

/// How long the writer sleeps with nothing to do before it looks at the
/// clock for retention (real time).
const IDLE_TICK: Duration = Duration::from_millis(500);

/// Most queries queued for the reader at once; askers wait beyond it.
const READ_QUEUE: usize = 256;

/// Starts the writer thread over `store`, and the reader thread on a second
/// connection to the same file. The returned join handle is the writer's;
/// the reader ends when the last handle is dropped.
///
/// # Errors
/// [`StoreError`] when the reader's connection cannot be opened or the
/// outbox cannot be counted.
///
/// # Panics
/// When the operating system refuses to start a thread (at start-up only).
pub fn spawn_writer(
    store: Store,
    cfg: StoreConfig,
    clock: SharedClock,
) -> Result<(StoreHandle, JoinHandle<()>), StoreError> {
    let (prio_tx, prio) = mpsc::channel(cfg.event_queue.max(1));
    let (tel_tx, tel) = mpsc::channel(cfg.telemetry_queue.max(1));
    let (reads_tx, reads) = mpsc::channel(READ_QUEUE);
    let reader = store.open_reader()?;
    let checkpointer = super::checkpoint::start(store.conn(), store.path())?;
    let outbox = Arc::new(Shared::count(&store, cfg.outbox_max_bytes)?);
    let counters = Arc::new(Counters::default());
    let handle = StoreHandle {
        prio: prio_tx,
        tel: tel_tx,
        counters: counters.clone(),
        quarantine_cap: (cfg.event_queue / 4).max(1),
        reads: reads_tx,
        outbox: outbox.clone(),
    };
    let writer = Writer {
        store,
        cfg,
        clock,
        counters,
        outbox,
        prio,
        tel,
        failing: None,
        _checkpointer: checkpointer,
    };
    std::thread::Builder::new()
        .name("store-reader".into())
        .spawn(move || serve_reads(&reader, reads))
        .expect("the OS refused to start the store reader thread");
    let join = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || writer.run())
        .expect("the OS refused to start the store writer thread");
    Ok((handle, join))
}

/// The reader thread: one query at a time until every handle is gone.
fn serve_reads(store: &Store, mut reads: mpsc::Receiver<ReadJob>) {
    while let Some(job) = reads.blocking_recv() {
        job(store);
    }
}

/// What woke the writer.
enum Wake {
    Job(Job),
    Telemetry(TelemetryRecord),
    Tick,
    /// Every handle is gone and the priority queue is empty.
    PrioClosed,
    /// Every handle is gone and the telemetry queue is empty.
    TelClosed,
}

struct Writer {
    store: Store,
    cfg: StoreConfig,
    clock: SharedClock,
    counters: Arc<Counters>,
    outbox: Arc<Shared>,
    prio: mpsc::Receiver<Job>,
    tel: mpsc::Receiver<TelemetryRecord>,
    /// Failed batches since the last one stored, and when that was last logged.
    failing: Option<(u64, std::time::Instant)>,
    /// The WAL checkpoints' thread, which ends with the writer.
    _checkpointer: super::checkpoint::Checkpointer,
}

/// While batches keep failing (a full disk), one log line this often.
const FAILING_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Writer {
    fn run(self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "store writer cannot start its runtime");
                return;
            }
        };
        rt.block_on(self.serve());
        tracing::info!("store writer stopped");
    }

    async fn serve(mut self) {
        let mut retention = match Retention::new(&self.store, &self.cfg, self.clock.now_ms()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "store writer cannot count telemetry");
                return;
            }
        };
        let (mut prio_open, mut tel_open) = (true, true);
        loop {
            let mut batch = Batch::default();
            let idle = if retention.backlog {
                Duration::ZERO
            } else {
                IDLE_TICK
            };
            match wait(&mut self.prio, &mut self.tel, prio_open, tel_open, idle).await {
                Wake::Job(job) => batch.push(job),
                Wake::Telemetry(t) => batch.telemetry.push(t),
                Wake::Tick => {}
                Wake::PrioClosed => prio_open = false,
                Wake::TelClosed => tel_open = false,
            }
            if !prio_open && !tel_open {
                break;
            }
            self.fill(&mut batch);
            self.write(&mut batch, &mut retention);
            if !batch.flushes.is_empty() {
                self.drain_telemetry(&mut retention);
                answer_all(batch.flushes, || Ok(()));
            }
            let forced = !batch.retention.is_empty();
            if forced || retention.due(self.clock.now_ms()) {
                let res = retention.run(
                    &mut self.store,
                    &self.cfg,
                    &self.prio,
                    self.clock.now_ms(),
                    forced,
                );
                self.after_retention(res, batch.retention);
            }
        }
        tracing::info!(stats = ?self.counters.snapshot(), "store writer drained");
    }

    /// Takes what is queued, priority first, up to `batch_max` records.
    fn fill(&mut self, batch: &mut Batch) {
        let max = self.cfg.batch_max.max(1);
        while batch.len() < max {
            match self.prio.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        while batch.len() < max {
            match self.tel.try_recv() {
                Ok(t) => batch.telemetry.push(t),
                Err(_) => break,
            }
        }
    }

    /// Commits what is in the telemetry queue now (for a flush).
    fn drain_telemetry(&mut self, retention: &mut Retention) {
        while !self.tel.is_empty() {
            let mut batch = Batch::default();
            while batch.len() < self.cfg.batch_max.max(1) {
                match self.tel.try_recv() {
                    Ok(t) => batch.telemetry.push(t),
                    Err(_) => break,
                }
            }
            self.write(&mut batch, retention);
        }
    }

    /// Writes a batch in one transaction and answers its waiters.
    fn write(&mut self, batch: &mut Batch, retention: &mut Retention) {
        if batch.len() == 0 {
            return;
        }
        let quarantined = batch.quarantine.len();
        self.counters
            .quarantine_queued
            .fetch_sub(quarantined, Ordering::AcqRel);
        let upstream = batch.writes.iter().any(|(w, _)| w.queues_upstream());
        match write_tx(&mut self.store, &self.outbox, batch) {
            Ok(w) => {
                if let Some((failed, _)) = self.failing.take() {
                    tracing::info!(failed, "store batches stored again");
                }
                if upstream {
                    self.outbox.wake();
                }
                let c = &self.counters;
                Counters::add(&c.batches, 1);
                Counters::add(&c.telemetry_rows, w.rows);
                Counters::add(&c.quarantined, quarantined as u64);
                retention.rows_now += w.rows;
                for ((_, reply), commit) in batch.events.drain(..).zip(w.commits) {
                    match commit {
                        Commit::New(_) => Counters::add(&c.events, 1),
                        Commit::Duplicate => Counters::add(&c.duplicates, 1),
                        Commit::SequenceReset(_) => {
                            Counters::add(&c.events, 1);
                            Counters::add(&c.sequence_resets, 1);
                        }
                    }
                    let _ = reply.send(Ok(commit));
                }
                for (_, _, _, reply) in batch.presence.drain(..) {
                    let _ = reply.send(Ok(()));
                }
                for ((_, reply), done) in batch.writes.drain(..).zip(w.done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(e) => {
                let now = std::time::Instant::now();
                match &mut self.failing {
                    None => {
                        tracing::error!(error = %e, records = batch.len(), "store batch failed");
                        self.failing = Some((1, now));
                    }
                    Some((failed, logged)) => {
                        *failed += 1;
                        if now.duration_since(*logged) >= FAILING_LOG_EVERY {
                            tracing::error!(error = %e, failed = *failed, "store batches still failing");
                            *logged = now;
                        }
                    }
                }
                Counters::add(&self.counters.write_errors, 1);
                let msg = e.to_string();
                answer_all(batch.events.drain(..).map(|(_, r)| r), || {
                    Err(StoreError::Batch(msg.clone()))
                });
                answer_all(batch.presence.drain(..).map(|p| p.3), || {
                    Err(StoreError::Batch(msg.clone()))
                });
                answer_all(batch.writes.drain(..).map(|w| w.1), || {
                    Err(StoreError::Batch(msg.clone()))
                });
            }
        }
    }

    fn after_retention(&self, res: Result<u64, StoreError>, waiters: Vec<Reply<u64>>) {
        match res {
            Ok(n) => {
                Counters::add(&self.counters.retention_deleted, n);
                answer_all(waiters, || Ok(n));
            }
            Err(e) => {
                tracing::error!(error = %e, "telemetry retention failed");
                let msg = e.to_string();
                answer_all(waiters, || Err(StoreError::Batch(msg.clone())));
            }
        }
    }
}

/// Waits for the next job, telemetry record, idle tick or closed queue.
async fn wait(
    prio: &mut mpsc::Receiver<Job>,
    tel: &mut mpsc::Receiver<TelemetryRecord>,
    prio_open: bool,
    tel_open: bool,
    idle: Duration,
) -> Wake {
    tokio::select! {
        biased;
        job = prio.recv(), if prio_open => job.map_or(Wake::PrioClosed, Wake::Job),
        t = tel.recv(), if tel_open => t.map_or(Wake::TelClosed, Wake::Telemetry),
        () = tokio::time::sleep(idle) => Wake::Tick,
    }
}

fn answer_all<T>(
    waiters: impl IntoIterator<Item = Reply<T>>,
    value: impl Fn() -> Result<T, StoreError>,
) {
    for w in waiters {
        let _ = w.send(value());
    }
}
