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
    let agent = agent(cfg);
    for notice in rx.iter() {
        let body = protocol::codec::encode(&notice);
        deliver(&agent, cfg, &body, notice.order_id.as_str(), stats);
    }
}

/// An HTTP agent with `cfg`'s timeout.
pub(super) fn agent(cfg: &WebhookConfig) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .build()
}

/// POSTs `body` (JSON) to `cfg.url` until a 2xx or `max_attempts`, waiting
/// with exponential backoff between attempts; counts in `stats`.
pub(super) fn deliver(
    agent: &ureq::Agent,
    cfg: &WebhookConfig,
    body: &[u8],
    order: &str,
    stats: &WebhookStats,
) {
    let mut wait = cfg.backoff_ms;
    for attempt in 1..=cfg.max_attempts {
        let result = agent
            .post(&cfg.url)
            .set("content-type", "application/json")
            .send_bytes(body);
        match result {
            Ok(_) => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(order, attempt, error = %e, url = %cfg.url, "notice not posted");
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::*;

    /// A one-thread HTTP endpoint answering 503 once, then 200; returns the bodies it got.
    fn endpoint() -> (String, std::sync::mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/notice", l.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (i, s) in l.incoming().take(2).enumerate() {
                let mut s = BufReader::new(s.expect("conn"));
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    s.read_line(&mut line).expect("header");
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().expect("length");
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                s.read_exact(&mut body).expect("body");
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
                let status = if i == 0 {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let reply =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                s.get_mut().write_all(reply.as_bytes()).expect("reply");
            }
        });
        (url, rx)
    }

    #[test]
    fn a_failed_post_is_retried_after_a_backoff() {
        let (url, bodies) = endpoint();
        let cfg = WebhookConfig {
            backoff_ms: 20,
            ..WebhookConfig::new(&url)
        };
        let hook = Webhook::spawn(&cfg).expect("spawn");
        let n: CompletionNotice = serde_json::from_str(
            r#"{"order_id":"gw01-1","alarm_id":"gw01-a1","site":"s","cell":"g07","kind":"fire",
                "location":"B3","summary":"fire","opened_at":1,"closed_at":2}"#,
        )
        .expect("notice");
        let started = Instant::now();
        hook.notice(&n);
        for _ in 0..2 {
            let body = bodies.recv_timeout(Duration::from_secs(5)).expect("post");
            assert!(body.contains("\"order_id\":\"gw01-1\""), "{body}");
        }
        let stats = hook.stats();
        while stats.delivered.load(Ordering::Relaxed) == 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "not delivered");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stats.failed_attempts.load(Ordering::Relaxed), 1);
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "waited the backoff"
        );
        assert!(WebhookConfig::new("ftp://x").validate().is_err());
    }
}
