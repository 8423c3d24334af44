//! The commit gate's store side: what analysis reports (alarm changes with
//! their audit records, linkage records, aggregates, expired maintenance
//! windows, and an evaluated
//! event's consequences with its mark) is stored, and each alarm change is
//! handed to the order engine only once it is committed, so the uplink acts
//! on committed alarms only.

use std::sync::Arc;
use std::time::Duration;

use protocol::feed::AlarmFeed;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::analysis::AnalysisOut;
use crate::clock::SharedClock;
use crate::health::Progress;
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

/// At most this many reports of analysis are stored in one transaction.
const BATCH_MAX: usize = 128;

/// At most this many committed alarm changes wait to be handed on together.
const HOLD_MAX: usize = 256;

/// After the store refused writes, other alarms' changes wait this long
/// behind life safety: detectors repeat the alarms whose events were not
/// stored, and their orders should reach the district first.
const RECOVERY_HOLD: Duration = Duration::from_secs(3);

/// First hands `resume` (the alarm changes the order engine had not acted
/// on when the gateway stopped) to the order engine, which makes the order
/// an alarm should have and lacks and ignores the rest; then stores each
/// report of analysis in turn and passes committed alarm changes to
/// `orders`. A write the store refuses (a full disk) is tried again, in
/// order, until it is stored or shutdown comes; an event whose consequences
/// were never stored stays unevaluated and is replayed at the next start.
/// While reports are queued (a backlog after the store refused writes),
/// their alarm changes are held and handed on together, life safety first;
/// after a refusal, the others wait [`RECOVERY_HOLD`] more, so the district
/// gets the fires' orders before the rest.
/// Runs until analysis ends (its sender dropped), so nothing it said is lost.
pub async fn run(
    mut rx: mpsc::UnboundedReceiver<AnalysisOut>,
    store: StoreHandle,
    clock: SharedClock,
    orders: mpsc::Sender<AlarmFeed>,
    resume: Vec<AlarmFeed>,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
) {
    let mut held = resume;
    let mut others_after: Option<Instant> = None;
    loop {
        if others_after.is_some_and(|t| Instant::now() >= t) {
            others_after = None;
        }
        if !held.is_empty() && (rx.is_empty() || held.len() >= HOLD_MAX) {
            hand_on(&mut held, &orders, others_after.is_none()).await;
        }
        let out = match others_after {
            Some(t) if !held.is_empty() => tokio::select! {
                o = rx.recv() => o,
                () = tokio::time::sleep_until(t) => continue,
            },
            _ => rx.recv().await,
        };
        let Some(out) = out else { break };
        progress.begin();
        let mut alarms = Vec::new();
        let now = clock.now_ms();
        let mut w = to_write(out, now, &mut alarms);
        // A backlog (replayed events at start-up, a burst) is stored in one
        // transaction: one sync for all of it, not one per report.
        if !rx.is_empty() {
            let mut many = vec![w];
            while many.len() < BATCH_MAX
                && let Ok(out) = rx.try_recv()
            {
                many.push(to_write(out, now, &mut alarms));
            }
            w = Write::Many(many);
        }
        match store_until_done(&store, w, &progress, &shutdown).await {
            Stored::Yes { refused } => {
                if refused {
                    others_after = Some(Instant::now() + RECOVERY_HOLD);
                }
                held.append(&mut alarms);
            }
            Stored::No => {}
        }
        progress.beat(rx.len());
    }
    hand_on(&mut held, &orders, true).await;
}

/// Hands the life-safety alarms of `held` to the order engine, then, if
/// `others`, the rest; what is not handed stays held. The split depends on
/// the kind alone, which an alarm never changes, so one alarm's changes
/// keep their order.
async fn hand_on(held: &mut Vec<AlarmFeed>, orders: &mpsc::Sender<AlarmFeed>, others: bool) {
    let (now, later): (Vec<_>, Vec<_>) = held.drain(..).partition(|a| a.kind.is_life_safety());
    *held = later;
    for feed in now {
        let _ = orders.send(feed).await;
    }
    if others {
        for feed in held.drain(..) {
            let _ = orders.send(feed).await;
        }
    }
}

/// Whether a write was stored.
enum Stored {
    /// Stored; `refused` when the store refused it at first.
    Yes { refused: bool },
    /// Shutdown came first.
    No,
}

/// Stores `w`, trying again while the store refuses it.
async fn store_until_done(
    store: &StoreHandle,
    w: Write,
    progress: &Progress,
    shutdown: &CancellationToken,
) -> Stored {
    let mut failing = false;
    loop {
        progress.alive();
        match store.write(w.clone()).await {
            Ok(_) => {
                if failing {
                    tracing::info!("alarm records stored again");
                }
                return Stored::Yes { refused: failing };
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
            return Stored::No;
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}
