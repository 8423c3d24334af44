//! [`StoreHandle`]: the cloneable front of the writer thread, and its counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use protocol::{DeviceId, Status};
use tokio::sync::{mpsc, oneshot};

use super::outbox::Shared;
use super::{
    Commit, Done, EventRecord, LinkageRecord, QuarantineRecord, Shed, Store, StoreError,
    TelemetryRecord, Write,
};

/// Where a waiter is answered.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A query for the reader thread: runs on its connection, answers itself.
pub(super) type ReadJob = Box<dyn FnOnce(&Store) + Send>;

/// What the priority queue carries.
#[derive(Debug)]
pub(super) enum Job {
    /// Commit an event, then answer.
    Event(EventRecord, oneshot::Sender<Result<Commit, StoreError>>),
    /// Record a presence change, then answer.
    Presence(
        DeviceId,
        Status,
        u64,
        oneshot::Sender<Result<(), StoreError>>,
    ),
    /// Count a rejected message; nobody waits.
    Quarantine(QuarantineRecord),
    /// Apply a write (alarm, linkage, aggregate, order, outbox), then answer.
    Write(Write, oneshot::Sender<Result<Done, StoreError>>),
    /// Answer once everything queued before is committed.
    Flush(oneshot::Sender<Result<(), StoreError>>),
    /// Run retention now; answer with the rows deleted.
    Retention(oneshot::Sender<Result<u64, StoreError>>),
}

/// Counters shared by the handles and the writer.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) events: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) sequence_resets: AtomicU64,
    pub(super) telemetry_rows: AtomicU64,
    pub(super) shed: AtomicU64,
    pub(super) quarantined: AtomicU64,
    pub(super) quarantine_dropped: AtomicU64,
    pub(super) retention_deleted: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) write_errors: AtomicU64,
    /// Quarantine jobs queued and not yet written: capped so a flood of
    /// garbage cannot fill the queue that alarms wait on.
    pub(super) quarantine_queued: AtomicUsize,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> StoreStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStats {
            events: get(&self.events),
            duplicates: get(&self.duplicates),
            sequence_resets: get(&self.sequence_resets),
            telemetry_rows: get(&self.telemetry_rows),
            shed: get(&self.shed),
            quarantined: get(&self.quarantined),
            quarantine_dropped: get(&self.quarantine_dropped),
            retention_deleted: get(&self.retention_deleted),
            batches: get(&self.batches),
            write_errors: get(&self.write_errors),
        }
    }
}

/// A snapshot of the writer's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Events stored.
    pub events: u64,
    /// Events not stored because `(device, boot, seq)` was already there.
    pub duplicates: u64,
    /// Events of nodes without a boot identity stored as new after their
    /// sequence was reset (counted in `events` too).
    pub sequence_resets: u64,
    /// Telemetry rows (readings) stored.
    pub telemetry_rows: u64,
    /// Telemetry records shed because the queue was full.
    pub shed: u64,
    /// Rejected messages recorded in the quarantine table.
    pub quarantined: u64,
    /// Rejected messages not recorded because their share of the queue was full.
    pub quarantine_dropped: u64,
    /// Telemetry rows deleted by retention.
    pub retention_deleted: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Transactions that failed (their records were not stored).
    pub write_errors: u64,
}

/// The cloneable way to the store writer. Dropping every handle makes the
/// writer drain its queues, commit and exit.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    /// Events, presence, quarantine, flushes: written first.
    pub(super) prio: mpsc::Sender<Job>,
    /// Telemetry: shed when full.
    pub(super) tel: mpsc::Sender<TelemetryRecord>,
    /// Shared counters.
    pub(super) counters: Arc<Counters>,
    /// Most quarantine jobs queued at once.
    pub(super) quarantine_cap: usize,
    /// Queries, to the reader thread.
    pub(super) reads: mpsc::Sender<ReadJob>,
    /// The outbox's counters and wake-up.
    pub(super) outbox: Arc<Shared>,
}

