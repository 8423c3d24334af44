//! Many compounds on a clustered district broker: three gateways uplink to
//! a two-node RabbitMQ cluster (its MQTT plugin) on loopback, the district
//! platform (the upstream simulator) on the second node. The first node is
//! stopped while orders are on their way: the gateways on it fail over to
//! the second (`[uplink] failover`), every order becomes exactly one ticket
//! upstream, every receipt and status comes back, no outbox row is left.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use demo::upstream_sim::{self, SimConfig, SimLog};
use gridsense_tests::rabbit::RabbitCluster;
use gridsense_tests::{Client, Compound, ack, event};
use tokio_util::sync::CancellationToken;

/// Alarms raised before the node stops, and after: (device, cause), one
/// order each (major or life-safety kinds are ticketed).
const BEFORE: &[(&str, &str)] = &[
    ("gas-b1-u2-101", "gas"),
    ("leak-b1-u2-101", "water"),
    ("level-carpark-sump", "level"),
    ("lift-b2-u1", "trapped"),
];
const AFTER: &[(&str, &str)] = &[
    ("charger-carpark-01", "overheat"),
    ("cam-carpark-lane", "fire-lane-blocked"),
    ("manhole-north-gate", "cover-open"),
    ("door-b2-stair", "door-forced"),
];

/// Raises `alarms` from their nodes; returns the nodes (kept connected).
async fn raise(c: &Compound, alarms: &[(&str, &str)]) -> Vec<Client> {
    let mut nodes = Vec::new();
    for (device, cause) in alarms {
        let mut node = c.node(device).await;
        event(
            &node,
            device,
            &format!(r#"{{"seq":1,"type":"alarm","cause":"{cause}"}}"#),
        )
        .await;
        ack(&mut node, 1).await;
        nodes.push(node);
    }
    nodes
}

/// Waits until `n` orders of the gateway behind `it` are closed; returns
/// their ids.
async fn closed_orders(it: &mut Client, n: usize, within: Duration) -> BTreeSet<String> {
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while states.values().filter(|s| *s == "closed").count() < n
        && tokio::time::Instant::now() < deadline
    {
        for (_, v) in it
            .collect(Duration::from_millis(500), |t, _| t.contains("/order/"))
            .await
        {
            if let (Some(id), Some(state)) = (v["order"]["order_id"].as_str(), v["state"].as_str())
            {
                states.insert(id.to_string(), state.to_string());
            }
        }
    }
    let closed: BTreeSet<String> = states
        .iter()
        .filter(|(_, s)| *s == "closed")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(closed.len(), n, "orders and their last states: {states:?}");
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_keep_every_order_when_a_cluster_node_stops() {
    let cluster = tokio::task::spawn_blocking(|| RabbitCluster::start(2))
        .await
        .expect("cluster");
    let (a, b) = (cluster.nodes[0].mqtt, cluster.nodes[1].mqtt);

    // The platform on node b; its lifecycle runs after the failover.
    let log = Arc::new(SimLog::default());
    let stop = CancellationToken::new();
    let mut sim = SimConfig::new("127.0.0.1", b);
    (sim.accept_ms, sim.dispatch_ms, sim.resolve_ms, sim.close_ms) = (2_500, 100, 100, 100);
    tokio::spawn(upstream_sim::run_with_log(sim, log.clone(), stop.clone()));

    // gw-a and gw-c on node a (node b their failover), gw-b on node b.
    let uplink = |first: u16, other: u16| {
        format!(
            "[uplink]\nhost = \"127.0.0.1\"\nport = {first}\nfailover = [\"127.0.0.1:{other}\"]\n\
             reconnect_min_ms = 100\nreconnect_max_ms = 500\nresend_after_ms = 2000\n"
        )
    };
    let mut gateways = Vec::new();
    for (id, first, other) in [("gw-a", a, b), ("gw-b", b, a), ("gw-c", a, b)] {
        let c = Compound::start_as(id, &uplink(first, other)).await;
        let it = c.integrator().await;
        gateways.push((id, c, it));
    }
    // Let the platform and the uplinks connect.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut nodes = Vec::new();
    for (_, c, _) in &gateways {
        nodes.extend(raise(c, BEFORE).await);
    }
    // Node a stops under two of the gateways while the next alarms'
    // orders are on their way.
    let stopping = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop_node(0);
        cluster
    });
    for (_, c, _) in &gateways {
        nodes.extend(raise(c, AFTER).await);
    }
    let cluster = stopping.await.expect("node a stopped");

    let n = BEFORE.len() + AFTER.len();
    let mut all = BTreeSet::new();
    for (id, c, it) in &mut gateways {
        let closed = closed_orders(it, n, Duration::from_secs(60)).await;
        assert!(
            closed.iter().all(|o| o.starts_with(&format!("{id}-"))),
            "{closed:?}"
        );
        all.extend(closed);
        // Every receipt came back: nothing waits in the outbox.
        let outbox = c.gw.as_ref().expect("running").store.outbox();
        let rows = outbox.fetch((-1, 0), 100).await.expect("outbox");
        assert!(
            rows.is_empty(),
            "{id}: {} rows left in the outbox",
            rows.len()
        );
    }
    // The gateways of node a moved to node b.
    let on_a = cluster.accepted_clients(0);
    let on_b = cluster.accepted_clients(1);
    eprintln!("MQTT connections accepted: node a {on_a:?}, node b {on_b:?}");
    for id in ["gw-a", "gw-c"] {
        assert!(
            on_a.iter().any(|c| c == id),
            "{id} never on node a: {on_a:?}"
        );
        assert!(
            on_b.iter().any(|c| c == id),
            "{id} did not fail over: {on_b:?}"
        );
    }
    // Upstream: one ticket per order, however often a revision came.
    assert_eq!(log.tickets(), 3 * n, "tickets: {:?}", log.seen());
    let upstream: BTreeSet<String> = log.seen().into_iter().map(|s| s.order_id).collect();
    assert_eq!(
        upstream, all,
        "the orders the platform ticketed are the gateways' orders"
    );
    eprintln!(
        "{} orders, {} tickets, {} redeliveries answered without a new ticket",
        all.len(),
        log.tickets(),
        log.duplicates()
    );
    stop.cancel();
    drop(nodes);
    for (_, mut c, _) in gateways {
        c.down().await;
    }
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("cluster stopped");
}
