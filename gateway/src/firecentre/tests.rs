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

fn centre_frame(serial: u16, command: protocol::gbt26875::Command, data: &[u8]) -> Vec<u8> {
    use protocol::gbt26875::{self as gbt, Address, Header, TimeTag};
    let h = Header {
        serial,
        version: gbt::VERSION,
        time: TimeTag::from_unix_ms(1_796_137_445_000),
        source: Address(0x571),
        destination: Address(0x2601_0001),
        command,
    };
    let mut out = [0u8; gbt::MAX_FRAME];
    let n = gbt::encode(&h, data, &mut out).expect("encode");
    out[..n].to_vec()
}

#[test]
fn the_receive_buffer_skips_garbage_and_keeps_a_frame_cut_short() {
    use protocol::gbt26875::Command;
    let a = centre_frame(1, Command::Request, &[81, 1, 0]);
    let b = centre_frame(2, Command::Control, &[91, 1, 10]);
    // Garbage without `@`: a stray `@` just before a frame is read as its
    // start, and the shifted header may ask for more bytes than came, so
    // the frame is taken only once more bytes arrive (an open limit).
    let mut buf = b"xx#".to_vec();
    buf.extend_from_slice(&a);
    buf.extend_from_slice(b"#\0");
    buf.extend_from_slice(&b[..20]);
    let (h, data) = super::next_frame(&mut buf).expect("the first frame");
    assert_eq!((h.serial, data.as_slice()), (1, &[81u8, 1, 0][..]));
    assert_eq!(super::next_frame(&mut buf), None, "the second is cut short");
    buf.extend_from_slice(&b[20..]);
    let (h, data) = super::next_frame(&mut buf).expect("the second frame");
    assert_eq!((h.serial, data.as_slice()), (2, &[91u8, 1, 10][..]));
    assert!(buf.is_empty());
}

#[test]
fn the_centres_requests_are_answered_from_the_link_state() {
    use super::Answer;
    let dev = crate::testutil::device("smoke-1", "smoke", "r1", None);
    let reg = move |id: &str| (id == "smoke-1").then(|| dev.clone());
    let mut f = Frames::new((1, 1));
    f.on_alarm(&feed(AlarmState::Active, &["smoke-1"]), &reg, 0);
    let now = 1_796_137_445_000;
    match super::answer(&f, &[62, 1, 0], now) {
        Answer::Response(unit) => {
            let u = Unit::parse(&unit).expect("unit");
            assert_eq!(u.count, 1, "the one component in fire");
        }
        other => panic!("{other:?}"),
    }
    match super::answer(&f, &[91, 1, 10], now) {
        Answer::RollCall { minutes, record } => {
            assert_eq!(minutes, 10);
            let o: Vec<Object> = Unit::parse(&record)
                .expect("unit")
                .objects()
                .collect::<Result<_, _>>()
                .expect("objects");
            assert!(
                matches!(o[..], [Object::DeviceOperation { flags, .. }] if flags & protocol::gbt26875::unit::operation::ROLL_CALL_ANSWER != 0)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(super::answer(&f, &[89, 1, 0], now), Answer::Confirm);
    assert!(matches!(super::answer(&f, &[99, 1], now), Answer::Deny(_)));
    assert!(matches!(super::answer(&f, &[], now), Answer::Deny(_)));
}
