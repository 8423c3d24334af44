//! The boot counter: the node's boot identity, kept across resets.
//!
//! A node keeps its event `seq` in RAM, so after a reset (battery change,
//! watchdog, power cut) it counts from 1 again. The boot counter tells those
//! events apart from the ones before: `(device, boot, seq)` names an event.
//! [`advance`] runs once at start-up, before the first event: it reads the
//! counter from non-volatile storage, adds one and writes it back, and the
//! node stamps the result on its online state and every event
//! ([`crate::NodeCore::set_boot`]).
//!
//! # Storage layout
//! Two slots of 8 bytes at `offset` and `offset + 8`, written in turn. Each
//! holds the counter (u32, little endian) and its bitwise complement, so an
//! erased slot (all `0xFF`), a zeroed one, or one torn by a power cut mid-write
//! is recognised as empty. The highest valid slot wins; the next value goes
//! to the other slot, so a torn write loses only the boot being started,
//! which was never used (the node uses a boot only after it is written).
//!
//! Any driver implementing the ecosystem's `embedded_storage::Storage` trait
//! (internal flash, an EEPROM, FRAM) can hold it; 16 bytes are needed.

use embedded_storage::{ReadStorage, Storage};

/// Bytes of one slot.
pub const SLOT_LEN: u32 = 8;
/// Bytes the boot counter occupies at its offset (two slots).
pub const BOOT_RECORD_LEN: u32 = 2 * SLOT_LEN;

/// Why the boot counter could not be advanced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootError<E> {
    /// The storage failed to read or write.
    Storage(E),
    /// The storage is smaller than `offset + 16` bytes.
    TooSmall,
    /// The value read back after the write is not the value written.
    Verify,
}

/// The counter in `slot`, if the slot holds one.
fn decode(slot: &[u8; SLOT_LEN as usize]) -> Option<u32> {
    let value = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]);
    let check = u32::from_le_bytes([slot[4], slot[5], slot[6], slot[7]]);
    (check == !value && value != 0).then_some(value)
}

fn encode(value: u32) -> [u8; SLOT_LEN as usize] {
    let mut out = [0u8; SLOT_LEN as usize];
    out[..4].copy_from_slice(&value.to_le_bytes());
    out[4..].copy_from_slice(&(!value).to_le_bytes());
    out
}

/// The stored counter at `offset` (0: never booted) and the slot to write next.
fn read<S: ReadStorage>(storage: &mut S, offset: u32) -> Result<(u32, u32), BootError<S::Error>> {
    let end = offset
        .checked_add(BOOT_RECORD_LEN)
        .ok_or(BootError::TooSmall)?;
    if usize::try_from(end).map_or(true, |e| e > storage.capacity()) {
        return Err(BootError::TooSmall);
    }
    let mut a = [0u8; SLOT_LEN as usize];
    let mut b = [0u8; SLOT_LEN as usize];
    storage.read(offset, &mut a).map_err(BootError::Storage)?;
    storage
        .read(offset + SLOT_LEN, &mut b)
        .map_err(BootError::Storage)?;
    Ok(match (decode(&a), decode(&b)) {
        (Some(x), Some(y)) if y > x => (y, offset),
        (Some(x), _) => (x, offset + SLOT_LEN),
        (None, Some(y)) => (y, offset),
        (None, None) => (0, offset),
    })
}

/// The boot counter stored at `offset`, without changing it (0: never booted).
///
/// # Errors
/// [`BootError`] when the storage fails or is too small.
pub fn current<S: ReadStorage>(storage: &mut S, offset: u32) -> Result<u32, BootError<S::Error>> {
    read(storage, offset).map(|(v, _)| v)
}

/// Starts a boot: reads the counter at `offset`, writes it plus one, and
/// returns the new value (from 1; it stops at `u32::MAX`, a boot a second
/// for 136 years).
///
/// # Errors
/// [`BootError`] when the storage fails, is too small, or does not read back
/// what was written. The node then runs without a boot identity (the
/// gateway's fail-safe rule for nodes without one applies).
pub fn advance<S: Storage>(storage: &mut S, offset: u32) -> Result<u32, BootError<S::Error>> {
    let (last, slot) = read(storage, offset)?;
    let next = last.saturating_add(1);
    storage
        .write(slot, &encode(next))
        .map_err(BootError::Storage)?;
    if current(storage, offset)? == next {
        Ok(next)
    } else {
        Err(BootError::Verify)
    }
}

#[cfg(test)]
mod tests;
