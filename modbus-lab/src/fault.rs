//! Faults the line emulator injects into slave replies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to a reply on its way back to the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// One bit of a byte in the middle of the frame is flipped (bad CRC).
    FlipByte,
    /// The last `n` bytes never arrive (short frame).
    Truncate(usize),
    /// The reply is delivered this much later than it would have been.
    Late(Duration),
    /// The reply is lost entirely.
    Silence,
    /// These bytes follow the reply with no gap (line noise).
    Noise(Vec<u8>),
}

/// When a [`Fault`] applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Replies from this unit only (`None`: any unit).
    pub unit: Option<u8>,
    /// The fault.
    pub fault: Fault,
    /// Applies to every `every`-th matching reply (1: all of them).
    pub every: u32,
    /// At most this many times (`None`: no limit).
    pub limit: Option<u32>,
}

impl FaultRule {
    /// `fault` on every reply of `unit`.
    #[must_use]
    pub fn always(unit: u8, fault: Fault) -> Self {
        Self {
            unit: Some(unit),
            fault,
            every: 1,
            limit: None,
        }
    }

    /// `fault` on every `every`-th reply of `unit`.
    #[must_use]
    pub fn every(unit: u8, every: u32, fault: Fault) -> Self {
        Self {
            every: every.max(1),
            ..Self::always(unit, fault)
        }
    }

    /// `fault` on the next `n` replies of `unit`.
    #[must_use]
    pub fn next(unit: u8, n: u32, fault: Fault) -> Self {
        Self {
            limit: Some(n),
            ..Self::always(unit, fault)
        }
    }
}

#[derive(Debug)]
struct Armed {
    rule: FaultRule,
    seen: u32,
    applied: u32,
}

/// The rules in force, shared between a test and the emulator thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultBook {
    rules: Arc<Mutex<Vec<Armed>>>,
}

impl FaultBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Armed>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn add(&self, rule: FaultRule) {
        self.lock().push(Armed {
            rule,
            seen: 0,
            applied: 0,
        });
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault to apply to a reply from `unit`, if any (first rule wins).
    pub(crate) fn pick(&self, unit: u8) -> Option<Fault> {
        let mut rules = self.lock();
        for armed in rules.iter_mut() {
            if armed.rule.unit.is_some_and(|u| u != unit) {
                continue;
            }
            if armed.rule.limit.is_some_and(|l| armed.applied >= l) {
                continue;
            }
            armed.seen += 1;
            if armed.seen % armed.rule.every == 0 {
                armed.applied += 1;
                return Some(armed.rule.fault.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_unit_period_and_limit() {
        let book = FaultBook::default();
        book.add(FaultRule::every(2, 2, Fault::Silence));
        book.add(FaultRule::next(3, 1, Fault::FlipByte));
        assert_eq!(book.pick(1), None);
        assert_eq!(book.pick(2), None);
        assert_eq!(book.pick(2), Some(Fault::Silence));
        assert_eq!(book.pick(3), Some(Fault::FlipByte));
        assert_eq!(book.pick(3), None);
    }
}
