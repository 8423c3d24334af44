//! Harness for end-to-end tests: a compound (the example site and devices
//! from `deploy/`) behind a real gateway on loopback ports, real MQTT
//! clients for nodes and integrators, and a raw HTTP client for the API.

pub mod centre_sim;
pub mod idle;
pub mod onvif_sim;
pub mod rabbit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gateway::app::Gateway;
use gateway::clock::{ManualClock, SharedClock};
use gateway::config::Config;
use gateway::registry::{self, Profiles};
use gateway::store::Store;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A message seen by a client: `(topic, payload as JSON)`.
pub type Seen = (String, serde_json::Value);

/// A compound with a running gateway.
#[derive(Debug)]
pub struct Compound {
    /// Temporary directory holding the database and configuration.
    pub dir: tempfile::TempDir,
    /// The configuration in force.
    pub cfg: Config,
    /// The running gateway (None while stopped).
    pub gw: Option<Gateway>,
    /// Device id → secret.
    pub secrets: HashMap<String, String>,
    /// Integrator user `it` and its secret.
    pub integrator_secret: String,
    /// The admin password (user `admin`).
    pub admin_secret: String,
    /// The gateway's clock: moved by hand in tests.
    pub clock: Arc<ManualClock>,
    /// A bearer token of the API's admin user `ops` ([`Compound::http`] sends it).
    pub api_token: String,
}

/// Audit records the harness writes before the gateway starts: the API's
/// two users and the admin's token.
pub const SETUP_AUDIT_RECORDS: u64 = 3;

/// The API's operator `guard` (a console login) has this password.
pub const GUARD_PASSWORD: &str = "guard-room-2026";

/// Adds the API's users: `ops` (admin, returns its bearer token) and
/// `guard` (operator, [`GUARD_PASSWORD`]).
fn api_users(store: &mut Store) -> String {
    use gateway::store::{AuthWrite, UserRow};
    for (name, role, password) in [
        ("ops", "admin", "ops-not-for-login"),
        ("guard", "operator", GUARD_PASSWORD),
    ] {
        let user = UserRow {
            name: name.into(),
            role: role.into(),
            hash: gateway::auth::hash_password(password).expect("hash"),
            created_ms: T0,
            disabled: false,
        };
        store
            .write_auth(&AuthWrite::User {
                user,
                by: "test".into(),
            })
            .expect("user");
    }
    let (id, token) = gateway::auth::new_token().expect("token");
    let hash = gateway::auth::token_hash(&token);
    store
        .write_auth(&AuthWrite::Token {
            id,
            user: "ops".into(),
            hash,
            at: T0,
            by: "test".into(),
        })
        .expect("token");
    token
}

/// The repository's `deploy/` directory.
pub fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// A fixed start time: 2026-11-23 00:00 UTC.
pub const T0: u64 = 1_763_856_000_000;

impl Compound {
    /// Imports the example compound and starts a gateway; `extra` is TOML
    /// appended to the configuration (sections other than gateway/mqtt/store/api).
    pub async fn start(extra: &str) -> Self {
        Self::start_as("gw01", extra).await
    }

    /// [`Compound::start`] with gateway id `id` (several compounds on one
    /// district need distinct ids).
    pub async fn start_as(id: &str, extra: &str) -> Self {
        Self::start_sized(id, extra, 0).await
    }

    /// [`Compound::start`] with `idle` more smoke detectors registered
    /// (`idle-00000` …, at the north gate, in their own fire zone), for
    /// benchmarks that hold a compound-sized fleet connected
    /// ([`idle::hold`]); their secrets join [`Compound::secrets`].
    pub async fn start_with_idle(extra: &str, idle: usize) -> Self {
        Self::start_sized("gw01", extra, idle).await
    }

