//! The commit gate on analysis's side: what evaluating an acknowledged
//! event changed is held until the event itself is committed, then leaves
//! as one [`AnalysisOut::Evaluated`] carrying the event's row id, so the
//! store commits those consequences and marks the event evaluated in one
//! transaction. A crash before that leaves the event unevaluated, and it is
//! replayed at start-up; a crash after it leaves nothing to replay. Either
//! way, an event acknowledged to a node has its alarm exactly once.
//!
//! Outputs leave in the order analysis made them: a change made after a
//! held one waits behind it, so the store never sees an older state of an
//! alarm after a newer one. Linkage (doors, valves) never waits here: it is
//! carried out before anything is held.

use std::collections::VecDeque;

use protocol::DeviceId;

use super::AnalysisOut;

/// How long a held event waits for its commit before its consequences
/// leave without the mark (the store failed it; the node will repeat it).
/// Real time: the caller passes a monotonic clock, never the gateway's
/// (which may be set or run faster in a simulation).
pub const HOLD_MAX_MS: u64 = 5_000;

/// Events whose consequences left without the mark, remembered so that a
/// commit arriving after all marks them then (at most this many).
const LATE_MAX: usize = 4_096;

/// An event: device and sequence number.
type Key = (DeviceId, u32);

#[derive(Debug)]
struct Entry {
    /// The event these outputs came from, if any.
    key: Option<Key>,
    /// When it was held.
    at_ms: u64,
    outs: Vec<AnalysisOut>,
    /// Still taking outputs (between `begin` and `end`, or a free-standing entry).
    open: bool,
    /// `None`: waiting for the commit; `Some(Some(id))`: committed as row
    /// `id`; `Some(None)`: leave without a mark.
    ready: Option<Option<i64>>,
}

/// Outputs in the order they were made, each event's held until it is committed.
#[derive(Debug, Default)]
pub struct Gate {
    queue: VecDeque<Entry>,
    /// Events released by [`Gate::expire`] before their commit came.
    late: VecDeque<Key>,
}

impl Gate {
    /// Opens an entry for the event `key`, evaluated at `at_ms`: what is
    /// [`Gate::push`]ed until the next `begin` or `end` belongs to it.
    pub(super) fn begin(&mut self, key: Key, at_ms: u64) {
        self.queue.push_back(Entry {
            key: Some(key),
            at_ms,
            outs: Vec::new(),
            open: true,
            ready: None,
        });
    }

    /// Closes the entry opened by [`Gate::begin`].
    pub(super) fn end(&mut self) {
        if let Some(e) = self.queue.back_mut() {
            e.open = false;
        }
    }

    /// Adds an output to the open entry, or queues it on its own.
    pub(super) fn push(&mut self, out: AnalysisOut) {
        match self.queue.back_mut() {
            Some(e) if e.open => e.outs.push(out),
            _ => self.queue.push_back(Entry {
                key: None,
                at_ms: 0,
                outs: vec![out],
                open: true,
                ready: Some(None),
            }),
        }
    }

    /// The event `key` is committed as row `id` (`None`: it was already
    /// stored). Every entry waiting for it is released. An event whose
    /// consequences already left without the mark (its commit came after
    /// [`HOLD_MAX_MS`]) is marked now, on its own: otherwise it would stay
    /// unevaluated and be replayed at the next start, raising its alarm a
    /// second time.
    pub(super) fn committed(&mut self, key: &Key, id: Option<i64>) {
        let mut first = true;
        for e in self
            .queue
            .iter_mut()
            .filter(|e| e.ready.is_none() && e.key.as_ref() == Some(key))
        {
            e.ready = Some(if first { id } else { None });
            first = false;
        }
        if first && let Some(at) = self.late.iter().position(|k| k == key) {
            self.late.remove(at);
            if let Some(id) = id {
                tracing::info!(event = ?key, row = id, "late commit: the event is marked evaluated now");
                self.queue.push_back(Entry {
                    key: Some(key.clone()),
                    at_ms: 0,
                    outs: Vec::new(),
                    open: false,
                    ready: Some(Some(id)),
                });
            }
        }
    }

