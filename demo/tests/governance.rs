//! The whole loop on real sockets and a real SQLite file: an alarm becomes
//! an order, the simulated district platform receives, accepts, dispatches,
//! resolves and closes it, and the gateway closes the loop (notice, KPIs).
//! A late order is carded and escalated on a hand-moved clock, then closed.

mod upstream;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use demo::upstream_sim::{SimConfig, SimLog, run_with_log};
use gateway::clock::ManualClock;
use gateway::orders::OrderRecord;
use gateway::orders::{ChannelFeedback, FeedbackEvent, OrderEngine, OrdersConfig};
use gateway::store::Store;
use gateway::uplink::{Uplink, UplinkConfig};
use protocol::feed::{AlarmFeed, AlarmState};
use protocol::{AlarmKind, DeviceId, GridPath, OrderState, Tier};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use upstream::{broker, name, open_outbox, wait_until};

const T0: u64 = 1_763_900_000_000;

fn alarm(n: u32) -> AlarmFeed {
    AlarmFeed {
        id: protocol::AlarmId::new(&format!("gw01-a{n}")).expect("id"),
        kind: AlarmKind::Fire,
        severity: protocol::Severity::Critical,
        state: AlarmState::Active,
        condition: true,
        test: false,
        devices: vec![DeviceId::new("smoke-b3-0702").expect("id")],
        zone: None,
        location: "Building 3, unit 2, floor 7, room 702".into(),
        grid: GridPath {
            city: name("foshan"),
            district: name("chancheng"),
            street: name("zumiao"),
            community: name("lianhua"),
            cell: name("g07"),
        },
        raised_at: T0,
        confirmed_at: Some(T0),
        confirmed_by: Some("second-detector".into()),
        ended_at: None,
        snapshot: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_feedback_closes_orders_and_late_ones_are_escalated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let addr = broker("127.0.0.1:0");
    let stop = CancellationToken::new();
    let log = Arc::new(SimLog::default());
    let sim = SimConfig {
        accept_ms: 20,
        dispatch_ms: 20,
        resolve_ms: 20,
        close_ms: 20,
        late_every: Some(2),
        credentials: Some(("district".into(), "x".into())),
        ..SimConfig::new("127.0.0.1", addr.port())
    };
    tokio::spawn(run_with_log(sim, log.clone(), stop.clone()));

    let clock = Arc::new(ManualClock::new(T0));
    let outbox = open_outbox(&db);
    let (fb_tx, mut feedback) = mpsc::unbounded_channel();
    let cfg = OrdersConfig {
        supervise_every_ms: 10,
        ..OrdersConfig::default()
    };
    let engine = OrderEngine::new(
        &cfg,
        name("gw01"),
        name("lianhua-garden"),
        outbox.store(),
        clock.clone(),
        Arc::new(ChannelFeedback(fb_tx)),
    )
    .await
    .expect("engine");
    let stats = engine.stats();
    let up_cfg = UplinkConfig {
        username: Some("gw01".into()),
        password: Some("x".into()),
        ..UplinkConfig::new("127.0.0.1", addr.port())
    };
    let uplink = Uplink::new(&up_cfg, &name("gw01"), outbox).expect("uplink");
    let (status_tx, status_rx) = mpsc::channel(256);
    let (alarm_tx, alarm_rx) = mpsc::channel(16);
    tokio::spawn(uplink.run(status_tx, stop.clone()));
    let (_local_tx, local_rx) = mpsc::channel(16);
    let run = tokio::spawn(engine.run(alarm_rx, status_rx, local_rx, stop.clone()));

    alarm_tx.send(alarm(1)).await.expect("alarm 1");
    alarm_tx.send(alarm(2)).await.expect("alarm 2");
    let mut notices = Vec::new();
    let mut kpi = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while notices.is_empty() {
        let ev = tokio::time::timeout_at(deadline, feedback.recv())
            .await
            .expect("notice in time");
        match ev.expect("feedback") {
            FeedbackEvent::Notice(n) => notices.push(n),
            FeedbackEvent::Kpi(k) => kpi = Some(k),
            FeedbackEvent::Order(_) => {}
        }
    }
    assert_eq!(
        notices[0].order_id.as_str(),
        "gw01-1",
        "the first order closed on its own"
    );
    assert_eq!(notices[0].note.as_deref(), Some("verified on site"));
    let k = kpi.expect("kpi");
    assert_eq!(
        (k.orders, k.closed),
        (2, 1),
        "KPIs are published before the notice"
    );

    // gw01-2 is late: the platform waits for an escalation. Virtual time does it.
    clock.set(T0 + 120_000);
    wait_until(10, "a yellow card", || {
        stats.yellow_cards.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(log.seen().len(), 2, "a yellow card is not sent upstream");
    clock.set(T0 + 240_000);
    wait_until(10, "the escalated revision upstream", || {
        log.seen().len() == 3
    })
    .await;
    let esc = &log.seen()[2];
    assert_eq!(
        (esc.order_id.as_str(), esc.revision, esc.tier),
        ("gw01-2", 2, Tier::Community)
    );
    let mut closed = None;
    while closed.is_none() {
        let ev = tokio::time::timeout_at(deadline, feedback.recv())
            .await
            .expect("second close in time");
        if let Some(FeedbackEvent::Notice(n)) = ev {
            closed = Some(n);
        }
    }
    assert_eq!(closed.expect("notice").order_id.as_str(), "gw01-2");
    stop.cancel();
    run.await.expect("join").expect("engine stopped cleanly");
    let store = Store::open_read_only(&db).expect("db");
    let k = store.kpi("g07").expect("kpi").expect("stored");
    assert_eq!(
        (
            k.orders,
            k.closed,
            k.closure_rate,
            k.yellow_cards,
            k.red_cards
        ),
        (2, 2, 1.0, 1, 1)
    );
    let o: OrderRecord =
        serde_json::from_str(&store.order("gw01-2").expect("load").expect("order"))
            .expect("decode");
    assert_eq!((o.state, o.up.tier), (OrderState::Closed, Tier::Community));
    assert!(store.verify_audit().expect("read").is_ok());
}
