//! Rules come from the configuration file: a reload with a bad file is
//! refused with file and line and the old rules keep running; a good one
//! takes effect without a restart.

use gridsense_tests::{Compound, alarm};

const GOOD: &str = "[[rules.thresholds]]\nprofile = \"temp-humidity\"\nfield = \"temp\"\nabove = 45.0\nalarm = \"threshold\"\n";

#[tokio::test]
async fn a_bad_reload_keeps_the_old_rules_and_a_good_one_replaces_them() {
    let c = Compound::start(&format!("[rules]\ndebounce_readings = 1\n{GOOD}")).await;
    let path = c.dir.path().join("gw.toml");
    let original = std::fs::read_to_string(&path).expect("config");
    let gw = c.gw.as_ref().expect("gw");

    // Unknown field: refused, with the line and column of the offending table.
    let bad = original.replace("field = \"temp\"", "field = \"tmp\"");
    std::fs::write(&path, &bad).expect("write");
    let problems: Vec<String> = gateway::reload::rules(gw, &path)
        .await
        .expect_err("refused")
        .iter()
        .map(ToString::to_string)
        .collect();
    let line = bad
        .lines()
        .position(|l| l.starts_with("[[rules.thresholds]]"))
        .expect("table")
        + 1;
    assert!(
        problems[0].contains(&format!("gw.toml:{line}:1: rules.thresholds[0]: ")),
        "{problems:?}"
    );
    assert!(problems[0].contains("no field `tmp`"), "{problems:?}");

    // The old rule still raises.
    let mut it = c.integrator().await;
    let th = c.node("th-b2-702").await;
    th.publish(
        "gs/v1/dev/th-b2-702/tel",
        r#"{"seq":1,"r":{"temp":50.0}}"#,
        false,
    )
    .await;
    let a = alarm(&mut it, "old rule", |v| v["kind"] == "threshold").await;
    assert_eq!(a["devices"][0], "th-b2-702");

    // A good file with a lower limit on humidity takes effect.
    let good = original.replace(GOOD, "[[rules.thresholds]]\nprofile = \"temp-humidity\"\nfield = \"humidity\"\nabove = 80.0\nalarm = \"water-leak\"\n");
    std::fs::write(&path, good).expect("write");
    gateway::reload::rules(gw, &path).await.expect("accepted");
    th.publish(
        "gs/v1/dev/th-b2-702/tel",
        r#"{"seq":2,"r":{"humidity":95.0}}"#,
        false,
    )
    .await;
    let a = alarm(&mut it, "new rule", |v| v["kind"] == "water-leak").await;
    assert_eq!(a["devices"][0], "th-b2-702");
}
