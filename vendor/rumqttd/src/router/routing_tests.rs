//! GridSense patch tests: the router's bookkeeping, driven directly.

use super::*;
use crate::protocol::{Filter, Publish, QoS, RetainForwardRule, Subscribe};
use crate::router::graveyard::MAX_SAVED_METRICS;
use crate::router::MAX_CHANNEL_CAPACITY;
use bytes::BytesMut;

fn router() -> Router {
    Router::new(
        0,
        RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 1 << 20,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
    )
}

fn connect(r: &mut Router, client_id: &str) -> ConnectionId {
    let connection = Connection::new(None, client_id.to_string(), true, false);
    let incoming = Incoming::new(client_id.to_string());
    let (outgoing, _rx) = Outgoing::new(client_id.to_string());
    r.handle_new_connection(connection, incoming, outgoing);
    r.connection_map[client_id]
}

fn send(r: &mut Router, id: ConnectionId, packet: Packet) {
    r.ibufs[id].buffer.lock().push_back(packet);
    r.handle_device_payload(id);
}

fn subscribe(filter: &str) -> Packet {
    Packet::Subscribe(
        Subscribe {
            pkid: 1,
            filters: vec![Filter {
                path: filter.to_string(),
                qos: QoS::AtLeastOnce,
                nolocal: false,
                preserve_retain: false,
                retain_forward_rule: RetainForwardRule::Never,
            }],
        },
        None,
    )
}

fn publish(topic: &str, payload: bytes::Bytes, retain: bool) -> Packet {
    Packet::Publish(
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain,
            topic: topic.to_string().into(),
            pkid: 0,
            payload,
        },
        None,
    )
}

/// After many clients subscribed, published and left, the router holds no
/// per-client state but a bounded record of recent ones.
#[test]
fn bookkeeping_is_released_after_disconnects() {
    let mut r = router();
    let clients = MAX_SAVED_METRICS * 2;
    for i in 0..clients {
        let id = connect(&mut r, &format!("node-{i}"));
        send(&mut r, id, subscribe(&format!("dev/node-{i}/cmd")));
        send(
            &mut r,
            id,
            publish(&format!("dev/node-{i}/evt"), "hb".into(), false),
        );
        r.handle_disconnection(id, None);
    }
    assert_eq!(r.connections.len(), 0);
    assert_eq!(r.ibufs.len(), 0);
    assert_eq!(r.obufs.len(), 0);
    assert!(r.connection_map.is_empty());
    assert!(
        r.subscription_map.is_empty(),
        "no entry per departed filter"
    );
    assert!(
        r.graveyard.len() <= MAX_SAVED_METRICS,
        "graveyard holds {} entries",
        r.graveyard.len()
    );
    // The most recent client's record is kept.
    let last = format!("node-{}", clients - 1);
    assert!(r.graveyard.retrieve(&last).is_some());
}

/// A client that reconnects keeps its subscription-less record (the
/// graveyard's metrics), and a persistent session is never evicted.
#[test]
fn persistent_sessions_survive_the_metrics_bound() {
    let mut r = router();
    let connection = Connection::new(None, "keeper".to_string(), false, false);
    let (outgoing, _rx) = Outgoing::new("keeper".to_string());
    r.handle_new_connection(connection, Incoming::new("keeper".to_string()), outgoing);
    let id = r.connection_map["keeper"];
    send(&mut r, id, subscribe("dev/keeper/cmd"));
    r.handle_disconnection(id, None);
    for i in 0..MAX_SAVED_METRICS + 10 {
        let id = connect(&mut r, &format!("churn-{i}"));
        r.handle_disconnection(id, None);
    }
    let saved = r
        .graveyard
        .retrieve("keeper")
        .expect("persistent session kept");
    assert!(saved.session_state.is_some());
}

/// A stored (retained) message does not keep the connection's read buffer
/// alive: its payload is its own copy, not a view into the buffer.
#[test]
fn stored_messages_do_not_pin_the_read_buffer() {
    let mut r = router();
    let id = connect(&mut r, "pinner");
    let mut buf = BytesMut::with_capacity(64 * 1024);
    buf.extend_from_slice(&[7u8; 64 * 1024]);
    let big = buf.freeze();
    let view = big.slice(100..110);
    let range = big.as_ptr() as usize..big.as_ptr() as usize + big.len();
    send(&mut r, id, publish("dev/pinner/state", view, true));
    let retained = r.datalog.read_retained_messages("dev/pinner/state");
    assert_eq!(retained.len(), 1);
    let stored = &retained[0].0.payload;
    assert_eq!(&stored[..], &[7u8; 10]);
    assert!(
        !range.contains(&(stored.as_ptr() as usize)),
        "the stored payload is a copy"
    );
}

