//! Windowed aggregates per building and grid cell: published for
//! integrators and stored, when the window closes (virtual time).

use std::time::Duration;

use gridsense_tests::{Compound, WAIT};

#[tokio::test]
async fn a_closed_window_is_published_and_stored() {
    let c = Compound::start("[rules]\naggregate_window_s = 60\n").await;
    let mut it = c.integrator().await;
    let th = c.node("th-b2-702").await;
    for (seq, t) in [(1, 20.0), (2, 22.0), (3, 27.0)] {
        th.publish(
            "gs/v1/dev/th-b2-702/tel",
            &format!(r#"{{"seq":{seq},"r":{{"temp":{t}}}}}"#),
            false,
        )
        .await;
    }
    // Let ingest take the three readings before the window closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.advance(Duration::from_secs(61));
    let (_, v) = it
        .wait_for("building aggregate", |t, _| {
            t == "gs/v1/site/lianhua/agg/building-b2-temp"
        })
        .await;
    assert_eq!(
        (v["min"].as_f64(), v["max"].as_f64(), v["count"].as_u64()),
        (Some(20.0), Some(27.0), Some(3))
    );
    assert_eq!(v["avg"].as_f64(), Some(23.0));
    let (_, cell) = it
        .wait_for("cell aggregate", |t, _| {
            t == "gs/v1/site/lianhua/agg/cell-lianhua-g02-temp"
        })
        .await;
    assert_eq!(cell["count"].as_u64(), Some(3));
    let stored = tokio::time::timeout(WAIT, async {
        loop {
            let rows = c.store().aggregates_for("building", "b2").expect("read");
            if !rows.is_empty() {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("stored");
    assert_eq!(
        (stored[0].0.as_str(), stored[0].3, stored[0].4),
        ("temp", 23.0, 3)
    );
}
