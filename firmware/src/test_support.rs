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
            _ => None,
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
        _ => None,
    })
}

/// Non-volatile storage in memory (erased: all `0xFF`), shared by clones so
/// a test can "reset" a node and keep its storage. A write can be made to
/// fail, or to tear after `n` bytes as a power cut would.
#[derive(Debug, Clone)]
pub(crate) struct MemStorage {
    bytes: Rc<std::cell::RefCell<Vec<u8>>>,
    fail: Rc<Cell<bool>>,
    tear_after: Rc<Cell<Option<usize>>>,
    /// Writes to let through before `tear_after` applies.
    tear_skip: Rc<Cell<u32>>,
    writes: Rc<Cell<u32>>,
}

/// The error of a failing [`MemStorage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorageFailed;

impl MemStorage {
    pub(crate) fn erased(len: usize) -> Self {
        Self {
            bytes: Rc::new(std::cell::RefCell::new(vec![0xFF; len])),
            fail: Rc::new(Cell::new(false)),
            tear_after: Rc::new(Cell::new(None)),
            tear_skip: Rc::new(Cell::new(0)),
            writes: Rc::new(Cell::new(0)),
        }
    }

    pub(crate) fn fail(&self, on: bool) {
        self.fail.set(on);
    }

    /// The next write stops after `n` bytes (and reports success: the
    /// power is gone before anyone could tell).
    pub(crate) fn tear_next_write(&self, n: usize) {
        self.tear_after.set(Some(n));
    }

    /// As [`Self::tear_next_write`], for the write after the next `skip` ones.
    pub(crate) fn tear_after_writes(&self, skip: u32, n: usize) {
        self.tear_skip.set(skip);
        self.tear_after.set(Some(n));
    }

    pub(crate) fn writes(&self) -> u32 {
        self.writes.get()
    }

    pub(crate) fn snapshot(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }
}

impl embedded_storage::ReadStorage for MemStorage {
    type Error = StorageFailed;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), StorageFailed> {
        if self.fail.get() {
            return Err(StorageFailed);
        }
        let at = offset as usize;
        let b = self.bytes.borrow();
        let src = b.get(at..at + out.len()).ok_or(StorageFailed)?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.borrow().len()
    }
}

impl embedded_storage::Storage for MemStorage {
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageFailed> {
        if self.fail.get() {
            return Err(StorageFailed);
        }
        self.writes.set(self.writes.get() + 1);
        let at = offset as usize;
        let n = if self.tear_skip.get() > 0 {
            self.tear_skip.set(self.tear_skip.get() - 1);
            data.len()
        } else {
            self.tear_after.take().unwrap_or(data.len()).min(data.len())
        };
        let mut b = self.bytes.borrow_mut();
        let dst = b.get_mut(at..at + data.len()).ok_or(StorageFailed)?;
        dst[..n].copy_from_slice(&data[..n]);
        Ok(())
    }
}
