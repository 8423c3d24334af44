//! `gridsense-bench --access`: access control at rush hour against a real
//! gateway (in this process, on loopback, a real SQLite file).
//!
//! 30 doors (the door firmware of the simulator: `DoorController` over its
//! `StoredList`, each on its own MQTT connection), 5,000 credentials that
//! open every door. Measured:
//! - **sync**: from the credentials' commit to the last door confirming
//!   its list (5,000 entries = 625 parts per door, 30 doors);
//! - **card → unlock** at the node: from a card on the reader line to the
//!   lock relay released (the door polls its reader every `tick_ms`);
//! - **event → stored**: from the door publishing its access event to the
//!   gateway's acknowledgement, which it sends after the row is committed
//!   (the access stage's event task, apart from its list task);
//! - a revocation of 50 cards mid-run and the time until every door has it.
//!
//! GB 51348-2019 §14.4 asks card → lock ≤ 2 s and event → host ≤ 5 s.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use firmware::Node;
use gateway::access::db;
use gateway::access::{Credential, Grant};
use gateway::clock::{Clock, SystemClock};
use protocol::DeviceChannel;
use protocol::access::CredKind;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim::node::{SimKind, SimNode, Stimulus};
use tokio::sync::mpsc;

/// What the run is asked to do.
#[derive(Debug, Clone)]
pub(crate) struct AccessArgs {
    /// Doors.
    pub(crate) doors: usize,
    /// Credentials on every door's list.
    pub(crate) credentials: usize,
    /// Cards per door per minute.
    pub(crate) per_min: u32,
    /// Minutes of rush hour.
    pub(crate) minutes: u32,
    /// How often a door polls its reader and drives its lock, ms.
    pub(crate) tick_ms: u64,
}

fn setup(dir: &Path, doors: usize) -> std::io::Result<gateway::config::Config> {
    let mut site =
        String::from("id,parent,level,name,city,district,street,community,cell,fire_zone\n");
    site.push_str("b1,,building,Building 1,foshan,chancheng,zumiao,lianhua,g01,\n");
    site.push_str("b1-u1,b1,unit,Unit 1,,,,,,\n");
    let mut devs = String::from("id,profile,location,fire_zone,escape_route,installed\n");
    for i in 1..=doors {
        devs.push_str(&format!("door-{i:04},lock,b1-u1,,no,2026-01-01\n"));
    }
    std::fs::write(dir.join("site.csv"), site)?;
    std::fs::write(dir.join("devices.csv"), devs)?;
    let db_path = dir.join("gw.db");
    let text = format!(
        "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n[mqtt]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n[access]\npoll_ms = 200\nretry_ms = 2000\nwindow = 16\n",
        db_path.display()
    );
    let cfg_path = dir.join("gw.toml");
    std::fs::write(&cfg_path, text)?;
    let cfg = gateway::config::Config::load(&cfg_path).map_err(std::io::Error::other)?;
    let mut store = gateway::store::Store::open(&db_path).map_err(std::io::Error::other)?;
    let profiles =
        gateway::registry::Profiles::load(None).map_err(|e| std::io::Error::other(e.join("; ")))?;
    gateway::registry::import_sites(&mut store, &dir.join("site.csv"))
        .map_err(std::io::Error::other)?;
    gateway::registry::import_devices(
        &mut store,
        &dir.join("devices.csv"),
        &profiles,
        &dir.join("creds.csv"),
        SystemClock.now_ms(),
    )
    .map_err(std::io::Error::other)?;
    Ok(cfg)
}

fn secrets(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    Ok(std::fs::read_to_string(dir.join("creds.csv"))?
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[2].to_string())
        })
        .collect())
}

fn card(i: usize) -> Credential {
    Credential {
        kind: CredKind::Card,
        id: format!("r-{i:05}"),
        holder: format!("Flat {}", i / 3),
        visitor: false,
        valid_from: None,
        valid_until: None,
        revoked_ms: None,
        grants: vec![Grant {
            target: "b1".into(),
            window: None,
        }],
    }
}

/// What the doors report.
#[derive(Debug)]
enum Sample {
    /// A card released the lock after this long.
    Unlock(Duration),
    /// A card was refused (revoked or unknown).
    Refused,
    /// An access event was acknowledged (stored) this long after its publish.
    Stored(Duration),
}

/// One door's task: its firmware, its MQTT link, its card queue.
struct DoorTask {
    id: String,
    node: SimNode,
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    cards: mpsc::UnboundedReceiver<u32>,
    out: mpsc::UnboundedSender<Sample>,
    list: Arc<AtomicU32>,
    tick_ms: u64,
}

