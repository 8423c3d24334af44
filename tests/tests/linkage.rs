//! Linkage meets a node that comes back: an escape-route lock that was off
//! the network when its zone's fire was confirmed gets the release the
//! moment it reconnects, not at the command's next retry.
//!
//! The gateway's clock is moved by hand and never moves here, so no retry
//! ever comes due: only the reconnection can bring the command.

use gridsense_tests::{Compound, ack, alarm, event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_reconnects_gets_its_release_at_once() {
    // One detector is enough on this floor.
    let c = Compound::start("[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\n").await;
    let mut it = c.integrator().await;
    let mut smoke = c.node("smoke-b2-101a").await;
    event(
        &smoke,
        "smoke-b2-101a",
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
    )
    .await;
    ack(&mut smoke, 1).await;
    alarm(&mut it, "the fire", |v| {
        v["kind"] == "fire" && v["state"] == "active"
    })
    .await;
    // The release went out to nobody: the lock was away. Now it is back.
    let mut lock = c.node("lock-b2-stair").await;
    let cmd = lock.command("the release on reconnecting").await;
    assert_eq!(cmd["cmd"], "unlock");
    assert_eq!(cmd["reason"], "fire");
}
