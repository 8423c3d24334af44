use protocol::access::{CredId, CredKind, Entry, ListAck, ListChunk, ListError, Window, split};

use super::{Credentials, ListStoreError, StoredList};
use crate::test_support::{MemStorage, StorageFailed};

const CAP: u32 = 20;

fn card(id: &str) -> Entry {
    Entry::card(CredId::new(id).unwrap())
}

fn cards(n: usize, prefix: &str) -> Vec<Entry> {
    (0..n).map(|i| card(&format!("{prefix}{i:04}"))).collect()
}

fn chunks(list: u32, entries: &[Entry]) -> Vec<ListChunk> {
    split(list, entries, 0).unwrap().collect()
}

fn store() -> (MemStorage, StoredList<MemStorage>) {
    let flash = MemStorage::erased(StoredList::<MemStorage>::footprint(CAP) as usize + 64);
    let list = StoredList::open(flash.clone(), 64, CAP).unwrap();
    (flash, list)
}

/// Sends every chunk in order; returns the last answer.
fn sync_all(list: &mut StoredList<MemStorage>, parts: &[ListChunk]) -> ListAck {
    let mut last = None;
    for p in parts {
        let a = list.sync(p);
        assert!(a.ok, "part {} refused: {a:?}", p.part);
        last = Some(a);
    }
    last.unwrap()
}

fn has(list: &mut StoredList<MemStorage>, id: &str) -> bool {
    list.lookup(CredKind::Card, id).unwrap().entry.is_some()
}

#[test]
fn a_synced_list_is_found_after_a_reboot() {
    let (flash, mut list) = store();
    assert_eq!((list.active(), list.len()), (0, 0), "erased: no list");
    let entries = cards(17, "c");
    let done = sync_all(&mut list, &chunks(3, &entries));
    assert_eq!((done.next, done.active), (3, 3));
    drop(list);
    let mut list = StoredList::open(flash, 64, CAP).unwrap();
    assert_eq!((list.active(), list.len()), (3, 17));
    assert!(has(&mut list, "c0000") && has(&mut list, "c0016"));
    assert!(!has(&mut list, "c0017"));
    let pin = list.lookup(CredKind::Pin, "c0000").unwrap();
    assert_eq!((pin.entry, pin.list), (None, 3), "a card id is not a PIN");
}

#[test]
fn every_field_of_an_entry_survives_storage() {
    let (flash, mut list) = store();
    let e = Entry {
        id: CredId::new("QR-0123456789abcdefg").unwrap(),
        kind: CredKind::Qr,
        from: Some(1_796_112_000),
        until: Some(u32::MAX),
        win: Some(Window {
            days: 0b001_1111,
            from_min: 420,
            to_min: 1_200,
        }),
        revoked: true,
    };
    sync_all(&mut list, &chunks(1, core::slice::from_ref(&e)));
    let mut list = StoredList::open(flash, 64, CAP).unwrap();
    let got = list.lookup(CredKind::Qr, e.id.as_str()).unwrap();
    assert_eq!(got.entry, Some(e));
}

#[test]
fn a_repeated_part_tells_where_to_resume() {
    let (_, mut list) = store();
    let parts = chunks(2, &cards(20, "c"));
    assert_eq!(list.sync(&parts[0]).next, 1);
    assert_eq!(list.sync(&parts[1]).next, 2);
    // The link drops; the gateway offers part 0 again.
    let resume = list.sync(&parts[0]);
    assert!(resume.ok);
    assert_eq!((resume.next, resume.active), (2, 0), "resume at part 2");
    let done = list.sync(&parts[2]);
    assert_eq!((done.next, done.active), (3, 2));
    let again = list.sync(&parts[0]);
    assert_eq!((again.ok, again.next), (true, 3), "already complete");
}

#[test]
fn a_part_out_of_order_asks_for_the_missing_one() {
    let (_, mut list) = store();
    let parts = chunks(2, &cards(20, "c"));
    let gap = list.sync(&parts[1]);
    assert_eq!(
        (gap.ok, gap.error, gap.next),
        (false, Some(ListError::Gap), 0)
    );
    list.sync(&parts[0]);
    let skip = list.sync(&parts[2]);
    assert_eq!((skip.error, skip.next), (Some(ListError::Gap), 1));
    assert_eq!(list.active(), 0);
}

