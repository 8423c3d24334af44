//! Maintenance windows on the pure engine: subtree, fire zone, expiry by
//! time, and the refusal over an open real fire.

use std::sync::Arc;

use protocol::feed::AlarmState;
use protocol::{Cause, EventKind, NodeEvent};

use super::windows::{Change, apply};
use super::*;
use crate::registry::DeviceInfo;
use crate::testutil::{device, name};

fn heat(seq: u32) -> NodeEvent {
    NodeEvent {
        seq,
        boot: None,
        ts: None,
        kind: EventKind::Alarm,
        cause: Some(Cause::Heat),
        value: None,
        battery: None,
        snapshot: None,
    }
}

/// A heat detector in room `b3-u2-f7-r702` of building `b3`.
fn in_room() -> Arc<DeviceInfo> {
    let mut d = (*device("heat-702", "heat", "b3-u2-f7-r702", Some("fz-b3-7"))).clone();
    d.ancestors = vec![name("b3-u2-f7"), name("b3-u2"), name("b3")].into();
    Arc::new(d)
}

fn window(target: &str, since: u64, until: u64) -> Window {
    Window {
        target: target.into(),
        scope: Scope::Site,
        since,
        until,
        by: "guard-li".into(),
        reason: "detector cleaning".into(),
    }
}

fn is_test(e: &Engine, id: &str) -> bool {
    e.get(id).expect("alarm").feed.test
}

#[test]
fn a_window_on_a_building_covers_its_rooms_and_not_others() {
    let mut m = Maintenance::default();
    m.start(window("b3", 0, 1_000));
    assert!(m.covers(&in_room(), 10));
    let elsewhere = device("heat-1", "heat", "b1-u1-f1-r101", Some("fz1"));
    assert!(!m.covers(&elsewhere, 10));
    for t in ["b3-u2", "b3-u2-f7", "b3-u2-f7-r702", "fz-b3-7", "heat-702"] {
        let mut m = Maintenance::default();
        m.start(window(t, 0, 1_000));
        assert!(m.covers(&in_room(), 10), "{t}");
    }
    let mut m = Maintenance::default();
    m.start(window("b3-u1", 0, 1_000));
    assert!(
        !m.covers(&in_room(), 10),
        "a sibling unit covers nothing here"
    );
}

#[test]
fn a_window_expires_at_its_until_by_the_clock() {
    let mut e = Engine::new(name("gw01"), AlarmPolicy::default(), 0);
    let d = in_room();
    e.maintenance_mut().start(window("b3", 100, 10_000));
    e.on_event(&d, &heat(1), 9_999);
    assert!(is_test(&e, "gw01-a1"), "in force just before until");
    e.operator("gw01-a1", OperatorAction::Cancel, 9_999)
        .expect_err("a confirmed test fire in alarm is latched too");
    // At `until` the window is over, whether or not a tick pruned it.
    let fx = e.on_event(&d, &heat(2), 10_000);
    let real = e.get("gw01-a2").expect("a new, real alarm");
    assert!(!real.feed.test);
    assert!(fx.iter().any(|f| matches!(f, Effect::Release { .. })));
    let expired = e.maintenance_mut().expire(10_000);
    assert_eq!(expired.len(), 1);
    assert!(e.maintenance().in_force(10_000).next().is_none());
}

#[test]
fn maintenance_is_refused_over_an_open_real_fire() {
    let mut e = Engine::new(name("gw01"), AlarmPolicy::default(), 0);
    let d = in_room();
    e.on_event(&d, &heat(1), 5);
    assert_eq!(
        e.get("gw01-a1").map(|a| a.feed.state),
        Some(AlarmState::Active)
    );
    let mut reg_devices = std::collections::HashMap::new();
    reg_devices.insert(d.id.clone(), d.clone());
    let refused = Maintenance::conflict("b3", e.open(), |id| reg_devices.get(id).cloned());
    assert!(
        matches!(refused, Some(MaintenanceError::LifeSafety { ref alarm, .. }) if alarm == "gw01-a1"),
        "{refused:?}"
    );
    assert!(Maintenance::conflict("b1", e.open(), |id| reg_devices.get(id).cloned()).is_none());
}

#[test]
fn a_restore_puts_back_the_window_a_failed_start_replaced() {
    let mut e = Engine::new(name("gw01"), AlarmPolicy::default(), 0);
    let registry = crate::registry::Registry::default();
    let old = window("b3", 0, 5_000);
    e.maintenance_mut().start(old.clone());
    let new = window("b3", 10, 9_000);
    let replaced = apply(&mut e, &registry, Change::Start(new)).expect("start");
    assert_eq!(replaced.as_ref(), Some(&old));
    apply(
        &mut e,
        &registry,
        Change::Restore {
            target: "b3".into(),
            previous: replaced,
        },
    )
    .expect("restore");
    assert_eq!(e.maintenance().window("b3", 20), Some(&old));
}
