//! Unit tests of `protocol::access`.
use super::*;

fn id(s: &str) -> CredId {
    CredId::new(s).unwrap()
}

// 2026-12-01 (a Tuesday) 08:30 UTC.
const TUE_0830: u64 = 1_796_113_800;

#[test]
fn decide_checks_revoked_expiry_start_and_window_in_order() {
    let mut e = Entry::card(id("C1"));
    assert_eq!(decide(None, TUE_0830, 0), Err(DenyReason::Unknown));
    assert_eq!(decide(Some(&e), TUE_0830, 0), Ok(()));
    e.until = Some(u32::try_from(TUE_0830).unwrap());
    assert_eq!(decide(Some(&e), TUE_0830, 0), Err(DenyReason::Expired));
    e.until = None;
    e.from = Some(u32::try_from(TUE_0830 + 1).unwrap());
    assert_eq!(
        decide(Some(&e), TUE_0830, 0),
        Err(DenyReason::OutsideWindow)
    );
    e.from = None;
    e.revoked = true;
    assert_eq!(decide(Some(&e), TUE_0830, 0), Err(DenyReason::Revoked));
}

#[test]
fn windows_follow_the_weekday_and_the_local_offset() {
    let mut e = Entry::card(id("C1"));
    // Tuesday 08:00-09:00 local.
    e.win = Some(Window {
        days: 0b10,
        from_min: 480,
        to_min: 540,
    });
    assert_eq!(decide(Some(&e), TUE_0830, 0), Ok(()));
    // UTC+8: 16:30 local, outside.
    assert_eq!(
        decide(Some(&e), TUE_0830, 480),
        Err(DenyReason::OutsideWindow)
    );
    // Monday only: outside on a Tuesday.
    e.win = Some(Window {
        days: 0b1,
        from_min: 0,
        to_min: DAY_MIN,
    });
    assert_eq!(
        decide(Some(&e), TUE_0830, 0),
        Err(DenyReason::OutsideWindow)
    );
    assert!(Window::ALWAYS.contains(0));
}

#[test]
fn the_hash_covers_every_field_and_the_order() {
    let a = Entry::card(id("A"));
    let mut b = Entry::card(id("B"));
    let base = ListHash::of([&a, &b]);
    assert_ne!(base, ListHash::of([&b, &a]));
    b.revoked = true;
    assert_ne!(base, ListHash::of([&a, &b]));
    b.revoked = false;
    b.kind = CredKind::Pin;
    assert_ne!(base, ListHash::of([&a, &b]));
    b.kind = CredKind::Card;
    b.until = Some(5);
    assert_ne!(base, ListHash::of([&a, &b]));
    b.until = None;
    assert_eq!(base, ListHash::of([&a, &b]));
}

#[test]
fn split_gives_ordered_full_parts_and_one_part_for_an_empty_list() {
    let entries: Vec<Entry> = (0..17).map(|i| Entry::card(id(&format!("c{i}")))).collect();
    let parts: Vec<ListChunk> = split(4, &entries, 480).unwrap().collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts.iter().map(|p| p.entries.len()).collect::<Vec<_>>(),
        [8, 8, 1]
    );
    assert!(
        parts
            .iter()
            .all(|p| p.total == 17 && p.parts == 3 && p.list == 4)
    );
    assert_eq!(parts[0].hash, ListHash::of(&entries));
    let empty: Vec<ListChunk> = split(5, &[], 0).unwrap().collect();
    assert_eq!((empty.len(), empty[0].parts, empty[0].total), (1, 1, 0));
    for p in parts.iter().chain(&empty) {
        p.validate().expect("valid chunk");
    }
}

#[test]
fn a_full_chunk_fits_its_size_limit() {
    let e = Entry {
        id: id("QR-0123456789abcdefg"),
        kind: CredKind::Qr,
        from: Some(u32::MAX),
        until: Some(u32::MAX),
        win: Some(Window::ALWAYS),
        revoked: true,
    };
    let chunk = ListChunk {
        list: u32::MAX,
        part: u16::MAX - 1,
        parts: u16::MAX,
        total: u32::MAX,
        hash: u64::MAX,
        tz_min: -840,
        entries: core::iter::repeat_n(e, CHUNK_ENTRIES).collect(),
    };
    let mut buf = [0u8; ListChunk::MAX_LEN];
    let n = crate::codec::encode_core(&chunk, &mut buf).expect("fits");
    assert!(n <= ListChunk::MAX_LEN);
}
