//! The reliable event outbox every node shares.
//!
//! Each event that needs an acknowledgement ([`EventKind::needs_ack`]) gets
//! the next per-device `seq` (from 1) when it enters the outbox, and is sent
//! again with exponential backoff until the gateway's [`protocol::EvtAck`]
//! with that `seq` arrives. The outbox knows nothing of the connection: after
//! a reconnect, [`Outbox::reconnected`] makes everything pending due at once.
//!
//! Heartbeats need no ack: they are sent once, carry the last `seq` assigned
//! (so the gateway can tell events are in flight), and a newer heartbeat
//! replaces an unsent older one.
//!
//! # When full
//! Events rank by [`Rank`]: life safety (alarm, pre-alarm) above faults and
//! tamper, above restores and low battery, above tests and heartbeats. A new
//! event evicts the **oldest event of the lowest rank** present, if that rank
//! is lower than the new event's, or equal and below life safety. Otherwise the
//! new event is refused ([`OutboxFull`]) and counted in [`Outbox::refused`]:
//! an alarm is never dropped in favour of a lesser event, and a queued alarm
//! is never evicted by a newer one. An evicted event keeps its `seq`, so the
//! gateway sees the gap.

use heapless::Vec;
use protocol::{EventKind, NodeEvent};

/// How unacknowledged events are repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first repeat, in ms.
    pub initial_ms: u32,
    /// Longest delay between repeats, in ms (doubling stops here).
    pub max_ms: u32,
}

impl Default for RetryPolicy {
    /// 1 s, doubling up to 30 s.
    fn default() -> Self {
        Self {
            initial_ms: 1_000,
            max_ms: 30_000,
        }
    }
}

/// How much an event matters when the outbox must choose what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// Heartbeats and self-tests.
    Routine,
    /// Restores and low battery.
    Status,
    /// Faults and tamper.
    Trouble,
    /// Alarms and pre-alarms: never dropped for anything lesser.
    LifeSafety,
}

impl Rank {
    /// The rank of an event kind.
    pub const fn of(kind: EventKind) -> Self {
        match kind {
            EventKind::Alarm | EventKind::PreAlarm => Self::LifeSafety,
            EventKind::Fault | EventKind::Tamper => Self::Trouble,
            EventKind::Restore | EventKind::LowBattery => Self::Status,
            EventKind::Test | EventKind::Heartbeat => Self::Routine,
        }
    }
}

/// The outbox had no room and nothing it may evict; the event is returned.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxFull(pub NodeEvent);

#[derive(Debug, Clone)]
struct Entry {
    event: NodeEvent,
    due_ms: u64,
    backoff_ms: u32,
}

/// A fixed-capacity outbox of `N` events; see the module docs for the policy.
#[derive(Debug, Clone)]
pub struct Outbox<const N: usize> {
    /// Pending events, oldest first.
    entries: Vec<Entry, N>,
    /// Last `seq` assigned (0: none yet).
    last_seq: u32,
    policy: RetryPolicy,
    evicted: u32,
    refused: u32,
}

impl<const N: usize> Outbox<N> {
    /// An empty outbox whose first event gets `seq` 1.
    pub const fn new(policy: RetryPolicy) -> Self {
        Self::resume(policy, 0)
    }

    /// An empty outbox continuing after `last_seq` (restored from
    /// non-volatile memory after a reboot, so `seq` never repeats).
    pub const fn resume(policy: RetryPolicy, last_seq: u32) -> Self {
        Self {
            entries: Vec::new(),
            last_seq,
            policy,
            evicted: 0,
            refused: 0,
        }
    }

    /// Queues `event` (its `seq` is overwritten), due at once.
    ///
    /// # Errors
    /// [`OutboxFull`] when the outbox is full of events that rank as high or
    /// higher and may not be evicted.
    // The refused event comes back inline (no allocator); refusals are rare.
    #[allow(clippy::result_large_err)]
    pub fn push(&mut self, now_ms: u64, mut event: NodeEvent) -> Result<u32, OutboxFull> {
        if !event.kind.needs_ack() {
            self.entries.retain(|e| e.event.kind.needs_ack());
        }
        if self.entries.is_full() {
            match self.victim(Rank::of(event.kind)) {
                Some(i) => {
                    self.entries.remove(i);
                    self.evicted += 1;
                }
                None => {
                    self.refused += 1;
                    return Err(OutboxFull(event));
                }
            }
        }
        if event.kind.needs_ack() {
            self.last_seq = self.last_seq.wrapping_add(1).max(1);
        }
        event.seq = self.last_seq.max(1);
        let seq = event.seq;
        let entry = Entry {
            event,
            due_ms: now_ms,
            backoff_ms: self.policy.initial_ms,
        };
        // Room was made above, so this cannot fail.
        let _ = self.entries.push(entry);
        Ok(seq)
    }

    /// The oldest entry of the lowest rank that an event of `rank` may evict.
    fn victim(&self, rank: Rank) -> Option<usize> {
        let lowest = self.entries.iter().map(|e| Rank::of(e.event.kind)).min()?;
        let may = lowest < rank || (lowest == rank && rank < Rank::LifeSafety);
        if !may {
            return None;
        }
        self.entries
            .iter()
            .position(|e| Rank::of(e.event.kind) == lowest)
    }

    /// The gateway committed the event with `seq`; returns whether it was pending.
    pub fn ack(&mut self, seq: u32) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.event.kind.needs_ack() && e.event.seq == seq));
        self.entries.len() != before
    }

    /// The link is up again: every pending event is due now, backoff restarts.
    pub fn reconnected(&mut self, now_ms: u64) {
        for e in &mut self.entries {
            e.due_ms = now_ms;
            e.backoff_ms = self.policy.initial_ms;
        }
    }

    /// The next event to send at `now_ms`, if any: the highest-ranked due
    /// event, oldest first. It is rescheduled with doubled backoff (or removed
    /// if it needs no ack).
    pub fn poll(&mut self, now_ms: u64) -> Option<NodeEvent> {
        let i = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.due_ms <= now_ms)
            .max_by_key(|(i, e)| (Rank::of(e.event.kind), core::cmp::Reverse(*i)))?
            .0;
        if !self.entries[i].event.kind.needs_ack() {
            return Some(self.entries.remove(i).event);
        }
        let max = self.policy.max_ms;
        let e = &mut self.entries[i];
        e.due_ms = now_ms + u64::from(e.backoff_ms);
        e.backoff_ms = e.backoff_ms.saturating_mul(2).min(max);
        Some(e.event.clone())
    }

    /// When the next pending event falls due (`None`: nothing pending).
    pub fn next_due(&self) -> Option<u64> {
        self.entries.iter().map(|e| e.due_ms).min()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Last `seq` assigned (0 before the first); persist it to resume.
    pub const fn last_seq(&self) -> u32 {
        self.last_seq
    }

    /// Events evicted to make room for more important ones.
    pub const fn evicted(&self) -> u32 {
        self.evicted
    }

    /// Events refused because nothing could be evicted.
    pub const fn refused(&self) -> u32 {
        self.refused
    }
}

#[cfg(test)]
mod tests;
