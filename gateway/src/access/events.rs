//! The access-event task: stores each access event a door reports, answers
//! it on `acc/ack` once committed, and publishes it pseudonymised on the
//! integrator feed. Its own task with its own connection to the store, so an
//! event never waits behind a list sync (recomputing 30 lists of 5,000
//! credentials takes the list task a while); a door's access events also
//! count as its traffic for presence (a door reporting events is alive).

use std::sync::atomic::Ordering;

use protocol::access::{AccessEvent, AccessNotice, Pseudonym};
use protocol::codec::decode;
use protocol::topic::{DeviceChannel, Feed};
use protocol::{DeviceId, EvtAck, Topic};
use tokio_util::sync::CancellationToken;

use super::db;
use super::pseudonym::PseudonymKey;
use super::service::{AccessService, warn_on};
use crate::bus::{Outgoing, Subscription};
use crate::store::{Store, StoreError};

struct Events {
    svc: AccessService,
    store: Store,
    /// Made or read at the first event (no write at start-up).
    key: Option<PseudonymKey>,
}

impl AccessService {
    /// Runs the access-event task on `sub` (the doors' `acc` topics) until
    /// shutdown.
    ///
    /// # Errors
    /// When the store cannot be opened.
    pub async fn run_events(
        self,
        mut sub: Subscription,
        shutdown: CancellationToken,
    ) -> Result<(), StoreError> {
        let store = Store::open(&self.db_path)?;
        let mut ev = Events {
            svc: self,
            store,
            key: None,
        };
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                m = sub.next() => match m {
                    Some((topic, payload)) => ev.on_message(&topic, &payload),
                    None => return Ok(()),
                },
            }
        }
    }
}

impl Events {
    fn on_message(&mut self, topic: &[u8], payload: &[u8]) {
        let Ok(Topic::Device {
            device,
            channel: DeviceChannel::Acc,
        }) = Topic::parse(&String::from_utf8_lossy(topic))
        else {
            return;
        };
        if self.svc.registry.get().device(&device).is_none() {
            return;
        }
        let now = self.svc.clock.now_ms();
        self.svc.last_seen.touch(&device, now);
        if let Ok(ev) = decode::<AccessEvent>(payload) {
            self.on_event(&device, &ev, now);
        }
    }

    fn on_event(&mut self, door: &DeviceId, ev: &AccessEvent, now: u64) {
        let Some(fresh) = warn_on(
            "store event",
            db::insert_event(self.store.conn(), door, ev, now),
        ) else {
            return; // not acknowledged: the door repeats it
        };
        let ack = EvtAck {
            seq: ev.seq,
            boot: ev.boot,
        };
        self.svc
            .publisher
            .urgent(Outgoing::device(door, DeviceChannel::AccAck, &ack));
        if !fresh {
            self.svc.stats.repeats.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.svc.stats.events.fetch_add(1, Ordering::Relaxed);
        self.publish(door, ev, now);
    }

    /// The event on the integrator feed, the credential replaced by its pseudonym.
    fn publish(&mut self, door: &DeviceId, ev: &AccessEvent, now: u64) {
        if self.key.is_none() {
            self.key = warn_on("pseudonym key", db::pseudonym_key(self.store.conn()));
        }
        let holder = match (&ev.cred, &self.key) {
            (Some(c), Some(key)) => {
                let kind = ev.cred_kind.unwrap_or_default();
                Pseudonym::new(&key.of(kind.as_str(), c)).ok()
            }
            // Without its key the feed carries no holder at all, never the id.
            _ => None,
        };
        let notice = AccessNotice {
            door: door.clone(),
            kind: ev.kind,
            reason: ev.reason,
            holder,
            cred_kind: ev.cred_kind,
            ts: ev.ts.unwrap_or(now),
        };
        if let Some(m) = Outgoing::feed(&self.svc.site, Feed::Access, door, &notice) {
            self.svc.publisher.feed(m);
        }
    }
}
