//! One order: what was sent upstream, where it stands, and its supervision
//! record. Every rule here is a pure function of the record and the time.

use protocol::feed::{AlarmFeed, AlarmState, CompletionNotice, OrderFeed};
use protocol::order::MAX_TEXT;
use protocol::{DeviceId, OrderState, OrderUp, StatusUpdate, Tier, UpstreamState};
use serde::{Deserialize, Serialize};

use super::config::EscalationConfig;

/// An order as the engine keeps it (stored as JSON in `orders.body`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The last revision sent upstream.
    pub up: OrderUp,
    /// Where it stands, as the platform reported.
    pub state: OrderState,
    /// Opened, ms (engine clock): deadlines and KPIs count from here.
    pub opened_at: u64,
    /// First acceptance, ms; switches supervision to the close deadline.
    pub acked_at: Option<u64>,
    /// Final state reached, ms.
    pub ended_at: Option<u64>,
    /// Yellow cards given.
    pub yellow_cards: u32,
    /// Red cards given.
    pub red_cards: u32,
    /// Deadlines of the current phase already passed (0: none yet).
    pub stage: u32,
    /// The alarm's devices, to notice when more join.
    pub devices: Vec<DeviceId>,
}

/// A supervision step taken at a missed deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// First missed deadline: a warning.
    Yellow,
    /// Missed again: a red card, and the tier the order moved to, if it did.
    Red(Option<Tier>),
}

/// What a status update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// The order moved from one state to another.
    To(OrderState, OrderState),
    /// A receipt for an order already past `sent`: nothing to do.
    Receipt,
    /// A stale or backward status: ignored.
    Stale,
}

/// Cuts `s` to [`MAX_TEXT`] bytes at a character boundary.
pub fn clip(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The one-line description of an alarm.
pub fn summary(a: &AlarmFeed) -> String {
    let how = a
        .confirmed_by
        .as_deref()
        .map(|c| format!(", confirmed by {c}"))
        .unwrap_or_default();
    let zone = a
        .zone
        .as_ref()
        .map(|z| format!(" in zone {z}"))
        .unwrap_or_default();
    clip(format!(
        "{} {} alarm{zone}: {} device(s){how}",
        a.severity,
        a.kind,
        a.devices.len()
    ))
}

impl OrderRecord {
    /// Whether nothing more can happen to it.
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }

    /// The integrator's view of it.
    pub fn feed(&self) -> OrderFeed {
        OrderFeed {
            order: self.up.clone(),
            state: self.state,
            opened_at: self.opened_at,
            acked_at: self.acked_at,
            ended_at: self.ended_at,
            yellow_cards: self.yellow_cards,
            red_cards: self.red_cards,
        }
    }

    /// The deadline in force and its interval: accept by `ack_by`, then
    /// close by `close_by`; none once final.
    fn phase(&self) -> Option<(u64, u64)> {
        if self.is_final() {
            return None;
        }
        let deadline = if self.acked_at.is_none() {
            self.up.ack_by
        } else {
            self.up.close_by
        };
        Some((deadline, deadline.saturating_sub(self.opened_at).max(1)))
    }

    /// Gives the cards due at `now`: yellow at the deadline, red and one tier
    /// up at the deadline plus one interval, one more tier per further
    /// interval while there is a tier to go to. Returns the steps taken.
    pub fn supervise(&mut self, now: u64, esc: &EscalationConfig) -> Vec<Card> {
        let mut steps = Vec::new();
        let Some((deadline, interval)) = self.phase() else {
            return steps;
        };
        let interval = esc
            .repeat_secs
            .map_or(interval, |s| s.saturating_mul(1_000));
        loop {
            let due = deadline.saturating_add(interval.saturating_mul(u64::from(self.stage)));
            if now < due {
                return steps;
            }
            let up = self.up.tier.up().filter(|t| esc.enabled && *t <= esc.top);
            match (self.stage, up) {
                (0, _) => {
                    self.yellow_cards += 1;
                    steps.push(Card::Yellow);
                }
                (_, Some(tier)) => {
                    self.red_cards += 1;
                    self.up.tier = tier;
                    steps.push(Card::Red(Some(tier)));
                }
                (1, None) => {
                    self.red_cards += 1;
                    steps.push(Card::Red(None));
                }
                (_, None) => return steps,
            }
            self.stage += 1;
        }
    }

    /// Applies a status update at `now` if the state machine allows it.
    pub fn apply(&mut self, su: &StatusUpdate, now: u64) -> Moved {
        let from = self.state;
        if su.state == UpstreamState::Received {
            if from != OrderState::New {
                return Moved::Receipt;
            }
            self.state = OrderState::Sent;
            return Moved::To(from, self.state);
        }
        let to = su.state.order_state();
        if !from.can_move_to(to) {
            return Moved::Stale;
        }
        self.state = to;
        let accepted = matches!(
            to,
            OrderState::Accepted
                | OrderState::Dispatched
                | OrderState::Resolved
                | OrderState::Closed
        );
        if accepted && self.acked_at.is_none() {
            self.acked_at = Some(now);
            self.stage = 0;
        }
        if to.is_final() {
            self.ended_at = Some(now);
        }
        Moved::To(from, to)
    }

    /// Follows a change of the alarm behind it; returns whether the platform
    /// must hear of it (cancelled, or devices joined).
    pub fn follow(&mut self, a: &AlarmFeed, now: u64) -> bool {
        if a.state == AlarmState::Cancelled {
            if !self.state.can_move_to(OrderState::Cancelled) {
                return false;
            }
            self.state = OrderState::Cancelled;
            self.up.state = OrderState::Cancelled;
            self.ended_at = Some(now);
            return true;
        }
        if self.is_final() || a.devices == self.devices {
            return false;
        }
        self.devices.clone_from(&a.devices);
        self.up.summary = summary(a);
        true
    }

    /// The completion notice for the reporter, from the closing status.
    pub fn notice(&self, su: &StatusUpdate) -> CompletionNotice {
        CompletionNotice {
            order_id: self.up.order_id.clone(),
            alarm_id: self.up.alarm_id.clone(),
            site: self.up.site.clone(),
            cell: self.up.grid.cell.clone(),
            kind: self.up.kind,
            location: self.up.location.clone(),
            summary: self.up.summary.clone(),
            opened_at: self.opened_at,
            closed_at: self.ended_at.unwrap_or(su.at),
            by: su.by.clone(),
            note: su.note.clone(),
        }
    }
}
