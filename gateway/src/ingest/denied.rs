//! What the broker refuses (bad credentials, forbidden topics) is rejected
//! input too: counted with the other rejects at once, and recorded in the
//! quarantine table by a task.
//!
//! The broker reports refusals from its own threads and outlives the
//! gateway's tasks (rumqttd has no stop), so it holds only a channel, never a
//! store handle: the store writer can exit at shutdown.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Rejects;
use crate::bus::{self, Denied};
use crate::clock::SharedClock;
use crate::store::{QuarantineRecord, StoreHandle};

/// Refusals on their way to the quarantine table.
#[derive(Debug)]
pub struct Refusals(flume::Receiver<QuarantineRecord>);

/// The sink the broker reports refusals to, and the refusals it passes on
/// (at most 1024 waiting; more are counted, not recorded).
pub fn denied_sink(rejects: &Arc<Rejects>, clock: &SharedClock) -> (bus::DeniedSink, Refusals) {
    let (tx, rx) = flume::bounded(1024);
    let (rejects, clock) = (rejects.clone(), clock.clone());
    let sink: bus::DeniedSink = Arc::new(move |d: Denied| {
        let now = clock.now_ms();
        let (reason, source, topic) = match d {
            Denied::Auth {
                client_id,
                username,
            } => ("auth", username, format!("(connect as client {client_id})")),
            q @ Denied::Quarantined { .. } => q.into_parts(),
            a @ Denied::Address { entered, .. } => {
                let (reason, source, what) = a.into_parts();
                // Only its entry goes to the quarantine table: an address
                // that keeps knocking is counted, not written per attempt.
                if !entered {
                    rejects.record(now, reason, &source, &what);
                    return;
                }
                (reason, source, what)
            }
            Denied::Topic {
                username,
                action,
                topic,
                ..
            } => {
                // Disconnected for it: its last will is the refusal's
                // consequence, not an outage of the device it logged in as.
                if let Some(user) = &username {
                    rejects.refused.mark(user, now);
                }
                let reason = if action == bus::acl::Action::Publish {
                    "acl-publish"
                } else {
                    "acl-subscribe"
                };
                (reason, username.unwrap_or_else(|| "?".into()), topic)
            }
        };
        rejects.record(now, reason, &source, &topic);
        let _ = tx.try_send(QuarantineRecord {
            at_ms: now,
            source,
            reason,
            topic,
            detail: "refused by the broker".into(),
        });
    });
    (sink, Refusals(rx))
}

impl Refusals {
    /// Records each refusal in the quarantine table until shutdown.
    pub async fn run(self, store: StoreHandle, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                r = self.0.recv_async() => match r {
                    Ok(rec) => store.quarantine(rec),
                    Err(_) => return,
                },
            }
        }
    }
}
