//! One node's MQTT connection: a rumqttc client whose event loop runs in its
//! own task and reports to the node's shard.
//!
//! The event loop reconnects by itself after an error, after a wait chosen by
//! the firmware's reconnect state machine ([`firmware::Reconnect`]):
//! exponential backoff from `reconnect` with full jitter, so that a fleet
//! whose broker went away comes back spread out, not in waves. A scenario's network
//! flap sets the link's `want_up` to false: the loop drops its TCP connection
//! at once (so the broker publishes the node's last will) and stays away until
//! `want_up` is true again. A packet being written at that moment is lost, as
//! on a real link; the firmware's outbox repeats unacknowledged events.

use std::time::Duration;

use bytes::Bytes;
use protocol::codec::encode_core;
use protocol::{DeviceChannel, DeviceState, Status, Topic};
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::devices::DeviceSpec;
use firmware::reconnect::{Reconnect, ReconnectPolicy, seed_from};

/// Connection settings shared by every link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// Backoff cap after the first failed attempt; it doubles per failure
    /// up to 60 s, each wait drawn at random below the cap.
    pub reconnect: Duration,
}

/// What a link tells its shard.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected (CONNACK accepted).
    Up,
    /// The connection is gone.
    Down,
    /// A message on one of the node's topics.
    Message(DeviceChannel, Bytes),
}

/// The shard's side of a link.
#[derive(Debug)]
pub struct Link {
    /// Publishes and subscribes (queued to the event loop).
    pub client: AsyncClient,
    /// Whether the link should be up (false during a simulated flap).
    pub want_up: watch::Sender<bool>,
}

/// Requests queued per client before `try_publish` refuses.
const CLIENT_QUEUE: usize = 32;

/// The retained presence payload: `{"status":"online"|"offline",...}`,
/// with the node's boot counter when online.
pub fn state_payload(status: Status, heartbeat_s: Option<u32>, boot: Option<u32>) -> Bytes {
    let state = DeviceState {
        status,
        fw: heapless::String::try_from(concat!("sim-", env!("CARGO_PKG_VERSION"))).ok(),
        heartbeat_s,
        boot,
    };
    let mut buf = [0u8; 128];
    // A state message is well under 128 bytes.
    let n = encode_core(&state, &mut buf).unwrap_or(0);
    Bytes::copy_from_slice(&buf[..n])
}

/// Starts the link of node `index` after `delay`; events go to `tx`.
pub fn spawn(
    spec: &DeviceSpec,
    cfg: &LinkConfig,
    index: usize,
    delay: Duration,
    tx: mpsc::Sender<(usize, LinkEvent)>,
    cancel: CancellationToken,
) -> Link {
    let id = spec.id.as_str();
    let mut o = MqttOptions::new(id, cfg.host.clone(), cfg.port);
    o.set_credentials(id, spec.secret.clone());
    o.set_keep_alive(cfg.keep_alive);
    o.set_clean_session(true);
    o.set_inflight(16);
    o.set_max_packet_size(4 * 1024, 4 * 1024);
    let will = Topic::dev(&spec.id, DeviceChannel::State).to_string();
    o.set_last_will(LastWill::new(
        will,
        state_payload(Status::Offline, None, None),
        QoS::AtLeastOnce,
        true,
    ));
    let (client, mut ev) = AsyncClient::new(o, CLIENT_QUEUE);
    // No Nagle: a command's ack must not wait for the broker's delayed ACK
    // of the PUBACK written just before it (40 ms on Linux).
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    ev.set_network_options(net);
    let (want_up, want_rx) = watch::channel(true);
    let driver = Driver {
        index,
        tx,
        want: want_rx,
        cancel,
        backoff: Reconnect::new(
            ReconnectPolicy {
                // The ramp (`delay`) spreads first attempts already.
                first_spread_ms: 0,
                base_ms: u32::try_from(cfg.reconnect.as_millis())
                    .unwrap_or(u32::MAX)
                    .max(1),
                max_ms: ReconnectPolicy::DEFAULT.max_ms,
                attempt_timeout_ms: ReconnectPolicy::DEFAULT.attempt_timeout_ms,
            },
            seed_from(id.as_bytes()),
            0,
        ),
        started: tokio::time::Instant::now(),
        up: false,
    };
    tokio::spawn(driver.run(ev, delay));
    Link { client, want_up }
}

