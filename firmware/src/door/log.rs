//! The door's access events waiting for the gateway's acknowledgement.
//!
//! Every event gets the next `seq` of this boot and stays queued until an
//! ack with its `(boot, seq)` arrives on `acc/ack`; unacknowledged events
//! are repeated every `retry_ms` and at once after a reconnect. When the
//! queue is full (a long outage at a busy door) the oldest event is dropped
//! and counted: the door keeps deciding either way.

use protocol::EvtAck;
use protocol::access::AccessEvent;

/// Access events pending acknowledgement, at most `M`.
#[derive(Debug, Clone)]
pub struct AccessLog<const M: usize> {
    pending: heapless::Deque<(AccessEvent, Option<u64>), M>,
    seq: u32,
    retry_ms: u32,
    dropped: u32,
}

impl<const M: usize> AccessLog<M> {
    /// An empty log repeating unacknowledged events every `retry_ms`.
    pub const fn new(retry_ms: u32) -> Self {
        Self {
            pending: heapless::Deque::new(),
            seq: 0,
            retry_ms,
            dropped: 0,
        }
    }

    /// Numbers `event` and queues it, dropping the oldest when full.
    pub fn push(&mut self, mut event: AccessEvent) {
        self.seq = self.seq.wrapping_add(1).max(1);
        event.seq = self.seq;
        if self.pending.is_full() {
            self.pending.pop_front();
            self.dropped += 1;
        }
        // Room was made above.
        let _ = self.pending.push_back((event, None));
    }

    /// The next event due to be sent at `now_ms` (never sent, or not acked
    /// within `retry_ms`); it is marked sent.
    pub fn poll(&mut self, now_ms: u64) -> Option<AccessEvent> {
        let retry = u64::from(self.retry_ms);
        let due = self
            .pending
            .iter_mut()
            .find(|(_, sent)| sent.is_none_or(|t| now_ms >= t + retry))?;
        due.1 = Some(now_ms);
        Some(due.0.clone())
    }

    /// The gateway stored the event `ack` names; returns whether it was pending.
    pub fn ack(&mut self, ack: EvtAck, boot: Option<u32>) -> bool {
        let before = self.pending.len();
        let mut keep = heapless::Deque::new();
        for item in &self.pending {
            if !(item.0.seq == ack.seq && ack.is_for_boot(boot)) {
                // `keep` is as large as `pending`.
                let _ = keep.push_back(item.clone());
            }
        }
        self.pending = keep;
        self.pending.len() < before
    }

    /// The link is back: everything pending is due now.
    pub fn reconnected(&mut self) {
        for (_, sent) in &mut self.pending {
            *sent = None;
        }
    }

    /// Events waiting for their ack.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Events dropped because the log was full.
    pub const fn dropped(&self) -> u32 {
        self.dropped
    }
}
