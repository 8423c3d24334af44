//! The fleet simulator against the real gateway: the example compound's
//! nodes, with their own credentials from the registry's export, run the
//! fire scenario (deploy/scenarios/fire-lianhua.toml) with two forced
//! reconnects. Every alarm is stored once and acknowledged.

use std::collections::BTreeSet;

use gridsense_tests::Compound;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fire_scenario_is_stored_once_and_acked_across_forced_reconnects() {
    let c = Compound::start("").await;
    let summary = c.run_scenario("fire-lianhua.toml").await;
    assert_eq!(summary.pending, 0, "every event acknowledged: {summary}");
    assert!(
        summary.stats.disconnects >= 2 * summary.nodes as u64,
        "{summary}"
    );
    c.gw.as_ref()
        .expect("gw")
        .store
        .flush()
        .await
        .expect("flush");
    let store = c.store();
    for id in ["smoke-b1-101a", "smoke-b1-101b", "smoke-b1-102"] {
        let rows = store.events_for(id).expect("read");
        let alarms = rows.iter().filter(|r| r.kind == "alarm").count();
        assert_eq!(alarms, 1, "{id}: one alarm stored: {rows:?}");
        let seqs: BTreeSet<u32> = rows.iter().map(|r| r.seq).collect();
        assert_eq!(seqs.len(), rows.len(), "{id}: no seq stored twice");
    }
    assert!(
        store
            .events_for("smoke-b1-201")
            .expect("read")
            .iter()
            .all(|r| r.kind != "alarm"),
        "another floor stays quiet"
    );
}