struct Driver {
    index: usize,
    tx: mpsc::Sender<(usize, LinkEvent)>,
    want: watch::Receiver<bool>,
    cancel: CancellationToken,
    backoff: Reconnect,
    started: tokio::time::Instant,
    up: bool,
}

impl Driver {
    async fn run(mut self, mut ev: EventLoop, delay: Duration) {
        if !self.pause(delay).await {
            return;
        }
        loop {
            if !*self.want.borrow_and_update() {
                ev.clean();
                self.set_up(false).await;
                let cancel = self.cancel.clone();
                tokio::select! {
                    () = cancel.cancelled() => return,
                    r = self.want.wait_for(|u| *u) => if r.is_err() { return },
                }
                continue;
            }
            let polled = tokio::select! {
                () = self.cancel.cancelled() => return,
                _ = self.want.changed() => continue,
                r = ev.poll() => r,
            };
            let alive = match polled {
                Ok(e) => self.on_event(e).await,
                Err(_) => {
                    self.set_up(false).await;
                    let wait = self.backoff_wait();
                    self.pause(wait).await
                }
            };
            if !alive {
                return;
            }
        }
    }

    /// The wait before the next attempt after a failure (or a lost
    /// connection): the backoff's draw.
    fn backoff_wait(&mut self) -> Duration {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(u64::from(self.backoff.failed(now)))
    }

    /// Sleeps `d`; false when cancelled.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.cancel.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    /// Handles one event; false when the shard is gone.
    async fn on_event(&mut self, e: Event) -> bool {
        match e {
            Event::Incoming(Packet::ConnAck(a)) if a.code == ConnectReturnCode::Success => {
                self.backoff.connected();
                self.set_up(true).await
            }
            Event::Incoming(Packet::ConnAck(a)) => {
                tracing::warn!(node = self.index, code = ?a.code, "connection refused");
                let wait = self.backoff_wait();
                self.pause(wait).await
            }
            Event::Incoming(Packet::Publish(p)) => {
                let Ok(Topic::Device { channel, .. }) = Topic::parse(&p.topic) else {
                    return true;
                };
                self.tx
                    .send((self.index, LinkEvent::Message(channel, p.payload)))
                    .await
                    .is_ok()
            }
            _ => true,
        }
    }

    /// Reports a change of state once; false when the shard is gone.
    async fn set_up(&mut self, up: bool) -> bool {
        if self.up == up {
            return true;
        }
        self.up = up;
        let e = if up { LinkEvent::Up } else { LinkEvent::Down };
        self.tx.send((self.index, e)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A broker that accepts TCP connections and closes them at once: each
    /// attempt fails. With exponential backoff from 100 ms the link makes a
    /// handful of attempts in 3 s, not one every 100 ms.
    #[tokio::test]
    async fn failed_attempts_back_off_exponentially() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(AtomicUsize::new(0));
        let a = accepts.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::Relaxed);
                drop(s);
            }
        });
        let spec = DeviceSpec {
            id: "smoke-backoff".parse().unwrap(),
            profile: "smoke".parse().unwrap(),
            secret: "s".into(),
            fire_zone: None,
            location: None,
        };
        let cfg = LinkConfig {
            host: "127.0.0.1".into(),
            port,
            keep_alive: Duration::from_secs(30),
            reconnect: Duration::from_millis(100),
        };
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let _link = spawn(&spec, &cfg, 0, Duration::ZERO, tx, cancel.clone());
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        tokio::time::sleep(Duration::from_secs(3)).await;
        cancel.cancel();
        let n = accepts.load(Ordering::Relaxed);
        // Fixed 100 ms pauses: ~30 attempts; backoff (caps 0.1, 0.2, 0.4,
        // 0.8, 1.6, 3.2 s, random below each): about 6.
        assert!(n >= 2, "the link retried ({n} attempts)");
        assert!(n <= 15, "{n} attempts in 3 s: the waits do not grow");
    }
}
