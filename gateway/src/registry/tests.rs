//! Registry tests: imports on real SQLite files, snapshot lookups, credentials.

use std::path::{Path, PathBuf};

use super::*;
use crate::store::Store;

const NOW: u64 = 1_767_225_600_000; // 2026-01-01

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("gs.db")).expect("open");
    (dir, store)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn profiles() -> Profiles {
    Profiles::load(None).expect("built-in profiles")
}

fn errors_of(r: Result<usize, ImportError>) -> Vec<String> {
    match r {
        Err(ImportError::Invalid(list)) => list.iter().map(ToString::to_string).collect(),
        other => panic!("expected row errors, got {other:?}"),
    }
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Imports the example compound; returns the credentials file.
fn import_example(dir: &tempfile::TempDir, store: &mut Store) -> PathBuf {
    assert_eq!(import_sites(store, &deploy("site.csv")).expect("site"), 22);
    let creds = dir.path().join("devices.creds.csv");
    let n =
        import_devices(store, &deploy("devices.csv"), &profiles(), &creds, NOW).expect("devices");
    assert_eq!(n, 26);
    creds
}

fn read_secrets(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("creds file");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("device,profile,secret,fire_zone,location")
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|c| (c[0].to_string(), c[2].to_string()))
        .collect()
}

#[test]
fn example_compound_imports_and_resolves() {
    let (dir, mut store) = setup();
    import_example(&dir, &mut store);
    let reg = Registry::load(&store).expect("load");
    let d = reg.device("smoke-b2-702").expect("device");
    assert_eq!(
        &*d.location_label,
        "Building 2 / Unit 1 / Floor 7 / Room 702"
    );
    assert_eq!(d.grid.cell.as_str(), "lianhua-g02");
    assert_eq!(d.grid.city.as_str(), "foshan");
    assert_eq!(d.fire_zone.as_deref(), Some("b2-u1-f7"));
    let zone: Vec<_> = reg
        .in_fire_zone("b1-u1-f1")
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        zone,
        [
            "heat-b1-102",
            "mcp-b1-u1-f1",
            "smoke-b1-101a",
            "smoke-b1-101b",
            "smoke-b1-102"
        ]
    );
    assert!(
        reg.device("lock-b2-stair").expect("lock").escape_route,
        "profile default"
    );
    assert!(
        !reg.device("reader-b1-u2-lobby")
            .expect("reader")
            .escape_route
    );
    assert!(
        reg.device("door-b2-stair").expect("door").escape_route,
        "row says yes"
    );
    assert_eq!(reg.devices().count(), 26);
    assert_eq!(reg.in_fire_zone("nowhere").count(), 0);
}

#[test]
fn verify_accepts_each_device_secret_and_refuses_others() {
    let (dir, mut store) = setup();
    let creds = import_example(&dir, &mut store);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&creds)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secrets = read_secrets(&creds);
    assert_eq!(secrets.len(), 26);
    let reg = Registry::load(&store).expect("load");
    for (id, secret) in &secrets {
        assert_eq!(secret.len(), 32);
        assert_eq!(reg.verify(id, secret), Some(Role::Device), "{id}");
    }
    let (a, b) = (&secrets[0], &secrets[1]);
    assert_eq!(reg.verify(&a.0, &b.1), None, "another device's secret");
    assert_eq!(reg.verify(&a.0, ""), None);
    assert_eq!(reg.verify(&a.0, &a.1[..31]), None);
    assert_eq!(reg.verify("nobody", &a.1), None);
    let stored: Vec<u8> = store
        .conn()
        .query_row(
            "SELECT hash FROM credentials WHERE username = ?1",
            [&a.0],
            |r| r.get(0),
        )
        .expect("hash");
    assert_ne!(stored, a.1.as_bytes(), "never stored in clear");
}

