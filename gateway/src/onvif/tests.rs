//! Unit tests of the ONVIF parts without sockets: digests, envelopes,
//! each answer's parser and its edge cases, topic mapping, configuration.

use protocol::{Cause, EventKind};

use super::config::{CameraConfig, validate};
use super::parse::{self, ParseError};
use super::soap;
use super::topics::{Signal, classify};

const ENV_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:wsa="http://www.w3.org/2005/08/addressing"><env:Body>"#;
const ENV_CLOSE: &str = "</env:Body></env:Envelope>";

fn env(body: &str) -> String {
    format!("{ENV_OPEN}{body}{ENV_CLOSE}")
}

fn message(topic: &str, op: &str, data: &str) -> String {
    format!(
        r#"<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-12-01T19:05:12.250Z" PropertyOperation="{op}"><tt:Source><tt:SimpleItem Name="Rule" Value="Field1"/></tt:Source><tt:Data>{data}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#
    )
}

fn item(name: &str, value: &str) -> String {
    format!(r#"<tt:SimpleItem Name="{name}" Value="{value}"/>"#)
}

#[test]
fn password_digest_is_base64_sha1_of_nonce_created_and_password() {
    // Computed independently: base64(sha1(b"0123456789abcdef" + created + "secret")).
    let d = soap::password_digest(b"0123456789abcdef", "2026-12-01T19:05:12Z", "secret");
    assert_eq!(d, "gFOgPhb/nhvJ0TCJW9JaJtZlnX0=");
    assert_eq!(soap::iso_time(1_796_151_912_000), "2026-12-01T19:05:12Z");
}

#[test]
fn an_envelope_carries_the_token_and_escapes_the_user() {
    let c = soap::pull_messages("http://cam/sub?id=1&x=2", 10, 32);
    let creds = soap::Credentials {
        username: "a<b",
        password: "pw",
    };
    let e = soap::envelope(&c, Some(creds), 1_796_151_912_000, &[7; 16]);
    assert!(e.contains("<wsse:Username>a&lt;b</wsse:Username>"));
    assert!(e.contains("#PasswordDigest\">"));
    assert!(e.contains("<wsu:Created>2026-12-01T19:05:12Z</wsu:Created>"));
    assert!(e.contains("<wsa:To xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">http://cam/sub?id=1&amp;x=2</wsa:To>"));
    assert!(e.contains("<tev:Timeout>PT10S</tev:Timeout><tev:MessageLimit>32</tev:MessageLimit>"));
    assert!(!e.contains("pw"), "the password itself is never sent");
    // The gateway's own envelope is read back by its own parser as a non-fault.
    assert!(parse::fault(&e).is_none());
}

#[test]
fn faults_give_code_subcodes_and_reason() {
    let t = env(
        r#"<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not authorized</env:Text></env:Reason></env:Fault>"#,
    );
    let f = parse::fault(&t).expect("a fault");
    assert_eq!(f.code, "env:Sender");
    assert_eq!(f.subcodes, ["ter:NotAuthorized"]);
    assert_eq!(f.reason, "Sender not authorized");
    assert!(f.is_unauthorized());
    assert!(matches!(parse::services(&t), Err(ParseError::Fault(_))));
    let other = env(
        "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>ter:Action</env:Value></env:Subcode></env:Code></env:Fault>",
    );
    assert!(!parse::fault(&other).expect("fault").is_unauthorized());
}

#[test]
fn services_come_from_get_services_or_get_capabilities() {
    let s = env(
        r#"<tds:GetServicesResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>http://cam/onvif/device_service</tds:XAddr></tds:Service><tds:Service><tds:Namespace> http://www.onvif.org/ver10/events/wsdl </tds:Namespace><tds:XAddr>http://cam/onvif/events</tds:XAddr></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://cam/onvif/media</tds:XAddr></tds:Service></tds:GetServicesResponse>"#,
    );
    let got = parse::services(&s).expect("services");
    assert_eq!(got.events.as_deref(), Some("http://cam/onvif/events"));
    assert_eq!(got.media.as_deref(), Some("http://cam/onvif/media"));
    let c = env(
        r#"<tds:GetCapabilitiesResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:Capabilities><tt:Events><tt:XAddr>http://cam/ev</tt:XAddr></tt:Events><tt:Media><tt:XAddr>http://cam/md</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"#,
    );
    let got = parse::services(&c).expect("capabilities");
    assert_eq!(
        (got.events.as_deref(), got.media.as_deref()),
        (Some("http://cam/ev"), Some("http://cam/md"))
    );
    // No event service: empty, not an error (the caller tries the other request).
    let none =
        env(r#"<tds:GetServicesResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#);
    assert_eq!(parse::services(&none).expect("empty").events, None);
}

#[test]
fn profiles_and_the_snapshot_address_are_read() {
    let p = env(
        r#"<trt:GetProfilesResponse xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><trt:Profiles token="main" fixed="true"><tt:Name>Main</tt:Name></trt:Profiles><trt:Profiles token="sub"/></trt:GetProfilesResponse>"#,
    );
    assert_eq!(parse::profiles(&p).expect("profiles"), ["main", "sub"]);
    let u = env(
        r#"<trt:GetSnapshotUriResponse xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><trt:MediaUri><tt:Uri>http://cam/snap?profile=main&amp;q=1</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect></trt:MediaUri></trt:GetSnapshotUriResponse>"#,
    );
    assert_eq!(
        parse::snapshot_uri(&u).expect("uri"),
        "http://cam/snap?profile=main&q=1"
    );
    let empty = env(
        r#"<trt:GetSnapshotUriResponse xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><trt:MediaUri><tt:Uri></tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>"#,
    );
    assert_eq!(
        parse::snapshot_uri(&empty),
        Err(ParseError::Missing("MediaUri/Uri"))
    );
}

#[test]
fn a_subscription_gives_its_address_and_times() {
    let t = env(
        r#"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>http://cam/onvif/sub/7</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>2026-12-01T19:05:12Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-12-01T19:06:12Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"#,
    );
    let s = parse::subscription(&t).expect("subscription");
    assert_eq!(s.address, "http://cam/onvif/sub/7");
    assert_eq!(s.current_ms, Some(1_796_151_912_000));
    assert_eq!(super::session::granted_ms(&s, 999), 60_000);
    let no_addr = env("<tev:CreatePullPointSubscriptionResponse/>");
    assert!(matches!(
        parse::subscription(&no_addr),
        Err(ParseError::Missing(_))
    ));
    // Without times, what was asked is taken as granted.
    let bare = env(
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>http://c/s</wsa:Address></tev:SubscriptionReference></tev:CreatePullPointSubscriptionResponse>",
    );
    assert_eq!(
        super::session::granted_ms(&parse::subscription(&bare).expect("bare"), 30),
        30_000
    );
    let renewed = env(
        "<wsnt:RenewResponse><wsnt:TerminationTime>2026-12-01T19:06:12Z</wsnt:TerminationTime><wsnt:CurrentTime>2026-12-01T19:05:42Z</wsnt:CurrentTime></wsnt:RenewResponse>",
    );
    assert_eq!(
        super::session::granted_ms(&parse::renewed(&renewed).expect("renew"), 1),
        30_000
    );
    assert!(parse::renewed(&no_addr).is_err(), "not a RenewResponse");
}

#[test]
fn notifications_are_read_with_topic_prefixes_removed() {
    let t = env(&format!(
        "<tev:PullMessagesResponse><tev:CurrentTime>2026-12-01T19:05:12Z</tev:CurrentTime><tev:TerminationTime>2026-12-01T19:06:12Z</tev:TerminationTime>{}{}</tev:PullMessagesResponse>",
        message(
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            "Changed",
            &item("IsInside", "true")
        ),
        message(
            " tns1:RuleEngine/tnsvendor:LineDetector/Crossed ",
            "",
            &item("ObjectId", "4")
        ),
    ));
    let p = parse::pulled(&t).expect("pulled");
    assert_eq!(p.messages.len(), 2);
    let m = &p.messages[0];
    assert_eq!(m.topic, "RuleEngine/FieldDetector/ObjectsInside");
    assert_eq!(m.utc_ms, Some(1_796_151_912_250));
    assert_eq!(m.operation, "Changed");
    assert_eq!(m.data("IsInside"), Some("true"));
    assert_eq!(m.source, [("Rule".to_string(), "Field1".to_string())]);
    assert_eq!(p.messages[1].topic, "RuleEngine/LineDetector/Crossed");
    // An empty answer (the timeout passed with nothing to say).
    let empty = env("<tev:PullMessagesResponse/>");
    assert!(parse::pulled(&empty).expect("empty").messages.is_empty());
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    for bad in [
        "",
        "not xml",
        "<a>",
        "<a></b>",
        "<root/>",
        "<env:Envelope xmlns:env=\"x\"/>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>",
        "<env:Envelope xmlns:env=\"x\"><env:Body/></env:Envelope>",
    ] {
        assert!(parse::pulled(bad).is_err(), "{bad:?}");
        assert!(parse::services(bad).is_err(), "{bad:?}");
        assert!(parse::fault(bad).is_none(), "{bad:?}");
        assert!(!parse::is_success(bad), "{bad:?}");
    }
    // A notification without its parts: read as empty, not refused.
    let hollow =
        env("<tev:PullMessagesResponse><wsnt:NotificationMessage/></tev:PullMessagesResponse>");
    let p = parse::pulled(&hollow).expect("hollow");
    assert_eq!(p.messages[0].topic, "");
    assert_eq!(classify(&p.messages[0]), None);
}

#[test]
fn times_parse_in_their_xs_date_time_forms() {
    assert_eq!(
        parse::parse_time("2026-12-01T19:05:12Z"),
        Some(1_796_151_912_000)
    );
    assert_eq!(
        parse::parse_time("2026-12-01T19:05:12.5Z"),
        Some(1_796_151_912_500)
    );
    assert_eq!(
        parse::parse_time("2026-12-01T19:05:12+08:00"),
        Some(1_796_123_112_000)
    );
    assert_eq!(
        parse::parse_time("2026-12-01T11:05:12-00:00"),
        Some(1_796_123_112_000)
    );
    assert_eq!(
        parse::parse_time("2026-12-01T19:05:12"),
        Some(1_796_151_912_000)
    );
    for bad in [
        "",
        "2026-12-01",
        "1999-12-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-12-01T25:00:00Z",
        "2026-12-01T19:05:1Z",
        "2026-12-01T19:05:12.x1Z",
        "2026-12-01T19:05:12+99:00",
    ] {
        assert_eq!(parse::parse_time(bad), None, "{bad:?}");
    }
}

fn n(topic: &str, op: &str, data: &[(&str, &str)]) -> parse::Notification {
    parse::Notification {
        topic: topic.into(),
        operation: op.into(),
        data: data
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn topics_map_to_camera_events_and_motion_to_a_reading() {
    let ev = |kind, cause| Some(Signal::Event { kind, cause });
    let field = "RuleEngine/FieldDetector/ObjectsInside";
    assert_eq!(
        classify(&n(field, "Changed", &[("IsInside", "true")])),
        ev(EventKind::Alarm, Cause::Intrusion)
    );
    assert_eq!(
        classify(&n(field, "Changed", &[("IsInside", "false")])),
        ev(EventKind::Restore, Cause::Intrusion)
    );
    assert_eq!(
        classify(&n(
            "RuleEngine/LineDetector/Crossed",
            "",
            &[("ObjectId", "1")]
        )),
        ev(EventKind::Alarm, Cause::Intrusion)
    );
    assert_eq!(
        classify(&n(
            "VideoSource/GlobalSceneChange/ImagingService",
            "Changed",
            &[("State", "1")]
        )),
        ev(EventKind::Tamper, Cause::Tamper)
    );
    assert_eq!(
        classify(&n(
            "VideoSource/SignalLoss",
            "Changed",
            &[("State", "false")]
        )),
        ev(EventKind::Restore, Cause::Tamper)
    );
    assert_eq!(
        classify(&n(
            "VideoSource/MotionAlarm",
            "Changed",
            &[("State", "true")]
        )),
        Some(Signal::Motion(true))
    );
    assert_eq!(
        classify(&n(
            "RuleEngine/CellMotionDetector/Motion",
            "Changed",
            &[("IsMotion", "false")]
        )),
        Some(Signal::Motion(false))
    );
}

#[test]
fn initial_states_without_a_condition_unknown_topics_and_bad_values_are_skipped() {
    let field = "RuleEngine/FieldDetector/ObjectsInside";
    assert_eq!(
        classify(&n(field, "Initialized", &[("IsInside", "false")])),
        None
    );
    assert!(
        classify(&n(field, "Initialized", &[("IsInside", "true")])).is_some(),
        "present at subscribe time"
    );
    assert_eq!(
        classify(&n(field, "Changed", &[("IsInside", "maybe")])),
        None
    );
    assert_eq!(classify(&n(field, "Changed", &[])), None);
    assert_eq!(
        classify(&n(
            "Device/Trigger/DigitalInput",
            "Changed",
            &[("LogicalState", "true")]
        )),
        None
    );
    assert_eq!(
        classify(&n(
            "VideoSource/MotionAlarm",
            "Initialized",
            &[("State", "false")]
        )),
        None
    );
}

fn camera(id: &str) -> CameraConfig {
    toml::from_str(&format!(
        "id = \"{id}\"\naddress = \"http://10.0.0.5/onvif/device_service\"\nusername = \"gw\"\npassword = \"pw\"\n"
    ))
    .expect("camera")
}

#[test]
fn camera_entries_take_defaults_and_every_problem_is_named() {
    let c = camera("cam-1");
    assert_eq!(
        (c.pull_timeout_s, c.termination_s, c.offline_after),
        (10, 60, 3)
    );
    assert!(validate(std::slice::from_ref(&c)).is_ok());
    assert!(
        !format!("{c:?}").contains("pw"),
        "the password is not logged"
    );
    let mut bad = camera("cam 1");
    bad.address = "https://10.0.0.5/onvif".into();
    bad.password = String::new();
    bad.termination_s = 15;
    let p = validate(&[bad, c.clone(), c]).expect_err("problems");
    let has = |s: &str| p.iter().any(|l| l.starts_with(s));
    assert!(has("cameras[0].id: must be a device id"), "{p:?}");
    assert!(has("cameras[0].address: https is not supported"), "{p:?}");
    assert!(has("cameras[0].password"), "{p:?}");
    assert!(
        has("cameras[0].termination_s: must be more than twice"),
        "{p:?}"
    );
    assert!(has("cameras[2].id: `cam-1` is already cameras[1]"), "{p:?}");
    assert!(toml::from_str::<CameraConfig>("id = \"a\"\naddress = \"http://a/\"\nusername = \"u\"\npassword = \"p\"\npul_timeout_s = 3\n").is_err(), "unknown keys refused");
}
