//! Grid work orders and the messages exchanged with the district platform.
//!
//! The gateway publishes an [`OrderUp`] for every new order and every change it
//! makes (escalation, cancellation, a move made on site at its console while
//! the platform was out of reach); the platform answers with
//! [`StatusUpdate`]s. `order_id` is stable (gateway id + sequence), so a
//! redelivered order is recognised upstream and never makes a second ticket.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Message};
use crate::grid::{GridPath, Tier};
use crate::ident::{DeviceId, Ident, Name};
use crate::kinds::{AlarmKind, Severity, Urgency, wire_enum};

/// A work order's id: `{gateway}-{sequence}`.
pub type OrderId = Ident<48>;
/// An alarm's id: `{gateway}-a{sequence}`.
pub type AlarmId = Ident<48>;

wire_enum! {
    /// A work order's life: `new → sent → accepted → dispatched → resolved →
    /// closed`, or `cancelled` (confirmed false alarm) or `rejected` upstream.
    pub enum OrderState {
        /// Created at the gateway, not yet confirmed by the platform.
        New = "new",
        /// The platform confirmed receipt.
        Sent = "sent",
        /// A responder accepted it.
        Accepted = "accepted",
        /// Someone is on the way.
        Dispatched = "dispatched",
        /// The responder reports it handled.
        Resolved = "resolved",
        /// Verified and closed: counts towards the closure rate.
        Closed = "closed",
        /// Withdrawn by the gateway (false alarm confirmed on site).
        Cancelled = "cancelled",
        /// Refused by the platform (with a note saying why).
        Rejected = "rejected",
    }
}

impl OrderState {
    /// Whether nothing more can happen to the order.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled | Self::Rejected)
    }

    /// Whether the order may move from `self` to `next`. Moves never go back,
    /// and a final order stays final.
    pub const fn can_move_to(self, next: Self) -> bool {
        use OrderState::*;
        match (self, next) {
            (a, b) if a.is_final() || a as u8 == b as u8 => false,
            (_, Cancelled | Rejected) => true,
            (New, _) => true,
            (Sent, Accepted | Dispatched | Resolved | Closed) => true,
            (Accepted, Dispatched | Resolved | Closed) => true,
            (Dispatched, Resolved | Closed) => true,
            (Resolved, Closed) => true,
            _ => false,
        }
    }
}

/// Longest free text (location, summary, note) in an order message.
pub const MAX_TEXT: usize = 512;

/// A work order as sent to the district platform on
/// `grid/v1/{district}/{street}/{community}/{cell}/order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderUp {
    /// Stable id; the same order always carries the same id.
    pub order_id: OrderId,
    /// Increases with every change the gateway makes; the platform keeps the highest.
    pub revision: u32,
    /// The gateway that raised it.
    pub gateway: Name,
    /// The compound.
    pub site: Name,
    /// The responsible grid cell and its ancestors.
    pub grid: GridPath,
    /// Who is to handle it now.
    pub tier: Tier,
    /// The alarm behind it.
    pub alarm_id: AlarmId,
    /// What kind of alarm.
    pub kind: AlarmKind,
    /// How bad.
    pub severity: Severity,
    /// How soon.
    pub urgency: Urgency,
    /// The device that raised the alarm.
    pub device: DeviceId,
    /// Human-readable place: building, unit, floor, room.
    pub location: String,
    /// One-line description.
    pub summary: String,
    /// When the alarm was raised, ms since the epoch.
    pub raised_at: u64,
    /// Acknowledge deadline, ms since the epoch.
    pub ack_by: u64,
    /// Close deadline, ms since the epoch.
    pub close_by: u64,
    /// The gateway's view of the state (`new`, or `cancelled` when withdrawn).
    pub state: OrderState,
    /// The last move made on site through the gateway's console while the
    /// platform was out of reach (accepted, dispatched, resolved, closed),
    /// sent as a new revision; absent when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalMove>,
}

/// A move of an order made at the gateway (its console), not by the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalMove {
    /// The state the order moved to.
    pub state: UpstreamState,
    /// When, ms since the epoch.
    pub at: u64,
    /// Who (the responder named at the console, or the console's user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Message for OrderUp {
    const NAME: &'static str = "order";
    const MAX_LEN: usize = 4096;

    fn validate(&self) -> Result<(), DecodeError> {
        let local = self.local.as_ref();
        let texts = [
            ("location", Some(&self.location)),
            ("summary", Some(&self.summary)),
            ("local.by", local.and_then(|l| l.by.as_ref())),
            ("local.note", local.and_then(|l| l.note.as_ref())),
        ];
        for (field, s) in texts.into_iter().filter_map(|(f, s)| Some((f, s?))) {
            if s.len() > MAX_TEXT {
                return Err(DecodeError::range(
                    Self::NAME,
                    field,
                    format_args!("{} bytes, the limit is {MAX_TEXT}", s.len()),
                ));
            }
        }
        if !(self.raised_at <= self.ack_by && self.ack_by <= self.close_by) {
            return Err(DecodeError::range(
                Self::NAME,
                "ack_by",
                format_args!("deadlines must satisfy raised_at <= ack_by <= close_by"),
            ));
        }
        Ok(())
    }
}

wire_enum! {
    /// What the platform reports about an order.
    pub enum UpstreamState {
        /// Stored by the platform: the gateway may drop it from its outbox.
        Received = "received",
        /// A responder accepted it.
        Accepted = "accepted",
        /// Someone is on the way.
        Dispatched = "dispatched",
        /// Handled on site.
        Resolved = "resolved",
        /// Verified and closed.
        Closed = "closed",
        /// Refused (see `note`).
        Rejected = "rejected",
    }
}

impl UpstreamState {
    /// The order state this report moves an order to.
    pub const fn order_state(self) -> OrderState {
        match self {
            Self::Received => OrderState::Sent,
            Self::Accepted => OrderState::Accepted,
            Self::Dispatched => OrderState::Dispatched,
            Self::Resolved => OrderState::Resolved,
            Self::Closed => OrderState::Closed,
            Self::Rejected => OrderState::Rejected,
        }
    }
}

/// The platform's answer on `grid/v1/{district}/{street}/{community}/{cell}/order/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The order.
    pub order_id: OrderId,
    /// Which revision of the order this answers (for `received`).
    #[serde(default)]
    pub revision: u32,
    /// New state.
    pub state: UpstreamState,
    /// When, ms since the epoch.
    pub at: u64,
    /// Who (a responder's name or unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Free text: what was done, or why rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Message for StatusUpdate {
    const NAME: &'static str = "status";
    const MAX_LEN: usize = 2048;

    fn validate(&self) -> Result<(), DecodeError> {
        for (field, s) in [("by", &self.by), ("note", &self.note)] {
            if let Some(s) = s
                && s.len() > MAX_TEXT
            {
                return Err(DecodeError::range(
                    Self::NAME,
                    field,
                    format_args!("{} bytes, the limit is {MAX_TEXT}", s.len()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderState::*;

    #[test]
    fn orders_only_move_forward() {
        assert!(New.can_move_to(Sent));
        assert!(Sent.can_move_to(Closed));
        assert!(!Resolved.can_move_to(Accepted));
        assert!(!Closed.can_move_to(Cancelled));
        assert!(!Sent.can_move_to(Sent));
        assert!(Dispatched.can_move_to(Cancelled));
    }
}