#[test]
fn site_errors_are_all_reported_with_line_and_column_and_nothing_is_written() {
    let (dir, mut store) = setup();
    let file = write(
        &dir,
        "site.csv",
        "id,parent,level,name,city,district,street,community,cell,fire_zone\n\
         b1,,building,Building 1,foshan,chancheng,zumiao,lianhua,,\n\
         b1-u1,b1,unit,Unit 1,,,,,,\n\
         b1-u1,b1,unit,Unit 1 again,,,,,,\n\
         b1 u2,b1,unit,Unit 2,,,,,,\n\
         b1-f9,b9,floor,Floor 9,,,,,,\n\
         b1-x,b1,tower,X,,,,,,\n\
         b1-u1-r1,b1-u1,room,Room 1,,,,,,\n\
         b1-u1-r1-f1,b1-u1-r1,floor,Floor in a room,,,,,,\n",
    );
    let path = file.display().to_string();
    let errors = errors_of(import_sites(&mut store, &file));
    let expected = [
        format!(
            "{path}:2: column cell: missing grid cell: a top-level building needs city, district, street, community and cell"
        ),
        format!("{path}:4: column id: duplicate id b1-u1, first on line 3"),
        format!(
            "{path}:5: column id: bad identifier \"b1 u2\": has the character ' ' at 2; only letters, digits, '-' and '_' are allowed"
        ),
        format!("{path}:6: column parent: unknown parent b9"),
        format!(
            "{path}:7: column level: unknown level \"tower\"; one of building, unit, floor, room, area"
        ),
        format!("{path}:9: column level: a floor cannot be inside a room (b1-u1-r1)"),
    ];
    assert_eq!(errors, expected);
    assert_eq!(count(&store, "site_nodes"), 0, "all or nothing");
}

#[test]
fn site_ids_already_in_the_database_are_duplicates() {
    let (dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let file = write(
        &dir,
        "more.csv",
        "id,parent,level,name\nb3-u1,b1,unit,Unit 3\nb2,,building,Again\n",
    );
    let errors = errors_of(import_sites(&mut store, &file));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with(":3: column id: duplicate id b2: already in the database"),
        "{errors:?}"
    );
    assert_eq!(count(&store, "site_nodes"), 22);
}