    async fn start_sized(id: &str, extra: &str, idle: usize) -> Self {
        // `RUST_LOG` set: the gateway's log on the terminal, to see what a
        // failing test's gateway did.
        if std::env::var_os("RUST_LOG").is_some() {
            gateway::log::init(gateway::log::LogFormat::Text);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("gw.db");
        let text = format!(
            "[gateway]\nid = \"{id}\"\nsite = \"lianhua\"\n[mqtt]\nlisten = \"127.0.0.1:0\"\nmax_connections = {}\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n{extra}\n",
            idle + 10_000,
            db.display()
        );
        let cfg_path = dir.path().join("gw.toml");
        std::fs::write(&cfg_path, text).expect("write config");
        let cfg = Config::load(&cfg_path).expect("config");
        let mut store = Store::open(&db).expect("store");
        registry::import_sites(&mut store, &deploy_dir().join("site.csv")).expect("sites");
        let creds = dir.path().join("creds.csv");
        let profiles = Profiles::load(None).expect("profiles");
        registry::import_devices(
            &mut store,
            &deploy_dir().join("devices.csv"),
            &profiles,
            &creds,
            T0,
        )
        .expect("devices");
        let idle_creds = dir.path().join("idle.creds.csv");
        if idle > 0 {
            let mut csv = String::from("id,profile,location,fire_zone,escape_route,installed\n");
            for i in 0..idle {
                csv.push_str(&format!("idle-{i:05},smoke,north-gate,idle,,2026-11-01\n"));
            }
            let path = dir.path().join("idle.csv");
            std::fs::write(&path, csv).expect("write idle devices");
            registry::import_devices(&mut store, &path, &profiles, &idle_creds, T0)
                .expect("idle devices");
        }
        let integrator_secret = registry::add_integrator(&mut store, "it", T0).expect("integrator");
        let admin_secret = registry::ensure_admin(&store)
            .expect("admin")
            .expect("new admin");
        let api_token = api_users(&mut store);
        drop(store);
        let mut text = std::fs::read_to_string(&creds).expect("creds");
        if idle > 0 {
            let more = std::fs::read_to_string(&idle_creds).expect("idle creds");
            text.extend(more.lines().skip(1).map(|l| format!("\n{l}")));
        }
        let secrets = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[0].to_string(), c[2].to_string())
            })
            .collect();
        let clock = Arc::new(ManualClock::new(T0));
        let mut c = Self {
            dir,
            cfg,
            gw: None,
            secrets,
            integrator_secret,
            admin_secret,
            clock,
            api_token,
        };
        c.up().await;
        c
    }

    /// Starts (or restarts) the gateway on the same database.
    pub async fn up(&mut self) {
        let clock: SharedClock = self.clock.clone();
        self.gw = Some(
            gateway::app::start(&self.cfg, clock)
                .await
                .expect("gateway starts"),
        );
    }

    /// Stops the gateway gracefully.
    pub async fn down(&mut self) {
        if let Some(gw) = self.gw.take() {
            gw.stop().await;
        }
    }

    fn gw(&self) -> &Gateway {
        self.gw.as_ref().expect("gateway running")
    }

    /// The MQTT address.
    pub fn mqtt(&self) -> std::net::SocketAddr {
        self.gw().mqtt_addr
    }

    /// A read-only view of the database.
    pub fn store(&self) -> Store {
        Store::open_read_only(&self.cfg.store.path).expect("read-only store")
    }

    /// Connects a node with its own credentials and a last will.
    pub async fn node(&self, id: &str) -> Client {
        self.node_with(id, &[]).await
    }

    /// [`Compound::node`], also subscribed to the node's `extra` channels
    /// (`acc/ack` for a door).
    pub async fn node_with(&self, id: &str, extra: &[&str]) -> Client {
        let secret = self
            .secrets
            .get(id)
            .unwrap_or_else(|| panic!("no device {id}"));
        let mut o = MqttOptions::new(id, "127.0.0.1", self.mqtt().port());
        o.set_credentials(id, secret);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_last_will(LastWill::new(
            format!("gs/v1/dev/{id}/state"),
            r#"{"status":"offline"}"#,
            QoS::AtLeastOnce,
            true,
        ));
        let mut filters = vec![
            format!("gs/v1/dev/{id}/cmd"),
            format!("gs/v1/dev/{id}/evt/ack"),
        ];
        filters.extend(extra.iter().map(|ch| format!("gs/v1/dev/{id}/{ch}")));
        let c = Client::connect(o, &filters).await;
        c.publish(
            &format!("gs/v1/dev/{id}/state"),
            r#"{"status":"online","heartbeat_s":60}"#,
            true,
        )
        .await;
        c
    }

    /// Connects an integrator subscribed to every site feed.
    pub async fn integrator(&self) -> Client {
        let mut o = MqttOptions::new("it-1", "127.0.0.1", self.mqtt().port());
        o.set_credentials("it", &self.integrator_secret);
        o.set_keep_alive(Duration::from_secs(5));
        Client::connect(o, &["gs/v1/site/#".to_string()]).await
    }

    /// Connects as admin (may publish anywhere: load generators).
    pub async fn admin(&self, client_id: &str) -> Client {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", self.mqtt().port());
        o.set_credentials("admin", &self.admin_secret);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(1000);
        Client::connect(o, &[]).await
    }

    /// An HTTP request to the operators' API as the admin `ops`: `(status, JSON body)`.
    pub async fn http(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.http_raw(method, path, body).await;
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    /// `GET path` with the admin's token; the body as text.
    pub async fn http_text(&self, path: &str) -> String {
        self.http_raw("GET", path, "").await.1
    }

    async fn http_raw(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.gw().api_addr)
            .await
            .expect("connect api");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api_token,
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let text = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, text.to_string())
    }

    /// The compound's MQTT nodes, with the credentials the registry exported
    /// (wired Modbus devices are polled by the gateway, not simulated).
    pub fn fleet(&self) -> Vec<sim::devices::DeviceSpec> {
        sim::devices::read_csv_file(&self.dir.path().join("creds.csv"))
            .expect("the registry's credentials export")
            .into_iter()
            .filter(|d| !d.profile.as_str().ends_with("-modbus"))
            .collect()
    }

    /// Runs `deploy/scenarios/{file}` with the fleet simulator against this
    /// gateway: its [`Compound::fleet`], seed 1, a 10 s drain, bounded to 60 s. Returns the simulator's summary.
    pub async fn run_scenario(&self, file: &str) -> sim::stats::Summary {
        self.run_scenario_as(file, None).await
    }

    /// [`Compound::run_scenario`] with the gateway's API and the admin
    /// `ops`'s token given to the simulator, for scenarios that act at the
    /// gateway (revocations).
    pub async fn run_scenario_with_api(&self, file: &str) -> sim::stats::Summary {
        let api = sim::gateway_api::GatewayApi {
            addr: self.gw().api_addr.to_string(),
            token: self.api_token.clone(),
        };
        self.run_scenario_as(file, Some(api)).await
    }

    async fn run_scenario_as(
        &self,
        file: &str,
        api: Option<sim::gateway_api::GatewayApi>,
    ) -> sim::stats::Summary {
        let fleet = self.fleet();
        let scenario = sim::scenario::Scenario::load(&deploy_dir().join("scenarios").join(file))
            .expect("scenario");
        let opts = sim::runner::SimOptions {
            broker: self.mqtt().to_string(),
            seed: 1,
            drain: Duration::from_secs(10),
            api,
            ..sim::runner::SimOptions::default()
        };
        let bound = Duration::from_secs_f64(scenario.duration_s) + Duration::from_secs(40);
        let summary = tokio::time::timeout(
            bound,
            sim::runner::run(
                &scenario,
                &fleet,
                &opts,
                tokio_util::sync::CancellationToken::new(),
            ),
        )
        .await
        .expect("bounded")
        .expect("run");
        eprintln!("{summary}");
        summary
    }

    /// The orders for `device` waiting in the outbox (no `[uplink]` is
    /// configured, so they are the orders the district would get):
    /// `(order_id, kind)` of each row.
    pub fn orders_of(&self, device: &str) -> Vec<(String, String)> {
        self.store()
            .outbox_fetch((-1, 0), 1_000)
            .expect("outbox")
            .iter()
            .filter_map(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.payload).ok()?;
                (v["device"] == device)
                    .then(|| Some((v["order_id"].as_str()?.into(), v["kind"].as_str()?.into())))?
            })
            .collect()
    }

    /// An admin client that sees `device`'s state topic (its online state
    /// and its last will), so a test never overtakes the broker.
    pub async fn state_watch(&self, device: &str) -> Client {
        let mut o = MqttOptions::new(format!("watch-{device}"), "127.0.0.1", self.mqtt().port());
        o.set_credentials("admin", &self.admin_secret);
        o.set_keep_alive(Duration::from_secs(30));
        Client::connect(o, &[format!("gs/v1/dev/{device}/state")]).await
    }

    /// Moves the gateway's clock forward.
    pub fn advance(&self, d: Duration) {
        self.clock
            .advance(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }
}

