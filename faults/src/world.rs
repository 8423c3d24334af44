//! The world around the gateway under test: its work directory, site and
//! devices (imported through the `gridsense` CLI), its configuration, the
//! district broker (a private mosquitto) and the gateway process itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Errors of the harness (not findings: those are the checker's).
pub type Res<T> = Result<T, String>;

/// The gateway id in the written configuration: alarm ids are `gw01-a{n}`.
pub const GATEWAY_ID: &str = "gw01";
/// The site id in the written configuration.
pub const SITE: &str = "faults-garden";

/// A free TCP port on 127.0.0.1 (bound, read and released).
pub fn free_port() -> Res<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// What a device does in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A smoke detector alone on its floor, in an "alarm at once" zone.
    Fire,
    /// A smoke detector that reports a sensor fault (and perhaps restores).
    Fault,
    /// An escape-route lock in the same zone as a fire detector.
    Lock,
    /// A temperature/humidity node publishing telemetry.
    Telemetry,
}

/// One registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Device id (MQTT client id and username).
    pub id: String,
    /// Its secret, from `gridsense device import`.
    pub secret: String,
    /// What it does.
    pub role: Role,
    /// Its fire zone.
    pub zone: String,
}

/// How many devices of each role.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Fire detectors (each on its own floor and zone).
    pub fire: usize,
    /// Fault reporters.
    pub fault: usize,
    /// Locks, in the zones of the first fire detectors.
    pub locks: usize,
    /// Telemetry nodes.
    pub telemetry: usize,
}

/// The files of a run.
#[derive(Debug)]
pub struct World {
    /// Work directory (kept when `--dir` is given).
    pub dir: PathBuf,
    /// The gateway's configuration file.
    pub config: PathBuf,
    /// The gateway's SQLite file.
    pub db: PathBuf,
    /// The gateway's MQTT listener.
    pub mqtt: SocketAddr,
    /// Devices by id.
    pub devices: BTreeMap<String, Device>,
    /// Alarm kinds that the configuration tickets.
    pub ticketed: Vec<&'static str>,
    /// Extra environment of `gridsense run` (the power-cut layer).
    pub env: Vec<(String, String)>,
}

/// What the written configuration says beyond the world's shape.
#[derive(Debug, Clone)]
pub struct ConfigKnobs {
    /// Port of the district broker the gateway's uplink connects to.
    pub uplink_port: u16,
    /// `uplink.resend_after_ms`.
    pub resend_after_ms: u64,
    /// `rules.max_rate_per_device`.
    pub max_rate_per_device: f64,
    /// Directory of the store file [default: the work directory].
    pub store_dir: Option<PathBuf>,
    /// `store.max_telemetry_rows` [default: the gateway's].
    pub max_telemetry_rows: Option<u64>,
}

fn fire_id(i: usize) -> String {
    format!("smk-{i:05}")
}

impl World {
    /// Writes the site, devices and configuration and imports them with the
    /// real binary.
    pub fn create(bin: &Path, dir: PathBuf, sizes: Sizes, knobs: &ConfigKnobs) -> Res<Self> {
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let db = knobs
            .store_dir
            .as_ref()
            .unwrap_or(&dir)
            .join("gridsense.db");
        let mqtt: SocketAddr = format!("127.0.0.1:{}", free_port()?)
            .parse()
            .map_err(|e| format!("{e}"))?;
        let api = free_port()?;

        let mut site = String::from(
            "id,parent,level,name,city,district,street,community,cell,fire_zone\n\
             b1,,building,Building 1,foshan,chancheng,zumiao,lianhua,lianhua-g01,\n\
             b1-plant,b1,area,Plant room,,,,,,fzp\n",
        );
        let mut devices = String::from("id,profile,location,fire_zone,escape_route,installed\n");
        let mut roles = BTreeMap::new();
        let mut zones = Vec::new();
        for i in 0..sizes.fire {
            let _ = writeln!(site, "b1-f{i},b1,floor,Floor {i},,,,,,fz{i}");
            let _ = writeln!(devices, "{},smoke,b1-f{i},,,", fire_id(i));
            roles.insert(fire_id(i), (Role::Fire, format!("fz{i}")));
            zones.push(format!("\"fz{i}\""));
        }
        for i in 0..sizes.locks.min(sizes.fire) {
            let id = format!("lock-{i:05}");
            let _ = writeln!(devices, "{id},lock,b1-f{i},,true,");
            roles.insert(id, (Role::Lock, format!("fz{i}")));
        }
        for i in 0..sizes.fault {
            let id = format!("flt-{i:05}");
            let _ = writeln!(devices, "{id},smoke,b1-plant,,,");
            roles.insert(id, (Role::Fault, "fzp".to_owned()));
        }
        for i in 0..sizes.telemetry {
            let id = format!("th-{i:04}");
            let _ = writeln!(devices, "{id},temp-humidity,b1-plant,,,");
            roles.insert(id, (Role::Telemetry, "fzp".to_owned()));
        }
        let site_csv = dir.join("site.csv");
        let dev_csv = dir.join("devices.csv");
        let creds = dir.join("devices.creds.csv");
        write(&site_csv, &site)?;
        write(&dev_csv, &devices)?;

        let ticketed = vec!["fire", "sensor-fault"];
        let config = dir.join("gridsense.toml");
        write(
            &config,
            &format!(
                "[gateway]\nid = \"{GATEWAY_ID}\"\nsite = \"{SITE}\"\n\n\
                 [mqtt]\nlisten = \"{mqtt}\"\nmax_connections = 20000\n\n\
                 [store]\npath = \"{db}\"\n{rows}\n\
                 [alarms]\nimmediate_zones = [{zones}]\n\n\
                 [rules]\nmax_rate_per_device = {rate:.1}\n\n\
                 [api]\nlisten = \"127.0.0.1:{api}\"\n\n\
                 [orders]\nkinds = [{kinds}]\n\n\
                 [uplink]\nhost = \"127.0.0.1\"\nport = {up}\nclient_id = \"{GATEWAY_ID}-faults\"\n\
                 resend_after_ms = {resend}\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n",
                db = db.display(),
                rows = knobs
                    .max_telemetry_rows
                    .map_or(String::new(), |r| format!("max_telemetry_rows = {r}\n")),
                zones = zones.join(", "),
                rate = knobs.max_rate_per_device,
                kinds = ticketed
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                up = knobs.uplink_port,
                resend = knobs.resend_after_ms,
            ),
        )?;
        let cfg = config.to_string_lossy().into_owned();
        cli(bin, &["check", "--config", &cfg])?;
        cli(
            bin,
            &[
                "site",
                "import",
                &site_csv.to_string_lossy(),
                "--config",
                &cfg,
            ],
        )?;
        cli(
            bin,
            &[
                "device",
                "import",
                &dev_csv.to_string_lossy(),
                "--config",
                &cfg,
                "--creds-out",
                &creds.to_string_lossy(),
            ],
        )?;
        let text = fs::read_to_string(&creds).map_err(|e| format!("{}: {e}", creds.display()))?;
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if let (Some(id), Some(secret)) = (cols.first(), cols.get(2))
                && let Some((role, zone)) = roles.get(*id)
            {
                out.insert(
                    (*id).to_owned(),
                    Device {
                        id: (*id).to_owned(),
                        secret: (*secret).to_owned(),
                        role: *role,
                        zone: zone.clone(),
                    },
                );
            }
        }
        if out.len() != roles.len() {
            return Err(format!(
                "{}: {} of {} devices have secrets",
                creds.display(),
                out.len(),
                roles.len()
            ));
        }
        Ok(Self {
            dir,
            config,
            db,
            mqtt,
            devices: out,
            ticketed,
            env: Vec::new(),
        })
    }

    /// Devices of one role, in id order.
    pub fn of(&self, role: Role) -> Vec<Device> {
        self.devices
            .values()
            .filter(|d| d.role == role)
            .cloned()
            .collect()
    }
}

