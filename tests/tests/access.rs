//! Access control end to end: credentials written to the store (as
//! `gridsense access` writes them) reach a real gateway, which computes the
//! door's list and syncs it over MQTT to the real door firmware (the
//! simulator's door: `DoorController` over a `StoredList` in simulated
//! flash); the door decides on its own, its access events come back, are
//! stored, and are published on the integrator feed pseudonymised. A door
//! whose link is lost is one fault with one order, however often its link
//! drops, and its access events count as its traffic. The rush-hour scenario
//! runs the simulator's doors through synced lists with a revocation midway.

use std::collections::BTreeSet;
use std::time::Duration;

use firmware::Node;
use gateway::access::db::{self, EventFilter};
use gateway::access::{Credential, Grant};
use gateway::clock::Clock;
use gridsense_tests::{Client, Compound, WAIT, ack, alarm, event, sweep};
use protocol::DeviceChannel;
use protocol::access::CredKind;
use rumqttc::QoS;
use sim::node::{SimKind, SimNode, Stimulus};

const LOBBY: &str = "lock-b1-u2-lobby";
const STAIR: &str = "lock-b2-stair";
const H: u64 = 3_600_000;
const FAST: &str = "[access]\npoll_ms = 100\nretry_ms = 500\n";

/// A door: the firmware, its MQTT client, its uptime.
struct Door {
    id: &'static str,
    node: SimNode,
    mqtt: Client,
    now: u64,
}

impl Door {
    /// The door's firmware with its wall clock at `epoch_ms`, online.
    async fn connect(c: &Compound, id: &'static str, epoch_ms: u64) -> Self {
        let mut node = SimNode::new(SimKind::Door, 60, epoch_ms);
        node.tick(0);
        let mqtt = c.node_with(id, &["acc/ack"]).await;
        Self {
            id,
            node,
            mqtt,
            now: 0,
        }
    }

    fn status(&self) -> firmware::DoorStatus {
        match &self.node {
            SimNode::Door { fw, .. } => fw.status(),
            _ => unreachable!("a door"),
        }
    }

    async fn publish(&self, out: &firmware::Outbound) {
        for m in out {
            let mut buf = [0u8; 512];
            let n = m.encode(&mut buf).expect("fits");
            let topic = format!("gs/v1/dev/{}/{}", self.id, m.channel());
            self.mqtt
                .client
                .publish(topic, QoS::AtLeastOnce, false, buf[..n].to_vec())
                .await
                .expect("publish");
        }
    }

    /// Handles what arrived within `d`, then ticks once.
    async fn step(&mut self, d: Duration) {
        let got = self.mqtt.collect(d, |_, _| true).await;
        for (topic, v) in got {
            let ch = if topic.ends_with("/acc/ack") {
                DeviceChannel::AccAck
            } else if topic.ends_with("/evt/ack") {
                DeviceChannel::EvtAck
            } else {
                DeviceChannel::Cmd
            };
            let bytes = serde_json::to_vec(&v).expect("json");
            let out = self
                .node
                .receive(self.now, ch, &bytes)
                .expect("a valid payload");
            self.publish(&out).await;
        }
        let out = self.node.tick(self.now);
        self.publish(&out).await;
    }

    /// Runs until the door decides with list `version` (or later).
    async fn synced(&mut self, version: u32) {
        let t = tokio::time::Instant::now();
        while self.status().list < version {
            assert!(
                t.elapsed() < WAIT,
                "{}: list {version} never arrived",
                self.id
            );
            self.step(Duration::from_millis(50)).await;
        }
    }

    /// Presents `line` at the reader at uptime `at`; returns the door's verdict.
    async fn present(&mut self, at: u64, line: &str) -> (u32, u32) {
        self.now = at;
        let before = (self.status().granted, self.status().denied);
        self.node.apply(at, &Stimulus::Card(line.into()));
        self.step(Duration::from_millis(20)).await;
        let after = (self.status().granted, self.status().denied);
        // Let the door relock before the next card.
        self.now += 10_000;
        self.step(Duration::from_millis(20)).await;
        (after.0 - before.0, after.1 - before.1)
    }
}

fn card(id: &str, opens: &str) -> Credential {
    Credential {
        kind: CredKind::Card,
        id: id.into(),
        holder: "Flat 2-201".into(),
        visitor: false,
        valid_from: None,
        valid_until: None,
        revoked_ms: None,
        grants: vec![Grant {
            target: opens.into(),
            window: None,
        }],
    }
}

fn save(c: &Compound, creds: &[Credential]) {
    let mut store = gateway::store::Store::open(&c.cfg.store.path).expect("store");
    db::save_in(&mut store, creds, c.clock.now_ms(), "test").expect("saved");
}

