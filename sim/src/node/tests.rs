use firmware::{Node, Outgoing};
use protocol::{Cause, EventKind};

use super::*;

const EPOCH: u64 = 1_767_225_600_000; // 2026-01-01

/// `(kind, cause)` of the events produced over `ticks` ticks of 500 ms from `from`.
fn run(n: &mut SimNode, from: u64, ticks: u64) -> Vec<(EventKind, Option<Cause>)> {
    let mut out = Vec::new();
    for t in 0..ticks {
        for m in n.tick(from + t * 500) {
            if let Outgoing::Event(e) = m
                && e.kind != EventKind::Heartbeat
            {
                n.evt_ack(EvtAck::of(&e));
                out.push((e.kind, e.cause));
            }
        }
    }
    out
}

#[test]
fn profiles_map_to_firmware() {
    assert_eq!(SimKind::from_profile("smoke"), Some(SimKind::Smoke));
    assert_eq!(SimKind::from_profile("card-reader"), Some(SimKind::Door));
    assert_eq!(SimKind::from_profile("gas-modbus"), Some(SimKind::Gas));
    assert_eq!(SimKind::from_profile("elevator"), None);
}

#[test]
fn smoke_in_the_chamber_raises_a_timestamped_alarm() {
    let mut n = SimNode::new(SimKind::Smoke, 60, EPOCH);
    assert!(run(&mut n, 0, 2).is_empty());
    assert!(n.apply(1_000, &Stimulus::Chamber(320)));
    let mut alarm = None;
    for m in n.tick(1_000).into_iter().chain(n.tick(1_500)) {
        if let Outgoing::Event(e) = m
            && e.kind == EventKind::Alarm
        {
            alarm = Some(e);
        }
    }
    let alarm = alarm.expect("alarm after two samples");
    assert_eq!(alarm.cause, Some(Cause::Smoke));
    assert_eq!(alarm.ts, Some(EPOCH + 1_500));
}

#[test]
fn a_dying_battery_reports_low_battery() {
    let mut n = SimNode::new(SimKind::Smoke, 60, EPOCH);
    n.apply(0, &Stimulus::Battery(2_400));
    assert_eq!(run(&mut n, 0, 1), vec![(EventKind::LowBattery, None)]);
}

#[test]
fn doors_grant_allowed_cards_and_alarm_on_forced_entry() {
    let mut n = SimNode::new(SimKind::Door, 60, EPOCH);
    run(&mut n, 0, 1);
    n.apply(500, &Stimulus::Card(card_name(3)));
    assert!(run(&mut n, 500, 1).is_empty());
    n.apply(1_000, &Stimulus::DoorOpen(true));
    assert!(run(&mut n, 1_000, 1).is_empty(), "opened with a card");
    n.apply(1_500, &Stimulus::DoorOpen(false));
    run(&mut n, 1_500, 1);
    n.apply(2_000, &Stimulus::Card("stolen-9".into()));
    n.apply(2_000, &Stimulus::DoorOpen(true));
    assert_eq!(
        run(&mut n, 2_000, 1),
        vec![(EventKind::Alarm, Some(Cause::DoorForced))]
    );
}

#[test]
fn gas_and_camera_stimuli_raise_their_alarms() {
    let mut g = SimNode::new(SimKind::Gas, 60, EPOCH);
    run(&mut g, 0, 1);
    g.apply(500, &Stimulus::Gas(1_200));
    assert!(run(&mut g, 500, 2).contains(&(EventKind::Alarm, Some(Cause::Gas))));

    let mut c = SimNode::new(SimKind::Camera, 60, EPOCH);
    c.apply(0, &Stimulus::Intrusion);
    assert_eq!(
        run(&mut c, 0, 1),
        vec![(EventKind::Alarm, Some(Cause::Intrusion))]
    );
    assert!(!c.apply(0, &Stimulus::Chamber(1)), "not a camera stimulus");
}

