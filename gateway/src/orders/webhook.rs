//! Completion notices to an HTTP endpoint (`POST`, JSON), retried with
//! exponential backoff on a thread of its own, so a slow or dead endpoint
//! never holds up the order engine.
//!
//! ureq (blocking, small, rustls with the ring provider) on a dedicated
//! thread: one POST per closed order needs no async HTTP stack.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::feed::{CellKpi, CompletionNotice, OrderFeed};
use serde::Deserialize;

use super::feedback::Feedback;

/// `[webhook]`: where completion notices are posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL that receives a `POST` of each notice.
    pub url: String,
    /// Timeout of one attempt, ms.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Attempts per notice before it is given up (counted).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait after the first failure, ms; doubles per attempt.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Longest wait between attempts, ms.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Notices waiting to be posted; more are dropped (counted).
    #[serde(default = "default_queue")]
    pub queue: usize,
}

const fn default_timeout() -> u64 {
    5_000
}
const fn default_attempts() -> u32 {
    8
}
const fn default_backoff() -> u64 {
    500
}
const fn default_backoff_max() -> u64 {
    60_000
}
const fn default_queue() -> usize {
    1_024
}

impl WebhookConfig {
    /// Defaults for `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            timeout_ms: default_timeout(),
            max_attempts: default_attempts(),
            backoff_ms: default_backoff(),
            backoff_max_ms: default_backoff_max(),
            queue: default_queue(),
        }
    }

    /// Checks the section.
    ///
    /// # Errors
    /// Every problem, naming its field.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            e.push(format!(
                "webhook.url: must start with http:// or https://, got {:?}",
                self.url
            ));
        }
        if self.max_attempts == 0 {
            e.push("webhook.max_attempts: must be at least 1, got 0".into());
        }
        if self.queue == 0 {
            e.push("webhook.queue: must be at least 1, got 0".into());
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

/// Counters of the webhook.
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Notices the endpoint accepted (2xx).
    pub delivered: AtomicU64,
    /// Failed attempts (each retried until `max_attempts`).
    pub failed_attempts: AtomicU64,
    /// Notices given up after `max_attempts`.
    pub given_up: AtomicU64,
    /// Notices dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// The webhook sender: a [`Feedback`] that posts completion notices.
#[derive(Debug, Clone)]
pub struct Webhook {
    tx: flume::Sender<CompletionNotice>,
    stats: Arc<WebhookStats>,
}

impl Webhook {
    /// Validates `cfg` and starts the posting thread; it ends when every
    /// clone of the returned handle is dropped.
    ///
    /// # Errors
    /// The configuration's problems, or the thread's spawn error.
    pub fn spawn(cfg: &WebhookConfig) -> Result<Self, Vec<String>> {
        cfg.validate()?;
        let (tx, rx) = flume::bounded(cfg.queue);
        let stats = Arc::new(WebhookStats::default());
        let (cfg, s) = (cfg.clone(), stats.clone());
        std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || worker(&cfg, &rx, &s))
            .map_err(|e| vec![format!("webhook thread: {e}")])?;
        Ok(Self { tx, stats })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<WebhookStats> {
        self.stats.clone()
    }
}

impl Feedback for Webhook {
    fn order(&self, _: &OrderFeed) {}
    fn kpi(&self, _: &CellKpi) {}
    fn notice(&self, n: &CompletionNotice) {
        if self.tx.try_send(n.clone()).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(order = %n.order_id, "webhook queue full; notice dropped");
        }
    }
}

fn worker(cfg: &WebhookConfig, rx: &flume::Receiver<CompletionNotice>, stats: &WebhookStats) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .build();
    for notice in rx.iter() {
        let body = protocol::codec::encode(&notice);
        let mut wait = cfg.backoff_ms;
        for attempt in 1..=cfg.max_attempts {
            let result = agent
                .post(&cfg.url)
                .set("content-type", "application/json")
                .send_bytes(&body);
            match result {
                Ok(_) => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(order = %notice.order_id, attempt, error = %e, "webhook failed");
                    if attempt == cfg.max_attempts {
                        stats.given_up.fetch_add(1, Ordering::Relaxed);
                    } else {
                        std::thread::sleep(Duration::from_millis(wait));
                        wait = (wait * 2).min(cfg.backoff_max_ms);
                    }
                }
            }
        }
    }
}
