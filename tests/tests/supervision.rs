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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_shows_every_stage_and_fails_when_one_is_stuck() {
    let c = Compound::start("").await;
    let gw = c.gw.as_ref().expect("running");
    let (status, body) = c.http("GET", "/healthz", "").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["progress"]
        .as_array()
        .expect("progress listed")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    for stage in [
        "ingest-priority",
        "ingest-telemetry",
        "presence",
        "analysis",
        "order-engine",
        "record",
    ] {
        assert!(names.contains(&stage), "{stage} missing from {names:?}");
    }
    for s in body["progress"].as_array().expect("listed") {
        assert_eq!(s["stuck"], false, "{s}");
        assert!(s["queued"].is_u64() && s["idle_ms"].is_u64(), "{s}");
    }
    let metrics = c.http_text("/metrics").await;
    assert!(
        metrics.contains(r#"gridsense_stage_stuck{stage="record"} 0"#),
        "{metrics}"
    );
    // A stage that ticks and then stops ticking.
    let stuck = gw.health.beats.add(
        "probe",
        gateway::health::Progress::ticking(Duration::from_millis(10)),
    );
    stuck.beat(4);
    let deadline = tokio::time::Instant::now() + gateway::health::STUCK_AFTER * 3;
    let (status, body) = loop {
        let (status, body) = c.http("GET", "/healthz", "").await;
        if status != 200 || tokio::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(status, 503, "{body}");
    let problems = body["problems"].to_string();
    assert!(problems.contains("probe made no progress"), "{problems}");
    let probe = body["progress"]
        .as_array()
        .expect("listed")
        .iter()
        .find(|s| s["name"] == "probe")
        .expect("probe listed")
        .clone();
    assert_eq!(probe["stuck"], true);
    assert_eq!(probe["queued"], 4);
    assert!(
        gw.failure().is_none(),
        "a stuck stage is reported, not a stop"
    );
}