/// The version of `door`'s list once the gateway has computed it with `entries` entries.
async fn list_with(c: &Compound, door: &str, entries: u32) -> u32 {
    let t = tokio::time::Instant::now();
    loop {
        let rows = db::lists_in(&c.store()).expect("lists");
        if let Some(r) = rows.iter().find(|r| r.door == door && r.entries == entries) {
            return r.version;
        }
        assert!(t.elapsed() < WAIT, "{door}: no list of {entries} entries");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn events_stored(c: &Compound, f: EventFilter, n: usize) -> Vec<db::EventRow> {
    let t = tokio::time::Instant::now();
    loop {
        let rows = db::events_in(&c.store(), &f).expect("events");
        if rows.len() >= n || t.elapsed() > WAIT {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_pass_opens_its_door_in_its_period_and_events_reach_store_and_feed() {
    let c = Compound::start(FAST).await;
    let mut it = c.integrator().await;
    let t0 = c.clock.now_ms();
    let t0_s = u32::try_from(t0 / 1_000).expect("s");
    // The pass is issued through the API, the resident's card imported.
    let body = format!(
        r#"{{"holder":"Visitor of 2-201","opens":["{LOBBY}"],"from":"{}","until":"{}","id":"v-17"}}"#,
        t0_s + 3_600,
        t0_s + 3 * 3_600
    );
    let (status, pass) = c.http("POST", "/api/access/visitors", &body).await;
    assert_eq!(
        (status, &pass["credential"]),
        (200, &serde_json::json!("qr:v-17")),
        "{pass}"
    );
    save(&c, &[card("card-0001", "b1")]);
    // The door's clock: two hours after the gateway's, inside the period.
    let mut door = Door::connect(&c, LOBBY, t0 + 2 * H).await;
    let v = list_with(&c, LOBBY, 2).await;
    door.synced(v).await;
    assert_eq!(
        door.present(1_000, "Q:v-17").await,
        (1, 0),
        "granted in its period"
    );
    assert_eq!(
        door.present(2 * H, "Q:v-17").await,
        (0, 1),
        "refused after it"
    );
    assert_eq!(door.present(2 * H + 20_000, "card-0001").await, (1, 0));
    let rows = events_stored(
        &c,
        EventFilter {
            cred: Some("v-17".into()),
            limit: 10,
            ..EventFilter::default()
        },
        2,
    )
    .await;
    let kinds: Vec<_> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.reason.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [("denied", Some("expired")), ("granted", None)],
        "newest first"
    );
    assert!(rows.iter().all(|r| r.door == LOBBY && r.list == v));
    let by_door = events_stored(
        &c,
        EventFilter {
            door: Some(LOBBY.into()),
            limit: 10,
            ..EventFilter::default()
        },
        3,
    )
    .await;
    assert_eq!(by_door.len(), 3);
    let (status, api) = c
        .http("GET", &format!("/api/access/events?door={LOBBY}"), "")
        .await;
    assert_eq!(
        (status, api.as_array().map(Vec::len)),
        (200, Some(3)),
        "{api}"
    );
    let (_, api) = c
        .http("GET", "/api/access/events?cred=v-17&limit=1", "")
        .await;
    assert_eq!(api[0]["reason"], "expired", "{api}");
    // The feed: the same events, the credential replaced by its pseudonym.
    let seen = it
        .collect(Duration::from_secs(1), |t, _| t.contains("/access/"))
        .await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (topic, v) in &seen {
        assert_eq!(topic, &format!("gs/v1/site/lianhua/access/{LOBBY}"));
        let text = v.to_string();
        assert!(
            !text.contains("v-17") && !text.contains("card-0001"),
            "{text}"
        );
        assert_eq!(v["holder"].as_str().map(str::len), Some(16), "{text}");
    }
    assert_eq!(
        seen[0].1["holder"], seen[1].1["holder"],
        "one pass, one pseudonym"
    );
    assert_ne!(seen[0].1["holder"], seen[2].1["holder"]);
    assert_eq!(seen[1].1["reason"], "expired");
    let t = tokio::time::Instant::now();
    while door.node_pending() > 0 {
        assert!(t.elapsed() < WAIT, "access events never acknowledged");
        door.step(Duration::from_millis(50)).await;
    }
}

impl Door {
    fn node_pending(&self) -> usize {
        match &self.node {
            SimNode::Door { fw, .. } => fw.access_log().pending(),
            _ => 0,
        }
    }

    /// The link drops without a DISCONNECT (the broker publishes the last
    /// will); the firmware, with its list, stays.
    fn drop_link(self) -> SimNode {
        let Self { node, mqtt, .. } = self;
        mqtt.kill();
        node
    }

    /// The firmware `node` back on a new connection at uptime `now`.
    async fn back(c: &Compound, id: &'static str, mut node: SimNode, now: u64) -> Self {
        let mqtt = c.node_with(id, &["acc/ack"]).await;
        node.reconnected(now);
        Self {
            id,
            node,
            mqtt,
            now,
        }
    }

    /// Presents `line` at uptime `at` and handles what comes back, without
    /// waiting for the relock (the uptime moves little: no heartbeat falls due).
    async fn swipe(&mut self, at: u64, line: &str) {
        self.now = at;
        self.node.apply(at, &Stimulus::Card(line.into()));
        self.step(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_card_is_refused_after_the_next_sync_even_offline() {
    let c = Compound::start(FAST).await;
    let t0 = c.clock.now_ms();
    save(&c, &[card("card-0001", "b1"), card("card-0002", "b1-u2")]);
    let mut door = Door::connect(&c, LOBBY, t0).await;
    let v = list_with(&c, LOBBY, 2).await;
    door.synced(v).await;
    assert_eq!(door.present(1_000, "card-0002").await, (1, 0));
    let (status, body) = c
        .http(
            "POST",
            "/api/access/revoke",
            r#"{"credential":"card:card-0002"}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = c
        .http(
            "POST",
            "/api/access/revoke",
            r#"{"credential":"card:card-0002"}"#,
        )
        .await;
    assert_eq!(status, 404, "already revoked");
    door.synced(v + 1).await;
    assert_eq!(door.present(30_000, "card-0002").await, (0, 1), "revoked");
    assert_eq!(
        door.present(60_000, "card-0001").await,
        (1, 0),
        "others still open"
    );
    let rows = events_stored(
        &c,
        EventFilter {
            cred: Some("card-0002".into()),
            limit: 10,
            ..EventFilter::default()
        },
        2,
    )
    .await;
    assert_eq!(rows[0].reason.as_deref(), Some("revoked"));
    assert_eq!(rows[0].list, v + 1);
    let lists = db::lists_in(&c.store()).expect("lists");
    let lobby = lists
        .iter()
        .find(|l| l.door == LOBBY)
        .expect("lobby's list");
    assert_eq!(
        (lobby.version, lobby.active),
        (v + 1, v + 1),
        "the door confirmed it"
    );
    // The link goes; the door still refuses, from its stored list.
    let denied = door.status().denied;
    let Door { mut node, mqtt, .. } = door;
    mqtt.kill();
    node.apply(90_000, &Stimulus::Card("card-0002".into()));
    node.tick(90_000);
    let SimNode::Door { fw, .. } = &node else {
        unreachable!("a door")
    };
    assert_eq!(fw.status().denied, denied + 1, "decided offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_cut_by_a_disconnect_resumes_when_the_door_is_back() {
    let c = Compound::start(FAST).await;
    let t0 = c.clock.now_ms();
    let many: Vec<Credential> = (0..400).map(|i| card(&format!("c-{i:04}"), "b1")).collect();
    save(&c, &many);
    let v = list_with(&c, LOBBY, 400).await;
    let mut door = Door::connect(&c, LOBBY, t0).await;
    // Take a few parts, then the link drops.
    for _ in 0..3 {
        door.step(Duration::from_millis(30)).await;
    }
    assert!(door.status().list < v, "not complete yet");
    let node = door.drop_link();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut door = Door::back(&c, LOBBY, node, 1_000).await;
    door.synced(v).await;
    assert_eq!(door.present(2_000, "c-0399").await, (1, 0));
    let stats = &c.gw.as_ref().expect("gw").access;
    let parts = stats.parts.load(std::sync::atomic::Ordering::Relaxed);
    assert!(parts >= 50, "400 credentials are 50 parts, sent {parts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_fire_releases_an_escape_door_for_a_card_nobody_holds() {
    let extra = format!("{FAST}[alarms]\nimmediate_zones = [\"b2-u1-f1\"]\n");
    let c = Compound::start(&extra).await;
    let t0 = c.clock.now_ms();
    save(&c, &[card("card-0001", "b1")]);
    let mut door = Door::connect(&c, STAIR, t0).await;
    let v = list_with(&c, STAIR, 0).await;
    door.synced(v).await;
    assert_eq!(door.present(1_000, "nobody-has-this").await, (0, 1));
    assert_eq!(door.status().mode, firmware::LockMode::Locked);
    let mut it = c.integrator().await;
    let mut smoke = c.node("smoke-b2-101a").await;
    event(
        &smoke,
        "smoke-b2-101a",
        r#"{"seq":1,"type":"alarm","cause":"smoke"}"#,
    )
    .await;
    ack(&mut smoke, 1).await;
    alarm(&mut it, "the fire", |v| {
        v["kind"] == "fire" && v["state"] == "active"
    })
    .await;
    let t = tokio::time::Instant::now();
    while door.status().mode != firmware::LockMode::FireRelease {
        assert!(t.elapsed() < WAIT, "no fire release");
        door.step(Duration::from_millis(50)).await;
    }
    // Nobody holds this card; the door is open for everyone all the same.
    door.node
        .apply(30_000, &Stimulus::Card("nobody-has-this".into()));
    door.node.apply(30_000, &Stimulus::Pass);
    door.now = 30_000;
    door.step(Duration::from_millis(20)).await;
    let s = door.status();
    assert!(s.open && !s.forced, "released, not forced: {s:?}");
    assert_eq!(s.mode, firmware::LockMode::FireRelease);
}

/// Distinct order ids of `device`'s orders, and every kind they carried.
fn orders(c: &Compound, device: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let rows = c.orders_of(device);
    (
        rows.iter().map(|(o, _)| o.clone()).collect(),
        rows.into_iter().map(|(_, k)| k).collect(),
    )
}

/// The kinds of every alarm stored for `device`.
fn alarm_kinds(c: &Compound, device: &str) -> Vec<String> {
    c.store()
        .all_alarms()
        .expect("alarms")
        .iter()
        .filter(|a| a.devices.iter().any(|d| d.as_str() == device))
        .map(|a| a.kind.to_string())
        .collect()
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_whose_link_is_lost_is_one_fault_with_one_order_until_it_is_back() {
    let c = Compound::start(FAST).await;
    let mut it = c.integrator().await;
    let mut watch = c.state_watch(LOBBY).await;
    save(&c, &[card("card-0001", "b1")]);
    let mut door = Door::connect(&c, LOBBY, c.clock.now_ms()).await;
    door.synced(list_with(&c, LOBBY, 1).await).await;
    // The door controller's link is lost: no DISCONNECT, only its last will.
    let node = door.drop_link();
    watch
        .wait_for("last will", |_, v| v["status"] == "offline")
        .await;
    c.advance(Duration::from_secs(31));
    sweep().await;
    let fault = alarm(&mut it, "the door's fault", |v| {
        v["kind"] == "device-offline" && v["devices"][0] == LOBBY && v["state"] == "active"
    })
    .await;
    until("the order", || !c.orders_of(LOBBY).is_empty()).await;
    // Away for ten more minutes (every heartbeat missed, swept every second):
    // still the one fault and the one order.
    for _ in 0..10 {
        c.advance(Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sweep().await;
    let (ids, kinds) = orders(&c, LOBBY);
    assert_eq!(ids.len(), 1, "one order for a lost door: {ids:?}");
    assert_eq!(kinds, BTreeSet::from(["device-offline".to_string()]));
    assert_eq!(alarm_kinds(&c, LOBBY), ["device-offline"]);
    // Back online: the fault clears; the order is still the one.
    let mut door = Door::back(&c, LOBBY, node, 1_000).await;
    let cleared = alarm(&mut it, "the fault cleared", |v| {
        v["kind"] == "device-offline" && v["devices"][0] == LOBBY && v["state"] == "cleared"
    })
    .await;
    assert_eq!(cleared["id"], fault["id"]);
    assert_eq!(orders(&c, LOBBY).0, ids, "no second order");
    // And it decides again, online.
    assert_eq!(door.present(2_000, "card-0001").await, (1, 0));
    assert_eq!(alarm_kinds(&c, LOBBY), ["device-offline"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_door_link_is_one_order_and_its_access_events_keep_it_alive() {
    let c = Compound::start(FAST).await;
    let mut it = c.integrator().await;
    let mut watch = c.state_watch(LOBBY).await;
    save(&c, &[card("card-0001", "b1")]);
    let mut door = Door::connect(&c, LOBBY, c.clock.now_ms()).await;
    door.synced(list_with(&c, LOBBY, 1).await).await;
    // Six drops in twelve seconds, each back within the grace period.
    for k in 0..6 {
        let node = door.drop_link();
        watch
            .wait_for("last will", |_, v| v["status"] == "offline")
            .await;
        c.advance(Duration::from_secs(1));
        door = Door::back(&c, LOBBY, node, 1_000 + k * 100).await;
        watch
            .wait_for("back online", |_, v| v["status"] == "online")
            .await;
        c.advance(Duration::from_secs(1));
    }
    c.advance(Duration::from_secs(31));
    sweep().await;
    let fault = alarm(&mut it, "unstable link", |v| {
        v["kind"] == "unstable-link" && v["devices"][0] == LOBBY
    })
    .await;
    until("the order", || !c.orders_of(LOBBY).is_empty()).await;
    let (ids, kinds) = orders(&c, LOBBY);
    assert_eq!(ids.len(), 1, "one order for six drops: {ids:?}");
    assert_eq!(kinds, BTreeSet::from(["unstable-link".to_string()]));
    // The link holds for `stable_after_s` (300 s). The door sends no
    // heartbeat meanwhile (its uptime hardly moves), only access events: a
    // card every 30 s. They are its traffic, so it is not taken for silent
    // (3 missed heartbeats = 180 s) and its link counts as held.
    for k in 0..11 {
        c.advance(Duration::from_secs(30));
        door.swipe(2_000 + k * 100, "card-0001").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sweep().await;
    let cleared = alarm(&mut it, "link stable", |v| {
        v["kind"] == "unstable-link" && v["devices"][0] == LOBBY && v["state"] == "cleared"
    })
    .await;
    assert_eq!(cleared["id"], fault["id"]);
    assert_eq!(orders(&c, LOBBY).0, ids, "still the one order");
    assert_eq!(
        alarm_kinds(&c, LOBBY),
        ["unstable-link"],
        "no drop was an outage, nor the quiet hold"
    );
    let presence = c.store().presence_list().expect("presence");
    let lobby = presence.iter().find(|r| r.device == LOBBY).expect("row");
    assert_eq!(lobby.status, protocol::Status::Online, "{lobby:?}");
    assert!(door.status().granted >= 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rush_hour_scenario_runs_through_synced_lists_with_a_revocation_midway() {
    let c = Compound::start(FAST).await;
    let gw = c.gw.as_ref().expect("gw");
    // The residents' cards, imported as `gridsense access import` does.
    let csv = gridsense_tests::deploy_dir().join("scenarios/rush-hour-cards.csv");
    let mut store = gateway::store::Store::open(&c.cfg.store.path).expect("store");
    let n = gateway::access::import::import(
        &mut store,
        &csv,
        &gw.registry.get(),
        &gw.profiles,
        c.clock.now_ms(),
        "test",
    )
    .expect("imported");
    drop(store);
    assert_eq!(n, 42);
    let before = list_with(&c, LOBBY, 26).await;
    let summary = c.run_scenario_with_api("rush-hour-cards.toml").await;
    assert_eq!(summary.pending, 0, "{summary}");
    assert_eq!(
        (summary.stats.revocations, summary.stats.revocations_failed),
        (1, 0),
        "{summary}"
    );
    let all = db::events_in(
        &c.store(),
        &EventFilter {
            limit: 10_000,
            ..EventFilter::default()
        },
    )
    .expect("events");
    // Every door's cards came from its synced list: only visitors' cards are unknown.
    for door in [LOBBY, "reader-b1-u2-lobby", STAIR] {
        let granted = all
            .iter()
            .filter(|r| r.door == door && r.kind == "granted")
            .count();
        assert!(granted >= 10, "{door}: {granted} granted");
    }
    for r in all
        .iter()
        .filter(|r| r.reason.as_deref() == Some("unknown"))
    {
        let cred = r.cred.as_deref().unwrap_or_default();
        assert!(cred.starts_with("visitor-"), "a resident refused: {r:?}");
    }
    assert!(
        all.iter()
            .any(|r| r.door == STAIR && r.kind == "forced-open"),
        "the stairwell forced"
    );
    // card-0002 at the lobby: granted before the revocation, refused after the sync.
    let after = db::lists_in(&c.store())
        .expect("lists")
        .into_iter()
        .find(|l| l.door == LOBBY)
        .expect("lobby");
    assert!(
        after.active > before,
        "the revocation reached the lobby: {after:?}"
    );
    let mine: Vec<_> = all
        .iter()
        .filter(|r| r.cred.as_deref() == Some("card-0002"))
        .collect();
    assert!(
        mine.iter()
            .any(|r| r.door == LOBBY && r.kind == "granted" && r.list == before),
        "{mine:?}"
    );
    assert!(
        mine.iter().any(|r| r.door == LOBBY
            && r.reason.as_deref() == Some("revoked")
            && r.list == after.active),
        "{mine:?}"
    );
    for r in mine.iter().filter(|r| r.list > before) {
        assert_eq!(
            r.reason.as_deref(),
            Some("revoked"),
            "opened after the sync: {r:?}"
        );
    }
}
