//! The engine on a real SQLite file with a hand-moved clock: order
//! creation and idempotency, status moves, cards and escalation at the
//! right virtual times, and all of it across a restart.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::{
    AlarmKind, DeviceId, GridPath, Name, OrderState, OrderUp, StatusUpdate, Tier, UpstreamState,
};
use tokio::sync::mpsc;

use super::{ChannelFeedback, FeedbackEvent, OrderEngine, OrdersConfig};
use crate::clock::ManualClock;
use crate::store::{Store, StoreConfig, StoreHandle, spawn_writer};

const T0: u64 = 1_763_900_000_000;

fn name(s: &str) -> Name {
    Name::new(s).expect("name")
}

/// A confirmed alarm of `kind` from one smoke detector in cell g07.
pub(crate) fn alarm(kind: AlarmKind, state: AlarmState) -> AlarmFeed {
    AlarmFeed {
        id: protocol::AlarmId::new("gw01-a1").expect("id"),
        kind,
        severity: kind.default_severity(),
        state,
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
        raised_at: T0 - 5_000,
        confirmed_at: Some(T0 - 1_000),
        confirmed_by: Some("second-detector".into()),
        ended_at: None,
        snapshot: None,
    }
}

struct Rig {
    engine: OrderEngine,
    clock: Arc<ManualClock>,
    events: mpsc::UnboundedReceiver<FeedbackEvent>,
    /// The store the engine writes through; dropping the rig stops it.
    _store: StoreHandle,
}

async fn rig(db: &Path, clock: Arc<ManualClock>) -> Rig {
    let (store, _join) = spawn_writer(
        Store::open(db).expect("db"),
        StoreConfig::default(),
        clock.clone(),
    )
    .expect("writer");
    let (tx, events) = mpsc::unbounded_channel();
    let engine = OrderEngine::new(
        &OrdersConfig::default(),
        name("gw01"),
        name("lianhua-garden"),
        store.clone(),
        clock.clone(),
        Arc::new(ChannelFeedback(tx)),
    )
    .await
    .expect("engine");
    Rig {
        engine,
        clock,
        events,
        _store: store,
    }
}

fn queued(db: &Path) -> Vec<OrderUp> {
    let store = Store::open(db).expect("db");
    let mut stmt = store
        .conn()
        .prepare("SELECT payload FROM outbox ORDER BY seq")
        .expect("query");
    stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("rows")
        .map(|p| protocol::codec::decode(&p.expect("row")).expect("order"))
        .collect()
}

fn status(id: &str, state: UpstreamState) -> StatusUpdate {
    StatusUpdate {
        order_id: protocol::OrderId::new(id).expect("id"),
        revision: 1,
        state,
        at: T0,
        by: Some("grid-worker-7".into()),
        note: None,
    }
}

#[tokio::test]
async fn one_alarm_makes_one_order_and_its_changes_make_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let mut r = rig(&db, Arc::new(ManualClock::new(T0))).await;
    let mut a = alarm(AlarmKind::Fire, AlarmState::Active);
    r.engine.on_alarm(&a).await.expect("alarm");
    r.engine.on_alarm(&a).await.expect("same again");
    a.state = AlarmState::Acknowledged;
    r.engine
        .on_alarm(&a)
        .await
        .expect("acknowledged: nothing upstream");
    a.devices.push(DeviceId::new("smoke-b3-0703").expect("id"));
    r.engine.on_alarm(&a).await.expect("second detector");
    a.state = AlarmState::Cancelled;
    r.engine.on_alarm(&a).await.expect("false alarm");
    let q = queued(&db);
    let revs: Vec<_> = q
        .iter()
        .map(|u| (u.order_id.as_str(), u.revision, u.state))
        .collect();
    assert_eq!(
        revs,
        [
            ("gw01-1", 1, OrderState::New),
            ("gw01-1", 2, OrderState::New),
            ("gw01-1", 3, OrderState::Cancelled)
        ]
    );
    assert_eq!(q[0].ack_by, T0 + 120_000);
    assert_eq!(q[0].grid.cell.as_str(), "g07");
    assert!(q[1].summary.contains("2 device(s)"), "{}", q[1].summary);
    assert!(
        r.engine.open_order("gw01-1").is_none(),
        "cancelled orders are closed books"
    );
    let mut test = alarm(AlarmKind::Fire, AlarmState::Active);
    test.id = protocol::AlarmId::new("gw01-a2").expect("id");
    test.test = true;
    r.engine.on_alarm(&test).await.expect("test alarm");
    assert_eq!(queued(&db).len(), 3, "test alarms never become orders");
}

