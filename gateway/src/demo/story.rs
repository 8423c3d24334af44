//! Tells the demo as it happens: watches the gateway's broker (as admin)
//! and the district broker, and prints one timestamped line per step.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Prints lines with the wall-clock time and the time since the start.
#[derive(Debug, Clone)]
pub(super) struct Story {
    start: Instant,
    epoch_ms: u64,
}

impl Story {
    pub(super) fn new(epoch_ms: u64) -> Self {
        Self {
            start: Instant::now(),
            epoch_ms,
        }
    }

    pub(super) fn say(&self, who: &str, what: &str) {
        let elapsed = self.start.elapsed();
        let ms = self.epoch_ms + u64::try_from(elapsed.as_millis()).unwrap_or(0);
        let (h, m, s, milli) = (
            (ms / 3_600_000) % 24,
            (ms / 60_000) % 60,
            (ms / 1000) % 60,
            ms % 1000,
        );
        println!(
            "{h:02}:{m:02}:{s:02}.{milli:03} UTC  +{:>6.2}s  {who:<10} {what}",
            elapsed.as_secs_f64()
        );
    }

    /// Watches both brokers until the first completion notice (the loop is
    /// closed) or `stop`.
    pub(super) async fn watch(
        &self,
        gateway: SocketAddr,
        admin: &str,
        district: SocketAddr,
        stop: CancellationToken,
    ) -> Result<(), ()> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut g = MqttOptions::new("demo-story", gateway.ip().to_string(), gateway.port());
        g.set_credentials("admin", admin);
        g.set_keep_alive(Duration::from_secs(30));
        listen(
            g,
            &[
                "gs/v1/site/#",
                "gs/v1/dev/+/evt",
                "gs/v1/dev/+/cmd",
                "gs/v1/dev/+/cmd/ack",
            ],
            tx.clone(),
            stop.clone(),
        );
        let mut d = MqttOptions::new("demo-story", district.ip().to_string(), district.port());
        d.set_keep_alive(Duration::from_secs(30));
        listen(d, &["grid/v1/#"], tx, stop.clone());
        let mut told = std::collections::HashSet::new();
        loop {
            let (topic, v) = tokio::select! {
                () = stop.cancelled() => return Err(()),
                m = rx.recv() => m.ok_or(())?,
            };
            if self.tell(&topic, &v, &mut told) {
                return Ok(());
            }
        }
    }

    /// Narrates one message; true when the loop is closed.
    // One arm per kind of message reads better than guards with side effects.
    #[allow(clippy::collapsible_match)]
    fn tell(&self, topic: &str, v: &Value, told: &mut std::collections::HashSet<String>) -> bool {
        let s = |k: &str| v[k].as_str().unwrap_or("?").to_string();
        let levels: Vec<&str> = topic.split('/').collect();
        let once = |told: &mut std::collections::HashSet<String>, key: String| told.insert(key);
        match levels.as_slice() {
            ["gs", "v1", "dev", dev, "evt"]
                if matches!(v["type"].as_str(), Some("alarm" | "pre-alarm")) =>
            {
                self.say(
                    dev,
                    &format!("{} {} (seq {})", s("type"), s("cause"), v["seq"]),
                );
            }
            ["gs", "v1", "dev", dev, "cmd"] => {
                if once(told, format!("cmd-{dev}-{}", v["id"])) {
                    self.say(
                        "linkage",
                        &format!(
                            "{} → {dev} (reason {}), no disk or uplink on the way",
                            s("cmd"),
                            s("reason")
                        ),
                    );
                }
            }
            ["gs", "v1", "dev", dev, "cmd", "ack"] => {
                let ok = if v["ok"] == true { "done" } else { "REFUSED" };
                self.say(
                    dev,
                    &format!("command {} {ok}: the escape door is released", v["id"]),
                );
            }
            ["gs", "v1", "site", _, "alarm", id] => self.tell_alarm(id, v, told),
            ["grid", "v1", .., "order"] => {
                if once(told, format!("up-{}-{}", s("order_id"), v["revision"])) {
                    self.say(
                        "uplink",
                        &format!(
                            "order {} rev {} → district platform, grid cell {} (tier {}), {} / {}",
                            s("order_id"),
                            v["revision"],
                            v["grid"]["cell"].as_str().unwrap_or("?"),
                            s("tier"),
                            s("severity"),
                            s("urgency")
                        ),
                    );
                }
            }
            ["grid", "v1", .., "status"] => {
                let by = v["by"]
                    .as_str()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default();
                self.say(
                    "platform",
                    &format!("order {}: {}{by}", s("order_id"), s("state")),
                );
            }
            ["gs", "v1", "site", _, "order", id] => {
                let state = v["state"].as_str().unwrap_or("?");
                if once(told, format!("order-{id}-{state}")) {
                    self.say(
                        "gateway",
                        &format!(
                            "order {id} is {state} (cards: {} yellow, {} red)",
                            v["yellow_cards"], v["red_cards"]
                        ),
                    );
                }
            }
            ["gs", "v1", "site", _, "kpi", cell] => {
                if v["closed"].as_u64().unwrap_or(0) > 0 {
                    self.say(
                        "kpi",
                        &format!(
                            "grid cell {cell}: closure rate {:.0}%",
                            v["closure_rate"].as_f64().unwrap_or(0.0) * 100.0
                        ),
                    );
                }
            }
            ["gs", "v1", "site", _, "notice", id] => {
                self.say(
                    "feedback",
                    &format!("completion notice for {id} published; the resident is told"),
                );
                return true;
            }
            _ => {}
        }
        false
    }

    fn tell_alarm(&self, id: &str, v: &Value, told: &mut std::collections::HashSet<String>) {
        let state = v["state"].as_str().unwrap_or("?");
        let devices = v["devices"].as_array().map_or(0, Vec::len);
        if !told.insert(format!("alarm-{id}-{state}-{devices}")) {
            return;
        }
        let where_ = v["location"].as_str().unwrap_or("?");
        let line = match state {
            "pre-alarm" => format!(
                "alarm {id}: {} PRE-ALARM at {where_}; waiting for a second detector",
                v["kind"].as_str().unwrap_or("?")
            ),
            "active" => format!(
                "alarm {id}: {} CONFIRMED ({}), {devices} device(s), zone {}",
                v["kind"].as_str().unwrap_or("?"),
                v["confirmed_by"].as_str().unwrap_or("?"),
                v["zone"].as_str().unwrap_or("?")
            ),
            other => format!("alarm {id}: {other}"),
        };
        self.say("alarms", &line);
    }
}

/// Subscribes to `filters` and forwards every publish as JSON.
fn listen(
    o: MqttOptions,
    filters: &[&str],
    tx: mpsc::UnboundedSender<(String, Value)>,
    stop: CancellationToken,
) {
    let (client, mut ev) = AsyncClient::new(o, 64);
    let filters: Vec<String> = filters.iter().map(ToString::to_string).collect();
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                n = ev.poll() => n,
            };
            match next {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for f in &filters {
                        let _ = client.subscribe(f, QoS::AtLeastOnce).await;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                    let _ = tx.send((p.topic, v));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
}
