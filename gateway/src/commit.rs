//! The commit gate: what analysis reports (alarm changes with their audit
//! records, linkage records, aggregates, expired maintenance windows) is
//! stored, and each alarm change is
//! handed to the order engine only once it is committed, so the uplink acts
//! on committed alarms only.

use tokio::sync::mpsc;

use crate::analysis::AnalysisOut;
use crate::clock::SharedClock;
use crate::store::StoreHandle;

/// Stores each report of analysis in turn and passes committed alarm
/// changes to `orders`. Runs until analysis ends (its sender dropped), so
/// nothing it said is lost.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<AnalysisOut>,
    store: StoreHandle,
    clock: SharedClock,
    orders: mpsc::Sender<protocol::feed::AlarmFeed>,
) {
    while let Some(out) = rx.recv().await {
        let r = match &out {
            AnalysisOut::Alarm(feed) => store.save_alarm(feed, clock.now_ms()).await,
            AnalysisOut::Linkage(rec) => store.record_linkage(rec).await,
            AnalysisOut::Aggregate(a) => store.save_aggregate(a).await,
            AnalysisOut::MaintenanceExpired(w) => store.maintenance_expired(w).await,
        };
        match (r, out) {
            (Ok(()), AnalysisOut::Alarm(feed)) => {
                let _ = orders.send(*feed).await;
            }
            (Ok(()), _) => {}
            (Err(e), _) => tracing::error!(error = %e, "alarm record not stored"),
        }
    }
}
