//! Secrets and logs of the real `gridsense` binary against its own broker
//! over a socket: the admin password only in a 0600 file, never in a log
//! line; JSON and colourless text logs; a rotated device's old secret
//! refused and the new one accepted; a removed device refused; the plain
//! listener off beside TLS.

mod support;

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use support::{Gateway, Site, connects, eventually, free_port, gridsense, self_signed};

const LISTENING: &str = "MQTT broker listening";

#[test]
fn json_logs_carry_no_secret_and_the_admin_password_is_in_a_0600_file() {
    let site = Site::new("listen = \"127.0.0.1:0\"", "");
    let gw = Gateway::start(&site.config, &["--log-format", "json"], &[], LISTENING);
    let port = gw.addr("mqtt_addr").port();
    let file = site.db.with_extension("admin-password");
    let mode = std::fs::metadata(&file)
        .expect("admin password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    let password = std::fs::read_to_string(&file)
        .expect("read")
        .trim()
        .to_string();
    assert_eq!(password.len(), 32, "128-bit hex secret");
    assert!(
        connects(port, "admin", &password, None),
        "the file's password works"
    );
    let lines = gw.stop();
    assert!(lines.len() >= 2, "{lines:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
        assert!(
            !l.contains(&password),
            "the admin password in a log line: {l}"
        );
        assert!(!l.contains('\u{1b}'), "ANSI in {l}");
    }
    let told = lines
        .iter()
        .find(|l| l.contains("admin credential created"))
        .expect("one line says where the password is");
    assert!(told.contains(&file.display().to_string()), "{told}");

    // A second start creates nothing and says nothing about it.
    let gw = Gateway::start(&site.config, &[], &[], LISTENING);
    let lines = gw.stop();
    assert!(
        !lines.iter().any(|l| l.contains("admin credential created")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour off a terminal: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "text by default"
    );
}

#[test]
fn the_log_format_comes_from_the_environment_or_the_file() {
    let site = Site::new("listen = \"127.0.0.1:0\"", "[log]\nformat = \"json\"\n");
    let gw = Gateway::start(&site.config, &[], &[], LISTENING);
    let lines = gw.stop();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{lines:?}"
    );
    let gw = Gateway::start(
        &site.config,
        &[],
        &[("GRIDSENSE_LOG_FORMAT", "text")],
        LISTENING,
    );
    let lines = gw.stop();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "{lines:?}"
    );
    let gw = Gateway::start(
        &site.config,
        &["--log-format", "text"],
        &[("GRIDSENSE_LOG_FORMAT", "json")],
        LISTENING,
    );
    let lines = gw.stop();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "the flag wins: {lines:?}"
    );
}

#[test]
fn a_rotated_secret_and_a_removed_device_are_refused_by_the_running_gateway() {
    let site = Site::new("listen = \"127.0.0.1:0\"", "");
    let gw = Gateway::start(&site.config, &[], &[], LISTENING);
    let port = gw.addr("mqtt_addr").port();
    let (id, old) = site.secrets[0].clone();
    let (other, other_secret) = site.secrets[1].clone();
    assert!(connects(port, &id, &old, None), "the imported secret works");

    let out = site.dir.path().join("new.secret");
    let (code, text) = gridsense(&[
        "creds",
        "rotate",
        &id,
        "--out",
        out.to_str().expect("utf8"),
        "--config",
        site.cfg(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains(&old), "{text}");
    let mode = std::fs::metadata(&out)
        .expect("secret file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let new = std::fs::read_to_string(&out)
        .expect("read")
        .trim()
        .to_string();
    assert_ne!(new, old);
    assert!(
        eventually(Duration::from_secs(15), || !connects(port, &id, &old, None)),
        "the old secret is refused within the registry's reload"
    );
    assert!(
        connects(port, &id, &new, None),
        "the new secret is accepted"
    );
    assert!(
        connects(port, &other, &other_secret, None),
        "other devices untouched"
    );

    let (code, text) = gridsense(&["device", "remove", &id, "--config", site.cfg()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        eventually(Duration::from_secs(15), || !connects(port, &id, &new, None)),
        "a removed device is refused"
    );
    assert!(connects(port, &other, &other_secret, None));
    let (code, text) = gridsense(&["device", "remove", &id, "--config", site.cfg()]);
    assert_eq!(code, 2, "removing twice: {text}");
    assert!(text.contains("no device named"), "{text}");
    drop(gw);

    // Both changes are in the audit chain, which still verifies.
    let (code, text) = gridsense(&["audit", "verify", "--db", site.db.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{text}");
    let export = site.dir.path().join("audit.jsonl");
    let (code, _) = gridsense(&[
        "audit",
        "export",
        "--db",
        site.db.to_str().expect("utf8"),
        "--out",
        export.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0);
    let audit = std::fs::read_to_string(&export).expect("export");
    assert!(
        audit.contains("creds.rotated") && audit.contains("device.removed"),
        "{audit}"
    );
}

#[test]
fn rotating_the_admin_replaces_its_password() {
    let site = Site::new("listen = \"127.0.0.1:0\"", "");
    let (code, text) = gridsense(&["creds", "admin", "--config", site.cfg()]);
    assert_eq!(code, 0, "{text}");
    let file = site.db.with_extension("admin-password");
    assert!(text.contains(&file.display().to_string()), "{text}");
    let first = std::fs::read_to_string(&file).expect("file");
    assert!(!text.contains(first.trim()), "never on stdout: {text}");
    let (code, text) = gridsense(&["creds", "admin", "--config", site.cfg()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("exists already"), "{text}");
    let (code, text) = gridsense(&["creds", "rotate", "admin", "--config", site.cfg()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("admin admin: new secret: "), "{text}");
    let (code, text) = gridsense(&["creds", "rotate", "nobody", "--config", site.cfg()]);
    assert_eq!(code, 2);
    assert!(text.contains("no credential named"), "{text}");
}

#[test]
fn with_plain_off_only_the_tls_listener_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), "gw");
    let plain = free_port();
    let mqtt = format!(
        "listen = \"127.0.0.1:{plain}\"\nplain = false\n[mqtt.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let site = Site::new(&mqtt, "");
    let gw = Gateway::start(&site.config, &[], &[], LISTENING);
    let tls = gw.addr("mqtt_addr");
    assert_ne!(tls.port(), plain);
    let (id, secret) = site.secrets[0].clone();
    assert!(
        connects(tls.port(), &id, &secret, Some(&cert)),
        "TLS serves"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", plain)).is_err(),
        "nothing on the plain port"
    );

    // Without TLS, `plain = false` is refused at its line.
    let bad = site.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[gateway]\nid = \"gw01\"\nsite = \"x\"\n[mqtt]\nplain = false\n",
    )
    .expect("write");
    let (code, text) = gridsense(&["check", "--config", bad.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("mqtt.plain"), "{text}");
}