#[tokio::test]
async fn ids_continue_and_known_alarms_stay_single_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let clock = Arc::new(ManualClock::new(T0));
    let a = alarm(AlarmKind::Gas, AlarmState::Active);
    rig(&db, clock.clone())
        .await
        .engine
        .on_alarm(&a)
        .await
        .expect("alarm");
    let mut r = rig(&db, clock).await;
    r.engine.on_alarm(&a).await.expect("redelivered alarm");
    let mut b = alarm(AlarmKind::WaterLeak, AlarmState::Active);
    b.id = protocol::AlarmId::new("gw01-a2").expect("id");
    r.engine.on_alarm(&b).await.expect("new alarm");
    let ids: Vec<_> = queued(&db).iter().map(|u| u.order_id.to_string()).collect();
    assert_eq!(ids, ["gw01-1", "gw01-2"]);
}

#[tokio::test]
async fn statuses_move_orders_forward_only_and_closing_tells_the_reporter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let mut r = rig(&db, Arc::new(ManualClock::new(T0))).await;
    r.engine
        .on_alarm(&alarm(AlarmKind::Fire, AlarmState::Active))
        .await
        .expect("alarm");
    let e = &mut r.engine;
    e.on_status(&status("gw01-1", UpstreamState::Received))
        .await
        .expect("received");
    assert_eq!(
        e.open_order("gw01-1").expect("open").state,
        OrderState::Sent
    );
    r.clock.advance(30_000);
    e.on_status(&status("gw01-1", UpstreamState::Dispatched))
        .await
        .expect("dispatched");
    e.on_status(&status("gw01-1", UpstreamState::Accepted))
        .await
        .expect("backward");
    e.on_status(&status("gw01-1", UpstreamState::Received))
        .await
        .expect("late receipt");
    assert_eq!(e.stats().stale_status.load(Ordering::Relaxed), 1);
    let rec = e.open_order("gw01-1").expect("open");
    assert_eq!(
        (rec.state, rec.acked_at),
        (OrderState::Dispatched, Some(T0 + 30_000))
    );
    r.clock.advance(600_000);
    e.on_status(&status("gw01-1", UpstreamState::Closed))
        .await
        .expect("closed");
    e.on_status(&status("gw01-1", UpstreamState::Resolved))
        .await
        .expect("after close");
    assert_eq!(e.stats().stale_status.load(Ordering::Relaxed), 2);
    let done = e.load("gw01-1").await.expect("load").expect("stored");
    assert_eq!(done.state, OrderState::Closed);
    let mut notices = Vec::new();
    let mut last_kpi = None;
    while let Ok(ev) = r.events.try_recv() {
        match ev {
            FeedbackEvent::Notice(n) => notices.push(n),
            FeedbackEvent::Kpi(k) => last_kpi = Some(k),
            FeedbackEvent::Order(_) => {}
        }
    }
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].by.as_deref(), Some("grid-worker-7"));
    let k = last_kpi.expect("kpi");
    assert_eq!((k.orders, k.closed, k.closure_rate), (1, 1, 1.0));
    assert_eq!(
        (k.ack_mean_ms, k.close_mean_ms),
        (Some(30_000), Some(630_000))
    );
}

#[tokio::test]
async fn yellow_then_red_cards_escalate_at_the_right_virtual_times_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let clock = Arc::new(ManualClock::new(T0));
    let mut r = rig(&db, clock.clone()).await;
    r.engine
        .on_alarm(&alarm(AlarmKind::Fire, AlarmState::Active))
        .await
        .expect("alarm");
    async fn cards(e: &OrderEngine) -> (u32, u32, Tier, u32) {
        let o = e.load("gw01-1").await.expect("load").expect("order");
        (o.yellow_cards, o.red_cards, o.up.tier, o.up.revision)
    }
    clock.set(T0 + 119_999);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(cards(&r.engine).await, (0, 0, Tier::Grid, 1));
    clock.set(T0 + 120_000);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(
        cards(&r.engine).await,
        (1, 0, Tier::Grid, 1),
        "yellow at ack_by"
    );
    drop(r);
    let mut r = rig(&db, clock.clone()).await;
    clock.set(T0 + 239_999);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(
        cards(&r.engine).await,
        (1, 0, Tier::Grid, 1),
        "no second yellow after a restart"
    );
    clock.set(T0 + 240_000);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(
        cards(&r.engine).await,
        (1, 1, Tier::Community, 2),
        "red and escalation at ack_by + interval"
    );
    clock.set(T0 + 360_000);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(cards(&r.engine).await, (1, 2, Tier::Street, 3));
    clock.set(T0 + 3_000_000);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(
        cards(&r.engine).await,
        (1, 2, Tier::Street, 3),
        "the street is the top"
    );
    let tiers: Vec<_> = queued(&db).iter().map(|u| (u.revision, u.tier)).collect();
    assert_eq!(
        tiers,
        [(1, Tier::Grid), (2, Tier::Community), (3, Tier::Street)]
    );
    let store = Store::open(&db).expect("db");
    let v = store.verify_audit().expect("read").expect("intact");
    assert_eq!(v.records, 4, "created, yellow, two escalations");
}

