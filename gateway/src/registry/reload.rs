//! Keeps the registry in force current while the gateway runs.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Registry, RegistryCell};
use crate::store::StoreHandle;

/// Checks the registry every few seconds (on the store's reader thread) and
/// re-reads it when it changed, so devices added with the CLI while the
/// gateway runs can connect.
pub async fn reload(store: StoreHandle, cell: Arc<RegistryCell>, shutdown: CancellationToken) {
    reload_every(store, cell, Duration::from_secs(5), shutdown).await;
}

/// [`reload`], checking every `period`.
pub(crate) async fn reload_every(
    store: StoreHandle,
    cell: Arc<RegistryCell>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Rebuilding the snapshot of a large compound costs a copy of every
        // device (and the stages that key on the snapshot recompute): only
        // when the registry's change counter moved.
        let held = cell.get().version();
        let fresh = store
            .read(move |s| {
                let now = super::snapshot::stored_version(s);
                if now.is_some() && now == held {
                    return Ok(None);
                }
                Registry::load(s).map(Some)
            })
            .await;
        match fresh {
            Ok(Some(r)) => cell.replace(r),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "registry reload failed; keeping the old one"),
        }
    }
}