async fn connect(
    id: &str,
    secret: &str,
    port: u16,
) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_credentials(id, secret);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(100);
    let (client, mut ev) = AsyncClient::new(o, 1_024);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send((p.topic, p.payload.to_vec())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    for ch in ["cmd", "evt/ack", "acc/ack"] {
        let _ = client
            .subscribe(format!("gs/v1/dev/{id}/{ch}"), QoS::AtLeastOnce)
            .await;
    }
    let _ = client
        .publish(
            format!("gs/v1/dev/{id}/state"),
            QoS::AtLeastOnce,
            true,
            br#"{"status":"online","heartbeat_s":60}"#.to_vec(),
        )
        .await;
    (client, rx)
}

impl DoorTask {
    fn status(&self) -> firmware::DoorStatus {
        match &self.node {
            SimNode::Door { fw, .. } => fw.status(),
            _ => firmware::DoorStatus::default(),
        }
    }

    async fn publish(&self, out: &firmware::Outbound, sent: &mut HashMap<u32, Instant>) {
        for m in out {
            let mut buf = [0u8; 512];
            let Ok(n) = m.encode(&mut buf) else { continue };
            if let firmware::Outgoing::Access(a) = m {
                sent.entry(a.seq).or_insert_with(Instant::now);
            }
            let topic = format!("gs/v1/dev/{}/{}", self.id, m.channel());
            let _ = self
                .client
                .publish(topic, QoS::AtLeastOnce, false, buf[..n].to_vec())
                .await;
        }
    }

