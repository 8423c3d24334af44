//! The brokers under test, each a child process this benchmark starts and
//! stops itself (by its own handle, never by name): the real `gridsense`
//! binary with a generated compound, and mosquitto with its own config.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fleet::Device;

/// A broker process.
#[derive(Debug)]
pub(crate) struct Peer {
    /// "gateway" or "mosquitto".
    pub(crate) name: &'static str,
    /// Its MQTT listener.
    pub(crate) addr: SocketAddr,
    /// Its broker thread to measure apart, if it has one.
    pub(crate) router_thread: Option<&'static str>,
    /// Its HTTP API (the gateway's), for `/metrics`.
    pub(crate) api: Option<SocketAddr>,
    child: Child,
}

impl Peer {
    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it: SIGTERM (via `kill`, by pid), then SIGKILL after 10 s.
    /// Under `--wrap` the peer is the wrapper's child: it is sent SIGTERM
    /// first (`pkill -P`), or it outlives the wrapper and every later row
    /// shares the machine with it.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("pkill")
            .args(["-TERM", "-P", &self.pid().to_string()])
            .status();
        let _ = Command::new("kill").arg(self.pid().to_string()).status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `addr` accepts TCP connections.
pub(crate) fn wait_listening(addr: SocketAddr, within: Duration) -> io::Result<()> {
    let until = Instant::now() + within;
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{addr} not listening"),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// A compound of `n` devices, 20 per floor, 25 floors per building, as
/// scripts/bench-fleet.sh builds it: the site and device CSV files.
fn compound(dir: &Path, n: usize) -> io::Result<(PathBuf, PathBuf)> {
    let buildings = n.div_ceil(500).max(1);
    let mut site =
        String::from("id,parent,level,name,city,district,street,community,cell,fire_zone\n");
    for b in 1..=buildings {
        let cell = (b - 1) / 5 + 1;
        site.push_str(&format!(
            "b{b},,building,Building {b},foshan,chancheng,zumiao,lianhua,lianhua-g{cell},\n"
        ));
        for f in 1..=25 {
            site.push_str(&format!("b{b}-f{f},b{b},floor,Floor {f},,,,,,b{b}-f{f}\n"));
        }
    }
    let mut devices = String::from("id,profile,location,fire_zone,escape_route,installed\n");
    for i in 0..n {
        let (b, f, k) = (i / 500 + 1, i % 500 / 20 + 1, i % 20);
        let p = match k {
            16 | 17 => "lock",
            18 => "gas",
            19 => "door-contact",
            _ => "smoke",
        };
        devices.push_str(&format!(
            "{p}-b{b}-f{f}-{k:02},{p},b{b}-f{f},,,2026-11-01\n"
        ));
    }
    let (s, d) = (dir.join("site.csv"), dir.join("devices.csv"));
    std::fs::write(&s, site)?;
    std::fs::write(&d, devices)?;
    Ok((s, d))
}

/// Reads `device,profile,secret,...` lines.
fn creds(path: &Path) -> io::Result<Vec<Device>> {
    let mut r = csv::Reader::from_path(path).map_err(io::Error::other)?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(io::Error::other)?;
        out.push(Device {
            id: rec.get(0).unwrap_or_default().to_string(),
            secret: rec.get(2).unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

/// The gateway: a fresh store in `dir` with `n` devices registered through
/// its CLI, then `gridsense run`. `extra` is appended to its config.
pub(crate) fn gateway(
    bin: &Path,
    dir: &Path,
    n: usize,
    extra: &str,
    wrap: Option<&str>,
) -> io::Result<(Peer, Vec<Device>)> {
    let (cfg, (port, api), fleet) = setup(bin, dir, n, extra)?;
    let log = std::fs::File::create(dir.join("gw.log"))?;
    let mut cmd = match wrap {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let child = cmd
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        // The logging of an installed gateway (its default filter).
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let peer = Peer {
        name: "gateway",
        addr,
        router_thread: Some("router-0"),
        api: Some(([127, 0, 0, 1], api).into()),
        child,
    };
    wait_listening(addr, Duration::from_secs(60))?;
    Ok((peer, fleet))
}

/// The device list alone (registered with a fresh gateway store in `dir`),
/// for a run without the gateway.
pub(crate) fn fleet_of(bin: &Path, dir: &Path, n: usize) -> io::Result<Vec<Device>> {
    Ok(setup(bin, dir, n, "")?.2)
}

/// A fresh store in `dir` with `n` devices registered through the CLI:
/// the config file, the MQTT port and the devices' credentials.
fn setup(
    bin: &Path,
    dir: &Path,
    n: usize,
    extra: &str,
) -> io::Result<(PathBuf, (u16, u16), Vec<Device>)> {
    std::fs::create_dir_all(dir)?;
    for f in ["gw.db", "gw.db-wal", "gw.db-shm", "devices.creds.csv"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let (site, devices) = compound(dir, n)?;
    let port = free_port()?;
    let api = free_port()?;
    let cfg = dir.join("gw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[gateway]\nid = \"gw01\"\nsite = \"bench\"\n[mqtt]\nlisten = \"127.0.0.1:{port}\"\n\
             max_connections = {}\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:{api}\"\n{extra}",
            n + 2000,
            dir.join("gw.db").display()
        ),
    )?;
    run(Command::new(bin)
        .arg("site")
        .arg("import")
        .arg("--config")
        .arg(&cfg)
        .arg(&site))?;
    run(Command::new(bin)
        .arg("device")
        .arg("import")
        .arg("--config")
        .arg(&cfg)
        .arg(&devices))?;
    let fleet = creds(&dir.join("devices.creds.csv"))?;
    Ok((cfg, (port, api), fleet))
}

/// A bearer token of a new viewer `bench` of the gateway set up in `dir`
/// (through its CLI, as an operator would make one for Prometheus).
pub(crate) fn token(bin: &Path, dir: &Path) -> io::Result<String> {
    let cfg = dir.join("gw.toml");
    let pw = dir.join("bench.password");
    std::fs::write(&pw, "bench-metrics-only-0\n")?;
    run(Command::new(bin)
        .args([
            "user",
            "add",
            "bench",
            "--role",
            "viewer",
            "--password-file",
        ])
        .arg(&pw)
        .arg("--config")
        .arg(&cfg))?;
    let out = Command::new(bin)
        .args(["user", "token", "bench", "--config"])
        .arg(&cfg)
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| io::Error::other("no token printed"))
}

/// mosquitto with its own config in `dir` (anonymous, no persistence).
pub(crate) fn mosquitto(bin: &Path, dir: &Path) -> io::Result<Peer> {
    std::fs::create_dir_all(dir)?;
    let port = free_port()?;
    let cfg = dir.join("mosquitto.conf");
    std::fs::write(
        &cfg,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_connections -1\nmax_keepalive 65535\nlog_dest stderr\nlog_type error\n"
        ),
    )?;
    let log = std::fs::File::create(dir.join("mosquitto.log"))?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let peer = Peer {
        name: "mosquitto",
        addr,
        router_thread: None,
        api: None,
        child,
    };
    wait_listening(addr, Duration::from_secs(10))?;
    Ok(peer)
}
