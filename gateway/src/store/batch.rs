//! What one writer transaction holds, and who waits for each part.

use protocol::{DeviceId, Status};

use super::handle::{Job, Reply};
use super::{Commit, Done, EventRecord, QuarantineRecord, TelemetryRecord};

/// Records of one transaction and who waits for them.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) events: Vec<(EventRecord, Reply<Commit>)>,
    pub(super) presence: Vec<(DeviceId, Status, u64, Reply<()>)>,
    pub(super) quarantine: Vec<QuarantineRecord>,
    pub(super) telemetry: Vec<TelemetryRecord>,
    pub(super) writes: Vec<(super::Write, Reply<Done>)>,
    pub(super) flushes: Vec<Reply<()>>,
    pub(super) retention: Vec<Reply<u64>>,
}

impl Batch {
    pub(super) fn len(&self) -> usize {
        self.events.len()
            + self.presence.len()
            + self.quarantine.len()
            + self.telemetry.len()
            + self.writes.len()
    }

    pub(super) fn push(&mut self, job: Job) {
        match job {
            Job::Event(rec, reply) => self.events.push((rec, reply)),
            Job::Presence(d, s, at, reply) => self.presence.push((d, s, at, reply)),
            Job::Quarantine(rec) => self.quarantine.push(rec),
            Job::Write(w, reply) => self.writes.push((w, reply)),
            Job::Flush(reply) => self.flushes.push(reply),
            Job::Retention(reply) => self.retention.push(reply),
        }
    }
}
