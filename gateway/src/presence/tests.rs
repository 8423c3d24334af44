use super::*;

fn id(s: &str) -> DeviceId {
    DeviceId::new(s).expect("id")
}

#[test]
fn last_will_and_reconnect_change_status_once() {
    let mut p = Presence::default();
    let d = id("smoke-1");
    let first: Vec<_> = p
        .on_state(&d, Status::Online, 10)
        .iter()
        .map(|c| c.signal)
        .collect();
    assert_eq!(
        first,
        [Signal::Availability, Signal::Connected],
        "online, and a connection linkage may answer"
    );
    assert!(
        p.on_state(&d, Status::Online, 20).is_empty(),
        "a heartbeat is no connection"
    );
    assert!(
        p.on_state(&d, Status::Offline, 30).is_empty(),
        "a will starts the grace period"
    );
    let none = HashMap::new();
    assert!(p.sweep(30_029, &none, |_| None).is_empty(), "inside it");
    let c = p.sweep(30_030, &none, |_| None);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].status, c[0].reason), (Status::Offline, "last-will"));
    assert_eq!(p.get(&d).map(|e| e.since_ms), Some(30));
    assert!(
        p.on_state(&d, Status::Offline, 40_000).is_empty(),
        "already offline"
    );
    let c = p.on_state(&d, Status::Online, 50_000);
    assert_eq!((c[0].status, c[0].reason), (Status::Online, "connected"));
}

#[test]
fn twenty_drops_in_forty_seconds_are_blips_and_one_unstable_link() {
    let mut p = Presence::default();
    let d = id("smoke-1");
    p.on_state(&d, Status::Online, 0);
    let none = HashMap::new();
    let mut changes = Vec::new();
    for i in 0..20 {
        changes.extend(p.on_state(&d, Status::Offline, 1_000 + i * 2_000));
        changes.extend(p.sweep(1_500 + i * 2_000, &none, |_| None));
        changes.extend(p.on_state(&d, Status::Online, 2_000 + i * 2_000));
    }
    assert_eq!(p.links().blips, 20);
    let (connects, changes): (Vec<_>, Vec<_>) = changes
        .into_iter()
        .partition(|c| c.signal == Signal::Connected);
    assert_eq!(connects.len(), 20, "each return is a connection");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].signal, Signal::UnstableLink);
    assert_eq!(p.get(&d).map(|e| e.status), Some(Status::Online));
    // An outage past the grace period while unstable: availability
    // changes, but the open unstable-link fault covers it.
    p.on_state(&d, Status::Offline, 40_000);
    let out = p.sweep(70_000, &none, |_| None);
    assert_eq!((out.len(), out[0].status), (1, Status::Offline));
    assert!(
        !p.raises_alarm(&out[0]),
        "no device-offline beside unstable-link"
    );
    let back = p.on_state(&d, Status::Online, 71_000);
    assert!(p.raises_alarm(&back[0]));
    assert!(
        p.sweep(71_000 + 299_999, &none, |_| None).is_empty(),
        "the hold counts from the return"
    );
    // Held for `stable_after_s` (300 s) after it came back: stable again.
    let c = p.sweep(71_000 + 300_000, &none, |_| None);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].signal, Signal::LinkStable);
}

#[test]
fn traffic_after_a_will_is_a_reconnect() {
    let mut p = Presence::default();
    let d = id("smoke-1");
    p.on_state(&d, Status::Online, 0);
    p.on_state(&d, Status::Offline, 1_000);
    let seen = HashMap::from([(d.clone(), 2_000)]);
    assert!(p.sweep(60_000, &seen, |_| Some(60_000)).is_empty());
    assert_eq!(p.links().blips, 1);
}

#[test]
fn missed_heartbeats_take_a_device_offline_and_traffic_brings_it_back() {
    let mut p = Presence::default();
    let d = id("smoke-1");
    p.on_state(&d, Status::Online, 0);
    let hb = |_: &DeviceId| Some(60_000);
    let mut seen = HashMap::from([(d.clone(), 1_000)]);
    assert!(p.sweep(180_000, &seen, hb).is_empty(), "within 3 intervals");
    let c = p.sweep(181_001, &seen, hb);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].status, c[0].reason),
        (Status::Offline, "heartbeat-missed")
    );
    seen.insert(d.clone(), 200_000);
    let c = p.sweep(200_500, &seen, hb);
    assert_eq!((c[0].status, c[0].reason), (Status::Online, "traffic"));
}

#[test]
fn stored_state_survives_restart() {
    let d = id("lock-1");
    let p = Presence::from_stored([(
        d.clone(),
        Entry {
            status: Status::Offline,
            since_ms: 5,
        },
    )]);
    assert_eq!(p.get(&d).map(|e| e.status), Some(Status::Offline));
}

#[test]
fn a_device_heard_once_goes_offline_though_later_sweeps_take_no_new_traffic() {
    // Each sweep is handed only the traffic since the last one
    // (`LastSeen::take`); presence keeps every device's latest itself.
    let mut p = Presence::default();
    let (d, quiet) = (id("smoke-1"), id("smoke-2"));
    let hb = |_: &DeviceId| Some(30_000);
    let heard = HashMap::from([(d.clone(), 1_000), (quiet.clone(), 1_000)]);
    let c = p.sweep(1_000, &heard, hb);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c.iter()
            .all(|c| c.status == Status::Online && c.reason == "traffic")
    );
    let none = HashMap::new();
    let again = HashMap::from([(d.clone(), 60_000)]);
    assert!(
        p.sweep(60_000, &again, hb).is_empty(),
        "heard again: nothing new"
    );
    assert!(
        p.sweep(91_000, &none, hb).is_empty(),
        "not yet three heartbeats"
    );
    let c = p.sweep(91_001, &none, hb);
    assert_eq!(c.len(), 1, "only the quiet one: {c:?}");
    assert_eq!(
        (&c[0].device, c[0].status, c[0].reason),
        (&quiet, Status::Offline, "heartbeat-missed")
    );
    let c = p.sweep(150_001, &none, hb);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((&c[0].device, c[0].status), (&d, Status::Offline));
}

#[test]
fn last_seen_hands_over_each_device_once_with_its_latest_traffic() {
    let seen = LastSeen::default();
    let d = id("smoke-1");
    seen.touch(&d, 20);
    seen.touch(&d, 10);
    assert_eq!(seen.take(), HashMap::from([(d.clone(), 20)]));
    assert!(seen.take().is_empty(), "taken");
}

#[test]
fn a_device_stored_online_that_never_speaks_after_a_restart_goes_offline() {
    // The gateway was killed; the detector died while it was down, so no
    // will reached the new broker and no traffic comes.
    let (d, back) = (id("smoke-1"), id("smoke-2"));
    let online = Entry {
        status: Status::Online,
        since_ms: 500,
    };
    let mut p = Presence::from_stored([(d.clone(), online), (back.clone(), online)]);
    p.heard_at_start(10_000);
    let hb = |_: &DeviceId| Some(30_000);
    let none = HashMap::new();
    let spoke = HashMap::from([(back.clone(), 60_000)]);
    assert!(
        p.sweep(60_000, &spoke, hb).is_empty(),
        "still inside its heartbeats"
    );
    assert!(
        p.sweep(100_000, &none, hb).is_empty(),
        "three heartbeats from start"
    );
    let c = p.sweep(100_001, &none, hb);
    assert_eq!(c.len(), 1, "only the silent one: {c:?}");
    assert_eq!(
        (&c[0].device, c[0].status, c[0].reason),
        (&d, Status::Offline, "heartbeat-missed")
    );
}
