//! Where the engine's news goes: the integrator feeds (order state,
//! completion notices, KPIs) and anything else that wants them. Every
//! method must return at once: the order engine never waits on feedback.

use std::sync::Arc;

use protocol::feed::{CellKpi, CompletionNotice, OrderFeed};
use protocol::{Feed, Name};
use tokio::sync::mpsc;

use crate::bus::{Outgoing, Publisher};

/// Receives order changes, completion notices and KPIs. Implementations
/// must not block (queue, or drop and count).
pub trait Feedback: Send + Sync + std::fmt::Debug + 'static {
    /// An order changed (created, moved, carded, escalated, cancelled).
    fn order(&self, feed: &OrderFeed);
    /// An order was closed: tell the reporter.
    fn notice(&self, notice: &CompletionNotice);
    /// A grid cell's KPIs changed.
    fn kpi(&self, kpi: &CellKpi);
}

/// Sends to several [`Feedback`]s in turn.
#[derive(Debug, Clone, Default)]
pub struct Fanout(pub Vec<Arc<dyn Feedback>>);

impl Feedback for Fanout {
    fn order(&self, feed: &OrderFeed) {
        self.0.iter().for_each(|f| f.order(feed));
    }
    fn notice(&self, notice: &CompletionNotice) {
        self.0.iter().for_each(|f| f.notice(notice));
    }
    fn kpi(&self, kpi: &CellKpi) {
        self.0.iter().for_each(|f| f.kpi(kpi));
    }
}

/// Publishes on the integrator topics through the embedded broker:
/// `gs/v1/site/{site}/order/{id}` (retained), `.../notice/{order}` and
/// `.../kpi/{cell}` (retained).
#[derive(Debug, Clone)]
pub struct BusFeedback {
    /// The compound.
    pub site: Name,
    /// The gateway's publisher.
    pub publisher: Publisher,
}

impl Feedback for BusFeedback {
    fn order(&self, f: &OrderFeed) {
        if let Some(m) = Outgoing::feed(&self.site, Feed::Order, f.order.order_id.as_str(), f) {
            self.publisher.feed(m);
        }
    }
    fn notice(&self, n: &CompletionNotice) {
        // Rare and owed to a person: the lane that is never shed.
        if let Some(m) = Outgoing::feed(&self.site, Feed::Notice, n.order_id.as_str(), n) {
            self.publisher.urgent(m);
        }
    }
    fn kpi(&self, k: &CellKpi) {
        if let Some(m) = Outgoing::feed(&self.site, Feed::Kpi, k.cell.as_str(), k) {
            self.publisher.feed(m);
        }
    }
}

/// One piece of feedback, for [`ChannelFeedback`].
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackEvent {
    /// An order changed.
    Order(Box<OrderFeed>),
    /// An order was closed.
    Notice(CompletionNotice),
    /// A cell's KPIs changed.
    Kpi(CellKpi),
}

/// Sends every piece of feedback into an unbounded channel (for an API's
/// live view, the demo's console, or tests). Unbounded because the engine
/// must not wait; the receiver must keep up.
#[derive(Debug, Clone)]
pub struct ChannelFeedback(pub mpsc::UnboundedSender<FeedbackEvent>);

impl Feedback for ChannelFeedback {
    fn order(&self, f: &OrderFeed) {
        let _ = self.0.send(FeedbackEvent::Order(Box::new(f.clone())));
    }
    fn notice(&self, n: &CompletionNotice) {
        let _ = self.0.send(FeedbackEvent::Notice(n.clone()));
    }
    fn kpi(&self, k: &CellKpi) {
        let _ = self.0.send(FeedbackEvent::Kpi(k.clone()));
    }
}
