use super::*;
use crate::devices::generate;
use crate::scenario::Scenario;

fn members(fleet: &[DeviceSpec]) -> Vec<Member<'_>> {
    fleet
        .iter()
        .filter_map(|spec| {
            SimKind::from_profile(spec.profile.as_str()).map(|kind| Member { spec, kind })
        })
        .collect()
}

fn scenario(steps: &str) -> Scenario {
    Scenario::parse("t", &format!("name = \"t\"\nduration_s = 600\n{steps}")).expect("valid")
}

const FIRE: &str = r#"
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
fn fire_picks_two_in_the_room_then_the_whole_floor() {
    let fleet = generate(40, 1);
    let plan = build(&scenario(FIRE), &members(&fleet), 42).expect("plan");
    let room: Vec<_> = plan.iter().filter(|e| e.at_ms == 5_000).collect();
    assert_eq!(room.len(), 2);
    for e in &room {
        assert!(
            fleet[e.node]
                .location
                .as_deref()
                .unwrap()
                .starts_with("b01-f01-r01")
        );
    }
    let floor: Vec<_> = plan.iter().filter(|e| e.at_ms >= 20_000).collect();
    assert_eq!(floor.len(), 14, "every smoke detector of floor 1");
    assert!(floor.iter().all(|e| (20_000..30_000).contains(&e.at_ms)));
    assert!(plan.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "sorted");
}

#[test]
fn the_same_seed_gives_the_same_plan_and_another_seed_differs() {
    let fleet = generate(200, 1);
    let s = scenario(
        r#"
[[step]]
at_s = 1
over_s = 100
select = { kind = "door" }
action = { type = "cards", count = 5 }
[[step]]
at_s = 3
select = { fraction = 0.2 }
action = { type = "disconnect", duration_s = 5 }
"#,
    );
    let m = members(&fleet);
    let a = build(&s, &m, 7).expect("plan");
    assert_eq!(a, build(&s, &m, 7).expect("plan"));
    assert_ne!(a, build(&s, &m, 8).expect("plan"));
    let downs = a.iter().filter(|e| e.what == Planned::LinkDown).count();
    assert_eq!(downs, 40);
}

#[test]
fn chatter_alternates_and_unknown_devices_are_named() {
    let fleet = generate(20, 1);
    let s = scenario(
        r#"
[[step]]
at_s = 0
select = { devices = ["smoke-0003"] }
action = { type = "chatter", input = "chamber", high = 260, low = 40, period_s = 2, times = 4 }
"#,
    );
    let plan = build(&s, &members(&fleet), 1).expect("plan");
    let got: Vec<_> = plan.iter().map(|e| (e.at_ms, e.what.clone())).collect();
    let c = |r| Planned::Stim(Stimulus::Chamber(r));
    assert_eq!(
        got,
        vec![(0, c(260)), (2_000, c(40)), (4_000, c(260)), (6_000, c(40))]
    );

    let s = scenario(
        "[[step]]\nat_s = 0\nselect = { devices = [\"smoke-9999\"] }\naction = { type = \"intrusion\" }\n",
    );
    let errs = build(&s, &members(&fleet), 1).expect_err("unknown id");
    assert!(errs[0].contains("smoke-9999"), "{errs:?}");
    let s = scenario(
        "[[step]]\nat_s = 0\nselect = { zone = \"b09-f09\" }\naction = { type = \"intrusion\" }\n",
    );
    let errs = build(&s, &members(&fleet), 1).expect_err("empty");
    assert!(errs[0].contains("selects no device"), "{errs:?}");
}