#[tokio::test]
async fn acceptance_moves_supervision_to_the_close_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let clock = Arc::new(ManualClock::new(T0));
    let mut r = rig(&db, clock.clone()).await;
    r.engine
        .on_alarm(&alarm(AlarmKind::Fire, AlarmState::Active))
        .await
        .expect("alarm");
    clock.set(T0 + 60_000);
    r.engine
        .on_status(&status("gw01-1", UpstreamState::Accepted))
        .await
        .expect("accepted");
    clock.set(T0 + 3_599_999);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(r.engine.open_order("gw01-1").expect("open").yellow_cards, 0);
    clock.set(T0 + 3_600_000);
    r.engine.supervise().await.expect("supervise");
    assert_eq!(
        r.engine.open_order("gw01-1").expect("open").yellow_cards,
        1,
        "close_by missed"
    );
}

#[tokio::test]
async fn a_queue_of_alarms_is_worked_off_life_safety_first_and_marked_handed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let r = rig(&db, Arc::new(ManualClock::new(T0))).await;
    let store = r._store.clone();
    // Waiting when the engine starts (as after a full disk or at start-up):
    // a sensor fault first, then a fire; both stored as the commit gate does.
    let mut fault = alarm(AlarmKind::SensorFault, AlarmState::Active);
    fault.id = protocol::AlarmId::new("gw01-a1").expect("id");
    let mut fire = alarm(AlarmKind::Fire, AlarmState::Active);
    fire.id = protocol::AlarmId::new("gw01-a2").expect("id");
    let (alarms_tx, alarms_rx) = mpsc::channel(8);
    for a in [&fault, &fire] {
        store
            .write(crate::store::Write::Alarm(Box::new(a.clone()), T0))
            .await
            .expect("alarm stored");
        alarms_tx.send(a.clone()).await.expect("queued");
    }
    assert_eq!(
        store
            .read(|s| s.unhanded_alarms())
            .await
            .expect("read")
            .len(),
        2
    );
    let (_status_tx, status_rx) = mpsc::channel(8);
    let (_local_tx, local_rx) = mpsc::channel(8);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(
        r.engine
            .run(alarms_rx, status_rx, local_rx, shutdown.clone()),
    );
    let handed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let left = store.read(|s| s.unhanded_alarms()).await.expect("read");
            if left.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    shutdown.cancel();
    run.await.expect("join").expect("engine");
    assert!(handed.is_ok(), "both alarms marked handed");
    let q = queued(&db);
    let order: Vec<_> = q.iter().map(|u| (u.order_id.as_str(), u.kind)).collect();
    assert_eq!(
        order,
        [
            ("gw01-1", AlarmKind::Fire),
            ("gw01-2", AlarmKind::SensorFault)
        ],
        "the fire's order first"
    );
}

#[tokio::test]
async fn a_late_acceptance_between_two_supervision_ticks_still_gets_its_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let mut r = rig(&db, Arc::new(ManualClock::new(T0))).await;
    r.engine
        .on_alarm(&alarm(AlarmKind::Fire, AlarmState::Active))
        .await
        .expect("alarm");
    // Past the 2 min ack deadline, and no supervision tick since.
    r.clock.advance(121_000);
    r.engine
        .on_status(&status("gw01-1", UpstreamState::Accepted))
        .await
        .expect("accepted");
    let rec = r.engine.open_order("gw01-1").expect("open");
    assert_eq!(rec.state, OrderState::Accepted);
    assert_eq!(
        (rec.yellow_cards, rec.red_cards),
        (1, 0),
        "the missed ack deadline is carded before the acceptance moves the order"
    );
    // Closed long past the close deadline and its red card, again between ticks.
    r.clock.advance(2 * 3_600_000);
    r.engine
        .on_status(&status("gw01-1", UpstreamState::Closed))
        .await
        .expect("closed");
    let store = Store::open(&db).expect("db");
    let (y, red): (i64, i64) = store
        .conn()
        .query_row(
            "SELECT yellow, red FROM orders WHERE order_id = 'gw01-1'",
            [],
            |x| Ok((x.get(0)?, x.get(1)?)),
        )
        .expect("row");
    assert_eq!((y, red), (2, 1), "and the close phase's yellow and red");
}