#[test]
fn a_list_over_capacity_is_refused_and_the_old_one_stays() {
    let (_, mut list) = store();
    sync_all(&mut list, &chunks(1, &cards(5, "a")));
    let big = chunks(2, &cards(CAP as usize + 1, "b"));
    let a = list.sync(&big[0]);
    assert_eq!(
        (a.ok, a.error, a.active),
        (false, Some(ListError::TooLarge), 1)
    );
    assert!(has(&mut list, "a0004"));
}

#[test]
fn a_hash_mismatch_keeps_the_old_list() {
    let (_, mut list) = store();
    sync_all(&mut list, &chunks(1, &cards(3, "a")));
    let mut parts = chunks(2, &cards(9, "b"));
    // A part damaged on the way: other entries under the same hash.
    parts[1].entries[0] = card("evil");
    list.sync(&parts[0]);
    let a = list.sync(&parts[1]);
    assert_eq!((a.ok, a.error, a.active), (false, Some(ListError::Hash), 1));
    assert!(has(&mut list, "a0000") && !has(&mut list, "evil"));
}

#[test]
fn a_revocation_takes_effect_with_the_next_list() {
    let (flash, mut list) = store();
    let mut entries = cards(4, "c");
    sync_all(&mut list, &chunks(1, &entries));
    entries[2].revoked = true;
    sync_all(&mut list, &chunks(2, &entries));
    let mut list = StoredList::open(flash, 64, CAP).unwrap();
    let got = list.lookup(CredKind::Card, "c0002").unwrap();
    assert_eq!(got.list, 2);
    assert_eq!(
        protocol::access::decide(got.entry.as_ref(), 1_796_113_800, 0),
        Err(protocol::access::DenyReason::Revoked)
    );
}

#[test]
fn a_reset_mid_sync_keeps_the_previous_list_and_restarts_the_new_one() {
    let (flash, mut list) = store();
    sync_all(&mut list, &chunks(1, &cards(3, "a")));
    let parts = chunks(2, &cards(12, "b"));
    list.sync(&parts[0]);
    drop(list);
    let mut list = StoredList::open(flash.clone(), 64, CAP).unwrap();
    assert_eq!(list.active(), 1, "the complete list is in force");
    assert!(has(&mut list, "a0000") && !has(&mut list, "b0000"));
    let a = list.sync(&parts[1]);
    assert_eq!((a.error, a.next), (Some(ListError::Gap), 0), "start again");
    assert_eq!(sync_all(&mut list, &parts).active, 2);
}

#[test]
fn a_torn_header_write_leaves_the_previous_list() {
    let (flash, mut list) = store();
    sync_all(&mut list, &chunks(1, &cards(3, "a")));
    // List 2 takes five writes: the spoiled header, three records, the
    // header. The power goes during the fifth: 10 bytes land.
    flash.tear_after_writes(4, 10);
    list.sync(&chunks(2, &cards(3, "b"))[0]);
    drop(list);
    let mut list = StoredList::open(flash, 64, CAP).unwrap();
    assert_eq!(list.active(), 1, "list 2's header is torn: list 1 decides");
    assert!(has(&mut list, "a0000") && !has(&mut list, "b0000"));
}

#[test]
fn storage_failures_are_reported_not_taken() {
    let (flash, mut list) = store();
    sync_all(&mut list, &chunks(1, &cards(3, "a")));
    flash.fail(true);
    let a = list.sync(&chunks(2, &cards(3, "b"))[0]);
    assert_eq!((a.ok, a.error), (false, Some(ListError::Storage)));
    assert!(list.lookup(CredKind::Card, "a0000").is_err(), "fail closed");
    flash.fail(false);
    assert!(has(&mut list, "a0000"));
    let small = MemStorage::erased(100);
    assert_eq!(
        StoredList::open(small, 0, CAP).unwrap_err(),
        ListStoreError::TooSmall
    );
    flash.fail(true);
    assert_eq!(
        StoredList::open(flash, 64, CAP).unwrap_err(),
        ListStoreError::Storage(StorageFailed)
    );
}
