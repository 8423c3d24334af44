//! Frames from alarm changes: a confirmed fire is one component state
//! with the fire bit, sent once per device; its end is the normal state.

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::gbt26875::unit::{Object, Unit, component, device};
use protocol::{AlarmKind, Severity};

use super::Frames;

fn feed(state: AlarmState, devices: &[&str]) -> AlarmFeed {
    AlarmFeed {
        id: protocol::AlarmId::new("gw01-a1").expect("id"),
        kind: AlarmKind::Fire,
        severity: Severity::Critical,
        state,
        condition: true,
        test: false,
        devices: devices
            .iter()
            .map(|d| protocol::DeviceId::new(d).expect("id"))
            .collect(),
        zone: None,
        location: "b1".into(),
        grid: (*crate::testutil::device("x", "smoke", "r1", None).grid).clone(),
        raised_at: 1_796_137_445_000,
        confirmed_at: Some(1_796_137_445_000),
        confirmed_by: Some("immediate".into()),
        ended_at: None,
        snapshot: None,
    }
}

#[test]
fn a_confirmed_fire_is_one_component_state_with_the_fire_bit_per_device() {
    let dev = crate::testutil::device("smoke-1", "smoke", "r1", None);
    let reg = move |id: &str| (id == "smoke-1").then(|| dev.clone());
    let mut f = Frames::new((1, 1));
    assert!(
        f.on_alarm(&feed(AlarmState::PreAlarm, &["smoke-1"]), &reg, 0)
            .is_empty()
    );
    let units = f.on_alarm(&feed(AlarmState::Active, &["smoke-1"]), &reg, 0);
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].class, 0, "fire class");
    let u = Unit::parse(&units[0].data).expect("unit");
    let o: Vec<Object> = u.objects().collect::<Result<_, _>>().expect("objects");
    match o[0] {
        Object::ComponentState {
            component_type,
            status,
            ..
        } => {
            assert_eq!(component_type, 40);
            assert_eq!(status, component::NORMAL | component::FIRE);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.device_status(false) & device::FIRE, device::FIRE);
    // Acknowledged: nothing new to say.
    assert!(
        f.on_alarm(&feed(AlarmState::Acknowledged, &["smoke-1"]), &reg, 0)
            .is_empty()
    );
    let back = f.on_alarm(&feed(AlarmState::Reset, &["smoke-1"]), &reg, 0);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].class, 1);
    assert_eq!(
        f.device_status(true),
        device::NORMAL | device::CENTRE_LINK_FAULT
    );
}

#[test]
fn config_problems_name_the_field() {
    let cfg: super::FireCentreConfig = toml::from_str(
        "addr = \"centre\"\naddress = 281474976710656\nconfirm_timeout_ms = 20000\n",
    )
    .expect("parse");
    let p = cfg.validate().expect_err("three problems");
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("fire_centre.addr:"));
    assert!(p[1].starts_with("fire_centre.address:"));
    assert!(p[2].starts_with("fire_centre.confirm_timeout_ms:"));
    let ok: super::FireCentreConfig =
        toml::from_str("addr = \"127.0.0.1:9026\"\naddress = 1\n").expect("parse");
    assert!(ok.validate().is_ok());
}
