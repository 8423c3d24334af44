//! The uplink task: a rumqttc client that drains the outbox to the district
//! broker (QoS 1), receives status updates, removes rows on `received`, and
//! resends rows whose receipt does not come.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::{Name, StatusUpdate, Topic, UpstreamState};

use super::config::UplinkConfig;
pub use super::error::UplinkError;
use super::network::{Net, no_delay, poll};
pub use super::stats::UplinkStats;
use crate::store::{Class, Outbox, Row};

/// A row sent and waiting for its receipt.
#[derive(Debug)]
struct Flight {
    revision: u32,
    sent: Instant,
}

/// The uplink: build with [`Uplink::new`], then [`Uplink::run`].
#[derive(Debug)]
pub struct Uplink {
    cfg: UplinkConfig,
    options: MqttOptions,
    outbox: Outbox,
    prefix: String,
    stats: Arc<UplinkStats>,
}

impl Uplink {
    /// Validates `cfg` and loads TLS files; the outbox is drained through
    /// the store's threads.
    ///
    /// # Errors
    /// [`UplinkError`] naming what is wrong.
    pub fn new(cfg: &UplinkConfig, gateway: &Name, outbox: Outbox) -> Result<Self, UplinkError> {
        cfg.validate().map_err(UplinkError::Config)?;
        let client_id = cfg.client_id.clone().unwrap_or_else(|| gateway.to_string());
        let mut o = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
        o.set_keep_alive(Duration::from_secs(cfg.keep_alive_secs));
        o.set_clean_session(true);
        o.set_inflight(u16::try_from(cfg.max_inflight.min(1000)).unwrap_or(1000));
        o.set_request_channel_capacity(cfg.batch * 2);
        o.set_max_packet_size(64 * 1024, 64 * 1024);
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            o.set_credentials(u, p);
        }
        if let Some(tls) = &cfg.tls {
            let tc = super::tls::client_config(tls)?;
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tc)));
        }
        Ok(Self {
            cfg: cfg.clone(),
            options: o,
            outbox,
            prefix: format!("{gateway}-"),
            stats: Arc::default(),
        })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<UplinkStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown`: drains the outbox while connected and forwards
    /// every status update for this gateway's orders to `status`.
    ///
    /// # Errors
    /// [`UplinkError::Db`] if the outbox cannot be read or written.
    pub async fn run(
        self,
        status: mpsc::Sender<StatusUpdate>,
        shutdown: CancellationToken,
    ) -> Result<(), UplinkError> {
        let (client, mut eventloop) = AsyncClient::new(self.options.clone(), self.cfg.batch * 2);
        eventloop.set_network_options(no_delay());
        let (net_tx, net_rx) = mpsc::unbounded_channel();
        let stop = shutdown.child_token();
        // Cancels the network task however this future ends, aborts included:
        // a left-over connection with our client id would fight the next one.
        let _guard = stop.clone().drop_guard();
        let backoff = (self.cfg.reconnect_min_ms, self.cfg.reconnect_max_ms);
        let poller = tokio::spawn(poll(
            eventloop,
            net_tx,
            backoff,
            self.stats.clone(),
            stop.clone(),
        ));
        let mut drain = Drain {
            up: self,
            client,
            status,
            inflight: HashMap::new(),
            keys: HashMap::new(),
            cursor: START,
            connected: false,
            receipts: Vec::new(),
            unremoved: Vec::new(),
            store_failing: false,
        };
        let result = drain.run(net_rx, &shutdown).await;
        let _ = drain.client.try_disconnect();
        stop.cancel();
        let _ = poller.await;
        result
    }
}

/// The cursor before the first row.
const START: (i64, i64) = (-1, 0);

struct Drain {
    up: Uplink,
    client: AsyncClient,
    status: mpsc::Sender<StatusUpdate>,
    /// Rows sent and not yet received, by `seq`.
    inflight: HashMap<i64, Flight>,
    /// In-flight `seq`s by receipt key.
    keys: HashMap<String, Vec<i64>>,
    /// The last `(class, seq)` read; rows after it are next.
    cursor: (i64, i64),
    connected: bool,
    /// `(key, revision)` receipts not yet applied to the table.
    receipts: Vec<(String, u32)>,
    /// Routine rows handed to the client whose removal the store refused.
    unremoved: Vec<i64>,
    /// The store refused the last outbox read or write (logged once).
    store_failing: bool,
}

impl Drain {
    async fn run(
        &mut self,
        mut net: mpsc::UnboundedReceiver<Net>,
        shutdown: &CancellationToken,
    ) -> Result<(), UplinkError> {
        let period = (self.up.cfg.resend_after() / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut tick = tokio::time::interval(period);
        let outbox = self.up.outbox.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                m = net.recv() => match m {
                    Some(m) => {
                        self.on_net(m).await;
                        while let Ok(m) = net.try_recv() {
                            self.on_net(m).await;
                        }
                    }
                    None => return Ok(()),
                },
                c = outbox.woken() => self.rewind_for(c),
                _ = tick.tick() => self.expire(),
            }
            // The store refusing a read or write (a full disk) is tried
            // again at the next round; the uplink never stops for it.
            let r = match self.apply_receipts().await {
                Ok(()) => self.fill().await,
                Err(e) => Err(e),
            };
            self.note_store(r);
        }
    }

    fn note_store(&mut self, r: Result<(), UplinkError>) {
        match r {
            Ok(()) if std::mem::take(&mut self.store_failing) => {
                tracing::info!("uplink reads and writes the outbox again");
            }
            Ok(()) => {}
            Err(e) if !self.store_failing => {
                tracing::error!(error = %e, "uplink cannot use the outbox; retried");
                self.store_failing = true;
            }
            Err(_) => {}
        }
    }

    async fn on_net(&mut self, m: Net) {
        match m {
            Net::Up => {
                self.connected = true;
                self.forget_inflight();
                let filter = self.up.cfg.status_filter.clone();
                if let Err(e) = self.client.subscribe(filter, QoS::AtLeastOnce).await {
                    tracing::error!(error = %e, "uplink cannot subscribe to status");
                }
                tracing::info!(host = %self.up.cfg.host, port = self.up.cfg.port, "uplink connected");
            }
            Net::Down => {
                self.connected = false;
                self.forget_inflight();
            }
            Net::Message(topic, payload) => self.on_status(&topic, &payload).await,
        }
    }

    async fn on_status(&mut self, topic: &str, payload: &[u8]) {
        let stats = &self.up.stats;
        let Ok(Topic::OrderStatus { order, .. }) = Topic::parse(topic) else {
            stats.bad_status.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if !order.as_str().starts_with(&self.up.prefix) {
            stats.foreign_status.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let su = match protocol::codec::decode::<StatusUpdate>(payload) {
            Ok(su) if su.order_id == order => su,
            other => {
                tracing::warn!(%topic, error = ?other.err(), "bad status update");
                stats.bad_status.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if su.state == UpstreamState::Received {
            self.receipts.push((su.order_id.to_string(), su.revision));
        }
        // The order engine may be gone at shutdown; the receipt still counts.
        tracing::debug!(order = %su.order_id, "status forwarded");
        let _ = self.status.send(su).await;
    }

    fn forget_inflight(&mut self) {
        self.inflight.clear();
        self.keys.clear();
        self.cursor = START;
    }

    fn rewind_for(&mut self, class: Option<Class>) {
        if let Some(c) = class.map(|c| c as i64)
            && c < self.cursor.0
        {
            self.cursor = (c - 1, i64::MAX);
        }
    }

    fn expire(&mut self) {
        let limit = self.up.cfg.resend_after();
        let before = self.inflight.len();
        self.inflight.retain(|_, f| f.sent.elapsed() < limit);
        let inflight = &self.inflight;
        self.keys.retain(|_, seqs| {
            seqs.retain(|s| inflight.contains_key(s));
            !seqs.is_empty()
        });
        let expired = before - self.inflight.len();
        if expired > 0 {
            self.up
                .stats
                .resent
                .fetch_add(expired as u64, Ordering::Relaxed);
            self.cursor = START;
        }
    }

    async fn apply_receipts(&mut self) -> Result<(), UplinkError> {
        if self.receipts.is_empty() {
            return Ok(());
        }
        let receipts = std::mem::take(&mut self.receipts);
        let n = match self.up.outbox.ack(receipts.clone()).await {
            Ok(n) => n,
            Err(e) => {
                self.receipts = receipts;
                return Err(e.into());
            }
        };
        self.up.stats.received.fetch_add(n, Ordering::Relaxed);
        for (key, rev) in &receipts {
            let Some(seqs) = self.keys.get_mut(key) else {
                continue;
            };
            seqs.retain(|seq| match self.inflight.get(seq) {
                Some(f) if f.revision <= *rev => {
                    self.inflight.remove(seq);
                    false
                }
                Some(_) => true,
                None => false,
            });
            if seqs.is_empty() {
                self.keys.remove(key);
            }
        }
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), UplinkError> {
        if !self.unremoved.is_empty() {
            let seqs = std::mem::take(&mut self.unremoved);
            if let Err(e) = self.up.outbox.remove(seqs.clone()).await {
                self.unremoved = seqs;
                return Err(e.into());
            }
        }
        let max = self.up.cfg.max_inflight;
        while self.connected && self.inflight.len() < max {
            let want = self.up.cfg.batch.min(max - self.inflight.len());
            let rows = self.up.outbox.fetch(self.cursor, want).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut handed = Vec::new();
            for row in rows {
                self.cursor = (row.class as i64, row.seq);
                if self.inflight.contains_key(&row.seq) {
                    continue;
                }
                let (seq, routine) = (row.seq, row.class == Class::Routine);
                let (key, revision) = (row.key.clone(), row.revision);
                if !self.publish(row).await {
                    return Ok(());
                }
                if routine {
                    handed.push(seq);
                } else {
                    let sent = Instant::now();
                    self.inflight.insert(seq, Flight { revision, sent });
                    self.keys.entry(key).or_default().push(seq);
                }
            }
            if !handed.is_empty()
                && let Err(e) = self.up.outbox.remove(handed.clone()).await
            {
                // Handed already: not handed again (cursor is past them),
                // removed once the store takes writes again.
                self.unremoved = handed;
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn publish(&mut self, row: Row) -> bool {
        match self
            .client
            .publish(row.topic, QoS::AtLeastOnce, false, row.payload)
            .await
        {
            Ok(()) => {
                self.up.stats.published.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "uplink client closed");
                self.connected = false;
                false
            }
        }
    }
}
