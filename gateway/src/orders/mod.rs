//! Work orders from alarms (`docs/governance.md`): the "governance" end of
//! "terminal perception → data analysis → governance".
//!
//! - [`config`]: `[orders]`: which alarms become orders, SLA per
//!   severity × urgency, escalation;
//! - [`triage`]: the policy as a pure function of an alarm (轻重缓急);
//! - [`record`]: one order's state, supervision (yellow and red cards,
//!   escalation) and status moves, all pure;
//! - [`kpi`]: closure figures per grid cell;
//! - [`feedback`]: where order changes, completion notices and KPIs go;
//! - [`webhook`]: completion notices to an HTTP endpoint, with retries;
//! - [`reporter`]: the same, to the residents who reported (`[reports.notify]`);
//! - [`engine`]: the task that owns every open order ([`error`]: its errors).

pub mod config;
pub mod engine;
pub mod error;
pub mod feedback;
pub mod kpi;
pub mod record;
pub mod reporter;
pub mod triage;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use config::{EscalationConfig, OrdersConfig, SlaRule};
pub use engine::{EngineStats, OrderEngine};
pub use error::OrdersError;
pub use feedback::{BusFeedback, ChannelFeedback, Fanout, Feedback, FeedbackEvent};
pub use record::OrderRecord;
pub use reporter::{ReporterNotify, ReportsSection};
pub use triage::{Policy, Triage};
pub use webhook::{Webhook, WebhookConfig, WebhookStats};
