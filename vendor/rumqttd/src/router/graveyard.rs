use std::collections::{HashMap, HashSet, VecDeque};

use super::{
    scheduler::{PauseReason, Tracker},
    ConnectionEvents,
};

/// GridSense patch: metrics-only entries (clean sessions) kept at most; the
/// oldest goes first. Every client id that ever connected stayed, so a
/// fleet of churning or random ids grew the map without bound.
pub(crate) const MAX_SAVED_METRICS: usize = 1024;

pub struct Graveyard {
    connections: HashMap<String, SavedState>,
    /// GridSense patch: client ids of metrics-only entries, oldest first
    /// (may name ids since retrieved or saved with a session: skipped).
    metrics_order: VecDeque<String>,
}

impl Graveyard {
    pub fn new() -> Graveyard {
        Graveyard {
            connections: HashMap::new(),
            metrics_order: VecDeque::new(),
        }
    }

    /// GridSense patch: entries held, for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.connections.len()
    }

    /// Add a new connection.
    /// Return tracker of previous connection if connection id already exists
    pub fn retrieve(&mut self, id: &str) -> Option<SavedState> {
        self.connections.remove(id)
    }

    /// Save connection tracker
    pub fn save_state(
        &mut self,
        mut tracker: Tracker,
        subscriptions: HashSet<String>,
        metrics: ConnectionEvents,
        unacked_pubrels: VecDeque<u16>,
    ) {
        tracker.pause(PauseReason::Busy);
        let id = tracker.id.clone();

        let session_state = SessionState {
            tracker,
            subscriptions,
            unacked_pubrels,
        };

        self.connections.insert(
            id,
            SavedState {
                session_state: Some(session_state),
                metrics,
            },
        );
    }

    /// Save only metrics for connection
    pub fn save_metrics(&mut self, id: String, metrics: ConnectionEvents) {
        self.metrics_order.push_back(id.clone());
        self.connections.insert(
            id,
            SavedState {
                session_state: None,
                metrics,
            },
        );
        // GridSense patch: bounded, see MAX_SAVED_METRICS.
        while self.metrics_order.len() > MAX_SAVED_METRICS {
            let Some(old) = self.metrics_order.pop_front() else {
                break;
            };
            if self
                .connections
                .get(&old)
                .is_some_and(|s| s.session_state.is_none())
                && !self.metrics_order.contains(&old)
            {
                self.connections.remove(&old);
            }
        }
    }
}

#[derive(Debug)]
pub struct SavedState {
    pub session_state: Option<SessionState>,
    pub metrics: ConnectionEvents,
}

#[derive(Debug)]
pub struct SessionState {
    pub tracker: Tracker,
    pub subscriptions: HashSet<String>,
    // used for pubrel in qos2
    pub unacked_pubrels: VecDeque<u16>,
}
