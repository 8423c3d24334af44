//! Everything the gateway publishes goes through one thread that owns an
//! in-process link. Acknowledgements and commands take a priority lane that
//! is never shed; integrator feeds take a bounded lane that sheds (counted)
//! when the broker falls behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::broker::PublishLink;

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Topic, built with `protocol::Topic`.
    pub topic: String,
    /// Payload, encoded with `protocol::codec`.
    pub payload: Bytes,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
}

/// Counters of the publisher.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Messages handed to the broker.
    pub published: AtomicU64,
    /// Integrator messages shed because the lane was full.
    pub shed: AtomicU64,
}

/// Handle for publishing; cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    urgent: flume::Sender<Outgoing>,
    feed: flume::Sender<Outgoing>,
    stats: Arc<PublisherStats>,
}

/// Capacity of the integrator lane.
const FEED_CAPACITY: usize = 16_384;

impl Publisher {
    /// Starts the publishing thread on `link`.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn spawn(link: PublishLink) -> std::io::Result<Self> {
        let (urgent, urgent_rx) = flume::unbounded();
        let (feed, feed_rx) = flume::bounded(FEED_CAPACITY);
        let stats = Arc::new(PublisherStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("mqtt-publisher".into())
            .spawn(move || run(link, &urgent_rx, &feed_rx, &s))?;
        Ok(Self {
            urgent,
            feed,
            stats,
        })
    }

    /// Publishes an ack or a command: never shed, ahead of every feed message.
    pub fn urgent(&self, msg: Outgoing) {
        // Fails only when the thread is gone, i.e. at shutdown.
        let _ = self.urgent.send(msg);
    }

    /// Publishes an integrator message; shed and counted when the lane is full.
    pub fn feed(&self, msg: Outgoing) {
        if self.feed.try_send(msg).is_err() {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters.
    pub fn stats(&self) -> &PublisherStats {
        &self.stats
    }
}

fn run(
    mut link: PublishLink,
    urgent: &flume::Receiver<Outgoing>,
    feed: &flume::Receiver<Outgoing>,
    stats: &PublisherStats,
) {
    loop {
        // Drain the priority lane first, every time round.
        while let Ok(m) = urgent.try_recv() {
            if send(&mut link, m, stats).is_err() {
                return;
            }
        }
        let next = flume::Selector::new()
            .recv(urgent, Result::ok)
            .recv(feed, Result::ok)
            .wait();
        let stop = match next {
            Some(m) => send(&mut link, m, stats).is_err(),
            // Both lanes closed (every handle dropped): shutdown.
            None => urgent.is_disconnected() && feed.is_disconnected(),
        };
        if stop {
            return;
        }
    }
}

fn send(link: &mut PublishLink, m: Outgoing, stats: &PublisherStats) -> Result<(), ()> {
    match link.tx.publish_retain(m.topic, m.payload, m.retain) {
        Ok(_) => {
            stats.published.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "broker link closed; publisher stops");
            Err(())
        }
    }
}