    /// Releases entries held longer than [`HOLD_MAX_MS`] at `now` (ms of a
    /// monotonic clock, the one given to [`Gate::begin`]).
    pub(super) fn expire(&mut self, now: u64) {
        for e in self.queue.iter_mut().filter(|e| e.ready.is_none()) {
            if now.saturating_sub(e.at_ms) >= HOLD_MAX_MS {
                tracing::warn!(event = ?e.key, "event not committed in time: its consequences are stored without the evaluated mark");
                e.ready = Some(None);
                if let Some(k) = &e.key {
                    if self.late.len() >= LATE_MAX {
                        self.late.pop_front();
                    }
                    self.late.push_back(k.clone());
                }
            }
        }
    }

    /// Takes what may leave now, in order.
    pub(super) fn drain(&mut self) -> Vec<AnalysisOut> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|e| e.ready.is_some()) {
            let Some(e) = self.queue.pop_front() else {
                break;
            };
            match e.ready {
                Some(Some(event)) => out.push(AnalysisOut::Evaluated {
                    event,
                    outs: e.outs,
                }),
                _ => out.extend(e.outs),
            }
        }
        out
    }

    /// Events waiting for their commit.
    pub fn held(&self) -> usize {
        self.queue.iter().filter(|e| e.ready.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::feed::Aggregate;

    fn out(n: u32) -> AnalysisOut {
        AnalysisOut::Aggregate(Aggregate {
            scope: "building".into(),
            id: protocol::Name::new("b1").expect("name"),
            field: protocol::FieldName::new("temp").expect("field"),
            from: 0,
            to: u64::from(n),
            min: 0.0,
            max: 0.0,
            avg: 0.0,
            count: n,
        })
    }

    fn tag(o: &AnalysisOut) -> String {
        match o {
            AnalysisOut::Aggregate(a) => format!("o{}", a.count),
            AnalysisOut::Evaluated { event, outs } => {
                format!(
                    "e{event}[{}]",
                    outs.iter().map(tag).collect::<Vec<_>>().join(",")
                )
            }
            _ => "?".into(),
        }
    }

    fn key(seq: u32) -> Key {
        (DeviceId::new("smoke-1").expect("id"), seq)
    }

    #[test]
    fn an_events_outputs_wait_for_its_commit_and_later_ones_wait_behind() {
        let mut g = Gate::default();
        g.begin(key(1), 0);
        g.push(out(1));
        g.end();
        g.push(out(2));
        assert!(g.drain().is_empty(), "held until committed");
        assert_eq!(g.held(), 1);
        g.committed(&key(1), Some(42));
        let tags: Vec<_> = g.drain().iter().map(tag).collect();
        assert_eq!(tags, ["e42[o1]", "o2"]);
    }

    #[test]
    fn outputs_of_no_event_leave_at_once() {
        let mut g = Gate::default();
        g.push(out(1));
        assert_eq!(g.drain().iter().map(tag).collect::<Vec<_>>(), ["o1"]);
    }

    #[test]
    fn a_stored_repeat_releases_without_a_mark_and_a_lost_commit_expires() {
        let mut g = Gate::default();
        g.begin(key(1), 0);
        g.push(out(1));
        g.end();
        g.begin(key(2), 10);
        g.push(out(2));
        g.end();
        g.committed(&key(2), None);
        assert!(g.drain().is_empty(), "seq 1 still holds the line");
        g.expire(HOLD_MAX_MS - 1);
        assert!(g.drain().is_empty());
        g.expire(HOLD_MAX_MS);
        assert_eq!(g.drain().iter().map(tag).collect::<Vec<_>>(), ["o1", "o2"]);
    }

    #[test]
    fn a_commit_after_the_hold_expired_still_marks_the_event() {
        let mut g = Gate::default();
        g.begin(key(1), 0);
        g.push(out(1));
        g.end();
        g.expire(HOLD_MAX_MS);
        assert_eq!(g.drain().iter().map(tag).collect::<Vec<_>>(), ["o1"]);
        // The store was only slow: the commit comes, and the mark with it
        // (an empty evaluation), so a restart does not replay the event.
        g.committed(&key(1), Some(9));
        assert_eq!(g.drain().iter().map(tag).collect::<Vec<_>>(), ["e9[]"]);
        // Once only.
        g.committed(&key(1), Some(9));
        assert!(g.drain().is_empty());
    }

    #[test]
    fn an_event_evaluated_twice_is_marked_once() {
        let mut g = Gate::default();
        g.begin(key(1), 0);
        g.push(out(1));
        g.end();
        g.begin(key(1), 5);
        g.end();
        g.committed(&key(1), Some(7));
        assert_eq!(g.drain().iter().map(tag).collect::<Vec<_>>(), ["e7[o1]"]);
    }
}
