//! Supervision of the running gateway: a stage that stops while the gateway
//! runs ends the whole gateway (so `gridsense run` exits non-zero and
//! systemd restarts it) instead of leaving a gateway that acknowledges
//! events nobody evaluates.

use std::time::Duration;

use gridsense_tests::{Compound, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_that_stops_shuts_the_gateway_down_and_says_which() {
    let c = Compound::start("").await;
    let gw = c.gw.as_ref().expect("running");
    let api = gw.api_addr;
    assert!(gw.failure().is_none());
    assert!(tokio::net::TcpStream::connect(api).await.is_ok(), "API up");
    gw.tasks()
        .spawn_stage("probe", async { Err::<(), _>("lost its input") });
    let what = tokio::time::timeout(WAIT, gw.failed())
        .await
        .expect("the failure is signalled");
    assert_eq!(what, "stage probe stopped: lost its input");
    assert!(gw.tasks().shutdown().is_cancelled());
    // Every other stage stops: the tracker empties and the API is gone.
    tokio::time::timeout(WAIT, gw.tasks().wait())
        .await
        .expect("every task ends");
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(api).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the API listener is closed");
    // `gridsense run` turns this into an error, hence exit status 1.
    let err = gateway::app::StartError::Stopped(what);
    assert!(err.to_string().contains("probe"), "{err}");
}
