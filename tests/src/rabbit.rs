//! A RabbitMQ cluster with its MQTT plugin on loopback, for tests: Debian's
//! `rabbitmq-server` (installed by `scripts/setup.sh`), each node with its
//! own node name, ports, data and log directories under a temporary
//! directory, its own Erlang port mapper port and cookie, so it never meets
//! the host's service (which is left alone). Everything started here is
//! stopped when the cluster is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/rabbitmq/bin";

/// One node of the cluster.
#[derive(Debug)]
pub struct RabbitNode {
    /// Erlang node name (`gs-a-PORT@localhost`).
    pub name: String,
    /// Its MQTT listener on 127.0.0.1.
    pub mqtt: u16,
    base: PathBuf,
    child: Option<Child>,
}

/// A cluster of RabbitMQ nodes on loopback.
#[derive(Debug)]
pub struct RabbitCluster {
    dir: tempfile::TempDir,
    epmd: u16,
    /// The nodes, the first one the cluster was formed on.
    pub nodes: Vec<RabbitNode>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RabbitCluster {
    /// Whether Debian's `rabbitmq-server` is installed.
    pub fn installed() -> bool {
        Path::new(BIN).join("rabbitmq-server").exists()
    }

    /// Starts `n` nodes and clusters them; waits until every MQTT listener
    /// answers (bounded: 90 s per node on a loaded machine).
    ///
    /// # Panics
    /// When RabbitMQ is not installed or a node does not come up.
    pub fn start(n: usize) -> Self {
        assert!(
            Self::installed(),
            "rabbitmq-server is not installed: run scripts/setup.sh"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let cookie = home.join(".erlang.cookie");
        std::fs::write(&cookie, format!("GRIDSENSE{}", free_port())).expect("cookie");
        set_mode(&cookie, 0o400);
        // One plugins file for every node and for rabbitmqctl (which finds
        // the MQTT plugin's commands through it).
        std::fs::write(dir.path().join("enabled_plugins"), "[rabbitmq_mqtt].\n").expect("plugins");
        let mut c = Self {
            dir,
            epmd: free_port(),
            nodes: Vec::new(),
        };
        for i in 0..n {
            let node = c.spawn_node(i);
            c.nodes.push(node);
        }
        for i in 0..n {
            c.wait_up(i);
        }
        for i in 1..n {
            let first = c.nodes[0].name.clone();
            let name = c.nodes[i].name.clone();
            c.ctl(&name, &["stop_app"]);
            c.ctl(&name, &["join_cluster", &first]);
            c.ctl(&name, &["start_app"]);
            c.wait_up(i);
        }
        c
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", self.dir.path().join("home"))
            .env("ERL_EPMD_PORT", self.epmd.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.path().join("enabled_plugins"),
            );
    }

    fn spawn_node(&self, i: usize) -> RabbitNode {
        let (amqp, mqtt, dist) = (free_port(), free_port(), free_port());
        let name = format!(
            "gs-{}-{dist}@localhost",
            (b'a' + u8::try_from(i).unwrap_or(0)) as char
        );
        let base = self.dir.path().join(format!("node{i}"));
        for d in ["mnesia", "log"] {
            std::fs::create_dir_all(base.join(d)).expect("node dir");
        }
        std::fs::write(
            base.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp}\nmqtt.listeners.tcp.default = 127.0.0.1:{mqtt}\n\
                 mqtt.allow_anonymous = true\nloopback_users = none\nlog.console = true\nlog.file = false\n"
            ),
        )
        .expect("conf");
        let out = std::fs::File::create(base.join("out.log")).expect("log");
        let mut cmd = Command::new(Path::new(BIN).join("rabbitmq-server"));
        self.env(&mut cmd);
        let p = |f: &str| base.join(f);
        cmd.env("RABBITMQ_NODENAME", &name)
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_CONFIG_FILE", p("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", p("advanced.config"))
            .env("RABBITMQ_MNESIA_BASE", p("mnesia"))
            .env("RABBITMQ_LOG_BASE", p("log"))
            .env("RABBITMQ_FEATURE_FLAGS_FILE", p("feature_flags"))
            .env("RABBITMQ_PID_FILE", p("pid"))
            .env("RABBITMQ_BASE", &base)
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out);
        let child = cmd.spawn().expect("rabbitmq-server starts");
        RabbitNode {
            name,
            mqtt,
            base,
            child: Some(child),
        }
    }

    /// Runs `rabbitmqctl -n node args` (bounded); panics if it fails.
    fn ctl(&self, node: &str, args: &[&str]) {
        let mut cmd = Command::new(Path::new(BIN).join("rabbitmqctl"));
        self.env(&mut cmd);
        let out = cmd
            .args(["-n", node, "--timeout", "60"])
            .args(args)
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?} on {node}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn wait_up(&self, i: usize) {
        let node = &self.nodes[i];
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut cmd = Command::new(Path::new(BIN).join("rabbitmqctl"));
        self.env(&mut cmd);
        cmd.args(["-n", &node.name, "await_startup", "--timeout", "90"]);
        let ok = cmd.output().is_ok_and(|o| o.status.success());
        while std::net::TcpStream::connect(("127.0.0.1", node.mqtt)).is_err() {
            assert!(
                Instant::now() < deadline,
                "RabbitMQ node {} did not come up (await_startup: {ok}); see {}",
                node.name,
                node.base.join("out.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops node `i` (the Erlang node ends; its clients are cut off).
    pub fn stop_node(&mut self, i: usize) {
        let name = self.nodes[i].name.clone();
        self.ctl(&name, &["stop"]);
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.wait();
        }
    }

    /// The client ids of the MQTT connections node `i` has accepted so
    /// far, in order, from its log (`accepting MQTT connection ...`).
    pub fn accepted_clients(&self, i: usize) -> Vec<String> {
        std::fs::read_to_string(self.nodes[i].base.join("out.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("accepting MQTT connection"))
            .filter_map(|l| l.split("client id: ").nth(1))
            .map(|id| id.split(')').next().unwrap_or(id).to_string())
            .collect()
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in &self.nodes {
                let log = std::fs::read_to_string(n.base.join("out.log")).unwrap_or_default();
                let tail: Vec<&str> = log
                    .lines()
                    .rev()
                    .filter(|l| {
                        l.contains("[error]") || l.contains("[warning]") || l.contains("MQTT")
                    })
                    .take(40)
                    .collect();
                eprintln!("--- {} (last lines) ---", n.name);
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                let mut cmd = Command::new(Path::new(BIN).join("rabbitmqctl"));
                self.env(&mut cmd);
                let _ = cmd
                    .args(["-n", &self.nodes[i].name, "stop", "--timeout", "30"])
                    .output();
            }
            if let Some(mut c) = self.nodes[i].child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        // The port mapper the nodes started on our port, and only that one.
        let _ = Command::new("epmd")
            .args(["-port", &self.epmd.to_string(), "-kill"])
            .env("ERL_EPMD_PORT", self.epmd.to_string())
            .output();
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