    async fn run(mut self, start: Instant) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.tick_ms));
        let mut sent: HashMap<u32, Instant> = HashMap::new();
        let mut waiting: Option<Instant> = None;
        let mut granted = 0;
        loop {
            tokio::select! {
                m = self.incoming.recv() => {
                    let Some((topic, payload)) = m else { return };
                    let ch = if topic.ends_with("/acc/ack") {
                        DeviceChannel::AccAck
                    } else if topic.ends_with("/evt/ack") {
                        DeviceChannel::EvtAck
                    } else {
                        DeviceChannel::Cmd
                    };
                    if ch == DeviceChannel::AccAck
                        && let Ok(a) = protocol::codec::decode::<protocol::EvtAck>(&payload)
                        && let Some(t) = sent.remove(&a.seq)
                    {
                        let _ = self.out.send(Sample::Stored(t.elapsed()));
                    }
                    let now = ms(start);
                    if let Ok(out) = self.node.receive(now, ch, &payload) {
                        self.publish(&out, &mut sent).await;
                    }
                    self.list.store(self.status().list, Ordering::Relaxed);
                }
                c = self.cards.recv(), if waiting.is_none() => {
                    let Some(pick) = c else { return };
                    self.node.apply(ms(start), &Stimulus::SyncedCard(pick));
                    waiting = Some(Instant::now());
                }
                _ = tick.tick() => {
                    let now = ms(start);
                    let out = self.node.tick(now);
                    let s = self.status();
                    if let Some(t) = waiting.take() {
                        if s.granted > granted {
                            let _ = self.out.send(Sample::Unlock(t.elapsed()));
                        } else {
                            let _ = self.out.send(Sample::Refused);
                        }
                        granted = s.granted;
                    }
                    self.publish(&out, &mut sent).await;
                }
            }
        }
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), as printed there.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn all_synced(lists: &[Arc<AtomicU32>], version: u32, bound: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < bound {
        if lists.iter().all(|l| l.load(Ordering::Relaxed) >= version) {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn door_version(cfg: &gateway::config::Config, door: &str, entries: u32) -> Option<u32> {
    let store = gateway::store::Store::open_read_only(&cfg.store.path).ok()?;
    db::lists_in(&store)
        .ok()?
        .into_iter()
        .find(|r| r.door == door && r.entries == entries)
        .map(|r| r.version)
}

/// Runs the access benchmark; returns the Markdown section.
pub(crate) async fn run(a: &AccessArgs) -> std::io::Result<String> {
    let load_start = load();
    let dir = tempfile::tempdir()?;
    let cfg = setup(dir.path(), a.doors)?;
    let gw = gateway::app::start(&cfg, Arc::new(SystemClock))
        .await
        .map_err(std::io::Error::other)?;
    let port = gw.mqtt_addr.port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let mut cards = Vec::new();
    let mut lists = Vec::new();
    for (id, secret) in secrets(dir.path())? {
        let (client, incoming) = connect(&id, &secret, port).await;
        let (ctx, crx) = mpsc::unbounded_channel();
        let list = Arc::new(AtomicU32::new(0));
        let mut node = SimNode::new(SimKind::Door, 60, SystemClock.now_ms());
        node.tick(0);
        let t = DoorTask {
            id,
            node,
            client,
            incoming,
            cards: crx,
            out: tx.clone(),
            list: list.clone(),
            tick_ms: a.tick_ms,
        };
        tokio::spawn(t.run(start));
        cards.push(ctx);
        lists.push(list);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Sync: 5,000 credentials to every door.
    let creds: Vec<Credential> = (0..a.credentials).map(card).collect();
    let mut store = gateway::store::Store::open(&cfg.store.path).map_err(std::io::Error::other)?;
    let t_sync = Instant::now();
    db::save_in(&mut store, &creds, SystemClock.now_ms(), "bench")
        .map_err(std::io::Error::other)?;
    let n = u32::try_from(a.credentials).unwrap_or(u32::MAX);
    let mut version = None;
    while version.is_none() && t_sync.elapsed() < Duration::from_secs(30) {
        version = door_version(&cfg, "door-0001", n);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let version = version.ok_or_else(|| std::io::Error::other("the list was never computed"))?;
    let synced = all_synced(&lists, version, Duration::from_secs(600)).await;
    let sync_s = t_sync.elapsed().as_secs_f64();
    eprintln!(
        "access: {} credentials to {} doors synced in {sync_s:.1} s ({synced:?} after computed)",
        a.credentials, a.doors
    );
    // Rush hour: cards from the synced list at every door, a revocation midway.
    let total = a.per_min * a.minutes;
    let gap = Duration::from_millis(60_000 / u64::from(a.per_min.max(1)));
    let mut rng = 0x2545_f491_u32;
    let mut revoked_at = None;
    let mut revocation_s = None;
    for k in 0..total {
        for c in &cards {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            let _ = c.send(rng);
        }
        if k == total / 2 {
            let t = Instant::now();
            for i in 0..50 {
                let _ = db::revoke_in(
                    &mut store,
                    CredKind::Card,
                    &format!("r-{:05}", i * 97),
                    SystemClock.now_ms(),
                    "bench",
                );
            }
            revoked_at = Some(t);
        }
        if let (Some(t), None) = (revoked_at, revocation_s)
            && lists.iter().all(|l| l.load(Ordering::Relaxed) > version)
        {
            revocation_s = Some(t.elapsed().as_secs_f64());
        }
        tokio::time::sleep(gap).await;
    }
    if let (Some(t), None) = (revoked_at, revocation_s) {
        revocation_s = all_synced(&lists, version + 1, Duration::from_secs(120))
            .await
            .map(|_| t.elapsed().as_secs_f64());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut unlock, mut stored, mut refused) = (Vec::new(), Vec::new(), 0);
    while let Ok(s) = rx.try_recv() {
        match s {
            Sample::Unlock(d) => unlock.push(d),
            Sample::Stored(d) => stored.push(d),
            Sample::Refused => refused += 1,
        }
    }
    let rows = db::events_in(
        &gateway::store::Store::open_read_only(&cfg.store.path).map_err(std::io::Error::other)?,
        &db::EventFilter {
            limit: u32::MAX,
            ..db::EventFilter::default()
        },
    )
    .map(|r| r.len())
    .unwrap_or(0);
    let f = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1_000.0);
    let section = format!(
        "## Access control at rush hour\n\n\
         `gridsense-bench --access` (in-process gateway, loopback MQTT, SQLite WAL; {doors} door firmwares \
         polling their readers every {tick} ms; {cr} credentials on every door; {pm} cards per door per minute \
         for {mins} min = {cards} cards; 50 cards revoked midway). Machine: 2 shared cores, load average \
         (1, 5, 15 min) {load_start} at the start and {load_end} at the end.\n\n\
         | measure | p50 | p99 | GB 51348 §14.4 |\n|---|---|---|---|\n\
         | card → unlock at the node ({nu} grants) | {u50} | {u99} | ≤ 2 s |\n\
         | access event → stored at the gateway ({ns} events) | {s50} | {s99} | ≤ 5 s |\n\n\
         | sync | time |\n|---|---|\n\
         | {cr} credentials to {doors} doors ({parts} parts each), commit → last door confirmed | {sync_s:.1} s ({after} after the lists were computed) |\n\
         | 50 revocations mid-run, commit → every door decides with the new list | {rev} |\n\n\
         Refused cards (revoked, presented after the revocation): {refused}; events stored: {rows}.\n",
        doors = a.doors,
        tick = a.tick_ms,
        cr = a.credentials,
        pm = a.per_min,
        mins = a.minutes,
        cards = total as usize * a.doors,
        nu = unlock.len(),
        u50 = f(pct(&mut unlock, 0.5)),
        u99 = f(pct(&mut unlock, 0.99)),
        ns = stored.len(),
        s50 = f(pct(&mut stored, 0.5)),
        s99 = f(pct(&mut stored, 0.99)),
        parts = a.credentials.div_ceil(protocol::access::CHUNK_ENTRIES),
        after = synced.map_or("not within 600 s".to_string(), |d| format!(
            "{:.1} s",
            d.as_secs_f64()
        )),
        rev = revocation_s.map_or("not within 120 s".to_string(), |s| format!("{s:.1} s")),
        load_end = load(),
    );
    gw.stop().await;
    Ok(section)
}
