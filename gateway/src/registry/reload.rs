//! Keeps the registry in force current while the gateway runs.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Registry, RegistryCell};
use crate::store::StoreHandle;

/// Re-reads the registry every few seconds (on the store's reader thread),
/// so devices added with the CLI while the gateway runs can connect.
pub async fn reload(store: StoreHandle, cell: Arc<RegistryCell>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.read(Registry::load).await {
            Ok(r) => cell.replace(r),
            Err(e) => tracing::warn!(error = %e, "registry reload failed; keeping the old one"),
        }
    }
}
