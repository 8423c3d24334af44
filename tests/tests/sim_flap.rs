//! Link flaps from a scenario file against the real gateway: the example
//! compound runs deploy/scenarios/link-flap.toml with the gateway's clock
//! moving in step with real time. A detector whose link drops 20 times in
//! 40 s becomes one `unstable-link` fault with one order, never an offline
//! order per drop; a gas detector offline for 45 s (past the 30 s grace) is
//! one device-offline order.
//!
//! No `[uplink]` is configured, so every order waits in the outbox: its rows
//! are the orders the district would get.

use std::time::Duration;

use gridsense_tests::Compound;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_link_is_one_unstable_link_order_and_an_outage_one_offline_order() {
    let c = Compound::start("").await;
    // The gateway's clock follows real time while the scenario runs, so
    // the grace period and the flap window are the real ones.
    let clock = c.clock.clone();
    let mover = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            clock.advance(100);
        }
    });
    let summary = c.run_scenario("link-flap.toml").await;
    // Presence sweeps every second: let it see the end.
    tokio::time::sleep(Duration::from_secs(2)).await;
    mover.abort();
    assert!(
        summary.stats.disconnects >= 21,
        "every drop happened: {summary}"
    );

    let flapping = c.orders_of("smoke-b1-102");
    assert_eq!(
        flapping.len(),
        1,
        "one order for twenty drops: {flapping:?}"
    );
    assert_eq!(flapping[0].1, "unstable-link", "{flapping:?}");
    let outage = c.orders_of("gas-b1-u2-101");
    assert_eq!(outage.len(), 1, "one order for one outage: {outage:?}");
    assert_eq!(outage[0].1, "device-offline", "{outage:?}");
    let alarms = c.store().all_alarms().expect("alarms");
    let of_flapping: Vec<_> = alarms
        .iter()
        .filter(|a| {
            a.devices
                .first()
                .is_some_and(|d| d.as_str() == "smoke-b1-102")
        })
        .map(|a| a.kind.as_str())
        .collect();
    assert_eq!(of_flapping, ["unstable-link"], "no drop was an outage");
}
