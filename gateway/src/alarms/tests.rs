//! The alarm semantics, one test each, on the pure engine.

use protocol::feed::AlarmState;
use protocol::{AlarmKind, Cause, EventKind, NodeEvent, Status};

use super::*;
use crate::testutil::{device, name};

fn ev(seq: u32, kind: EventKind, cause: Option<Cause>) -> NodeEvent {
    NodeEvent {
        boot: None,
        seq,
        ts: None,
        kind,
        cause,
        value: None,
        battery: None,
        snapshot: None,
    }
}

fn alarm(seq: u32, cause: Cause) -> NodeEvent {
    ev(seq, EventKind::Alarm, Some(cause))
}

fn engine() -> Engine {
    Engine::new(name("gw01"), AlarmPolicy::default(), 0)
}

fn changes(fx: &[Effect]) -> Vec<(String, AlarmState)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Changed(f) => Some((f.id.to_string(), f.state)),
            _ => None,
        })
        .collect()
}

fn releases(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::Release { .. }))
        .count()
}

#[test]
fn one_smoke_detector_raises_a_pre_alarm_and_no_linkage() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let fx = e.on_event(&s1, &alarm(1, Cause::Smoke), 1_000);
    assert_eq!(
        changes(&fx),
        [("gw01-a1".to_string(), AlarmState::PreAlarm)]
    );
    assert_eq!(releases(&fx), 0);
    assert_eq!(e.next_deadline(), Some(121_000));
}

#[test]
fn a_second_detector_in_the_zone_confirms_and_releases_doors() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let s2 = device("smoke-2", "smoke", "r702", Some("fz7"));
    e.on_event(&s1, &alarm(1, Cause::Smoke), 1_000);
    let again = e.on_event(&s1, &alarm(2, Cause::Smoke), 2_000);
    assert!(
        changes(&again).is_empty(),
        "the same detector does not confirm"
    );
    let fx = e.on_event(&s2, &alarm(1, Cause::Smoke), 3_000);
    assert_eq!(changes(&fx), [("gw01-a1".to_string(), AlarmState::Active)]);
    assert_eq!(
        fx.iter().find(|x| matches!(x, Effect::Release { .. })),
        Some(&Effect::Release {
            alarm: "gw01-a1".into(),
            zone: "fz7".into()
        })
    );
    let a = e.get("gw01-a1").expect("open");
    assert_eq!(a.feed.confirmed_by.as_deref(), Some("second-detector"));
    assert_eq!(a.feed.devices.len(), 2, "one incident, one alarm");
}

#[test]
fn the_timeout_confirms_a_lone_detector() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    e.on_event(&s1, &alarm(1, Cause::Smoke), 1_000);
    assert!(e.tick(120_999).is_empty());
    let fx = e.tick(121_000);
    assert_eq!(changes(&fx), [("gw01-a1".to_string(), AlarmState::Active)]);
    assert_eq!(releases(&fx), 1);
    assert_eq!(
        e.get("gw01-a1")
            .and_then(|a| a.feed.confirmed_by.clone())
            .as_deref(),
        Some("timeout")
    );
}

#[test]
fn heat_and_manual_call_points_confirm_at_once() {
    let mut e = engine();
    let h = device("heat-1", "heat", "kitchen", Some("fz1"));
    let fx = e.on_event(&h, &alarm(1, Cause::Heat), 5);
    assert_eq!(changes(&fx)[0].1, AlarmState::Active);
    assert_eq!(releases(&fx), 1);
    let mut e = engine();
    let s = device("smoke-1", "smoke", "hall", Some("fz2"));
    let m = device("mcp-1", "manual-call-point", "hall", Some("fz2"));
    e.on_event(&s, &alarm(1, Cause::Smoke), 5);
    let fx = e.on_event(&m, &alarm(1, Cause::ManualCall), 6);
    assert_eq!(changes(&fx)[0].1, AlarmState::Active);
    assert_eq!(
        e.get("gw01-a1")
            .and_then(|a| a.feed.confirmed_by.clone())
            .as_deref(),
        Some("manual-call-point")
    );
}

#[test]
fn immediate_zones_alarm_at_once() {
    let policy = AlarmPolicy {
        immediate_zones: vec![name("fz-kitchen")],
        ..AlarmPolicy::default()
    };
    let mut e = Engine::new(name("gw01"), policy, 0);
    let s = device("smoke-k", "smoke", "kitchen", Some("fz-kitchen"));
    let fx = e.on_event(&s, &alarm(1, Cause::Smoke), 5);
    assert_eq!(changes(&fx)[0].1, AlarmState::Active);
    assert_eq!(releases(&fx), 1);
}

