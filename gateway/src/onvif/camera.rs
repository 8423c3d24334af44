//! One camera's task: a session of requests (clock, services, snapshot
//! address, subscription), a PullMessages loop renewing the subscription at
//! half its granted time, and a new session after any failure. Events go
//! into ingest as a camera node's would; the camera's availability goes to
//! presence, as a polled device's: offline after `offline_after` failed
//! requests in a row, online at the next answer.

use std::sync::Arc;
use std::time::Duration;

use protocol::node::{TS_MAX_MS, TS_MIN_MS};
use protocol::{DeviceState, FieldName, NodeEvent, SnapshotRef, Status, Telemetry};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::CameraConfig;
use super::http::Endpoint;
use super::parse::Notification;
use super::session::{self, CallError, Session};
use super::topics::{self, Signal};
use crate::clock::SharedClock;
use crate::ingest::{Ingest, Rejects};
use crate::message::{Body, Ingested};
use crate::registry::DeviceInfo;
use crate::store::StoreHandle;

/// Longest wait for the Unsubscribe at shutdown.
const UNSUBSCRIBE_WAIT: Duration = Duration::from_secs(1);

/// An ONVIF camera the gateway pulls events from.
#[derive(Debug)]
pub struct OnvifCamera {
    /// Its `[[cameras]]` entry (validated).
    pub cfg: CameraConfig,
    /// The registry device standing for it.
    pub device: Arc<DeviceInfo>,
    /// Where its events and motion readings go (the path of MQTT nodes').
    pub ingest: Ingest,
    /// Presence's input, for its availability.
    pub states: mpsc::Sender<Ingested>,
    /// For the boot number of this run's events.
    pub store: StoreHandle,
    /// Refused credentials are counted here (`camera-auth`).
    pub rejects: Arc<Rejects>,
    /// The gateway's clock.
    pub clock: SharedClock,
}

/// The task's state across sessions.
#[derive(Debug)]
struct State {
    /// This run's boot number: the last stored one plus one.
    boot: u32,
    /// The last event's sequence number in this boot.
    seq: u32,
    /// The last motion reading's counter.
    tel_seq: u32,
    /// Failed requests in a row.
    failures: u32,
    /// What presence was last told (none yet in this run).
    reported: Option<Status>,
    /// The subscription in force: its endpoint and address.
    subscription: Option<(Endpoint, String)>,
    /// The snapshot address, carried by every event.
    snapshot: Option<SnapshotRef>,
}

