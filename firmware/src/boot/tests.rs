use super::*;
use crate::test_support::{MemStorage, StorageFailed};

#[test]
fn the_counter_starts_at_one_and_advances_at_every_boot() {
    let mut flash = MemStorage::erased(64);
    assert_eq!(current(&mut flash, 16), Ok(0), "erased: never booted");
    for boot in 1..=5 {
        assert_eq!(advance(&mut flash, 16), Ok(boot));
        assert_eq!(current(&mut flash, 16), Ok(boot));
    }
    assert_eq!(flash.writes(), 5, "one write per boot");
    let bytes = flash.snapshot();
    assert!(
        bytes[..16].iter().all(|&b| b == 0xFF),
        "before the offset untouched"
    );
    assert!(
        bytes[32..].iter().all(|&b| b == 0xFF),
        "after the record untouched"
    );
}

#[test]
fn a_zeroed_part_reads_as_never_booted() {
    let mut flash = MemStorage::erased(16);
    embedded_storage::Storage::write(&mut flash, 0, &[0; 16]).expect("zero");
    assert_eq!(advance(&mut flash, 0), Ok(1));
}

#[test]
fn a_write_torn_by_a_power_cut_never_gives_a_used_boot_again() {
    let mut flash = MemStorage::erased(16);
    for _ in 0..3 {
        advance(&mut flash, 0).expect("boot");
    }
    // Boot 4 is being written when the power goes: only 3 bytes land.
    flash.tear_next_write(3);
    let _ = advance(&mut flash, 0);
    // Boot 3 was the last one the node ran with; the next boot is above it.
    let next = advance(&mut flash, 0).expect("boot after the cut");
    assert!(next > 3, "boot {next} after a torn write");
    assert_eq!(advance(&mut flash, 0), Ok(next + 1));
}

#[test]
fn storage_failures_and_small_parts_are_errors_not_boot_one() {
    let mut flash = MemStorage::erased(64);
    advance(&mut flash, 0).expect("boot 1");
    flash.fail(true);
    assert_eq!(
        advance(&mut flash, 0),
        Err(BootError::Storage(StorageFailed))
    );
    flash.fail(false);
    assert_eq!(
        advance(&mut flash, 0),
        Ok(2),
        "the failed boot left no mark"
    );
    let mut small = MemStorage::erased(20);
    assert_eq!(advance(&mut small, 8), Err(BootError::TooSmall));
    assert_eq!(advance(&mut small, u32::MAX), Err(BootError::TooSmall));
}

#[test]
fn the_counter_stops_at_its_top() {
    let mut flash = MemStorage::erased(16);
    embedded_storage::Storage::write(&mut flash, 0, &encode(u32::MAX - 1)).expect("seed");
    assert_eq!(advance(&mut flash, 0), Ok(u32::MAX));
    assert_eq!(advance(&mut flash, 0), Ok(u32::MAX));
}
