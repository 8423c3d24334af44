use super::*;

const FIRE: &str = r#"
name = "fire"
duration_s = 60
[fleet]
generate = 40
[[step]]
at_s = 5
select = { location = "b01-f01-r01", kind = "smoke", pick = 2 }
action = { type = "smoke", raw = 320 }
[[step]]
at_s = 20
over_s = 10
select = { zone = "b01-f01", kind = "smoke" }
action = { type = "smoke", raw = 450 }
"#;

#[test]
fn a_scenario_parses_with_defaults() {
    let s = Scenario::parse("fire.toml", FIRE).expect("valid");
    assert_eq!(s.tick_ms, 500);
    assert_eq!(s.fleet.generate, Some(40));
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[0].select.kind, Some(SimKind::Smoke));
    assert_eq!(s.steps[1].action, Action::Smoke { raw: 450 });
}

#[test]
fn unknown_keys_and_actions_report_their_line() {
    let src = "name = \"x\"\nduration_s = 5\n[[step]]\nat_s = 1\naction = { type = \"explode\" }\n";
    match Scenario::parse("x.toml", src) {
        Err(ScenarioError::Syntax { line, message, .. }) => {
            assert_eq!(line, 5, "{message}");
            assert!(message.contains("explode"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let src = "name = \"x\"\nduration_s = 5\ncolour = 1\n";
    assert!(matches!(
        Scenario::parse("x", src),
        Err(ScenarioError::Syntax { line: 3, .. })
    ));
}

#[test]
fn every_invalid_value_is_reported_at_once() {
    let src = r#"
name = "x"
duration_s = -1
tick_ms = 1
[[step]]
at_s = 1
select = { pick = 1, fraction = 0.5 }
action = { type = "disconnect", duration_s = 0 }
[[step]]
at_s = 2
action = { type = "chatter", input = "tamper", period_s = 1, times = 0 }
"#;
    let Err(ScenarioError::Invalid(errs)) = Scenario::parse("x", src) else {
        panic!("must be invalid");
    };
    let all = errs.join("\n");
    for want in [
        "duration_s",
        "tick_ms",
        "step[0].select",
        "step[0].action.duration_s",
        "step[1].action",
    ] {
        assert!(all.contains(want), "{want} missing in:\n{all}");
    }
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("deploy/scenarios") {
        let p = e.expect("entry").path();
        // `month*.toml` are month scenarios of `gridsense-demo simulate
        // month`, another format, checked by its own test (demo/src/month/plan.rs).
        let month = p
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("month"));
        if p.extension().is_some_and(|x| x == "toml") && !month {
            Scenario::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 5, "expected the five shipped scenarios, found {n}");
}