#[test]
fn fire_latches_after_the_detector_restores_until_an_operator_resets() {
    let mut e = engine();
    let h = device("heat-1", "heat", "kitchen", Some("fz1"));
    e.on_event(&h, &alarm(1, Cause::Heat), 5);
    let fx = e.on_event(&h, &ev(2, EventKind::Restore, Some(Cause::Heat)), 10);
    assert_eq!(
        changes(&fx),
        [("gw01-a1".to_string(), AlarmState::Active)],
        "still active"
    );
    assert!(!e.get("gw01-a1").expect("open").feed.condition);
    let fx = e
        .operator("gw01-a1", OperatorAction::Reset, 20)
        .expect("reset");
    assert_eq!(changes(&fx), [("gw01-a1".to_string(), AlarmState::Reset)]);
    assert!(e.get("gw01-a1").is_none());
}

#[test]
fn reset_is_refused_while_a_detector_is_still_in_alarm() {
    let mut e = engine();
    let h = device("heat-1", "heat", "kitchen", Some("fz1"));
    e.on_event(&h, &alarm(1, Cause::Heat), 5);
    assert!(matches!(
        e.operator("gw01-a1", OperatorAction::Reset, 6),
        Err(OperatorError::StillActive { .. })
    ));
    e.operator("gw01-a1", OperatorAction::Acknowledge, 7)
        .expect("ack");
    assert_eq!(
        e.get("gw01-a1").map(|a| a.feed.state),
        Some(AlarmState::Acknowledged)
    );
}

#[test]
fn faults_are_never_fires_and_never_hide_one() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let s2 = device("smoke-2", "smoke", "r701", Some("fz7"));
    let fx = e.on_event(&s1, &ev(1, EventKind::Fault, Some(Cause::SensorOpen)), 1);
    assert_eq!(fx.len(), 1);
    let Effect::Changed(f) = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(f.kind, AlarmKind::SensorFault);
    e.on_availability(&s1, Status::Offline, 2);
    e.on_event(&s2, &ev(1, EventKind::LowBattery, None), 3);
    // The faulty detector and the low-battery one still raise and confirm a fire.
    e.on_event(&s1, &alarm(2, Cause::Smoke), 4);
    let fx = e.on_event(&s2, &alarm(2, Cause::Smoke), 5);
    assert_eq!(releases(&fx), 1);
    let kinds: Vec<AlarmKind> = e.open().map(|a| a.feed.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == AlarmKind::Fire).count(), 1);
    assert!(kinds.contains(&AlarmKind::SensorFault));
    assert!(kinds.contains(&AlarmKind::DeviceOffline));
    assert!(kinds.contains(&AlarmKind::LowBattery));
    // Coming back online clears only the offline fault.
    e.on_availability(&s1, Status::Online, 6);
    assert!(!e.open().any(|a| a.feed.kind == AlarmKind::DeviceOffline));
    assert!(
        e.open()
            .any(|a| a.feed.kind == AlarmKind::Fire && a.is_confirmed())
    );
}

#[test]
fn maintenance_records_test_alarms_without_linkage() {
    let policy = AlarmPolicy {
        maintenance: vec![name("fz7")],
        ..AlarmPolicy::default()
    };
    let mut e = Engine::new(name("gw01"), policy, 0);
    let h = device("heat-1", "heat", "r701", Some("fz7"));
    let fx = e.on_event(&h, &alarm(1, Cause::Heat), 5);
    assert_eq!(releases(&fx), 0);
    assert!(e.get("gw01-a1").expect("recorded").feed.test);
    // Out of maintenance, the same zone alarms for real, as a separate alarm.
    e.set_maintenance("fz7", false);
    let fx = e.on_event(&h, &alarm(2, Cause::Heat), 6);
    assert_eq!(releases(&fx), 1);
    assert!(!e.get("gw01-a2").expect("real").feed.test);
}