#[test]
fn bad_headers_and_ragged_rows_are_reported() {
    let (dir, mut store) = setup();
    let file = write(&dir, "s.csv", "id,level,colour\nb1,building\n");
    let errors = errors_of(import_sites(&mut store, &file));
    assert!(
        errors[0].contains(":1: column colour: unknown column"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains(":1: column name: is missing from the header"),
        "{errors:?}"
    );
    assert!(
        errors[2].contains(":2: has 2 fields, the header has 3"),
        "{errors:?}"
    );
}

#[test]
fn device_errors_are_all_reported_and_nothing_is_written() {
    let (dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let file = write(
        &dir,
        "dev.csv",
        "id,profile,location,fire_zone,escape_route,installed\n\
         smoke-1,smoke,b1-u1-f1-r101,,,\n\
         smoke-1,smoke,b1-u1-f1-r101,,,\n\
         smoke/2,smoke,b1-u1-f1-r101,,,\n\
         smoke-3,fog,b1-u1-f1-r101,,,\n\
         smoke-4,smoke,b7,,,\n\
         lock-5,lock,b1,,maybe,2025-13-01\n",
    );
    let creds = dir.path().join("dev.creds.csv");
    let errors = errors_of(import_devices(&mut store, &file, &profiles(), &creds, NOW));
    let tail: Vec<_> = errors
        .iter()
        .map(|e| e.split_once(".csv:").map_or("", |x| x.1))
        .collect();
    assert_eq!(tail.len(), 6, "{errors:#?}");
    assert_eq!(
        tail[0],
        "3: column id: duplicate id smoke-1, first on line 2"
    );
    assert!(
        tail[1].starts_with("4: column id: bad identifier \"smoke/2\""),
        "{tail:?}"
    );
    assert!(
        tail[2].starts_with("5: column profile: unknown profile \"fog\"; known: "),
        "{tail:?}"
    );
    assert_eq!(
        tail[3],
        "6: column location: unknown site node \"b7\" (import the site first)"
    );
    assert_eq!(
        tail[4],
        "7: column escape_route: \"maybe\" is not true/false/yes/no/1/0"
    );
    assert_eq!(
        tail[5],
        "7: column installed: \"2025-13-01\" is not a date YYYY-MM-DD"
    );
    assert_eq!(
        (count(&store, "devices"), count(&store, "credentials")),
        (0, 0)
    );
    assert!(!creds.exists(), "no credentials file on error");
}

#[test]
fn an_existing_credentials_file_is_not_overwritten() {
    let (dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let creds = write(&dir, "c.csv", "keep me\n");
    let r = import_devices(&mut store, &deploy("devices.csv"), &profiles(), &creds, NOW);
    assert!(matches!(r, Err(ImportError::Io { .. })), "{r:?}");
    assert_eq!(std::fs::read_to_string(&creds).expect("read"), "keep me\n");
    assert_eq!(count(&store, "devices"), 0);
}

#[test]
fn device_add_integrator_and_admin_get_their_own_secrets() {
    let (_dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let fields = DeviceFields {
        id: "gas-9".into(),
        profile: "gas".into(),
        location: "b2-u1-f1-r101".into(),
        fire_zone: "kitchen-9".into(),
        ..DeviceFields::default()
    };
    let dev = add_device(&mut store, &fields, &profiles(), NOW).expect("add");
    let again = add_device(&mut store, &fields, &profiles(), NOW).expect_err("twice");
    assert!(
        again
            .to_string()
            .starts_with("device add: column id: duplicate id gas-9"),
        "{again}"
    );
    let integ = add_integrator(&mut store, "city-dashboard", NOW).expect("integrator");
    assert!(matches!(
        add_integrator(&mut store, "gas-9", NOW),
        Err(CredsError::Taken(_))
    ));
    assert!(matches!(
        add_integrator(&mut store, "a b", NOW),
        Err(CredsError::BadName { .. })
    ));
    let admin = ensure_admin(&store).expect("admin").expect("created once");
    assert_eq!(ensure_admin(&store).expect("admin"), None);
    let reg = Registry::load(&store).expect("load");
    assert_eq!(reg.verify("gas-9", &dev), Some(Role::Device));
    assert_eq!(reg.verify("city-dashboard", &integ), Some(Role::Integrator));
    assert_eq!(reg.verify(ADMIN_USER, &admin), Some(Role::Admin));
    assert_eq!(reg.verify(ADMIN_USER, &integ), None);
    let d = reg.device("gas-9").expect("device");
    assert_eq!(
        (d.fire_zone.as_deref(), d.installed.as_str()),
        (Some("kitchen-9"), "2026-01-01")
    );
    assert_eq!(reg.in_fire_zone("kitchen-9").count(), 1);
}

#[test]
fn the_gbt_columns_are_optional_and_reach_the_snapshot() {
    let (dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let file = dir.path().join("gbt.csv");
    std::fs::write(
        &file,
        "id,profile,location,gbt_system_type,gbt_system_addr,gbt_component_type,gbt_component_addr\n\
         smoke-g1,smoke,b1,1,2,41,10-3\n\
         smoke-g2,smoke,b1,,,,\n",
    )
    .expect("write");
    let creds = dir.path().join("gbt.creds.csv");
    import_devices(&mut store, &file, &profiles(), &creds, NOW).expect("import");
    let reg = Registry::load(&store).expect("load");
    let g = reg
        .device("smoke-g1")
        .and_then(|d| d.gbt)
        .expect("gbt names");
    assert_eq!(g.system_addr, Some(2));
    assert_eq!(g.component_type, Some(41));
    assert_eq!(g.component_addr, Some(3 << 16 | 10));
    assert_eq!(reg.device("smoke-g2").map(|d| d.gbt), Some(None));
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,profile,location,gbt_component_type\nsmoke-g3,smoke,b1,999\n",
    )
    .expect("write");
    let errors = errors_of(import_devices(
        &mut store,
        &bad,
        &profiles(),
        &dir.path().join("bad.creds.csv"),
        NOW,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("column gbt_component_type"),
        "{errors:?}"
    );
}

/// ETSI EN 303 645 provision 5.1 (SECURITY.md): no password is shared by
/// two installations, and a store without credentials accepts none.
#[test]
fn no_two_installations_share_an_admin_password_and_none_is_accepted_before_one_is_made() {
    let (_d1, first) = setup();
    let (_d2, second) = setup();
    let empty = Registry::load(&first).expect("load");
    for guess in ["", "admin", "password", "gridsense"] {
        assert_eq!(empty.verify(ADMIN_USER, guess), None, "{guess:?} accepted");
    }
    let a = ensure_admin(&first).expect("admin").expect("created");
    let b = ensure_admin(&second).expect("admin").expect("created");
    assert_ne!(a, b, "two installations, one admin password");
    assert!(
        a.len() >= 32 && a.chars().all(|c| c.is_ascii_hexdigit()),
        "{a}"
    );
    let one = Registry::load(&first).expect("load");
    assert_eq!(one.verify(ADMIN_USER, &a), Some(Role::Admin));
    assert_eq!(
        one.verify(ADMIN_USER, &b),
        None,
        "another installation's password"
    );
    let secrets: std::collections::HashSet<String> =
        (0..64).map(|_| new_secret().expect("secret")).collect();
    assert_eq!(secrets.len(), 64, "device secrets repeat");
}

fn gas(id: &str) -> DeviceFields {
    DeviceFields {
        id: id.into(),
        profile: "gas".into(),
        location: "b2-u1-f1-r101".into(),
        fire_zone: "kitchen-9".into(),
        ..DeviceFields::default()
    }
}

#[test]
fn every_registry_write_moves_the_change_counter_and_nothing_else_does() {
    let (_dir, mut store) = setup();
    let v = |s: &Store| Registry::load(s).expect("load").version().expect("counter");
    let v0 = v(&store);
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let v1 = v(&store);
    assert!(v1 > v0, "site import: {v0} -> {v1}");
    add_device(&mut store, &gas("gas-9"), &profiles(), NOW).expect("add");
    let v2 = v(&store);
    assert!(v2 > v1, "device add: {v1} -> {v2}");
    rotate(&mut store, "gas-9", NOW).expect("rotate");
    let v3 = v(&store);
    assert!(v3 > v2, "credential rotated: {v2} -> {v3}");
    store
        .conn()
        .execute(
            "INSERT INTO presence (device, status, at_ms) VALUES ('gas-9', 'online', 1)",
            [],
        )
        .expect("presence");
    assert_eq!(v(&store), v3, "presence is not the registry");
    remove_device(&mut store, "gas-9", NOW).expect("remove");
    assert!(v(&store) > v3, "device removed");
}

#[tokio::test]
async fn the_running_gateway_rereads_the_registry_only_when_it_changed() {
    use std::sync::Arc;
    use std::time::Duration;

    let (dir, mut store) = setup();
    import_sites(&mut store, &deploy("site.csv")).expect("site");
    let path = dir.path().join("gs.db");
    let clock: crate::clock::SharedClock = Arc::new(crate::clock::ManualClock::new(NOW));
    let (handle, _writer) = crate::store::spawn_writer(
        Store::open(&path).expect("open"),
        crate::store::StoreConfig::default(),
        clock,
    )
    .expect("writer");
    let cell = Arc::new(RegistryCell::new(Registry::load(&store).expect("load")));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(reload::reload_every(
        handle,
        cell.clone(),
        Duration::from_millis(20),
        shutdown.clone(),
    ));
    let first = cell.get();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        Arc::ptr_eq(&first, &cell.get()),
        "unchanged: the snapshot in force is kept, not rebuilt"
    );
    // The CLI adds a device from its own connection.
    add_device(&mut store, &gas("gas-9"), &profiles(), NOW).expect("add");
    let mut seen = false;
    for _ in 0..250 {
        if cell.get().device("gas-9").is_some() {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the new device reached the snapshot in force");
    let second = cell.get();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(Arc::ptr_eq(&second, &cell.get()), "and is kept again");
    shutdown.cancel();
    task.await.expect("reload task");
}
