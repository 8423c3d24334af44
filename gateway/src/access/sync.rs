//! One door's list sync (pure): which parts to send, given the door's answers.
//!
//! A sync starts by offering part 0 — after a reconnect the door answers
//! with the part it wants next, so a list half sent before the link went
//! resumes there instead of from the start. After each answer up to
//! `window` parts are in flight. A `gap` answer rewinds to the part the
//! door names; a `hash` answer starts over (at most [`MAX_RESTARTS`]
//! times); `too-large` and `storage` end the sync with an error. Parts not
//! answered within the retry time are sent again from the last answer.

use protocol::access::{Entry, ListAck, ListChunk, ListError, split};

/// Starts over after a hash mismatch, at most.
pub const MAX_RESTARTS: u32 = 3;

/// Where a door's sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Parts are being sent.
    Sending,
    /// The door confirmed the list: it decides with it.
    Done,
    /// The door cannot take the list.
    Failed(ListError),
}

/// The sync of one list version to one door.
#[derive(Debug, Clone)]
pub struct DoorSync {
    /// The list version.
    pub version: u32,
    parts: Vec<ListChunk>,
    window: u16,
    /// The next part the door asked for.
    acked: u16,
    /// Parts below this were sent since the last rewind.
    sent: u16,
    last_sent_ms: u64,
    restarts: u32,
    phase: Phase,
}

impl DoorSync {
    /// A sync of `entries` as version `version`.
    ///
    /// # Errors
    /// The entry count when the list needs more parts than the protocol has.
    pub fn new(version: u32, entries: &[Entry], tz_min: i16, window: u16) -> Result<Self, usize> {
        Ok(Self {
            version,
            parts: split(version, entries, tz_min)?.collect(),
            window: window.max(1),
            acked: 0,
            sent: 0,
            last_sent_ms: 0,
            restarts: 0,
            phase: Phase::Sending,
        })
    }

    /// Where it stands.
    pub const fn phase(&self) -> &Phase {
        &self.phase
    }

    /// How many parts the list has.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// The offer that (re)starts the sync: part 0 (a door that has more
    /// answers with where to resume).
    pub fn start(&mut self, now_ms: u64) -> Vec<ListChunk> {
        if self.phase != Phase::Sending {
            return Vec::new();
        }
        self.acked = 0;
        self.sent = 1;
        self.last_sent_ms = now_ms;
        self.parts.first().cloned().into_iter().collect()
    }

    /// Starts again after the door reconnected (unless the list cannot fit it).
    pub fn restart(&mut self, now_ms: u64) -> Vec<ListChunk> {
        if self.phase == Phase::Failed(ListError::TooLarge) {
            return Vec::new();
        }
        self.phase = Phase::Sending;
        self.restarts = 0;
        self.start(now_ms)
    }

    fn fill(&mut self, now_ms: u64) -> Vec<ListChunk> {
        let total = u16::try_from(self.parts.len()).unwrap_or(u16::MAX);
        let end = self.acked.saturating_add(self.window).min(total);
        let from = self.sent.max(self.acked);
        if from >= end {
            return Vec::new();
        }
        self.sent = end;
        self.last_sent_ms = now_ms;
        self.parts[usize::from(from)..usize::from(end)].to_vec()
    }

    /// The door answered; returns the parts to send now.
    pub fn on_ack(&mut self, ack: &ListAck, now_ms: u64) -> Vec<ListChunk> {
        if ack.list != self.version || self.phase != Phase::Sending {
            return Vec::new();
        }
        let total = u16::try_from(self.parts.len()).unwrap_or(u16::MAX);
        match (ack.ok, ack.error) {
            (true, _) if ack.next >= total => {
                self.phase = Phase::Done;
                Vec::new()
            }
            (true, _) => {
                self.acked = self.acked.max(ack.next);
                self.fill(now_ms)
            }
            (false, Some(ListError::Gap)) => {
                self.acked = ack.next;
                self.sent = ack.next;
                self.fill(now_ms)
            }
            (false, Some(ListError::Hash)) if self.restarts < MAX_RESTARTS => {
                self.restarts += 1;
                self.start(now_ms)
            }
            (false, e) => {
                self.phase = Phase::Failed(e.unwrap_or(ListError::Storage));
                Vec::new()
            }
        }
    }

    /// Parts to send again when nothing was answered for `retry_ms`.
    pub fn on_timer(&mut self, now_ms: u64, retry_ms: u64) -> Vec<ListChunk> {
        if self.phase != Phase::Sending || now_ms < self.last_sent_ms + retry_ms {
            return Vec::new();
        }
        if self.acked == 0 {
            return self.start(now_ms);
        }
        self.sent = self.acked;
        self.fill(now_ms)
    }
}
