//! The resident who filed a report and left a phone number is told when its
//! order is closed: `[reports.notify]` names an HTTP endpoint (an SMS
//! gateway's, say) that gets one `POST` per closed report order, JSON:
//! `{"to": phone, "text": …, "order_id", "report_id", "closed_at"}`, with
//! the same timeout, retries and backoff as `[webhook]`. The phone number
//! goes to that endpoint only: never to a log, the audit chain or a feed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::feed::{CellKpi, CompletionNotice, OrderFeed};
use serde::Deserialize;

use super::feedback::Feedback;
use super::webhook::{WebhookConfig, WebhookStats, agent, deliver};
use crate::store::StoreHandle;

/// `[reports]`: what happens to residents' reports beyond the order loop.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSection {
    /// Where completion notices to reporters are posted; none: no notice
    /// beyond the receipt page.
    pub notify: Option<WebhookConfig>,
}

impl ReportsSection {
    /// Checks the section.
    ///
    /// # Errors
    /// Every problem, naming its field.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        match &self.notify {
            Some(n) => n.validate().map_err(|e| {
                e.into_iter()
                    .map(|l| l.replacen("webhook.", "reports.notify.", 1))
                    .collect()
            }),
            None => Ok(()),
        }
    }
}

/// The text a reporter gets, in Chinese and English.
pub fn message(place: &str, n: &CompletionNotice) -> String {
    let note = n.note.as_deref().unwrap_or("");
    format!(
        "【GridSense】您报告的问题（{place}）已办结，工单 {}。{note} / Your report ({place}) was closed, order {}. {note}",
        n.order_id, n.order_id
    )
    .trim_end()
    .to_string()
}

/// A [`Feedback`] that tells reporters their order was closed.
#[derive(Debug, Clone)]
pub struct ReporterNotify {
    tx: flume::Sender<CompletionNotice>,
    stats: Arc<WebhookStats>,
}

impl ReporterNotify {
    /// Validates `cfg` and starts the posting thread, which reads the
    /// report behind each closed order from `store`. Must be called inside
    /// the gateway's runtime (the thread uses it for the store's reads).
    ///
    /// # Errors
    /// The configuration's problems, or the thread's spawn error.
    pub fn spawn(cfg: &WebhookConfig, store: StoreHandle) -> Result<Self, Vec<String>> {
        cfg.validate()?;
        let (tx, rx) = flume::bounded::<CompletionNotice>(cfg.queue);
        let stats = Arc::new(WebhookStats::default());
        let (cfg, s) = (cfg.clone(), stats.clone());
        let rt = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("report-notify".into())
            .spawn(move || {
                let agent = agent(&cfg);
                for n in rx.iter() {
                    let alarm = n.alarm_id.to_string();
                    let found = rt.block_on(store.read(move |st| st.report_for_alarm(&alarm)));
                    let Ok(Some(report)) = found else { continue };
                    let Some(phone) = report.phone else { continue };
                    let body = serde_json::json!({
                        "to": phone,
                        "text": message(&report.place, &n),
                        "order_id": n.order_id,
                        "report_id": report.id,
                        "closed_at": n.closed_at,
                    });
                    let bytes = serde_json::to_vec(&body).unwrap_or_default();
                    deliver(&agent, &cfg, &bytes, n.order_id.as_str(), &s);
                }
            })
            .map_err(|e| vec![format!("report-notify thread: {e}")])?;
        Ok(Self { tx, stats })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<WebhookStats> {
        self.stats.clone()
    }
}

impl Feedback for ReporterNotify {
    fn order(&self, _: &OrderFeed) {}
    fn kpi(&self, _: &CellKpi) {}
    fn notice(&self, n: &CompletionNotice) {
        // Only resident reports have a reporter to tell.
        if n.kind != protocol::AlarmKind::HelpCall {
            return;
        }
        if self.tx.try_send(n.clone()).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(order = %n.order_id, "reporter notice queue full; notice dropped");
        }
    }
}
