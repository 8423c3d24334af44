use super::*;

const GOOD: &str = "\
device,profile,secret,fire_zone,location,installed_by
smoke-0001,smoke,secret-0001-aaaa,b01-f03,b01-f03-r02,li
lock-0001,lock,secret-0002-bbbb,,,wang
";

#[test]
fn reads_required_and_optional_columns_and_ignores_unknown_ones() {
    let d = read_csv(GOOD).expect("valid");
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].id.as_str(), "smoke-0001");
    assert_eq!(d[0].fire_zone.as_deref(), Some("b01-f03"));
    assert_eq!(d[0].location.as_deref(), Some("b01-f03-r02"));
    assert_eq!(d[1].fire_zone, None);
    assert_eq!(d[1].location, None);
}

#[test]
fn columns_may_come_in_any_order_and_optional_ones_may_be_absent() {
    let d = read_csv("secret,device,profile\nsecret-xyz-123,gas-1,gas\n").expect("valid");
    assert_eq!(d[0].id.as_str(), "gas-1");
    assert_eq!(d[0].secret, "secret-xyz-123");
}

#[test]
fn a_missing_required_column_is_named() {
    let e = read_csv("device,profile\nsmoke-1,smoke\n").expect_err("no secret");
    assert!(matches!(e, DeviceListError::MissingColumn("secret")), "{e}");
    assert!(e.to_string().contains("secret"));
}

#[test]
fn bad_fields_name_line_and_column() {
    let cases = [
        (
            "device,profile,secret\nsmoke 1,smoke,secret-0001\n",
            2,
            "device",
        ),
        ("device,profile,secret\nsmoke-1,smoke,\n", 2, "secret"),
        ("device,profile,secret\nsmoke-1,smoke\n", 2, "secret"),
        (
            "device,profile,secret\na,smoke,secret-0001\nb,,secret-0002\n",
            3,
            "profile",
        ),
        ("device,profile,secret\na,smoke,short\n", 2, "secret"),
        (
            "device,profile,secret\na,smoke,has space inside\n",
            2,
            "secret",
        ),
        (
            "device,profile,secret,fire_zone\na,smoke,secret-0001,zone/1\n",
            2,
            "fire_zone",
        ),
    ];
    for (csv, want_line, want_col) in cases {
        match read_csv(csv) {
            Err(DeviceListError::Field { line, column, .. }) => {
                assert_eq!((line, column), (want_line, want_col), "{csv}");
            }
            other => panic!("{csv}: {other:?}"),
        }
    }
}

#[test]
fn a_repeated_device_is_refused_with_both_lines() {
    let csv =
        "device,profile,secret\na,smoke,secret-0001\nb,smoke,secret-0002\na,gas,secret-0003\n";
    let e = read_csv(csv).expect_err("duplicate");
    assert!(
        matches!(
            e,
            DeviceListError::Duplicate {
                line: 4,
                first: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn generated_fleets_are_mixed_located_and_seeded() {
    let f = generate(40, 7);
    assert_eq!(f.len(), 40);
    let smoke = f.iter().filter(|d| d.profile.as_str() == "smoke").count();
    assert_eq!(smoke, 28);
    assert_eq!(f[0].id.as_str(), "smoke-0001");
    assert_eq!(f[4].id.as_str(), "door-0001");
    assert_eq!(f[19].id.as_str(), "camera-0001");
    assert_eq!(f[20].location.as_deref(), Some("b01-f02-r01"));
    assert_eq!(f[20].fire_zone.as_deref(), Some("b01-f02"));
    assert_eq!(generate(40, 7), f, "same seed, same fleet");
    assert_ne!(generate(40, 8)[0].secret, f[0].secret);
    let ids: std::collections::HashSet<_> = f.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 40);
}