/// An MQTT client whose incoming publishes arrive on a channel.
#[derive(Debug)]
pub struct Client {
    /// The client.
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connects, subscribes to `filters` and waits for the subscription.
    pub async fn connect(o: MqttOptions, filters: &[String]) -> Self {
        let (client, mut ev) = AsyncClient::new(o, 256);
        // Small messages must not wait for Nagle's algorithm (as on a real node).
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        ev.set_network_options(net);
        for f in filters {
            client
                .subscribe(f, QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pending = filters.len();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready = Some(ready_tx);
        let task = tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        pending = pending.saturating_sub(1);
                        if pending == 0 {
                            ready.take().map(|r| r.send(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) if pending == 0 => {
                        ready.take().map(|r| r.send(()));
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let v =
                            serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null);
                        let _ = tx.send((p.topic, v));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, ready_rx)
            .await
            .expect("subscribed in time")
            .expect("subscribed");
        Self { client, rx, task }
    }

    /// Publishes (QoS 1).
    pub async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }

    /// Waits for a message matching `f`, skipping others.
    pub async fn wait_for(
        &mut self,
        what: &str,
        f: impl Fn(&str, &serde_json::Value) -> bool,
    ) -> Seen {
        let r = tokio::time::timeout(WAIT, async {
            loop {
                let (t, v) = self.rx.recv().await.expect("client alive");
                if f(&t, &v) {
                    return (t, v);
                }
            }
        })
        .await;
        r.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits for a command on the node's `cmd` topic (`what` names it in the
    /// timeout's message), skipping the allow-list chunks a door also gets
    /// there (`list`, no `cmd`); returns its payload.
    pub async fn command(&mut self, what: &str) -> serde_json::Value {
        self.wait_for(what, |t, v| t.ends_with("/cmd") && v.get("cmd").is_some())
            .await
            .1
    }

    /// Collects what arrives within `d` that matches `f`.
    pub async fn collect(
        &mut self,
        d: Duration,
        f: impl Fn(&str, &serde_json::Value) -> bool,
    ) -> Vec<Seen> {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(d, async {
            while let Some((t, v)) = self.rx.recv().await {
                if f(&t, &v) {
                    out.push((t, v));
                }
            }
        })
        .await;
        out
    }

    /// Drops the connection without DISCONNECT (the broker publishes the last will).
    pub fn kill(self) {
        self.task.abort();
    }
}

/// Lets presence's sweep (every second, real time) run on the moved clock.
pub async fn sweep() {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
}

/// A node's event on its `evt` topic.
pub async fn event(node: &Client, id: &str, payload: &str) {
    node.publish(&format!("gs/v1/dev/{id}/evt"), payload, false)
        .await;
}

/// Waits for the gateway's `evt/ack` of `seq`.
pub async fn ack(node: &mut Client, seq: u64) {
    node.wait_for(&format!("evt/ack {seq}"), |t, v| {
        t.ends_with("/evt/ack") && v["seq"] == seq
    })
    .await;
}

/// Waits for the retained alarm feed matching `f`.
pub async fn alarm(
    it: &mut Client,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    it.wait_for(what, |t, v| t.contains("/alarm/") && f(v))
        .await
        .1
}

/// The `p` quantile (0..=1) of `sorted` by nearest rank on the index
/// `(len - 1) · p`, for the benchmarks' latency lines.
///
/// # Panics
/// `sorted` is empty.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}
