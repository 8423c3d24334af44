//! The door with a stored list: sync over `cmd`, offline decisions after a
//! reboot, access events and their acks (embedded-hal-mock pins and reader).

use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as Tx};
use embedded_hal_mock::eh1::serial::{Mock as Serial, Transaction as SerialTx};
use embedded_hal_nb::nb;
use protocol::Message;
use protocol::access::{
    AccessEvent, AccessKind, CredId, CredKind, DenyReason, Entry, ListAck, ListError, split,
};
use protocol::{DeviceChannel, EvtAck};

use super::{DoorConfig, DoorController, LockMode, StoredList};
use crate::node::{Node, Outbound, Outgoing};
use crate::test_support::MemStorage;

fn encode<M: Message>(m: &M) -> Vec<u8> {
    let mut buf = vec![0u8; M::MAX_LEN];
    let n = protocol::codec::encode_core(m, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

use State::{High, Low};

type Door = DoorController<Pin, Pin, Serial<u8>, StoredList<MemStorage>>;

// 2026-12-01 (a Tuesday) 08:30 UTC, in ms.
const TUE_0830_MS: u64 = 1_796_113_800_000;
const CAP: u32 = 16;

struct Rig {
    contact: Pin,
    lock: Pin,
    reader: Serial<u8>,
    flash: MemStorage,
    door: Door,
    now: u64,
}

impl Rig {
    fn boot(flash: MemStorage, clock: bool) -> Self {
        let (contact, lock, reader) = (Pin::new(&[]), Pin::new(&[]), Serial::new(&[]));
        let list = StoredList::open(flash.clone(), 0, CAP).unwrap();
        let mut door = DoorController::new(
            contact.clone(),
            lock.clone(),
            reader.clone(),
            list,
            DoorConfig::default(),
        );
        if clock {
            door.core_mut().set_clock(0, TUE_0830_MS);
        }
        door.core_mut().set_boot(Some(1));
        let mut rig = Self {
            contact,
            lock,
            reader,
            flash,
            door,
            now: 0,
        };
        rig.tick(Low, b"", &[Tx::set(High)]);
        rig
    }

    fn new() -> Self {
        Self::boot(
            MemStorage::erased(StoredList::<MemStorage>::footprint(CAP) as usize),
            true,
        )
    }

    /// Power cut and restart: the storage is all that survives.
    fn reboot(self, clock: bool) -> Self {
        let flash = self.flash.clone();
        drop(self);
        Self::boot(flash, clock)
    }

    fn tick(&mut self, open: State, card: &[u8], lock: &[Tx]) -> Outbound {
        self.now += 1_000;
        let mut serial = Vec::new();
        if !card.is_empty() {
            serial.push(SerialTx::read_many(card));
        }
        serial.push(SerialTx::read_error(nb::Error::WouldBlock));
        self.reader.update_expectations(&serial);
        self.contact.update_expectations(&[Tx::get(open)]);
        self.lock.update_expectations(lock);
        let out = self.door.tick(self.now);
        self.reader.done();
        self.contact.done();
        self.lock.done();
        out
    }

    /// Presents a credential line at a closed door; returns its access event.
    fn present(&mut self, line: &[u8], lock: &[Tx]) -> AccessEvent {
        let out = self.tick(Low, line, lock);
        let ev = access(&out).pop().expect("an access event");
        self.ack(&ev);
        // Let a granted door relock before the next read.
        if ev.kind == AccessKind::Granted {
            self.now += 10_000;
            self.tick(Low, b"", &[Tx::set(High)]);
        }
        ev
    }

    fn ack(&mut self, ev: &AccessEvent) {
        let ack = EvtAck {
            seq: ev.seq,
            boot: ev.boot,
        };
        self.door
            .receive(self.now, DeviceChannel::AccAck, &encode(&ack))
            .unwrap();
    }

    /// Sends the list; returns the answers.
    fn sync(&mut self, list: u32, entries: &[Entry]) -> Vec<ListAck> {
        self.lock.update_expectations(&[]);
        let acks = split(list, entries, 0)
            .unwrap()
            .map(|c| {
                let out = self
                    .door
                    .receive(self.now, DeviceChannel::Cmd, &encode(&c))
                    .unwrap();
                list_ack(&out)
            })
            .collect();
        self.lock.done();
        acks
    }
}

fn access(out: &Outbound) -> Vec<AccessEvent> {
    out.iter()
        .filter_map(|o| match o {
            Outgoing::Access(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn list_ack(out: &Outbound) -> ListAck {
    match out.first() {
        Some(Outgoing::ListAck(a)) => *a,
        other => panic!("no list ack first: {other:?}"),
    }
}

fn card(id: &str) -> Entry {
    Entry::card(CredId::new(id).unwrap())
}

fn verdict(ev: &AccessEvent) -> (AccessKind, Option<DenyReason>) {
    (ev.kind, ev.reason)
}

fn residents_and_a_visitor() -> Vec<Entry> {
    let now_s = u32::try_from(TUE_0830_MS / 1_000).unwrap();
    let mut visitor = Entry::card(CredId::new("v-17").unwrap());
    visitor.kind = CredKind::Qr;
    visitor.from = Some(now_s);
    visitor.until = Some(now_s + 60);
    let mut pin = card("4711");
    pin.kind = CredKind::Pin;
    vec![card("card-0001"), card("card-0002"), visitor, pin]
}

#[test]
fn a_synced_list_opens_the_door_and_every_decision_is_an_event() {
    let mut r = Rig::new();
    let acks = r.sync(1, &residents_and_a_visitor());
    assert_eq!(acks.last().map(|a| (a.ok, a.active)), Some((true, 1)));
    assert_eq!(r.door.status().list, 1);
    let ev = r.present(b"card-0001\n", &[Tx::set(Low)]);
    assert_eq!(verdict(&ev), (AccessKind::Granted, None));
    assert_eq!(
        (ev.cred.as_deref(), ev.cred_kind, ev.list, ev.boot),
        (Some("card-0001"), Some(CredKind::Card), 1, Some(1))
    );
    assert_eq!(ev.ts.map(|t| t / 1_000), Some(TUE_0830_MS / 1_000 + 2));
    let ev = r.present(b"P:4711\n", &[Tx::set(Low)]);
    assert_eq!(verdict(&ev), (AccessKind::Granted, None), "a PIN");
    let ev = r.present(b"card-9999\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::Unknown))
    );
    let ev = r.present(b"4711\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::Unknown)),
        "a PIN's digits are not a card"
    );
    let ev = r.present(b"ca rd\n", &[]);
    assert_eq!((ev.kind, ev.cred), (AccessKind::Denied, None), "garbled");
    assert_eq!(r.door.status().mode, LockMode::Locked);
    assert_eq!(r.door.access_log().pending(), 0, "all acknowledged");
}

#[test]
fn a_visitor_pass_opens_during_its_period_and_not_after() {
    let mut r = Rig::new();
    r.sync(1, &residents_and_a_visitor());
    let ev = r.present(b"Q:v-17\n", &[Tx::set(Low)]);
    assert_eq!(verdict(&ev), (AccessKind::Granted, None));
    r.now += 60_000;
    let ev = r.present(b"Q:v-17\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::Expired))
    );
}

#[test]
fn after_a_reboot_the_door_decides_offline_from_its_stored_list() {
    let mut r = Rig::new();
    let mut entries = residents_and_a_visitor();
    r.sync(1, &entries);
    entries[1].revoked = true;
    r.sync(2, &entries);
    // Power cut; the node comes back with no link to the gateway.
    let mut r = r.reboot(true);
    assert_eq!(r.door.status().list, 2);
    let ev = r.present(b"card-0001\n", &[Tx::set(Low)]);
    assert_eq!((verdict(&ev), ev.list), ((AccessKind::Granted, None), 2));
    let ev = r.present(b"card-0002\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::Revoked))
    );
}

#[test]
fn without_a_clock_only_unlimited_credentials_open() {
    let mut r = Rig::new();
    r.sync(1, &residents_and_a_visitor());
    let mut r = r.reboot(false);
    let ev = r.present(b"Q:v-17\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::OutsideWindow)),
        "fail closed: the period cannot be checked"
    );
    assert_eq!(ev.ts, None);
    let ev = r.present(b"card-0001\n", &[Tx::set(Low)]);
    assert_eq!(verdict(&ev), (AccessKind::Granted, None));
}

#[test]
fn a_list_too_large_for_the_door_is_refused() {
    let mut r = Rig::new();
    r.sync(1, &residents_and_a_visitor());
    let big: Vec<Entry> = (0..=CAP).map(|i| card(&format!("c{i}"))).collect();
    let acks = r.sync(2, &big);
    assert!(
        acks.iter()
            .all(|a| !a.ok && a.error == Some(ListError::TooLarge) && a.active == 1)
    );
    assert_eq!(r.door.status().list, 1);
}

#[test]
fn unacknowledged_access_events_are_repeated_and_resent_after_a_reconnect() {
    let mut r = Rig::new();
    r.sync(1, &residents_and_a_visitor());
    let out = r.tick(Low, b"card-9999\n", &[]);
    let first = access(&out);
    assert_eq!(first.len(), 1);
    assert!(access(&r.tick(Low, b"", &[])).is_empty(), "not yet due");
    r.now += 5_000;
    assert_eq!(access(&r.tick(Low, b"", &[])), first, "repeated");
    r.door.reconnected(r.now);
    assert_eq!(access(&r.tick(Low, b"", &[])), first, "resent at once");
    r.ack(&first[0]);
    r.now += 10_000;
    assert!(access(&r.tick(Low, b"", &[])).is_empty(), "acknowledged");
}

#[test]
fn forced_and_held_doors_are_access_events_too() {
    let mut r = Rig::new();
    let out = r.tick(High, b"", &[]);
    assert_eq!(
        access(&out).iter().map(|e| e.kind).collect::<Vec<_>>(),
        [AccessKind::ForcedOpen]
    );
    r.tick(Low, b"", &[]);
    r.sync(1, &residents_and_a_visitor());
    r.tick(Low, b"card-0001\n", &[Tx::set(Low)]);
    r.tick(High, b"", &[]);
    r.now += 40_000;
    let out = r.tick(High, b"", &[Tx::set(High)]);
    assert!(access(&out).iter().any(|e| e.kind == AccessKind::HeldOpen));
}

#[test]
fn a_fire_release_ignores_the_list() {
    let mut r = Rig::new();
    r.sync(1, &[]);
    r.lock.update_expectations(&[Tx::set(Low)]);
    let cmd = br#"{"id":9,"cmd":"unlock","reason":"fire"}"#;
    r.door.receive(r.now, DeviceChannel::Cmd, cmd).unwrap();
    r.lock.done();
    assert_eq!(r.door.status().mode, LockMode::FireRelease);
    let ev = r.present(b"nobody\n", &[]);
    assert_eq!(
        verdict(&ev),
        (AccessKind::Denied, Some(DenyReason::Unknown))
    );
    assert_eq!(
        r.door.status().mode,
        LockMode::FireRelease,
        "still released"
    );
}

#[test]
fn a_payload_that_is_neither_command_nor_chunk_is_a_decode_error() {
    let mut r = Rig::new();
    let err = r
        .door
        .receive(r.now, DeviceChannel::Cmd, br#"{"id":1,"cmd":"dance"}"#)
        .unwrap_err();
    assert_eq!(err.reason(), "invalid");
}
