//! A running gateway: what it reports (failures, its tracker) and how it stops.

use super::Gateway;
use crate::tasks::Tasks;

impl Gateway {
    /// Resolves when a stage stops while the gateway runs, or a task
    /// panics (the gateway is then already shutting down), with what failed.
    pub async fn failed(&self) -> String {
        self.tasks.failed().await
    }

    /// What failed, if anything did.
    pub fn failure(&self) -> Option<String> {
        self.tasks.failure()
    }

    /// The tracker every task of this gateway runs in, for work added
    /// beside the stages (tools, tests) under the same supervision.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// Stops every task, then lets the store writer commit what it holds and exit.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        self.tasks.wait().await;
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final store flush failed");
        }
        let writer = self.writer.take();
        drop(self);
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

impl Drop for Gateway {
    /// A gateway dropped without [`Gateway::stop`] still stops its tasks.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
