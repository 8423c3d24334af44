//! The fleet simulator against the real gateway: the example compound's
//! nodes, with their own credentials from the registry's export, run the
//! fire scenario (deploy/scenarios/fire-lianhua.toml) with two forced
//! reconnects. Every alarm is stored once and acknowledged.

use std::collections::BTreeSet;
use std::time::Duration;

use gridsense_tests::{Compound, deploy_dir};
use sim::runner::{SimOptions, run};
use sim::scenario::Scenario;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fire_scenario_is_stored_once_and_acked_across_forced_reconnects() {
    let c = Compound::start("").await;
    let creds = c.dir.path().join("creds.csv");
    let fleet: Vec<_> = sim::devices::read_csv_file(&creds)
        .expect("the registry's credentials export")
        .into_iter()
        // Wired (Modbus) devices are polled by the gateway, not MQTT nodes.
        .filter(|d| !d.profile.as_str().ends_with("-modbus"))
        .collect();
    let scenario =
        Scenario::load(&deploy_dir().join("scenarios/fire-lianhua.toml")).expect("scenario");
    let opts = SimOptions {
        broker: c.mqtt().to_string(),
        seed: 1,
        drain: Duration::from_secs(10),
        ..SimOptions::default()
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        run(&scenario, &fleet, &opts, CancellationToken::new()),
    )
    .await
    .expect("bounded")
    .expect("run");

    eprintln!("{summary}");
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