#[test]
fn a_reboot_drops_the_link_restarts_the_firmware_and_brings_the_link_back() {
    let fleet = generate(4, 1);
    let s = scenario(
        "[[step]]\nat_s = 3\nselect = { devices = [\"smoke-0002\"] }\naction = { type = \"reboot\", down_s = 1.5 }\n",
    );
    let plan = build(&s, &members(&fleet), 1).expect("plan");
    let what: Vec<_> = plan
        .iter()
        .map(|e| (e.at_ms, e.node, e.what.clone()))
        .collect();
    assert_eq!(
        what,
        [
            (3_000, 1, Planned::LinkDown),
            (3_000, 1, Planned::Reboot),
            (4_500, 1, Planned::LinkUp),
        ]
    );
    let default_down = scenario("[[step]]\nat_s = 1\naction = { type = \"reboot\" }\n");
    assert_eq!(
        default_down.steps[0].action,
        crate::scenario::Action::Reboot { down_s: 2.0 }
    );
    let bad = Scenario::parse(
        "t",
        "name = \"t\"\nduration_s = 9\n[[step]]\nat_s = 1\naction = { type = \"reboot\", down_s = 0 }\n",
    );
    let Err(crate::scenario::ScenarioError::Invalid(errs)) = bad else {
        panic!("down_s 0 accepted")
    };
    assert!(errs[0].contains("step[0].action.down_s"), "{errs:?}");
}

#[test]
fn a_flap_drops_the_link_times_times_down_then_up() {
    let fleet = generate(4, 1);
    let s = scenario(
        "[[step]]\nat_s = 2\nselect = { devices = [\"smoke-0002\"] }\naction = { type = \"flap\", down_s = 0.5, up_s = 1.5, times = 3 }\n",
    );
    let plan = build(&s, &members(&fleet), 1).expect("plan");
    let what: Vec<_> = plan
        .iter()
        .map(|e| (e.at_ms, e.node, e.what.clone()))
        .collect();
    assert_eq!(
        what,
        [
            (2_000, 1, Planned::LinkDown),
            (2_500, 1, Planned::LinkUp),
            (4_000, 1, Planned::LinkDown),
            (4_500, 1, Planned::LinkUp),
            (6_000, 1, Planned::LinkDown),
            (6_500, 1, Planned::LinkUp),
        ]
    );
    let bad = Scenario::parse(
        "t",
        "name = \"t\"\nduration_s = 9\n[[step]]\nat_s = 1\naction = { type = \"flap\", down_s = 1, up_s = 1, times = 0 }\n",
    );
    let Err(crate::scenario::ScenarioError::Invalid(errs)) = bad else {
        panic!("times 0 accepted")
    };
    assert!(errs[0].contains("flap"), "{errs:?}");
}

#[test]
fn a_revocation_acts_at_the_gateway_and_a_named_card_at_its_doors() {
    let fleet = generate(200, 1);
    let s = scenario(
        r#"
[[step]]
at_s = 30
action = { type = "revoke", credential = "card:card-0002" }
[[step]]
at_s = 10
select = { kind = "door", pick = 2 }
action = { type = "card", id = "card-0002", open_s = 2 }
"#,
    );
    let plan = build(&s, &members(&fleet), 7).expect("plan");
    assert_eq!(plan.len(), 6, "card, pull, close at two doors: {plan:?}");
    let at = |ms: u64| plan.iter().filter(|e| e.at_ms == ms).count();
    assert_eq!((at(10_000), at(11_000), at(13_000)), (2, 2, 2));
    assert!(
        plan.iter()
            .filter(|e| e.at_ms == 10_000)
            .all(|e| e.what == Planned::Stim(Stimulus::Card("card-0002".into())))
    );
    assert_eq!(revocations(&s), [(30_000, "card:card-0002".to_string())]);
    assert!(revocations(&scenario(FIRE)).is_empty());
}

#[test]
fn a_revocation_names_a_credential_and_selects_nothing() {
    let bad = Scenario::parse(
        "t",
        r#"name = "t"
duration_s = 60
[[step]]
at_s = 1
select = { kind = "door" }
action = { type = "revoke", credential = "card-0002" }
[[step]]
at_s = 2
select = { kind = "door" }
action = { type = "card", id = "no spaces" }
"#,
    )
    .expect_err("invalid");
    let text = bad.to_string();
    assert!(text.contains("step[0].action.credential"), "{text}");
    assert!(
        text.contains("step[0].select: a revocation acts at the gateway"),
        "{text}"
    );
    assert!(text.contains("step[1].action.id"), "{text}");
}