/// The buffer the router swaps into a connection is small again after a
/// burst, so a burst's capacity is not left with every connection.
#[test]
fn a_burst_leaves_no_large_buffer_behind() {
    let mut r = router();
    let id = connect(&mut r, "burst");
    {
        let mut b = r.ibufs[id].buffer.lock();
        for _ in 0..150 {
            b.push_back(publish("dev/burst/tel", "x".into(), false));
        }
    }
    r.handle_device_payload(id);
    let other = connect(&mut r, "quiet");
    send(&mut r, other, publish("dev/quiet/tel", "x".into(), false));
    assert!(r.ibufs[other].buffer.lock().capacity() <= 2 * IDLE_CAPACITY);
    assert!(r.cache.as_ref().unwrap().capacity() <= 2 * IDLE_CAPACITY);
}

/// The incoming meter keeps totals: a client publishing to many topics
/// costs the router no record per topic (nor per filter it subscribed).
#[test]
fn the_incoming_meter_keeps_totals_not_a_record_per_topic() {
    let mut r = router();
    let id = connect(&mut r, "chatty");
    send(&mut r, id, subscribe("dev/chatty/cmd"));
    send(&mut r, id, subscribe("dev/chatty/evt/ack"));
    for i in 0..500 {
        send(
            &mut r,
            id,
            publish(&format!("dev/chatty/tel/{i}"), "x".into(), false),
        );
    }
    let m = &r.ibufs[id].meter;
    assert_eq!(m.get_total_count(), 500);
    assert_eq!(m.subscriptions(), 2);
    // Nothing in it can grow with the topics: three counters.
    assert_eq!(
        std::mem::size_of::<crate::router::IncomingMeter>(),
        3 * std::mem::size_of::<usize>()
    );
}

/// A stored message without MQTT 5 properties is about a hundred bytes in
/// the log, not the ~230 it took with the properties inline.
#[test]
fn a_stored_message_is_small_without_properties() {
    assert!(
        std::mem::size_of::<crate::router::logs::PublishData>() <= 112,
        "{} bytes",
        std::mem::size_of::<crate::router::logs::PublishData>()
    );
    // And the properties a v5 client sends are still kept and read back.
    let mut r = router();
    let id = connect(&mut r, "v5");
    let props = PublishProperties {
        message_expiry_interval: Some(3600),
        content_type: Some("application/json".into()),
        ..PublishProperties::default()
    };
    let Packet::Publish(p, _) = publish("dev/v5/state", "on".into(), true) else {
        unreachable!()
    };
    send(&mut r, id, Packet::Publish(p, Some(props)));
    let kept = r.datalog.read_retained_messages("dev/v5/state");
    let got = kept[0].1.as_ref().expect("properties kept");
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert!(got.message_expiry_interval.is_some_and(|s| s <= 3600));
}

/// A caught-up connection's requests cost their own size: one waiter slot
/// per filter it waits on (was four), and no buffer left in its tracker.
#[test]
fn parked_requests_cost_their_own_size() {
    let mut r = router();
    let id = connect(&mut r, "idle");
    send(&mut r, id, subscribe("dev/idle/cmd"));
    send(&mut r, id, subscribe("dev/idle/evt/ack"));
    for _ in 0..100 {
        if r.consume().is_none() {
            break;
        }
    }
    for f in ["dev/idle/cmd", "dev/idle/evt/ack"] {
        let w = r.datalog.waiters(&f.to_string()).expect("filter").waiters();
        assert_eq!(w.len(), 1, "{f}: the connection waits there");
        assert_eq!(w.capacity(), 1, "{f}: one slot");
    }
    assert_eq!(
        r.scheduler.trackers[id].get_data_requests().capacity(),
        0,
        "nothing left in the tracker"
    );
    // New data wakes it, and it parks again the same way.
    let other = connect(&mut r, "gw");
    send(&mut r, other, publish("dev/idle/cmd", "open".into(), false));
    for _ in 0..100 {
        if r.consume().is_none() {
            break;
        }
    }
    let w = r.datalog.waiters(&"dev/idle/cmd".to_string()).expect("filter");
    assert_eq!(w.waiters().len(), 1);
    assert!(r.obufs[id].data_buffer.lock().len() >= 1, "the command reached its queue");
}

fn subscribe_qos0(filter: &str) -> Packet {
    let Packet::Subscribe(mut s, p) = subscribe(filter) else {
        unreachable!()
    };
    s.filters[0].qos = QoS::AtMostOnce;
    Packet::Subscribe(s, p)
}

/// Connects an in-process-style reader with room for `capacity`
/// notifications per round, subscribed at QoS 0 to `filter`.
fn reader(r: &mut Router, client_id: &str, capacity: usize, filter: &str) -> ConnectionId {
    let connection = Connection::new(None, client_id.to_string(), true, false);
    let incoming = Incoming::new(client_id.to_string());
    let (outgoing, _rx) = Outgoing::with_capacity(client_id.to_string(), capacity);
    r.handle_new_connection(connection, incoming, outgoing);
    let id = r.connection_map[client_id];
    send(r, id, subscribe_qos0(filter));
    id
}

