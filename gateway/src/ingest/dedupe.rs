//! Per-device sequence windows: tell a repeated event from a new one in
//! memory, so linkage can act before the disk has answered.
//!
//! A node repeats an unacknowledged event with the same `seq` until the
//! gateway's `evt/ack` arrives. The store's UNIQUE(device, seq) is the final
//! word; this window only decides whether to forward an event to the alarm
//! stage *now*. An event the window calls a repeat but the store calls new
//! (a gap after a restart) is forwarded when the store answers.

use std::collections::HashMap;

use protocol::DeviceId;

/// How many sequence numbers behind the highest one are tracked exactly.
const WIDTH: u32 = 64;

/// An anti-replay window: the highest `seq` seen and a bitmap of the 64 before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqWindow {
    max: u32,
    /// Bit `i` set: `max - i` has been seen (bit 0 is `max` itself).
    bits: u64,
}

impl SeqWindow {
    /// A window that treats every `seq <= max` as seen (after a restart, from
    /// the highest stored sequence number).
    pub fn seen_up_to(max: u32) -> Self {
        Self {
            max,
            bits: if max == 0 { 0 } else { u64::MAX },
        }
    }

    /// Records `seq`; true if it was not seen before.
    pub fn observe(&mut self, seq: u32) -> bool {
        if seq > self.max {
            let shift = seq - self.max;
            self.bits = if shift >= WIDTH {
                0
            } else {
                self.bits << shift
            };
            self.bits |= 1;
            self.max = seq;
            return true;
        }
        let back = self.max - seq;
        if back >= WIDTH {
            // Too old to tell: a repeat of something long acknowledged, or a
            // node whose counter went back. The store decides.
            return false;
        }
        let bit = 1u64 << back;
        let new = self.bits & bit == 0;
        self.bits |= bit;
        new
    }
}

/// Sequence windows of every device.
#[derive(Debug, Default)]
pub struct Dedupe {
    windows: HashMap<DeviceId, SeqWindow>,
}

impl Dedupe {
    /// Starts from the highest stored sequence number of each device.
    pub fn from_stored(max_seqs: impl IntoIterator<Item = (DeviceId, u32)>) -> Self {
        Self {
            windows: max_seqs
                .into_iter()
                .map(|(d, s)| (d, SeqWindow::seen_up_to(s)))
                .collect(),
        }
    }

    /// Records an event; true if it is new to this gateway's memory.
    pub fn observe(&mut self, device: &DeviceId, seq: u32) -> bool {
        match self.windows.get_mut(device) {
            Some(w) => w.observe(seq),
            None => {
                let mut w = SeqWindow::default();
                let new = w.observe(seq);
                self.windows.insert(device.clone(), w);
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_recognised_in_and_out_of_order() {
        let mut w = SeqWindow::default();
        assert!(w.observe(1));
        assert!(w.observe(3));
        assert!(!w.observe(3));
        assert!(w.observe(2), "late but new");
        assert!(!w.observe(2));
        assert!(!w.observe(1));
        assert!(w.observe(100));
        assert!(!w.observe(3), "beyond the window: left to the store");
        assert!(w.observe(99));
    }

    #[test]
    fn after_a_restart_stored_sequences_are_repeats() {
        let d = DeviceId::new("smoke-1").expect("id");
        let mut dd = Dedupe::from_stored([(d.clone(), 7)]);
        assert!(!dd.observe(&d, 7));
        assert!(!dd.observe(&d, 5));
        assert!(dd.observe(&d, 8));
        let other = DeviceId::new("smoke-2").expect("id");
        assert!(dd.observe(&other, 1));
    }
}
