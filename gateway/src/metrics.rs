//! `/metrics`: the gateway's counters in the Prometheus text format
//! (OpenMetrics, via `prometheus-client`). Nothing is counted twice: each
//! scrape reads the counters the stages already keep (ingest, rejects, the
//! store writer, the outbox, the publisher, the Modbus source, health) and
//! the latencies the store already records (alarm → linkage acknowledged,
//! alarm → order opened), and encodes them as one snapshot.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::bus::Publisher;
use crate::health::Health;
use crate::ingest::{Ingest, Rejects};
use crate::store::{StoreHandle, StoreStats};

/// Latency samples read per scrape (the newest ones).
const LATENCY_SAMPLES: u32 = 10_000;
/// Histogram bucket bounds, seconds.
const BUCKETS_S: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// Where the counters are read from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Ingest's counters.
    pub ingest: Option<Ingest>,
    /// Rejections by reason.
    pub rejects: Option<Arc<Rejects>>,
    /// The store (writer counters, outbox, latencies).
    pub store: Option<StoreHandle>,
    /// The publisher's counters.
    pub publisher: Option<Publisher>,
    /// The Modbus source's per-device counters.
    pub modbus: Option<modbus::StatsHandle>,
    /// Stage health and analysis's queue.
    pub health: Option<Health>,
    /// Network connections the broker holds now.
    pub broker_connections: Option<Arc<std::sync::atomic::AtomicI64>>,
    /// Messages the broker's subscribers lost to falling behind its log.
    pub broker_skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// One scrape's values.
