//! The checker's judgement on hand-made records.

use std::collections::BTreeMap;
use std::time::Instant;

use protocol::node::{Cause, EventKind};

use super::{StoreView, judge};
use crate::district::{DistrictData, Ticket};
use crate::nodes::{EventRec, LedgerData};
use crate::world::{Device, Role};

fn device(id: &str, role: Role) -> (String, Device) {
    (
        id.to_owned(),
        Device {
            id: id.to_owned(),
            secret: String::new(),
            role,
            zone: "fz0".to_owned(),
        },
    )
}

fn acked(kind: EventKind, cause: Cause, at: Instant) -> EventRec {
    EventRec {
        kind,
        cause: Some(cause),
        publishes: 2,
        first_sent: at,
        acked_at: Some(at),
    }
}

fn alarm(id: &str, kind: &str, state: &str, device: &str) -> protocol::feed::AlarmFeed {
    serde_json::from_value(serde_json::json!({
        "id": id, "kind": kind, "severity": "critical", "state": state, "condition": true,
        "test": false, "devices": [device], "zone": "fz0", "location": "Building 1 / Floor 0",
        "grid": {"city":"foshan","district":"chancheng","street":"zumiao","community":"lianhua","cell":"g01"},
        "raised_at": 1_763_900_000_000u64
    }))
    .expect("an AlarmFeed")
}

fn ticket(alarm: &str, now: Instant) -> Ticket {
    Ticket {
        alarm_id: alarm.to_owned(),
        kind: protocol::kinds::AlarmKind::Fire,
        revision: 1,
        deliveries: 1,
        first_at: now,
    }
}

struct Case {
    ledger: LedgerData,
    devices: BTreeMap<String, Device>,
    store: StoreView,
    district: DistrictData,
    now: Instant,
}

/// Two fire detectors acked, both stored, both alarms raised and ticketed once.
fn healthy() -> Case {
    let now = Instant::now();
    let mut ledger = LedgerData::default();
    let mut store = StoreView::default();
    let mut district = DistrictData::default();
    for (i, dev) in ["smk-0", "smk-1"].iter().enumerate() {
        ledger.events.insert(
            ((*dev).to_owned(), 1),
            acked(EventKind::Alarm, Cause::Smoke, now),
        );
        store
            .events
            .insert(((*dev).to_owned(), 1), vec!["alarm".to_owned()]);
        let id = format!("gw01-a{i}");
        store.alarms.push(alarm(&id, "fire", "active", dev));
        district
            .tickets
            .insert(format!("gw01-{i}"), ticket(&id, now));
    }
    let devices = [device("smk-0", Role::Fire), device("smk-1", Role::Fire)]
        .into_iter()
        .collect();
    Case {
        ledger,
        devices,
        store,
        district,
        now,
    }
}

fn run(c: &Case) -> super::Findings {
    judge(
        &c.ledger,
        &c.devices,
        &c.store,
        &c.district,
        &["fire", "sensor-fault"],
        c.now,
        &[c.now],
    )
}

#[test]
fn a_healthy_run_has_no_violation() {
    let f = run(&healthy());
    assert!(f.violations.is_empty(), "{:?}", f.violations);
    assert_eq!((f.acked, f.stored, f.alarms_ok, f.tickets), (2, 2, 2, 2));
}

#[test]
fn an_acked_fire_without_its_alarm_is_lost_and_named() {
    let mut c = healthy();
    c.store.alarms.retain(|a| a.id.as_str() != "gw01-a1");
    c.district.tickets.remove("gw01-1");
    let f = run(&c);
    assert_eq!(f.lost, 1);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("acked fire alarm lost: smk-1 seq 1")),
        "{:?}",
        f.violations
    );
    // The district's orders all name alarms the store holds.
    assert_eq!(f.violations.len(), 1, "{:?}", f.violations);
}

#[test]
fn an_acked_event_not_stored_is_lost() {
    let mut c = healthy();
    c.store.events.remove(&("smk-0".to_owned(), 1));
    let f = run(&c);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("acked event not stored: smk-0 seq 1"))
    );
}

#[test]
fn two_orders_for_one_alarm_are_a_duplicate() {
    let mut c = healthy();
    let now = c.now;
    c.district
        .tickets
        .insert("gw01-9".to_owned(), ticket("gw01-a0", now));
    let f = run(&c);
    assert_eq!(f.duplicated, 1);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("alarm gw01-a0 has 2 orders"))
    );
}

#[test]
fn a_second_alarm_for_one_detector_is_a_duplicate() {
    let mut c = healthy();
    c.store
        .alarms
        .push(alarm("gw01-a7", "fire", "active", "smk-0"));
    let f = run(&c);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("2 fire alarms for smk-0")),
        "{:?}",
        f.violations
    );
}

#[test]
fn a_fire_must_still_be_active_and_a_restored_fault_cleared() {
    let mut c = healthy();
    c.store.alarms[0] = alarm("gw01-a0", "fire", "cleared", "smk-0");
    let now = c.now;
    c.devices.extend([device("flt-0", Role::Fault)]);
    c.ledger.events.insert(
        ("flt-0".to_owned(), 1),
        acked(EventKind::Fault, Cause::SensorOpen, now),
    );
    c.ledger.events.insert(
        ("flt-0".to_owned(), 2),
        acked(EventKind::Restore, Cause::SensorOpen, now),
    );
    c.store
        .events
        .insert(("flt-0".to_owned(), 1), vec!["fault".to_owned()]);
    c.store
        .events
        .insert(("flt-0".to_owned(), 2), vec!["restore".to_owned()]);
    c.store
        .alarms
        .push(alarm("gw01-a5", "sensor-fault", "active", "flt-0"));
    c.district
        .tickets
        .insert("gw01-5".to_owned(), ticket("gw01-a5", now));
    let f = run(&c);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("gw01-a0 of smk-0 is Cleared, expected active"))
    );
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("gw01-a5 of flt-0 is Active, expected cleared"))
    );
}

#[test]
fn an_event_never_acked_is_reported() {
    let mut c = healthy();
    c.ledger
        .events
        .get_mut(&("smk-0".to_owned(), 1))
        .expect("event")
        .acked_at = None;
    let f = run(&c);
    assert!(
        f.violations
            .iter()
            .any(|v| v.contains("event never acked: smk-0 seq 1"))
    );
}

#[test]
fn an_order_naming_a_reused_alarm_id_of_another_kind_is_reported() {
    let mut c = healthy();
    c.district.tickets.get_mut("gw01-1").expect("ticket").kind =
        protocol::kinds::AlarmKind::SensorFault;
    let f = run(&c);
    assert!(
        f.violations.iter().any(|v| v.contains(
            "names alarm gw01-a1 as sensor-fault, but the store's gw01-a1 is a fire alarm"
        )),
        "{:?}",
        f.violations
    );
}
