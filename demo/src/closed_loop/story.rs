//! Tells the demo as it happens: watches the gateway's broker (as admin)
//! and the district broker, and prints one timestamped line per step.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::topic::{DeviceChannel, Feed, Topic, filter};

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
                filter::INTEGRATOR,
                filter::EVENTS,
                filter::COMMANDS,
                filter::COMMAND_ACKS,
            ],
            tx.clone(),
            stop.clone(),
        );
        let mut d = MqttOptions::new("demo-story", district.ip().to_string(), district.port());
        d.set_keep_alive(Duration::from_secs(30));
        listen(
            d,
            &[filter::ORDERS_UP, filter::ORDER_STATUS],
            tx,
            stop.clone(),
        );
        let mut told = HashSet::new();
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
    fn tell(&self, topic: &str, v: &Value, told: &mut HashSet<String>) -> bool {
        let Ok(topic) = Topic::parse(topic) else {
            return false;
        };
        match topic {
            Topic::Device { device, channel } => {
                self.tell_device(device.as_str(), channel, v, told)
            }
            Topic::Site { feed, id, .. } => return self.tell_site(feed, id.as_str(), v, told),
            Topic::OrderUp { .. } => self.tell_order_up(v, told),
            Topic::OrderStatus { .. } => self.tell_status(v),
            Topic::Discovery { .. } => {}
        }
        false
    }

    /// What a node said or was told.
    // A guard that records what was told would hide a side effect in a pattern.
    #[allow(clippy::collapsible_match)]
    fn tell_device(
        &self,
        dev: &str,
        channel: DeviceChannel,
        v: &Value,
        told: &mut HashSet<String>,
    ) {
        let s = |k: &str| v[k].as_str().unwrap_or("?").to_string();
        match channel {
            DeviceChannel::Evt if matches!(v["type"].as_str(), Some("alarm" | "pre-alarm")) => {
                self.say(
                    dev,
                    &format!("{} {} (seq {})", s("type"), s("cause"), v["seq"]),
                );
            }
            DeviceChannel::Cmd => {
                if told.insert(format!("cmd-{dev}-{}", v["id"])) {
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
            DeviceChannel::CmdAck => {
                let ok = if v["ok"] == true { "done" } else { "REFUSED" };
                self.say(
                    dev,
                    &format!("command {} {ok}: the escape door is released", v["id"]),
                );
            }
            _ => {}
        }
    }

    /// A feed for integrators; true for the completion notice (the loop is closed).
    fn tell_site(&self, feed: Feed, id: &str, v: &Value, told: &mut HashSet<String>) -> bool {
        match feed {
            Feed::Alarm => self.tell_alarm(id, v, told),
            Feed::Order => {
                let state = v["state"].as_str().unwrap_or("?");
                if told.insert(format!("order-{id}-{state}")) {
                    self.say(
                        "gateway",
                        &format!(
                            "order {id} is {state} (cards: {} yellow, {} red)",
                            v["yellow_cards"], v["red_cards"]
                        ),
                    );
                }
            }
            Feed::Kpi if v["closed"].as_u64().unwrap_or(0) > 0 => {
                self.say(
                    "kpi",
                    &format!(
                        "grid cell {id}: closure rate {:.0}%",
                        v["closure_rate"].as_f64().unwrap_or(0.0) * 100.0
                    ),
                );
            }
            Feed::Notice => {
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

    /// An order revision on its way to the district platform.
    fn tell_order_up(&self, v: &Value, told: &mut HashSet<String>) {
        let s = |k: &str| v[k].as_str().unwrap_or("?").to_string();
        if told.insert(format!("up-{}-{}", s("order_id"), v["revision"])) {
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

    /// The district platform's answer to an order.
    fn tell_status(&self, v: &Value) {
        let by = v["by"]
            .as_str()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
        self.say(
            "platform",
            &format!(
                "order {}: {}{by}",
                v["order_id"].as_str().unwrap_or("?"),
                v["state"].as_str().unwrap_or("?")
            ),
        );
    }

    fn tell_alarm(&self, id: &str, v: &Value, told: &mut HashSet<String>) {
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
