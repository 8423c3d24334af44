//! The uplink's network task: polls the rumqttc event loop, reconnects
//! with exponential backoff, and tells the drain about connections and
//! incoming status messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rumqttc::{Event, EventLoop, Packet};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::stats::UplinkStats;

/// What the network task tells the drain.
#[derive(Debug)]
pub(super) enum Net {
    /// Connected, to this broker.
    Up((String, u16)),
    Down,
    Message(String, bytes::Bytes),
}

/// Socket options with Nagle's algorithm off: acknowledgements are small
/// and each one releases the next message; batching them behind delayed
/// ACKs cost a factor of two in the drain benchmark.
pub fn no_delay() -> rumqttc::NetworkOptions {
    let mut n = rumqttc::NetworkOptions::new();
    n.set_tcp_nodelay(true);
    n
}

/// Polls `ev`; after a failed or dropped connection, waits and moves on to
/// the next of `brokers` (the cluster's nodes, in turn).
pub(super) async fn poll(
    mut ev: EventLoop,
    brokers: Vec<rumqttc::MqttOptions>,
    tx: mpsc::UnboundedSender<Net>,
    (min, max): (u64, u64),
    stats: Arc<UplinkStats>,
    stop: CancellationToken,
) {
    let mut wait = min;
    let mut up = false;
    let mut at = 0;
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            n = ev.poll() => n,
        };
        let msg = match next {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                wait = min;
                up = true;
                stats.connects.fetch_add(1, Ordering::Relaxed);
                Some(Net::Up(ev.mqtt_options.broker_address()))
            }
            Ok(Event::Incoming(Packet::Publish(p))) => Some(Net::Message(p.topic, p.payload)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, retry_ms = wait, "uplink disconnected");
                if std::mem::take(&mut up) {
                    let _ = tx.send(Net::Down);
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                }
                wait = (wait * 2).min(max);
                if brokers.len() > 1 {
                    at = (at + 1) % brokers.len();
                    ev.mqtt_options = brokers[at].clone();
                    tracing::info!(broker = ?ev.mqtt_options.broker_address(), "uplink trying the next broker of the cluster");
                }
                None
            }
        };
        if let Some(m) = msg
            && tx.send(m).is_err()
        {
            return;
        }
    }
}
