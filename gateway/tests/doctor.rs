//! `gridsense doctor` against a real store and a real district broker
//! (mosquitto with TLS and a password file), then the failing cases: a
//! wrong uplink password, an untrusted certificate, a port in use, a missing
//! serial line, a damaged store, an invalid configuration.

mod support;

use std::time::Duration;

use support::{Gateway, Mosquitto, Site, connects, gridsense, mosquitto_passwd, self_signed};

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
}

#[test]
fn a_healthy_installation_passes_and_each_fault_is_one_failing_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), "district");
    let passwd = mosquitto_passwd(dir.path(), "gw01", "district-secret");
    let broker = Mosquitto::start(
        dir.path(),
        &format!(
            "allow_anonymous false\npassword_file {}\ncertfile {}\nkeyfile {}\n",
            passwd.display(),
            cert.display(),
            key.display()
        ),
    );
    let pw = dir.path().join("uplink.password");
    std::fs::write(&pw, "district-secret\n").expect("password file");
    let uplink = format!(
        "[uplink]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"gw01\"\npassword_file = \"{}\"\n[uplink.tls]\nca = \"{}\"\n",
        broker.port,
        pw.display(),
        cert.display()
    );
    let site = Site::new("listen = \"127.0.0.1:0\"", &uplink);
    // A real store: created by a first run, which also sees one device.
    let gw = Gateway::start(&site.config, &[], &[], "MQTT broker listening");
    let port = gw.addr("mqtt_addr").port();
    let (id, secret) = site.secrets[0].clone();
    assert!(connects(port, &id, &secret, None));
    std::thread::sleep(Duration::from_millis(500));
    drop(gw);

    let (code, text) = gridsense(&["doctor", "--config", site.cfg()]);
    assert_eq!(code, 0, "{text}");
    for what in [
        "config",
        "port mqtt",
        "port api",
        "disk",
        "store",
        "audit chain",
        "clock",
        "uplink tcp",
        "uplink mqtts",
        "devices",
    ] {
        let l = line(&text, what);
        assert!(!l.starts_with("FAIL"), "{l}");
    }
    assert!(line(&text, "uplink mqtts").starts_with("ok"), "{text}");
    assert!(
        line(&text, "uplink mqtts").contains("TLS certificate verified"),
        "{text}"
    );
    assert!(
        line(&text, "store").contains("integrity_check ok"),
        "{text}"
    );
    let devices = line(&text, "devices");
    assert!(
        devices.starts_with("warn") && devices.contains("never seen"),
        "{devices}"
    );
    assert!(
        !devices.contains(&format!(" {id},")),
        "{id} was seen: {devices}"
    );
    assert!(text.trim_end().ends_with("0 failed"), "{text}");

    // The same password from a systemd credential.
    let creds = tempfile::tempdir().expect("credentials directory");
    std::fs::write(creds.path().join("uplink"), "district-secret").expect("credential");
    let cfg_text = std::fs::read_to_string(&site.config).expect("config");
    let with_credential = cfg_text.replace(
        &format!("password_file = \"{}\"", pw.display()),
        "password_credential = \"uplink\"",
    );
    let cred_cfg = site.dir.path().join("credential.toml");
    std::fs::write(&cred_cfg, &with_credential).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(["doctor", "--config"])
        .arg(&cred_cfg)
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(line(&text, "uplink mqtts").starts_with("ok"), "{text}");

    // A wrong password: the session is refused, exit 1.
    std::fs::write(&pw, "wrong\n").expect("password file");
    let (code, text) = gridsense(&["doctor", "--config", site.cfg()]);
    assert_eq!(code, 1, "{text}");
    assert!(line(&text, "uplink mqtts").starts_with("FAIL"), "{text}");
    assert!(!text.contains("wrong"), "no secret in the report: {text}");
    std::fs::write(&pw, "district-secret\n").expect("password file");

    // A certificate the CA file does not vouch for.
    let (other, _) = self_signed(dir.path(), "other");
    let untrusted = cfg_text.replace(
        &format!("ca = \"{}\"", cert.display()),
        &format!("ca = \"{}\"", other.display()),
    );
    let untrusted_cfg = site.dir.path().join("untrusted.toml");
    std::fs::write(&untrusted_cfg, untrusted).expect("write");
    let (code, text) = gridsense(&["doctor", "--config", untrusted_cfg.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{text}");
    assert!(line(&text, "uplink mqtts").starts_with("FAIL"), "{text}");

    // The broker gone.
    drop(broker);
    let (code, text) = gridsense(&["doctor", "--config", site.cfg()]);
    assert_eq!(code, 1, "{text}");
    assert!(line(&text, "uplink tcp").starts_with("FAIL"), "{text}");
}

#[test]
fn a_busy_port_a_missing_serial_line_a_damaged_store_and_a_bad_config_fail() {
    let modbus = "[modbus]\n[[modbus.lines]]\nrtu = { path = \"/dev/ttyGRIDSENSE-none\", baud = 9600 }\n\
                  [[modbus.lines.devices]]\ndevice = \"gasmb-carpark-01\"\nunit_id = 1\nprofile = \"gas-modbus\"\n";
    let mqtt = format!("listen = \"127.0.0.1:{}\"", support::free_port());
    let site = Site::new(&mqtt, "");
    // The port held by a running gateway.
    let gw = Gateway::start(&site.config, &[], &[], "MQTT broker listening");
    std::fs::write(
        &site.config,
        std::fs::read_to_string(&site.config).expect("config") + modbus,
    )
    .expect("add a serial line");
    let (code, text) = gridsense(&["doctor", "--config", site.cfg()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        line(&text, "port mqtt").starts_with("FAIL") && line(&text, "port mqtt").contains("in use"),
        "{text}"
    );
    assert!(
        line(&text, "serial /dev/ttyGRIDSENSE-none").starts_with("FAIL"),
        "{text}"
    );
    assert!(
        line(&text, "uplink").starts_with("warn"),
        "no [uplink]: {text}"
    );
    gw.stop();

    // The store's pages after the first two overwritten (the clean stop
    // folded the WAL in, so nothing shadows them): integrity_check says so.
    let mut bytes = std::fs::read(&site.db).expect("db");
    let page = 4096;
    assert!(bytes.len() > 3 * page, "a store of several pages");
    let end = bytes.len();
    for b in &mut bytes[2 * page..end] {
        *b = 0x5a;
    }
    std::fs::write(&site.db, bytes).expect("damage");
    let (code, text) = gridsense(&["doctor", "--config", site.cfg()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("store")),
        "{text}"
    );

    let bad = site.dir.path().join("bad.toml");
    std::fs::write(&bad, "[gateway]\nid = \"gw01\"\n").expect("write");
    let (code, text) = gridsense(&["doctor", "--config", bad.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{text}");
    assert!(line(&text, "config").starts_with("FAIL"), "{text}");
}