#[test]
fn a_reboot_forgets_ram_keeps_the_sensors_and_advances_the_boot_counter() {
    let mut flash = SimFlash::default();
    let mut n = SimNode::new(SimKind::Smoke, 60, EPOCH);
    assert_eq!(n.start(&mut flash), Some(1));
    n.apply(0, &Stimulus::Chamber(320));
    let before: Vec<_> = (0..4)
        .flat_map(|t| n.tick(t * 500))
        .filter_map(|m| match m {
            Outgoing::Event(e) if e.kind == EventKind::Alarm => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!((before[0].boot, before[0].seq), (Some(1), 1));
    // Rebooted unacknowledged, with smoke still in the chamber: the alarm
    // comes again, seq 1 of boot 2.
    assert_eq!(n.reboot(60, EPOCH, &mut flash), Some(2));
    let after: Vec<_> = (4..8)
        .flat_map(|t| n.tick(t * 500))
        .filter_map(|m| match m {
            Outgoing::Event(e) if e.kind == EventKind::Alarm => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!((after[0].boot, after[0].seq), (Some(2), 1));
    assert!(
        !n.evt_ack(EvtAck::of(&before[0])),
        "an ack of boot 1 clears nothing"
    );
    assert!(n.evt_ack(EvtAck::of(&after[0])));
}

/// The access events of one tick at `at`, acknowledged.
fn access_at(n: &mut SimNode, at: u64) -> Vec<protocol::access::AccessEvent> {
    let mut out = Vec::new();
    for m in n.tick(at) {
        if let Outgoing::Access(a) = m {
            let ack = EvtAck {
                seq: a.seq,
                boot: a.boot,
            };
            n.receive(at, DeviceChannel::AccAck, &protocol::codec::encode(&ack))
                .expect("ack");
            out.push(a);
        }
    }
    out
}

#[test]
fn a_synced_door_presents_cards_from_its_list_and_keeps_it_across_a_reboot() {
    use protocol::access::{AccessKind, CredId, DenyReason, Entry, split};
    let mut n = SimNode::new(SimKind::Door, 60, EPOCH);
    run(&mut n, 0, 1);
    let mut entries = vec![
        Entry::card(CredId::new("r-1").unwrap()),
        Entry::card(CredId::new("r-2").unwrap()),
    ];
    entries[1].revoked = true;
    for c in split(1, &entries, 480).unwrap() {
        n.receive(0, DeviceChannel::Cmd, &protocol::codec::encode(&c))
            .expect("chunk");
    }
    n.apply(500, &Stimulus::Card(card_name(3)));
    let ev = access_at(&mut n, 500);
    assert_eq!(
        (ev[0].kind, ev[0].reason),
        (AccessKind::Denied, Some(DenyReason::Unknown)),
        "a synced list replaces the demo cards"
    );
    n.apply(1_000, &Stimulus::SyncedCard(0));
    let ev = access_at(&mut n, 1_000);
    assert_eq!(
        (ev[0].kind, ev[0].cred.as_deref()),
        (AccessKind::Granted, Some("r-1"))
    );
    n.apply(1_500, &Stimulus::Pass);
    assert!(
        run(&mut n, 1_500, 1).is_empty(),
        "opened after the grant: no alarm"
    );
    n.apply(2_000, &Stimulus::DoorOpen(false));
    run(&mut n, 2_000, 1);
    n.reboot(60, EPOCH, &mut SimFlash::default());
    run(&mut n, 0, 1);
    n.apply(500, &Stimulus::SyncedCard(1));
    let ev = access_at(&mut n, 500);
    assert_eq!(
        (ev[0].kind, ev[0].reason, ev[0].list),
        (AccessKind::Denied, Some(DenyReason::Revoked), 1),
        "after a reboot, from the stored list"
    );
    n.apply(600, &Stimulus::Pass);
    assert!(
        run(&mut n, 600, 1).is_empty(),
        "a refused visitor does not force the door"
    );
}
