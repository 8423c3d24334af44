//! [`Outbox`]: the outbox as the order engine and the uplink see it. Every
//! operation is a request to the store's threads.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::outbox::{Class, Enqueued, OutMsg, OutboxStats, Row, Shared};
use super::write::{Done, Write};
use super::{StoreError, StoreHandle};

/// The outbox as its users see it: queue, drain, receipts, counters. Every
/// operation is a request to the store's threads.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(super) store: StoreHandle,
    pub(super) shared: Arc<Shared>,
}

impl Outbox {
    /// Queues `msgs` in one transaction; resolves after the commit, and
    /// wakes the drain.
    ///
    /// # Errors
    /// [`StoreError`] when the transaction failed: nothing was queued.
    pub async fn enqueue(&self, now: u64, msgs: Vec<OutMsg>) -> Result<Vec<Enqueued>, StoreError> {
        match self.store.write(Write::Enqueue(now, msgs)).await? {
            Done::Enqueued(e) => Ok(e),
            other => Err(StoreError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Up to `limit` rows after `(class, seq)` in drain order (read on the
    /// store's reader thread).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn fetch(&self, after: (i64, i64), limit: usize) -> Result<Vec<Row>, StoreError> {
        self.store.read(move |s| s.outbox_fetch(after, limit)).await
    }

    /// Removes what `receipts` name (see [`ack`]); returns the rows removed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn ack(&self, receipts: Vec<(String, u32)>) -> Result<u64, StoreError> {
        match self.store.write(Write::OutboxAck(receipts)).await? {
            Done::Removed(n) => Ok(n),
            other => Err(StoreError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Removes routine rows handed to a connected client.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn remove(&self, seqs: Vec<i64>) -> Result<(), StoreError> {
        self.store.write(Write::OutboxRemove(seqs)).await.map(drop)
    }

    /// Wakes the drain (the writer does it after every commit that queued rows).
    pub fn wake(&self) {
        self.shared.wake();
    }

    /// Waits for a wake-up; returns the lowest class queued since the last
    /// call (`None` if only a spurious wake-up).
    pub async fn woken(&self) -> Option<Class> {
        self.shared.wake.notified().await;
        self.take_woken()
    }

    /// The lowest class queued since the last call, if any.
    pub fn take_woken(&self) -> Option<Class> {
        match self.shared.woken.swap(u8::MAX, Ordering::Relaxed) {
            u8::MAX => None,
            c => Some(Class::from_i64(i64::from(c))),
        }
    }

    /// The store this outbox lives in.
    pub fn store(&self) -> StoreHandle {
        self.store.clone()
    }

    /// The counters now.
    pub fn stats(&self) -> OutboxStats {
        let s = &self.shared;
        OutboxStats {
            rows: s.rows.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            shed: s.shed.load(Ordering::Relaxed),
            shed_orders: s.shed_orders.load(Ordering::Relaxed),
            disk_bytes: s.disk.estimate(s.bytes.load(Ordering::Relaxed)),
        }
    }
}

impl StoreHandle {
    /// The outbox: queue, drain and receipts through this store.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            store: self.clone(),
            shared: self.outbox.clone(),
        }
    }
}
