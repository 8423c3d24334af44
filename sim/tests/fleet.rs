//! The simulator against a real broker (the gateway's embedded rumqttd on
//! 127.0.0.1:0) with a minimal gateway that acks events by `seq`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::TestGateway;
use protocol::codec::decode;
use protocol::{Cause, Command, CommandAck, CommandKind, CommandReason, DeviceChannel, EventKind};
use sim::devices::generate;
use sim::runner::{SimOptions, run};
use sim::scenario::Scenario;
use tokio_util::sync::CancellationToken;

fn opts(gw: &TestGateway, seed: u64) -> SimOptions {
    SimOptions {
        broker: gw.addr.to_string(),
        seed,
        drain: Duration::from_secs(8),
        ..SimOptions::default()
    }
}

const FIRE: &str = r#"
name = "fire"
duration_s = 5
tick_ms = 200
[[step]]
at_s = 1
select = { location = "b01-f01-r01", kind = "smoke", pick = 2 }
action = { type = "smoke", raw = 320 }
[[step]]
at_s = 2.5
select = { zone = "b01-f01", kind = "smoke" }
action = { type = "smoke", raw = 450 }
"#;

type Key = (String, u32);

/// Copies of each acknowledged-class `(device, seq)` received.
fn copies(gw: &TestGateway) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for (d, e, _) in gw.acked_class() {
        *m.entry((d, e.seq)).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_alarms_arrive_once_each_are_acked_and_commands_are_answered() {
    let gw = TestGateway::start();
    let scenario = Scenario::parse("fire", FIRE).expect("scenario");
    let fleet = generate(20, 1);
    let run = tokio::spawn({
        let o = opts(&gw, 3);
        async move { run(&scenario, &fleet, &o, CancellationToken::new()).await }
    });
    let alarms = |s: &[common::Seen]| {
        s.iter()
            .filter_map(common::Seen::event)
            .filter(|e| e.kind == EventKind::Alarm)
            .count()
    };
    assert!(
        gw.wait_for(Duration::from_secs(10), |s| alarms(s) >= 2)
            .await,
        "first alarms"
    );
    let hush = Command {
        id: 7,
        cmd: CommandKind::Hush,
        reason: CommandReason::Fire,
        duration_s: None,
    };
    gw.command("smoke-0001", &hush);
    let summary = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded")
        .expect("join")
        .expect("run");

    assert_eq!(summary.pending, 0, "{summary}");
    assert_eq!(summary.nodes, 20);
    let alarms: BTreeSet<String> = gw
        .acked_class()
        .into_iter()
        .filter(|(_, e, _)| e.kind == EventKind::Alarm && e.cause == Some(Cause::Smoke))
        .map(|(d, _, _)| d)
        .collect();
    assert_eq!(
        alarms.len(),
        14,
        "every smoke detector on the floor: {alarms:?}"
    );
    let repeated: Vec<_> = copies(&gw).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(
        repeated.is_empty(),
        "acked at once, so never repeated: {repeated:?}"
    );
    let seen = gw.seen();
    let online = seen
        .iter()
        .filter(|s| s.channel == DeviceChannel::State)
        .count();
    assert!(online >= 20, "every node announces itself");
    let ack = seen
        .iter()
        .find(|s| s.channel == DeviceChannel::CmdAck)
        .expect("cmd/ack");
    let ack: CommandAck = decode(&ack.payload).expect("ack payload");
    assert_eq!(
        (ack.id, ack.ok),
        (7, false),
        "hush during a fire is refused"
    );
    assert_eq!(summary.stats.commands, 1);
}

const FLAP: &str = r#"
name = "flap"
duration_s = 6
tick_ms = 200
[[step]]
at_s = 0.5
select = { devices = ["smoke-0001", "smoke-0002", "gas-0001"] }
action = { type = "tamper", on = true }
[[step]]
at_s = 2.5
action = { type = "disconnect", duration_s = 1.5 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_reconnect_resends_unacked_events_with_the_same_seq() {
    let gw = TestGateway::start();
    gw.acking.store(false, Ordering::SeqCst);
    let scenario = Scenario::parse("flap", FLAP).expect("scenario");
    let fleet = generate(20, 1);
    let o = opts(&gw, 1);
    let run =
        tokio::spawn(async move { run(&scenario, &fleet, &o, CancellationToken::new()).await });
    // Links drop at 2.5 s and are back at 4 s; ack only what arrives after that.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let before = copies(&gw);
    gw.acking.store(true, Ordering::SeqCst);
    let summary = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded")
        .expect("join")
        .expect("run");

    assert_eq!(summary.pending, 0, "{summary}");
    assert!(
        summary.stats.disconnects >= 20 && summary.stats.connects >= 40,
        "{summary}"
    );
    let tamper: BTreeSet<Key> = gw
        .acked_class()
        .into_iter()
        .filter(|(_, e, _)| e.kind == EventKind::Tamper)
        .map(|(d, e, _)| (d, e.seq))
        .collect();
    assert_eq!(
        tamper.len(),
        2,
        "two smoke detectors tampered, one event each after dedupe: {tamper:?}"
    );
    let seen = gw.seen();
    let is_offline = |s: &common::Seen| {
        s.channel == DeviceChannel::State && s.payload.windows(7).any(|w| w == b"offline")
    };
    assert!(
        seen.iter().filter(|s| is_offline(s)).count() >= 20,
        "last wills published"
    );
    for key in &tamper {
        assert!(
            before.get(key).is_some_and(|n| *n >= 1),
            "{key:?} arrived before the flap"
        );
        let dropped = seen
            .iter()
            .find(|s| s.device == key.0 && is_offline(s))
            .expect("last will")
            .at;
        let resent = gw
            .acked_class()
            .into_iter()
            .any(|(d, e, at)| (d.as_str(), e.seq) == (key.0.as_str(), key.1) && at > dropped);
        assert!(
            resent,
            "{key:?} resent with the same seq after the reconnect"
        );
    }
}

const PICK: &str = r#"
name = "pick"
duration_s = 3
tick_ms = 200
[[step]]
at_s = 0.5
over_s = 1
select = { zone = "b01-f01", kind = "smoke", pick = 3 }
action = { type = "smoke", raw = 320 }
[[step]]
at_s = 0.5
select = { kind = "smoke", fraction = 0.2 }
action = { type = "tamper", on = true }
"#;

/// Distinct `(device, seq, kind, cause)` of acknowledged-class events.
async fn events_for(seed: u64) -> BTreeSet<(String, u32, String, Option<String>)> {
    let gw = TestGateway::start();
    let scenario = Scenario::parse("pick", PICK).expect("scenario");
    let summary = run(
        &scenario,
        &generate(40, 1),
        &opts(&gw, seed),
        CancellationToken::new(),
    )
    .await
    .expect("run");
    assert_eq!(summary.pending, 0, "{summary}");
    gw.acked_class()
        .into_iter()
        .map(|(d, e, _)| (d, e.seq, e.kind.to_string(), e.cause.map(|c| c.to_string())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_is_deterministic_for_a_seed() {
    let a = events_for(5).await;
    let b = events_for(5).await;
    let c = events_for(6).await;
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, same events");
    assert_ne!(a, c, "another seed picks other devices");
}
