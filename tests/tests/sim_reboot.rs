//! The fleet simulator reboots nodes against the real gateway: the example
//! compound runs deploy/scenarios/reboots-lianhua.toml. A rebooted node's
//! `seq` starts at 1 again under its next boot counter; its alarms after the
//! reboot are stored and raised, and nothing is stored twice.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use gridsense_tests::Compound;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebooted_nodes_count_seq_from_one_under_a_new_boot_and_their_alarms_get_through() {
    let c = Compound::start("").await;
    let fleet = c.fleet();
    let summary = c.run_scenario("reboots-lianhua.toml").await;
    assert_eq!(summary.pending, 0, "every event acknowledged: {summary}");
    let in_b1 = fleet
        .iter()
        .filter(|d| d.location.as_deref().is_some_and(|l| l.starts_with("b1-")))
        .filter(|d| sim::node::SimKind::from_profile(d.profile.as_str()).is_some())
        .count() as u64;
    assert!(in_b1 >= 3, "building b1 has nodes");
    assert_eq!(summary.stats.reboots, 1 + in_b1, "{summary}");

    let gw = c.gw.as_ref().expect("gw");
    gw.store.flush().await.expect("flush");
    let store = c.store();
    let alarms_of = |id: &str| -> Vec<(Option<u32>, u32)> {
        store
            .events_for(id)
            .expect("read")
            .iter()
            .filter(|r| r.kind == "alarm")
            .map(|r| (r.boot, r.seq))
            .collect()
    };
    // r702: seq 1 of boot 1, then seq 1 again of boot 2 — both stored.
    assert_eq!(alarms_of("smoke-b2-702"), [(Some(1), 1), (Some(2), 1)]);
    // r201 rebooted with its building and alarmed under boot 2.
    let r201 = alarms_of("smoke-b1-201");
    assert_eq!(r201.len(), 1, "{r201:?}");
    assert_eq!(r201[0].0, Some(2), "{r201:?}");
    for d in &fleet {
        let rows = store.events_for(d.id.as_str()).expect("read");
        let keys: BTreeSet<_> = rows.iter().map(|r| (r.boot, r.seq)).collect();
        assert_eq!(
            keys.len(),
            rows.len(),
            "{}: no (boot, seq) stored twice",
            d.id
        );
        assert!(
            rows.iter().all(|r| r.boot.is_some()),
            "{}: every event has its boot",
            d.id
        );
    }
    let raised: Vec<_> = store
        .all_alarms()
        .expect("alarms")
        .into_iter()
        .filter(|a| a.kind == protocol::AlarmKind::Fire)
        .flat_map(|a| a.devices)
        .map(|d| d.to_string())
        .collect();
    for id in ["smoke-b2-702", "smoke-b1-201"] {
        assert!(
            raised.iter().any(|d| d == id),
            "{id} raised a fire: {raised:?}"
        );
    }
    assert_eq!(
        gw.ingest.stats().sequence_resets.load(Ordering::Relaxed),
        0,
        "boot counters leave nothing to guess"
    );
}
