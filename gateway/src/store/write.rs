//! What the writer is asked to store, and what it answers: the typed
//! requests every stage sends through [`super::StoreHandle::write`].

use protocol::feed::AlarmFeed;

use super::LinkageRecord;
use super::operators::{MaintenanceWrite, OperatorRecord};
use super::orders::{OrderCommit, OrderCommitted};
use super::outbox::{Enqueued, OutMsg};

/// A write a stage asks for; each is applied inside the writer's batch
/// transaction and answered after the commit.
#[derive(Debug, Clone)]
pub enum Write {
    /// An alarm as it now stands, and when it changed; also appended to the
    /// audit chain in the same transaction.
    Alarm(Box<AlarmFeed>, u64),
    /// The order engine has acted on these alarms as they stand:
    /// `(alarm id, its stored JSON)`. An alarm changed since stays unhanded.
    Handed(Vec<(String, String)>),
    /// A finished linkage command.
    Linkage(LinkageRecord),
    /// A closed aggregate window.
    Aggregate(protocol::feed::Aggregate),
    /// A work order's change with its outbox row, audit record and KPIs.
    Order(Box<OrderCommit>),
    /// Messages for the district platform, queued at a time.
    Enqueue(u64, Vec<OutMsg>),
    /// The platform's receipts: `(order id, revision)`.
    OutboxAck(Vec<(String, u32)>),
    /// Routine outbox rows handed to a connected client.
    OutboxRemove(Vec<i64>),
    /// A maintenance window starts, ends or expires; audited.
    Maintenance(MaintenanceWrite),
    /// An operator's action on an alarm, done or refused; audited.
    Operator(OperatorRecord),
    /// A user or token of the API changes, or an API action is audited.
    Auth(super::users::AuthWrite),
    /// The fire-centre queue: rows queued or confirmed.
    FireCentre(super::firecentre::FireCentreWrite),
    /// Several writes in one transaction, in order (a backlog stored with
    /// one sync instead of one each).
    Many(Vec<Write>),
    /// Analysis has evaluated the stored event with this row id: its
    /// consequences are stored in the same transaction, then it is marked.
    Evaluated {
        /// The event's row id ([`super::Commit::New`]).
        event: i64,
        /// What evaluating it changed.
        writes: Vec<Write>,
    },
}

/// What a committed [`Write`] produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// Nothing to report.
    Stored,
    /// An order change: the cell's KPIs after it.
    Order(Box<OrderCommitted>),
    /// Outbox rows: what happened to each.
    Enqueued(Vec<Enqueued>),
    /// Outbox rows removed.
    Removed(u64),
    /// Maintenance windows ended (early, replaced or expired).
    Ended(u64),
    /// Fire-centre queue rows, by seq.
    FireQueued(Vec<i64>),
}

impl Write {
    /// Whether committing it queues rows for the district platform.
    pub(super) fn queues_upstream(&self) -> bool {
        match self {
            Self::Order(c) => c.outbox.is_some(),
            Self::Enqueue(_, msgs) => !msgs.is_empty(),
            Self::Evaluated { writes, .. } | Self::Many(writes) => {
                writes.iter().any(Self::queues_upstream)
            }
            _ => false,
        }
    }
}