impl StoreHandle {
    /// Stores an event; resolves only after the transaction holding it has
    /// committed (or failed). Waits while the priority queue is full: events
    /// are never shed.
    ///
    /// # Errors
    /// [`StoreError::Batch`] when the transaction failed, [`StoreError::Closed`]
    /// when the writer has stopped. Either way the event is not stored and
    /// must not be acknowledged.
    pub async fn commit_event(&self, rec: EventRecord) -> Result<Commit, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Event(rec, tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues telemetry without waiting.
    ///
    /// # Errors
    /// [`Shed`] when the queue is full or the writer stopped; counted.
    pub fn try_telemetry(&self, rec: TelemetryRecord) -> Result<(), Shed> {
        self.tel.try_send(rec).map_err(|_| {
            Counters::add(&self.counters.shed, 1);
            Shed
        })
    }

    /// Records a rejected message without waiting; dropped and counted when
    /// quarantine's share of the priority queue is full.
    pub fn quarantine(&self, rec: QuarantineRecord) {
        let queued = &self.counters.quarantine_queued;
        if queued.fetch_add(1, Ordering::AcqRel) >= self.quarantine_cap
            || self.prio.try_send(Job::Quarantine(rec)).is_err()
        {
            queued.fetch_sub(1, Ordering::AcqRel);
            Counters::add(&self.counters.quarantine_dropped, 1);
        }
    }

    /// Records that `device` went online or offline at `at_ms`; resolves
    /// after it is committed.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn set_presence(
        &self,
        device: DeviceId,
        status: Status,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Presence(device, status, at_ms, tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Resolves once everything sent through any handle before this call
    /// (telemetry included) is committed.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Flush(tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs telemetry retention now (it also runs by itself, by the clock);
    /// returns the rows deleted.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn run_retention(&self) -> Result<u64, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Retention(tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an alarm as it now stands (insert or replace by id) and appends
    /// it to the audit chain, in one transaction; resolves after it is committed.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn save_alarm(
        &self,
        feed: &protocol::feed::AlarmFeed,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        self.write(Write::Alarm(Box::new(feed.clone()), at_ms))
            .await
            .map(drop)
    }

    /// Records a finished linkage command; resolves after it is committed.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn record_linkage(&self, rec: &LinkageRecord) -> Result<(), StoreError> {
        self.write(Write::Linkage(rec.clone())).await.map(drop)
    }

    /// Stores a closed aggregate window; resolves after it is committed.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn save_aggregate(&self, a: &protocol::feed::Aggregate) -> Result<(), StoreError> {
        self.write(Write::Aggregate(a.clone())).await.map(drop)
    }

    /// Commits a work order's change with its outbox row, audit record and
    /// the cell's KPIs in one transaction; resolves after the commit.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn commit_order(
        &self,
        c: super::OrderCommit,
    ) -> Result<super::OrderCommitted, StoreError> {
        match self.write(Write::Order(Box::new(c))).await? {
            Done::Order(done) => Ok(*done),
            other => Err(StoreError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Applies `w` in the writer's next transaction; resolves after the commit.
    ///
    /// # Errors
    /// As [`Self::commit_event`].
    pub async fn write(&self, w: Write) -> Result<Done, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Write(w, tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `query` on the store's reader thread (its own query-only
    /// connection, so reads never wait behind the writer's batches) and
    /// returns its answer. Sees everything committed before the call.
    ///
    /// # Errors
    /// [`StoreError::Closed`] when the reader has stopped; whatever `query` returns.
    pub async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |s| {
            let _ = tx.send(query(s));
        });
        self.reads.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// The writer's counters.
    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// Flushes, then drops this handle. When it was the last one, the writer
    /// exits and its `JoinHandle` returns.
    ///
    /// # Errors
    /// As [`Self::flush`].
    pub async fn close(self) -> Result<(), StoreError> {
        self.flush().await
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        self.prio.send(job).await.map_err(|_| StoreError::Closed)
    }
}