/// Runs the router's consume step until nothing is ready.
fn drain_ready(r: &mut Router) {
    for _ in 0..1_000 {
        if r.consume().is_none() {
            break;
        }
    }
}

/// Forwards queued for `id` before the router unscheduled it.
fn queued_forwards(r: &Router, id: ConnectionId) -> (usize, bool) {
    let b = r.obufs[id].data_buffer.lock();
    let forwards = b
        .iter()
        .filter(|n| matches!(n, Notification::Forward(_)))
        .count();
    let unscheduled = b.iter().any(|n| matches!(n, Notification::Unschedule));
    (forwards, unscheduled)
}

/// A link given a larger outgoing capacity takes a burst on a wildcard
/// filter in one round; a network connection's default stops at 200 and
/// waits to be scheduled again.
#[test]
fn an_in_process_link_takes_a_burst_in_one_round() {
    let mut r = router();
    let wide = reader(&mut r, "ingest", 4_096, "dev/+/tel");
    let narrow = reader(&mut r, "client", MAX_CHANNEL_CAPACITY, "dev/+/tel");
    drain_ready(&mut r);
    let publisher = connect(&mut r, "node");
    {
        let mut b = r.ibufs[publisher].buffer.lock();
        for i in 0..1_000 {
            b.push_back(publish("dev/node/tel", format!("{i}").into(), false));
        }
    }
    r.handle_device_payload(publisher);
    drain_ready(&mut r);
    let (n, unscheduled) = queued_forwards(&r, wide);
    assert_eq!(n, 1_000, "all of the burst queued for the wide link");
    assert!(!unscheduled);
    let (n, unscheduled) = queued_forwards(&r, narrow);
    assert!(
        (MAX_CHANNEL_CAPACITY - 1..=MAX_CHANNEL_CAPACITY).contains(&n),
        "the default stops at its capacity: {n}"
    );
    assert!(unscheduled, "and asks the reader to reschedule");
}

/// Messages a reader lost because the log dropped their segment before it
/// read them are counted (were logged as a cursor jump of 0).
#[test]
fn messages_skipped_by_a_slow_reader_are_counted() {
    let mut r = Router::new(
        0,
        RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 4 * 1024,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
    );
    let skipped = r.skipped_messages();
    let slow = reader(&mut r, "slow", 50, "dev/+/tel");
    drain_ready(&mut r);
    let publisher = connect(&mut r, "node");
    let total = 2_000;
    for i in 0..total {
        send(
            &mut r,
            publisher,
            publish("dev/node/tel", format!("{i:08}").into(), false),
        );
    }
    // The reader takes what it is given, round after round, rescheduling
    // itself as a link does when it reads `Unschedule`.
    let mut got = 0;
    for _ in 0..10_000 {
        drain_ready(&mut r);
        let notes: Vec<_> = r.obufs[slow].data_buffer.lock().drain(..).collect();
        if notes.is_empty() {
            break;
        }
        got += notes
            .iter()
            .filter(|n| matches!(n, Notification::Forward(_)))
            .count();
        if notes.iter().any(|n| matches!(n, Notification::Unschedule)) {
            r.events(slow, Event::Ready);
        }
    }
    let lost = skipped.load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert!(lost > 0, "the 4 KiB segments rotated under the reader");
    assert_eq!(got + lost, total, "every message delivered or counted");
}

/// Counts the spans a subscriber at `warn` is asked to create.
struct SpanCounter(std::sync::atomic::AtomicUsize);

impl tracing::Subscriber for SpanCounter {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        *m.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::span::Id::from_u64(n as u64 + 1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// With rumqttd's logging on at warn, routing publishes creates no span
/// per publish, per batch or per delivery (each formatted its topic on the
/// router thread).
#[test]
fn routing_publishes_creates_no_span_at_warn() {
    let counter = std::sync::Arc::new(SpanCounter(Default::default()));
    let dispatch = tracing::Dispatch::from(counter.clone());
    let mut r = router();
    let sub = reader(&mut r, "ingest", 4_096, "dev/+/tel");
    let publisher = connect(&mut r, "node");
    drain_ready(&mut r);
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..100 {
            send(
                &mut r,
                publisher,
                publish("dev/node/tel", format!("{i}").into(), false),
            );
            drain_ready(&mut r);
        }
    });
    assert_eq!(queued_forwards(&r, sub).0, 100, "all delivered");
    assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), 0);
}

// GridSense patch: see `WillEntry`.
#[test]
fn a_held_will_without_properties_is_small() {
    let size = std::mem::size_of::<WillEntry>();
    assert!(size <= 80, "a will entry is {size} bytes");
}
