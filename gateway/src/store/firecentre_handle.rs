//! The fire-centre queue as the link sees it: requests to the store's threads.

use super::firecentre::{FireCentreWrite, FireQueued, FireRow};
use super::write::{Done, Write};
use super::{Store, StoreError, StoreHandle};

impl StoreHandle {
    /// Queues `rows` for the fire centre; resolves after the commit with
    /// their seqs.
    ///
    /// # Errors
    /// [`StoreError`] when nothing was queued.
    pub async fn fire_centre_queue(&self, rows: Vec<FireQueued>) -> Result<Vec<i64>, StoreError> {
        match self
            .write(Write::FireCentre(FireCentreWrite::Queue(rows)))
            .await?
        {
            Done::FireQueued(seqs) => Ok(seqs),
            other => Err(StoreError::Invalid(format!("unexpected reply {other:?}"))),
        }
    }

    /// Removes the rows the centre confirmed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn fire_centre_confirmed(&self, seqs: Vec<i64>) -> Result<(), StoreError> {
        self.write(Write::FireCentre(FireCentreWrite::Confirmed(seqs)))
            .await
            .map(drop)
    }

    /// The queued rows in drain order (on the reader thread).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn fire_centre_pending(&self) -> Result<Vec<FireRow>, StoreError> {
        self.read(Store::fire_centre_pending).await
    }
}