impl OnvifCamera {
    /// Runs until shutdown, then ends the subscription.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut session = match Session::new(self.cfg.clone(), self.clock.clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(camera = %self.cfg.id, error = %e, "onvif: camera not started");
                return;
            }
        };
        let mut st = State {
            boot: self.boot().await,
            seq: 0,
            tel_seq: 0,
            failures: 0,
            reported: None,
            subscription: None,
            snapshot: None,
        };
        let retry = Duration::from_millis(self.cfg.retry_ms);
        loop {
            let err = tokio::select! {
                () = shutdown.cancelled() => break,
                e = self.session(&mut session, &mut st) => e,
            };
            self.failed(&mut st, &err).await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(retry) => {}
            }
        }
        if let Some((at, address)) = st.subscription.take() {
            let done = session.unsubscribe(&at, &address, UNSUBSCRIBE_WAIT).await;
            tracing::debug!(camera = %self.cfg.id, done, "onvif: unsubscribed");
        }
    }

    /// The boot number of this run: one more than the last stored event's.
    async fn boot(&self) -> u32 {
        let id = self.device.id.clone();
        let last = self
            .store
            .read(move |s| {
                Ok(s.max_event_seqs()?
                    .into_iter()
                    .find(|(d, _, _)| *d == id)
                    .and_then(|(_, boot, _)| boot))
            })
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "onvif: stored events not read; boot from the clock");
                u32::try_from(self.clock.now_ms() / 1000).ok()
            });
        last.unwrap_or(0).saturating_add(1).max(1)
    }

    /// One session: discover, subscribe, pull until a request fails.
    async fn session(&self, s: &mut Session, st: &mut State) -> CallError {
        st.subscription = None;
        match s.sync_clock().await {
            Ok(()) => {}
            Err(e @ CallError::Http(_)) => return e,
            // It answered but would not tell its time: tokens use the gateway's.
            Err(e) => {
                tracing::debug!(camera = %self.cfg.id, error = %e, "onvif: camera clock not read")
            }
        }
        let found = match s.discover().await {
            Ok(d) => d,
            Err(e) => return e,
        };
        st.snapshot = found.snapshot.as_deref().and_then(|u| match SnapshotRef::new(u) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(camera = %self.cfg.id, uri = u, error = %e, "onvif: snapshot address not usable as a reference");
                None
            }
        });
        let (at, sub) = match s.subscribe(&found.events).await {
            Ok(x) => x,
            Err(e) => return e,
        };
        tracing::info!(camera = %self.cfg.id, subscription = %sub.address, "onvif: subscribed");
        st.subscription = Some((at.clone(), sub.address.clone()));
        self.answered(st).await;
        let mut renew_at = Instant::now() + half(session::granted_ms(&sub, self.cfg.termination_s));
        loop {
            if Instant::now() >= renew_at {
                match s.renew(&at, &sub.address).await {
                    Ok(r) => {
                        renew_at =
                            Instant::now() + half(session::granted_ms(&r, self.cfg.termination_s));
                        tracing::debug!(camera = %self.cfg.id, "onvif: subscription renewed");
                    }
                    Err(e) => return e,
                }
            }
            match s.pull(&at, &sub.address).await {
                Ok(p) => {
                    self.answered(st).await;
                    for n in &p.messages {
                        self.on_notification(st, n).await;
                    }
                }
                Err(e) => return e,
            }
        }
    }

    async fn on_notification(&self, st: &mut State, n: &Notification) {
        match topics::classify(n) {
            Some(Signal::Event { kind, cause }) => {
                st.seq = st.seq.wrapping_add(1).max(1);
                let ev = NodeEvent {
                    boot: Some(st.boot),
                    seq: st.seq,
                    ts: n.utc_ms.filter(|t| (TS_MIN_MS..TS_MAX_MS).contains(t)),
                    kind,
                    cause: Some(cause),
                    value: None,
                    battery: None,
                    snapshot: st.snapshot.clone(),
                };
                tracing::info!(camera = %self.cfg.id, topic = %n.topic, kind = %kind, cause = %cause, "onvif: camera event");
                self.ingest.submit_event(self.device.clone(), ev).await;
            }
            Some(Signal::Motion(on)) => {
                st.tel_seq = st.tel_seq.wrapping_add(1);
                let mut readings = heapless::LinearMap::new();
                if let Ok(field) = FieldName::new("motion") {
                    let _ = readings.insert(field, if on { 1.0 } else { 0.0 });
                }
                let tel = Telemetry {
                    seq: st.tel_seq,
                    ts: n.utc_ms.filter(|t| (TS_MIN_MS..TS_MAX_MS).contains(t)),
                    readings,
                };
                self.ingest.submit_telemetry(self.device.clone(), tel);
            }
            None => {
                tracing::debug!(camera = %self.cfg.id, topic = %n.topic, "onvif: notification not mapped")
            }
        }
    }

    /// An authenticated request succeeded: the camera is online.
    async fn answered(&self, st: &mut State) {
        st.failures = 0;
        if st.reported != Some(Status::Online) {
            if st.reported.is_some() {
                tracing::info!(camera = %self.cfg.id, "onvif: camera answers again");
            }
            st.reported = Some(Status::Online);
            self.report(Status::Online).await;
        }
    }

    async fn failed(&self, st: &mut State, e: &CallError) {
        st.subscription = None;
        st.failures = st.failures.saturating_add(1);
        if e.is_unauthorized() {
            let now = self.clock.now_ms();
            self.rejects.record(
                now,
                "camera-auth",
                &self.cfg.id,
                "the camera refused the credentials (check username and password in [[cameras]])",
            );
            tracing::error!(camera = %self.cfg.id, user = %self.cfg.username, error = %e, "onvif: the camera refused the credentials; check [[cameras]] username and password");
        } else {
            tracing::warn!(camera = %self.cfg.id, failures = st.failures, error = %e, "onvif: request failed; a new session follows");
        }
        if st.failures >= self.cfg.offline_after && st.reported != Some(Status::Offline) {
            tracing::error!(camera = %self.cfg.id, failures = st.failures, "onvif: camera not answering; reported offline");
            st.reported = Some(Status::Offline);
            self.report(Status::Offline).await;
        }
    }

    async fn report(&self, status: Status) {
        let msg = Ingested {
            device: self.device.clone(),
            at_ms: self.clock.now_ms(),
            body: Body::State(DeviceState {
                status,
                fw: None,
                heartbeat_s: None,
                boot: None,
            }),
        };
        let _ = self.states.send(msg).await;
    }
}

fn half(ms: u64) -> Duration {
    Duration::from_millis((ms / 2).max(1000))
}