fn write(p: &Path, s: &str) -> Res<()> {
    fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))
}

/// Runs a `gridsense` subcommand to completion; its output on failure.
pub fn cli(bin: &Path, args: &[&str]) -> Res<String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "gridsense {}: {}: {text}",
            args.join(" "),
            out.status
        ))
    }
}

/// The `gridsense` binary: `--bin`, else `$GRIDSENSE_BIN`, else the newest of
/// `{release,debug}/gridsense` under `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn find_binary(given: Option<PathBuf>) -> Res<PathBuf> {
    if let Some(p) = given.or_else(|| std::env::var_os("GRIDSENSE_BIN").map(PathBuf::from)) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{}: no such binary", p.display()))
        };
    }
    let mut roots = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        roots.push(PathBuf::from(t));
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for r in &roots {
        for profile in ["release", "debug"] {
            let p = r.join(profile).join("gridsense");
            if let Ok(m) = p.metadata().and_then(|m| m.modified())
                && best.as_ref().is_none_or(|(t, _)| m > *t)
            {
                best = Some((m, p));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        "no gridsense binary: build it (cargo build -p gridsense-gateway) or pass --bin".to_owned()
    })
}

/// Waits until something accepts TCP connections at `addr`.
pub fn wait_listening(addr: SocketAddr, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A child process this harness started; killed when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    name: &'static str,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Res<Self> {
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let f2 = f.try_clone().map_err(|e| format!("{e}"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(f2)
            .spawn()
            .map_err(|e| format!("start {name}: {e}"))?;
        Ok(Self {
            child: Some(child),
            name,
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`) with kill(1).
    pub fn signal(&self, sig: &str) -> Res<()> {
        let pid = self
            .pid()
            .ok_or_else(|| format!("{} is not running", self.name))?;
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .map_err(|e| format!("kill -{sig} {pid}: {e}"))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("kill -{sig} {pid}: {st}"))
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; whether it exited by itself, and its status.
    pub fn stop(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let _ = self.signal("TERM");
        let mut c = self.child.take()?;
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Whether it has exited (reaps it if so).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let st = self.child.as_mut()?.try_wait().ok().flatten();
        if st.is_some() {
            self.child = None;
        }
        st
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private mosquitto on a free loopback port: the district broker.
pub fn start_mosquitto(dir: &Path) -> Res<(Proc, u16)> {
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    write(
        &conf,
        &format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 100000\n"
        ),
    )?;
    let p = Proc::spawn(
        "mosquitto",
        Command::new("mosquitto").arg("-c").arg(&conf),
        &dir.join("mosquitto.log"),
    )?;
    let addr: SocketAddr = format!("127.0.0.1:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    if !wait_listening(addr, Duration::from_secs(5)) {
        return Err(format!("mosquitto did not listen on {addr}"));
    }
    Ok((p, port))
}

/// Starts `gridsense run` on the world's configuration.
pub fn start_gateway(bin: &Path, world: &World) -> Res<Proc> {
    Proc::spawn(
        "gridsense",
        Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&world.config)
            .envs(world.env.iter().cloned()),
        &world.dir.join("gateway.log"),
    )
}