#[test]
fn a_chattering_detector_becomes_one_fault_not_many_alarms() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let mut all = Vec::new();
    for i in 0..10u32 {
        let t = u64::from(i) * 2_000;
        all.extend(e.on_event(&s1, &alarm(2 * i + 1, Cause::Smoke), t));
        all.extend(e.on_event(
            &s1,
            &ev(2 * i + 2, EventKind::Restore, Some(Cause::Smoke)),
            t + 1_000,
        ));
    }
    let raised: std::collections::BTreeSet<String> = all
        .iter()
        .filter_map(|x| {
            if let Effect::Changed(f) = x {
                Some(f.id.to_string())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        raised.len(),
        2,
        "one withdrawn pre-alarm and one fault: {raised:?}"
    );
    let open: Vec<AlarmKind> = e.open().map(|a| a.feed.kind).collect();
    assert_eq!(open, [AlarmKind::Chattering]);
    assert_eq!(releases(&all), 0);
    assert!(e.tick(1_000_000).is_empty(), "nothing left to confirm");
    // After maintenance resets the fault, the detector counts again.
    e.operator("gw01-a2", OperatorAction::Reset, 50_000)
        .expect("reset");
    let fx = e.on_event(&s1, &alarm(99, Cause::Smoke), 60_000);
    assert_eq!(changes(&fx)[0].1, AlarmState::PreAlarm);
}

#[test]
fn a_chattering_detector_never_withdraws_a_confirmed_fire() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let h = device("heat-1", "heat", "r701", Some("fz7"));
    e.on_event(&h, &alarm(1, Cause::Heat), 0);
    for i in 0..6u32 {
        e.on_event(&s1, &alarm(i + 1, Cause::Smoke), u64::from(i) * 1_000);
    }
    assert!(
        e.open()
            .any(|a| a.feed.kind == AlarmKind::Fire && a.is_confirmed())
    );
}

#[test]
fn gas_pre_alarm_then_alarm_closes_the_valve_and_latches() {
    let mut e = engine();
    let g = device("gas-1", "gas", "kitchen-3", Some("fz3"));
    let fx = e.on_event(&g, &ev(1, EventKind::PreAlarm, Some(Cause::Gas)), 1);
    assert_eq!(changes(&fx)[0].1, AlarmState::PreAlarm);
    assert!(!fx.iter().any(|x| matches!(x, Effect::CloseValve { .. })));
    let fx = e.on_event(&g, &alarm(2, Cause::Gas), 2);
    assert!(fx.contains(&Effect::CloseValve {
        alarm: "gw01-a1".into(),
        zone: "fz3".into()
    }));
    e.on_event(&g, &ev(3, EventKind::Restore, Some(Cause::Gas)), 3);
    assert_eq!(
        e.get("gw01-a1").map(|a| a.feed.state),
        Some(AlarmState::Active)
    );
}

#[test]
fn non_latching_alarms_clear_when_the_condition_ends() {
    let mut e = engine();
    let w = device("leak-1", "water-leak", "pump-room", None);
    e.on_event(&w, &alarm(1, Cause::Water), 1);
    let fx = e.on_event(&w, &ev(2, EventKind::Restore, None), 2);
    assert_eq!(changes(&fx), [("gw01-a1".to_string(), AlarmState::Cleared)]);
    assert_eq!(e.open().count(), 0);
}

#[test]
fn cancel_withdraws_a_false_alarm() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    e.on_event(&s1, &alarm(1, Cause::Smoke), 1);
    let fx = e
        .operator("gw01-a1", OperatorAction::Cancel, 2)
        .expect("cancel");
    assert_eq!(
        changes(&fx),
        [("gw01-a1".to_string(), AlarmState::Cancelled)]
    );
    assert!(e.tick(10_000_000).is_empty());
    assert!(matches!(
        e.operator("gw01-a1", OperatorAction::Reset, 3),
        Err(OperatorError::Unknown(_))
    ));
}

