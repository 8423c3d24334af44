//! The commit gate's store side: what analysis reports (alarm changes with
//! their audit records, linkage records, aggregates, expired maintenance
//! windows, and an evaluated
//! event's consequences with its mark) is stored, and each alarm change is
//! handed to the order engine only once it is committed, so the uplink acts
//! on committed alarms only.

use std::time::Duration;

use protocol::feed::AlarmFeed;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::analysis::AnalysisOut;
use crate::clock::SharedClock;
use crate::store::{MaintenanceWrite, StoreHandle, Write};

/// The store write of one report, and the alarm changes in it.
fn to_write(out: AnalysisOut, at: u64, alarms: &mut Vec<AlarmFeed>) -> Write {
    match out {
        AnalysisOut::Alarm(feed) => {
            alarms.push((*feed).clone());
            Write::Alarm(feed, at)
        }
        AnalysisOut::Linkage(rec) => Write::Linkage(rec),
        AnalysisOut::Aggregate(a) => Write::Aggregate(a),
        AnalysisOut::MaintenanceExpired(w) => Write::Maintenance(MaintenanceWrite::Expired {
            target: w.target,
            until: w.until,
        }),
        AnalysisOut::Evaluated { event, outs } => Write::Evaluated {
            event,
            writes: outs.into_iter().map(|o| to_write(o, at, alarms)).collect(),
        },
    }
}

/// How long to wait before trying a refused write again.
const RETRY: Duration = Duration::from_millis(500);

/// First hands `resume` (the open alarms found at start-up) to the order
/// engine, which makes the order an alarm should have and lacks (a crash
/// came between the two commits) and ignores the rest; then stores each
/// report of analysis in turn and passes committed alarm changes to
/// `orders`. A write the store refuses (a full disk) is tried again, in
/// order, until it is stored or shutdown comes; an event whose consequences
/// were never stored stays unevaluated and is replayed at the next start.
/// Runs until analysis ends (its sender dropped), so nothing it said is lost.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<AnalysisOut>,
    store: StoreHandle,
    clock: SharedClock,
    orders: mpsc::Sender<AlarmFeed>,
    resume: Vec<AlarmFeed>,
    shutdown: CancellationToken,
) {
    for feed in resume {
        let _ = orders.send(feed).await;
    }
    while let Some(out) = rx.recv().await {
        let mut alarms = Vec::new();
        let w = to_write(out, clock.now_ms(), &mut alarms);
        if store_until_done(&store, w, &shutdown).await {
            for feed in alarms {
                let _ = orders.send(feed).await;
            }
        }
    }
}

/// Stores `w`, trying again while the store refuses it; false when shutdown
/// came first.
async fn store_until_done(store: &StoreHandle, w: Write, shutdown: &CancellationToken) -> bool {
    let mut failing = false;
    loop {
        match store.write(w.clone()).await {
            Ok(_) => {
                if failing {
                    tracing::info!("alarm records stored again");
                }
                return true;
            }
            Err(e) => {
                if !failing {
                    tracing::error!(error = %e, "alarm record not stored; kept and retried (linkage goes on)");
                }
                failing = true;
            }
        }
        if shutdown.is_cancelled() {
            tracing::error!(
                "alarm record not stored before shutdown; its event is replayed at the next start"
            );
            return false;
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}
