//! Test doubles the HAL mocks lack, and helpers to read outputs.

use std::cell::Cell;
use std::rc::Rc;

use protocol::{Cause, EventKind, NodeEvent};

use crate::node::{Outbound, Outgoing};
use crate::sensor::AdcChannel;

/// An ADC whose reading the test sets between ticks (`Err` = failed conversion).
/// Clones share the value, so the test keeps one while the node owns another.
#[derive(Debug, Clone)]
pub(crate) struct FakeAdc {
    value: Rc<Cell<Result<u16, ()>>>,
    reads: Rc<Cell<u32>>,
}

impl FakeAdc {
    pub(crate) fn new(raw: u16) -> Self {
        Self {
            value: Rc::new(Cell::new(Ok(raw))),
            reads: Rc::new(Cell::new(0)),
        }
    }

    pub(crate) fn set(&self, raw: u16) {
        self.value.set(Ok(raw));
    }

    pub(crate) fn fail(&self) {
        self.value.set(Err(()));
    }

    pub(crate) fn reads(&self) -> u32 {
        self.reads.get()
    }
}

impl AdcChannel for FakeAdc {
    type Error = ();
    fn read_raw(&mut self) -> Result<u16, ()> {
        self.reads.set(self.reads.get() + 1);
        self.value.get()
    }
}

/// The events in `out`, in order.
pub(crate) fn events(out: &Outbound) -> Vec<NodeEvent> {
    out.iter()
        .filter_map(|o| match o {
            Outgoing::Event(e) => Some(e.clone()),
            Outgoing::CommandAck(_) => None,
        })
        .collect()
}

/// `(kind, cause)` of each event in `out`, heartbeats left out.
pub(crate) fn kinds(out: &Outbound) -> Vec<(EventKind, Option<Cause>)> {
    events(out)
        .into_iter()
        .filter(|e| e.kind != EventKind::Heartbeat)
        .map(|e| (e.kind, e.cause))
        .collect()
}

/// The command ack in `out` as `(id, ok, error)`.
pub(crate) fn ack(out: &Outbound) -> Option<protocol::CommandAck> {
    out.iter().find_map(|o| match o {
        Outgoing::CommandAck(a) => Some(*a),
        Outgoing::Event(_) => None,
    })
}