#[test]
fn an_unstable_link_is_one_fault_per_device_until_it_holds() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let fx = e.on_link(&s1, false, 1);
    let Some(Effect::Changed(f)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(f.kind, AlarmKind::UnstableLink);
    let id = f.id.clone();
    // Signalled again while open: the same alarm, nothing new.
    assert!(e.on_link(&s1, false, 2).is_empty());
    assert_eq!(e.open().count(), 1);
    // Offline/online of the device leaves it open.
    e.on_availability(&s1, Status::Offline, 3);
    e.on_availability(&s1, Status::Online, 4);
    assert!(e.open().any(|a| a.feed.id == id));
    let fx = e.on_link(&s1, true, 5);
    let Some(Effect::Changed(f)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!((f.id.clone(), f.state), (id, AlarmState::Cleared));
    assert_eq!(e.open().count(), 0);
}

#[test]
fn a_confirmed_fire_cannot_be_cancelled_while_in_alarm() {
    let mut e = engine();
    let s1 = device("smoke-1", "smoke", "r701", Some("fz7"));
    let s2 = device("smoke-2", "smoke", "r702", Some("fz7"));
    e.on_event(&s1, &alarm(1, Cause::Smoke), 1);
    e.on_event(&s2, &alarm(1, Cause::Smoke), 2);
    assert!(e.get("gw01-a1").expect("open").is_confirmed());
    let refused = e.operator("gw01-a1", OperatorAction::Cancel, 3);
    let Err(OperatorError::StillInAlarm { devices, .. }) = refused else {
        panic!("cancel of a confirmed fire in alarm: {refused:?}");
    };
    assert_eq!(devices, "smoke-1, smoke-2");
    // One detector restores: still in alarm at the other.
    e.on_event(&s1, &ev(2, EventKind::Restore, Some(Cause::Smoke)), 4);
    assert!(matches!(
        e.operator("gw01-a1", OperatorAction::Cancel, 5),
        Err(OperatorError::StillInAlarm { .. })
    ));
    assert!(matches!(
        e.operator("gw01-a1", OperatorAction::Reset, 5),
        Err(OperatorError::StillActive { .. })
    ));
    assert_eq!(
        e.get("gw01-a1").map(|a| a.feed.state),
        Some(AlarmState::Active)
    );
    // Both restored: latched, and now it may be declared false.
    e.on_event(&s2, &ev(2, EventKind::Restore, Some(Cause::Smoke)), 6);
    let fx = e
        .operator("gw01-a1", OperatorAction::Cancel, 7)
        .expect("cancel once restored");
    assert_eq!(
        changes(&fx),
        [("gw01-a1".to_string(), AlarmState::Cancelled)]
    );
}

#[test]
fn an_acknowledged_fire_is_reset_not_cancelled() {
    let mut e = engine();
    let h = device("heat-1", "heat", "kitchen", Some("fz1"));
    e.on_event(&h, &alarm(1, Cause::Heat), 5);
    e.operator("gw01-a1", OperatorAction::Acknowledge, 6)
        .expect("ack");
    e.on_event(&h, &ev(2, EventKind::Restore, Some(Cause::Heat)), 7);
    assert!(matches!(
        e.operator("gw01-a1", OperatorAction::Cancel, 8),
        Err(OperatorError::State { .. })
    ));
    e.operator("gw01-a1", OperatorAction::Reset, 9)
        .expect("reset once restored");
}

#[test]
fn a_cameras_snapshot_reference_stays_with_the_alarm_it_raised() {
    let mut e = engine();
    let cam = device("cam-1", "camera", "gate", None);
    let uri = "http://10.0.0.5/onvif/snapshot?profile=p1";
    let mut intrusion = alarm(1, Cause::Intrusion);
    intrusion.snapshot = Some(protocol::SnapshotRef::new(uri).expect("uri"));
    let fx = e.on_event(&cam, &intrusion, 1_000);
    let raised = fx
        .iter()
        .find_map(|x| match x {
            Effect::Changed(f) => Some(f.clone()),
            _ => None,
        })
        .expect("raised");
    assert_eq!(
        (raised.kind, raised.state),
        (AlarmKind::Intrusion, AlarmState::Active)
    );
    assert_eq!(raised.snapshot.as_deref(), Some(uri));
    // The operator's acknowledgement keeps it.
    let fx = e
        .operator(raised.id.as_str(), OperatorAction::Acknowledge, 2_000)
        .expect("ack");
    let acked = fx
        .iter()
        .find_map(|x| match x {
            Effect::Changed(f) => Some(f.clone()),
            _ => None,
        })
        .expect("acked");
    assert_eq!(acked.snapshot.as_deref(), Some(uri));
    // An event without one raises an alarm without one.
    let fx = e.on_event(
        &device("smoke-1", "smoke", "r701", Some("fz7")),
        &alarm(1, Cause::Smoke),
        3_000,
    );
    assert!(
        fx.iter()
            .all(|x| !matches!(x, Effect::Changed(f) if f.snapshot.is_some()))
    );
}
