//! Simulated hardware: in-memory pins, ADC channels and a serial line that
//! implement the embedded-hal 1.0 traits the firmware is generic over, and
//! a non-volatile store (`embedded-storage` traits) that outlives a reboot.
//!
//! Each part is a handle onto shared state: the node owns one clone, the
//! scenario keeps another and sets what the node will read next (a chamber
//! reading, a door contact, card bytes on the reader line). Atomics keep the
//! handles `Send`, so a shard of nodes can move between runtime threads.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use embedded_hal::digital::{ErrorType, InputPin, OutputPin};
use embedded_hal_nb::nb;
use embedded_hal_nb::serial;
use firmware::AdcChannel;

/// An ADC channel whose raw reading the scenario sets.
#[derive(Debug, Clone, Default)]
pub struct SimAdc(Arc<AtomicU16>);

impl SimAdc {
    /// A channel reading `raw`.
    pub fn new(raw: u16) -> Self {
        Self(Arc::new(AtomicU16::new(raw)))
    }

    /// Sets what the next conversions return.
    pub fn set(&self, raw: u16) {
        self.0.store(raw, Ordering::Relaxed);
    }

    /// The current reading.
    pub fn get(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }
}

impl AdcChannel for SimAdc {
    type Error = Infallible;
    fn read_raw(&mut self) -> Result<u16, Infallible> {
        Ok(self.get())
    }
}

/// A digital pin: an input the scenario drives, or an output the node drives
/// and the scenario reads.
#[derive(Debug, Clone, Default)]
pub struct SimPin(Arc<AtomicBool>);

impl SimPin {
    /// A pin at `high`.
    pub fn new(high: bool) -> Self {
        Self(Arc::new(AtomicBool::new(high)))
    }

    /// Drives the level (as the outside world, for inputs).
    pub fn set(&self, high: bool) {
        self.0.store(high, Ordering::Relaxed);
    }

    /// The level.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl ErrorType for SimPin {
    type Error = Infallible;
}

impl InputPin for SimPin {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.get())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.get())
    }
}

impl OutputPin for SimPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}

/// A serial receive line (the card reader): bytes the scenario queues are
/// read one at a time; an empty line would block.
#[derive(Debug, Clone, Default)]
pub struct SimSerial(Arc<Mutex<VecDeque<u8>>>);

impl SimSerial {
    /// Queues `bytes` on the line.
    pub fn send(&self, bytes: &[u8]) {
        self.queue().extend(bytes);
    }

    /// Bytes not read yet.
    pub fn pending(&self) -> usize {
        self.queue().len()
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<u8>> {
        // A panic while holding this lock leaves a plain byte queue, still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl serial::ErrorType for SimSerial {
    type Error = Infallible;
}

impl serial::Read<u8> for SimSerial {
    fn read(&mut self) -> nb::Result<u8, Infallible> {
        self.queue().pop_front().ok_or(nb::Error::WouldBlock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_nb::serial::Read;

    #[test]
    fn clones_share_state_between_node_and_scenario() {
        let adc = SimAdc::new(40);
        let mut node_side = adc.clone();
        adc.set(300);
        assert_eq!(node_side.read_raw(), Ok(300));

        let pin = SimPin::new(false);
        let mut node_pin = pin.clone();
        pin.set(true);
        assert_eq!(node_pin.is_high(), Ok(true));
        node_pin.set_low().unwrap();
        assert!(!pin.get());
    }

    #[test]
    fn serial_line_reads_queued_bytes_then_would_block() {
        let line = SimSerial::default();
        let mut rx = line.clone();
        line.send(b"A\n");
        assert_eq!(rx.read(), Ok(b'A'));
        assert_eq!(rx.read(), Ok(b'\n'));
        assert_eq!(rx.read(), Err(nb::Error::WouldBlock));
        assert_eq!(line.pending(), 0);
    }
}

/// A node's non-volatile storage (erased: all `0xFF`), implementing the
/// `embedded-storage` traits. It belongs to the node's hardware, not to the
/// firmware: a simulated reboot starts new firmware on the same storage, so
/// the boot counter advances.
#[derive(Debug, Clone)]
pub struct SimFlash(Arc<Mutex<Vec<u8>>>);

impl SimFlash {
    /// An erased part of `len` bytes.
    pub fn erased(len: usize) -> Self {
        Self(Arc::new(Mutex::new(vec![0xFF; len])))
    }
}

impl Default for SimFlash {
    /// 64 erased bytes: room for the boot counter.
    fn default() -> Self {
        Self::erased(64)
    }
}

/// An access outside the simulated part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

impl embedded_storage::ReadStorage for SimFlash {
    type Error = OutOfRange;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfRange> {
        let mem = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = usize::try_from(offset).map_err(|_| OutOfRange)?;
        let src = mem.get(at..at + bytes.len()).ok_or(OutOfRange)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl embedded_storage::Storage for SimFlash {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfRange> {
        let mut mem = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = usize::try_from(offset).map_err(|_| OutOfRange)?;
        let dst = mem.get_mut(at..at + bytes.len()).ok_or(OutOfRange)?;
        dst.copy_from_slice(bytes);
        Ok(())
    }
}

/// A door's list store: `capacity` bytes of erased flash, allocated only as
/// far as written (a fleet of doors with room for 2,000 credentials each
/// costs what their lists hold). Shared by clones, so a reboot keeps it.
#[derive(Debug, Clone)]
pub struct SimListFlash {
    mem: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl SimListFlash {
    /// An erased part of `capacity` bytes.
    pub fn erased(capacity: usize) -> Self {
        Self {
            mem: Arc::new(Mutex::new(Vec::new())),
            capacity,
        }
    }
}

impl embedded_storage::ReadStorage for SimListFlash {
    type Error = OutOfRange;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfRange> {
        let at = usize::try_from(offset).map_err(|_| OutOfRange)?;
        if at + bytes.len() > self.capacity {
            return Err(OutOfRange);
        }
        let mem = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = mem.get(at + i).copied().unwrap_or(0xFF);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl embedded_storage::Storage for SimListFlash {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfRange> {
        let at = usize::try_from(offset).map_err(|_| OutOfRange)?;
        if at + bytes.len() > self.capacity {
            return Err(OutOfRange);
        }
        let mut mem = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        if mem.len() < at + bytes.len() {
            mem.resize(at + bytes.len(), 0xFF);
        }
        mem[at..at + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}
