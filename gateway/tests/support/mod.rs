//! What the installer tests share: the real `gridsense` binary, a compound
//! registered through its CLI, a private mosquitto, MQTT connection probes.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, TlsConfiguration, Transport};

/// Runs `gridsense ARGS`; returns its exit code and stdout + stderr.
pub fn gridsense(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(args)
        .output()
        .expect("run gridsense");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The repository's `deploy/`.
pub fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A compound's files: configuration, store, device secrets.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    /// Device id → secret, from `gridsense device import`.
    pub secrets: Vec<(String, String)>,
}

impl Site {
    /// Writes a configuration (`[mqtt]` and `extra` appended to the identity,
    /// store and API sections) and registers deploy/'s site and devices
    /// through the CLI.
    pub fn new(mqtt: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("gw.db");
        let config = dir.path().join("gw.toml");
        std::fs::write(
            &config,
            format!(
                "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n[mqtt]\n{mqtt}\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n{extra}\n",
                db.display()
            ),
        )
        .expect("config");
        let cfg = config.to_str().expect("utf8").to_string();
        let site = deploy().join("site.csv");
        let (code, text) = gridsense(&[
            "site",
            "import",
            site.to_str().expect("utf8"),
            "--config",
            &cfg,
        ]);
        assert_eq!(code, 0, "site import: {text}");
        let creds = dir.path().join("creds.csv");
        let devices = deploy().join("devices.csv");
        let (code, text) = gridsense(&[
            "device",
            "import",
            devices.to_str().expect("utf8"),
            "--creds-out",
            creds.to_str().expect("utf8"),
            "--config",
            &cfg,
        ]);
        assert_eq!(code, 0, "device import: {text}");
        let secrets = std::fs::read_to_string(&creds)
            .expect("creds")
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[0].to_string(), c[2].to_string())
            })
            .collect();
        Self {
            dir,
            config,
            db,
            secrets,
        }
    }

    /// The configuration's path as a string.
    pub fn cfg(&self) -> &str {
        self.config.to_str().expect("utf8")
    }
}

/// A running `gridsense run` with its stdout lines.
pub struct Gateway {
    pub child: Child,
    /// Every stdout line so far.
    pub lines: Vec<String>,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Gateway {
    /// Starts `gridsense [ARGS] run --config FILE` and waits for the line
    /// with `ready` (at most 30 s).
    pub fn start(config: &Path, args: &[&str], env: &[(&str, &str)], ready: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsense"));
        cmd.args(args)
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .env_remove("GRIDSENSE_LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start gridsense");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let mut g = Self {
            child,
            lines: Vec::new(),
            rx,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(l) = g.rx.recv_timeout(Duration::from_millis(200)) {
                let done = l.contains(ready);
                g.lines.push(l);
                if done {
                    return g;
                }
            }
        }
        panic!("no line with {ready:?} within 30 s: {:?}", g.lines);
    }

    /// The address after `key=` (text) or `"key":"` (JSON) in the first line naming it.
    pub fn addr(&self, key: &str) -> SocketAddr {
        for l in &self.lines {
            for pat in [format!("{key}="), format!("\"{key}\":\"")] {
                if let Some(i) = l.find(&pat) {
                    let rest = &l[i + pat.len()..];
                    let end = rest
                        .find(|c: char| c.is_whitespace() || c == '"')
                        .unwrap_or(rest.len());
                    return rest[..end].parse().expect("address");
                }
            }
        }
        panic!("no {key} in {:?}", self.lines);
    }

    /// Stops it with SIGTERM and collects the rest of its output.
    pub fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.lines.extend(self.rx.try_iter());
        std::mem::take(&mut self.lines)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `user`/`secret` (client id = `user`) gets a CONNACK accepting the
/// session at `port`, optionally over TLS trusting `ca`.
pub fn connects(port: u16, user: &str, secret: &str, ca: Option<&Path>) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut o = MqttOptions::new(user, "127.0.0.1", port);
        o.set_credentials(user, secret);
        o.set_keep_alive(Duration::from_secs(5));
        if let Some(ca) = ca {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                client_tls(ca),
            )));
        }
        let (client, mut ev) = AsyncClient::new(o, 4);
        let r = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(a))) => {
                        return a.code == rumqttc::ConnectReturnCode::Success;
                    }
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        })
        .await
        .unwrap_or(false);
        let _ = client.try_disconnect();
        r
    })
}

/// A rustls client trusting the certificate in `ca`.
pub fn client_tls(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).expect("ca");
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.expect("pem")).expect("anchor");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// Polls `f` every 200 ms for at most `within`; whether it became true.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A self-signed certificate for 127.0.0.1 (openssl; not a CA, so it may be
/// its own trust anchor): (cert, key).
pub fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl req");
    (cert, key)
}

/// A private mosquitto on a free loopback port with `conf` (its `listener`
/// line is added); killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Mosquitto {
    pub fn start(dir: &Path, conf: &str) -> Self {
        let port = free_port();
        let path = dir.join(format!("mosquitto-{port}.conf"));
        // As root, mosquitto would drop to its own user, which cannot read
        // this test's private files.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let user = if root { "user root\n" } else { "" };
        std::fs::write(
            &path,
            format!("{user}listener {port} 127.0.0.1\npersistence false\n{conf}\n"),
        )
        .expect("mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            eventually(Duration::from_secs(5), || TcpStream::connect(addr).is_ok()),
            "mosquitto did not listen on {addr}"
        );
        Self { child, port }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mosquitto password file with one user.
pub fn mosquitto_passwd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let f = dir.join("mosquitto.passwd");
    let st = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&f)
        .args([user, password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mosquitto_passwd");
    assert!(st.success(), "mosquitto_passwd");
    f
}
