//! Everything the gateway publishes goes through one thread that owns an
//! in-process link. Acknowledgements and commands take a priority lane that
//! is never shed; integrator feeds take a bounded lane that sheds (counted)
//! when the broker falls behind.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use protocol::codec::{Message, encode};
use protocol::topic::{DeviceChannel, Feed, TopicId};
use protocol::{DeviceId, Name, Topic};

use super::broker::PublishLink;

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Where it goes; written out only when handed to the broker.
    pub topic: Topic,
    /// Payload, encoded with `protocol::codec`.
    pub payload: Bytes,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
}

impl Outgoing {
    /// `msg` to a node on one of its topics (`evt/ack`, `cmd`); never retained.
    pub fn device<M: Message>(device: &DeviceId, channel: DeviceChannel, msg: &M) -> Self {
        Self {
            topic: Topic::dev(device, channel),
            payload: Bytes::from(encode(msg)),
            retain: false,
        }
    }

    /// A feed update for integrators, on `gs/v1/site/{site}/{feed}/{id}`,
    /// retained when the feed is ([`Feed::retained`]). `None` when `id`
    /// cannot be a topic level (the update is then not published).
    pub fn feed<M: Message>(site: &Name, feed: Feed, id: &str, msg: &M) -> Option<Self> {
        let id = TopicId::new(id).ok()?;
        Some(Self {
            topic: Topic::Site {
                site: site.clone(),
                feed,
                id,
            },
            payload: Bytes::from(encode(msg)),
            retain: feed.retained(),
        })
    }
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

impl Publisher {
    /// Starts the publishing thread on `link`, with the integrator lane
    /// sized as `[mqtt] feed_queue` by default.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn spawn(link: PublishLink) -> std::io::Result<Self> {
        Self::spawn_with(link, super::MqttSection::default().feed_queue)
    }

    /// Starts the publishing thread on `link`; the integrator lane holds
    /// `feed_queue` messages before it sheds.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn spawn_with(link: PublishLink, feed_queue: NonZeroUsize) -> std::io::Result<Self> {
        let (urgent, urgent_rx) = flume::unbounded();
        let (feed, feed_rx) = flume::bounded(feed_queue.get());
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
    match link
        .tx
        .publish_retain(m.topic.to_string(), m.payload, m.retain)
    {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use protocol::feed::Availability;
    use protocol::{EvtAck, Status};

    use super::*;
    use crate::bus::{Bus, MqttSection};

    fn name(s: &str) -> Name {
        Name::new(s).expect("name")
    }

    fn availability() -> Availability {
        Availability {
            device: DeviceId::new("smoke-1").expect("id"),
            status: Status::Online,
            since: 1,
            reason: "connected".into(),
        }
    }

    #[test]
    fn feed_updates_take_their_feeds_topic_and_retention() {
        let site = name("lianhua");
        let a = Outgoing::feed(&site, Feed::Device, "smoke-1", &availability()).expect("id");
        assert_eq!(
            a.topic,
            Topic::Site {
                site: site.clone(),
                feed: Feed::Device,
                id: TopicId::new("smoke-1").expect("id"),
            }
        );
        assert!(a.retain);
        assert_eq!(a.payload, Bytes::from(encode(&availability())));
        let t = Outgoing::feed(&site, Feed::Tel, "smoke-1", &availability()).expect("id");
        assert!(!t.retain, "telemetry is a stream");
        assert!(Outgoing::feed(&site, Feed::Alarm, "a/b", &availability()).is_none());
    }

    #[test]
    fn device_messages_are_never_retained() {
        let d = DeviceId::new("lock-1").expect("id");
        let m = Outgoing::device(&d, DeviceChannel::EvtAck, &EvtAck { seq: 7, boot: None });
        assert_eq!(m.topic, Topic::dev(&d, DeviceChannel::EvtAck));
        assert!(!m.retain);
    }

    #[tokio::test]
    async fn the_publisher_writes_the_topic_out_on_the_wire() {
        let cfg = MqttSection {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..MqttSection::default()
        };
        let bus = Bus::new_open(&cfg);
        let mut sub = bus.subscribe("t-sub", &["#"]).expect("subscribe");
        let p = Publisher::spawn(bus.link("t-pub").expect("link")).expect("publisher");
        let site = name("lianhua");
        p.feed(Outgoing::feed(&site, Feed::Device, "smoke-1", &availability()).expect("id"));
        let d = DeviceId::new("smoke-1").expect("id");
        p.urgent(Outgoing::device(
            &d,
            DeviceChannel::EvtAck,
            &EvtAck { seq: 1, boot: None },
        ));
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let next = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
            let (topic, _) = next.expect("in time").expect("broker up");
            seen.push(String::from_utf8_lossy(&topic).into_owned());
        }
        seen.sort();
        // Hand-written wire strings: an independent check of protocol::Topic.
        assert_eq!(
            seen,
            [
                "gs/v1/dev/smoke-1/evt/ack",
                "gs/v1/site/lianhua/device/smoke-1/availability"
            ]
        );
    }
}