#[derive(Debug, Default)]
struct Snapshot {
    ingest: Vec<(&'static str, &'static str, u64)>,
    drops: Vec<(&'static str, u64)>,
    rejects: Vec<(&'static str, u64)>,
    store: StoreStats,
    outbox_rows: u64,
    outbox_bytes: u64,
    outbox_oldest_s: f64,
    linkage_ms: Vec<u64>,
    order_ms: Vec<u64>,
    modbus: Vec<modbus::DeviceStats>,
    analysis_queued: u64,
    stages: Vec<crate::health::StageProgress>,
    healthy: bool,
    online: u64,
    devices: u64,
    connections: Option<i64>,
}

impl Sources {
    /// Reads every source now.
    async fn snapshot(&self, now_ms: u64) -> Snapshot {
        let mut s = Snapshot::default();
        if let Some(i) = &self.ingest {
            let st = i.stats();
            let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            s.ingest = vec![
                ("events", "events accepted", g(&st.events)),
                (
                    "duplicates",
                    "repeated events (acknowledged again, stored once)",
                    g(&st.duplicates),
                ),
                ("telemetry", "telemetry messages accepted", g(&st.telemetry)),
                ("acks", "evt/ack messages published", g(&st.acks)),
            ];
            s.drops
                .push(("telemetry_queue_full", g(&st.telemetry_shed)));
        }
        if let Some(r) = &self.rejects {
            s.rejects = r.snapshot();
        }
        if let Some(p) = &self.publisher {
            s.drops
                .push(("feed_lane_full", p.stats().shed.load(Ordering::Relaxed)));
        }
        if let Some(st) = &self.store {
            s.store = st.stats();
            s.drops.push(("store_telemetry_shed", s.store.shed));
            s.drops
                .push(("quarantine_queue_full", s.store.quarantine_dropped));
            let o = st.outbox().stats();
            (s.outbox_rows, s.outbox_bytes) = (o.rows, o.bytes);
            s.drops.push(("outbox_bound", o.shed));
            if let Ok(Some(oldest)) = st.read(|x| x.outbox_oldest_ms()).await {
                s.outbox_oldest_s = now_ms.saturating_sub(oldest) as f64 / 1000.0;
            }
            if let Ok((l, o)) = st.read(|x| x.alarm_latencies(LATENCY_SAMPLES)).await {
                (s.linkage_ms, s.order_ms) = (l, o);
            }
            if let Ok(p) = st.read(|x| x.presence_list()).await {
                s.devices = p.len() as u64;
                s.online = p
                    .iter()
                    .filter(|p| p.status == protocol::Status::Online)
                    .count() as u64;
            }
        }
        if let Some(m) = &self.modbus {
            s.modbus = m.snapshot();
        }
        if let Some(k) = &self.broker_skipped {
            s.drops
                .push(("broker_subscriber_behind", k.load(Ordering::Relaxed)));
        }
        s.connections = self
            .broker_connections
            .as_ref()
            .map(|c| c.load(Ordering::Relaxed).max(0));
        if let Some(h) = &self.health {
            let r = h.check().await;
            s.healthy = r.ok;
            s.analysis_queued = r.analysis_queued as u64;
            s.stages = r.progress;
        }
        s
    }

    /// The text exposition of every metric now.
    pub async fn render(&self, now_ms: u64) -> String {
        let snap = self.snapshot(now_ms).await;
        let mut reg = Registry::with_prefix("gridsense");
        reg.register_collector(Box::new(snap));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn by_label(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &str,
    items: &[(&str, u64)],
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (label, v) in items {
        let labels = [(key, *label)];
        ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn histogram(e: &mut DescriptorEncoder, name: &str, help: &str, ms: &[u64]) -> fmt::Result {
    let mut buckets: Vec<(f64, u64)> = BUCKETS_S.iter().map(|b| (*b, 0)).collect();
    buckets.push((f64::MAX, 0));
    let mut sum = 0.0;
    for v in ms {
        let s = *v as f64 / 1000.0;
        sum += s;
        if let Some(b) = buckets.iter_mut().find(|(le, _)| s <= *le) {
            b.1 += 1;
        }
    }
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(sum, ms.len() as u64, &buckets, None)
}

fn modbus_metrics(e: &mut DescriptorEncoder, devices: &[modbus::DeviceStats]) -> fmt::Result {
    type Field = fn(&modbus::DeviceStats) -> u64;
    let fields: [(&str, &str, Field); 6] = [
        ("modbus_polls", "Modbus polls run", |d| d.polls),
        (
            "modbus_failed_polls",
            "Modbus polls without a valid reply",
            |d| d.failed_polls,
        ),
        (
            "modbus_requests",
            "Modbus requests sent, retries included",
            |d| d.requests,
        ),
        ("modbus_timeouts", "Modbus timeouts", |d| d.timeouts),
        ("modbus_exceptions", "Modbus exceptions answered", |d| {
            d.exceptions
        }),
        (
            "modbus_transport_errors",
            "Modbus transport failures of every kind",
            |d| d.transport_errors(),
        ),
    ];
    for (name, help, f) in fields {
        let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
        for d in devices {
            let line = d.line.to_string();
            let labels = [("line", line.as_str()), ("device", d.device.as_str())];
            ConstCounter::new(f(d)).encode(m.encode_family(&labels)?)?;
        }
    }
    let mut m = e.encode_descriptor(
        "modbus_online",
        "Modbus device answering (1) or not (0)",
        None,
        MetricType::Gauge,
    )?;
    for d in devices {
        let line = d.line.to_string();
        let labels = [("line", line.as_str()), ("device", d.device.as_str())];
        ConstGauge::new(i64::from(d.online.unwrap_or(false))).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn stage_metrics(
    e: &mut DescriptorEncoder,
    stages: &[crate::health::StageProgress],
) -> fmt::Result {
    type Field = fn(&crate::health::StageProgress) -> f64;
    let fields: [(&str, &str, Field); 3] = [
        (
            "stage_idle_seconds",
            "time since the stage last went round its loop or showed life",
            |s| s.idle_ms as f64 / 1000.0,
        ),
        (
            "stage_queued",
            "inputs waiting at the stage's last round",
            |s| s.queued as f64,
        ),
        (
            "stage_stuck",
            "1 when the stage is stuck (as /healthz)",
            |s| f64::from(u8::from(s.stuck)),
        ),
    ];
    for (name, help, f) in fields {
        let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for s in stages {
            ConstGauge::new(f(s)).encode(m.encode_family(&[("stage", s.name)])?)?;
        }
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        for (name, help, v) in &self.ingest {
            counter(&mut e, &format!("ingest_{name}"), help, *v)?;
        }
        by_label(
            &mut e,
            "drops",
            "messages or rows dropped, by reason",
            "reason",
            &self.drops,
        )?;
        by_label(
            &mut e,
            "rejects",
            "messages rejected by ingest or the broker, by reason",
            "reason",
            &self.rejects,
        )?;
        let st = &self.store;
        counter(&mut e, "store_events", "events stored", st.events)?;
        counter(
            &mut e,
            "store_telemetry_rows",
            "telemetry rows stored",
            st.telemetry_rows,
        )?;
        counter(
            &mut e,
            "store_batches",
            "store transactions committed",
            st.batches,
        )?;
        counter(
            &mut e,
            "store_write_errors",
            "store transactions that failed",
            st.write_errors,
        )?;
        gauge(
            &mut e,
            "outbox_rows",
            "rows queued for the district platform",
            self.outbox_rows as f64,
        )?;
        gauge(
            &mut e,
            "outbox_bytes",
            "bytes queued for the district platform",
            self.outbox_bytes as f64,
        )?;
        gauge(
            &mut e,
            "outbox_oldest_age_seconds",
            "age of the oldest queued outbox row",
            self.outbox_oldest_s,
        )?;
        gauge(
            &mut e,
            "queue_depth_analysis",
            "events waiting for analysis",
            self.analysis_queued as f64,
        )?;
        gauge(
            &mut e,
            "healthy",
            "1 when every stage runs and moves (as /healthz)",
            f64::from(u8::from(self.healthy)),
        )?;
        gauge(
            &mut e,
            "devices_online",
            "devices whose broker connection is up (presence)",
            self.online as f64,
        )?;
        if let Some(c) = self.connections {
            gauge(
                &mut e,
                "broker_connections",
                "network connections the embedded broker holds now (TCP, admitted)",
                c as f64,
            )?;
        }
        gauge(
            &mut e,
            "devices_known",
            "devices with a presence record",
            self.devices as f64,
        )?;
        histogram(
            &mut e,
            "alarm_to_linkage_seconds",
            "alarm raised to linkage command acknowledged",
            &self.linkage_ms,
        )?;
        histogram(
            &mut e,
            "alarm_to_order_seconds",
            "alarm raised to work order opened",
            &self.order_ms,
        )?;
        stage_metrics(&mut e, &self.stages)?;
        modbus_metrics(&mut e, &self.modbus)
    }
}
