//! Per-device sequence windows: tell a repeated event from a new one in
//! memory, so linkage can act before the disk has answered.
//!
//! A node repeats an unacknowledged event with the same `boot` and `seq`
//! until the gateway's `evt/ack` arrives. The store's UNIQUE(device, boot,
//! seq) is the final word; this window only decides whether to forward an
//! event to the alarm stage *now*. An event the window calls a repeat but the
//! store calls new (a gap after a restart, a node without a boot counter whose
//! sequence was reset) is forwarded when the store answers.
//!
//! Each device has one window for its current boot: an event of a later boot
//! (the node restarted, its `seq` from 1 again) starts a fresh window.

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

/// Sequence windows of every device, each for the device's current boot.
#[derive(Debug, Default)]
pub struct Dedupe {
    windows: HashMap<DeviceId, (Option<u32>, SeqWindow)>,
}

impl Dedupe {
    /// Starts from where each device's stored sequence stands: the boot of
    /// its latest event and the highest `seq` within it.
    pub fn from_stored(stored: impl IntoIterator<Item = (DeviceId, Option<u32>, u32)>) -> Self {
        Self {
            windows: stored
                .into_iter()
                .map(|(d, boot, s)| (d, (boot, SeqWindow::seen_up_to(s))))
                .collect(),
        }
    }

    /// Records an event; true if it is new to this gateway's memory.
    pub fn observe(&mut self, device: &DeviceId, boot: Option<u32>, seq: u32) -> bool {
        let Some((current, w)) = self.windows.get_mut(device) else {
            let mut w = SeqWindow::default();
            let new = w.observe(seq);
            self.windows.insert(device.clone(), (boot, w));
            return new;
        };
        if *current == boot {
            return w.observe(seq);
        }
        if let (Some(b), Some(c)) = (boot, *current)
            && b < c
        {
            // A late repeat from an earlier boot: the store decides.
            return false;
        }
        // A new boot (or a node that began or stopped sending one).
        *current = boot;
        *w = SeqWindow::default();
        w.observe(seq)
    }

    /// The store found the sequence of a node without a boot counter reset
    /// at `seq`: what follows is counted from there.
    pub fn restart(&mut self, device: &DeviceId, boot: Option<u32>, seq: u32) {
        self.windows
            .insert(device.clone(), (boot, SeqWindow::seen_up_to(seq)));
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
        let mut dd = Dedupe::from_stored([(d.clone(), None, 7)]);
        assert!(!dd.observe(&d, None, 7));
        assert!(!dd.observe(&d, None, 5));
        assert!(dd.observe(&d, None, 8));
        let other = DeviceId::new("smoke-2").expect("id");
        assert!(dd.observe(&other, None, 1));
    }

    #[test]
    fn a_new_boot_starts_a_fresh_window_and_an_old_one_is_left_to_the_store() {
        let d = DeviceId::new("smoke-1").expect("id");
        let mut dd = Dedupe::from_stored([(d.clone(), Some(4), 9)]);
        assert!(!dd.observe(&d, Some(4), 1), "boot 4's seq 1 is stored");
        assert!(
            dd.observe(&d, Some(5), 1),
            "rebooted: seq 1 of boot 5 is new"
        );
        assert!(!dd.observe(&d, Some(5), 1), "and its repeat is not");
        assert!(
            !dd.observe(&d, Some(4), 10),
            "boot 4 is over: the store decides"
        );
        assert!(dd.observe(&d, Some(5), 2));
    }

    #[test]
    fn after_a_sequence_reset_later_seqs_are_new_again() {
        let d = DeviceId::new("smoke-1").expect("id");
        let mut dd = Dedupe::from_stored([(d.clone(), None, 30)]);
        assert!(
            !dd.observe(&d, None, 1),
            "looks like a repeat of the old seq 1"
        );
        dd.restart(&d, None, 1);
        assert!(dd.observe(&d, None, 2));
        assert!(!dd.observe(&d, None, 1));
    }
}
