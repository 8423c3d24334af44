use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as Tx};
use embedded_hal_mock::eh1::serial::{Mock as Serial, Transaction as SerialTx};
use embedded_hal_nb::nb;
use protocol::{Cause, Command, CommandError, CommandKind, CommandReason, EventKind, EvtAck};

use super::{AllowList, DoorConfig, DoorController, LockMode};
use crate::node::{Node, Outbound};
use crate::test_support::{ack, events, kinds};

use CommandKind::{Lock, Reset, Unlock};
use CommandReason::{Fire, Operator, Schedule};
use EventKind::*;
use State::{High, Low};

struct Rig {
    contact: Pin,
    lock: Pin,
    reader: Serial<u8>,
    door: DoorController<Pin, Pin, Serial<u8>, AllowList<4>>,
    now: u64,
}

impl Rig {
    /// A locked, closed door after its first tick.
    fn new() -> Self {
        let (contact, lock, reader) = (Pin::new(&[]), Pin::new(&[]), Serial::new(&[]));
        let allow = AllowList::from_ids(&["CARD1"]).unwrap();
        let door = DoorController::new(
            contact.clone(),
            lock.clone(),
            reader.clone(),
            allow,
            DoorConfig::default(),
        );
        let mut rig = Self {
            contact,
            lock,
            reader,
            door,
            now: 0,
        };
        let out = rig.step(0, Low, b"", &[Tx::set(High)]);
        assert_eq!(
            events(&out).iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![Heartbeat]
        );
        rig
    }

    /// A tick at `now` with the contact at `open`, the reader delivering `card`.
    fn step(&mut self, now: u64, open: State, card: &[u8], lock: &[Tx]) -> Outbound {
        self.now = now;
        let mut serial = Vec::new();
        if !card.is_empty() {
            serial.push(SerialTx::read_many(card));
        }
        serial.push(SerialTx::read_error(nb::Error::WouldBlock));
        self.reader.update_expectations(&serial);
        self.contact.update_expectations(&[Tx::get(open)]);
        self.lock.update_expectations(lock);
        let out = self.door.tick(now);
        self.done();
        self.acked(out)
    }

    /// One second later.
    fn tick(&mut self, open: State, card: &[u8], lock: &[Tx]) -> Outbound {
        self.step(self.now + 1_000, open, card, lock)
    }

    fn command(
        &mut self,
        cmd: CommandKind,
        reason: CommandReason,
        duration_s: Option<u32>,
        lock: &[Tx],
    ) -> Outbound {
        self.reader.update_expectations(&[]);
        self.contact.update_expectations(&[]);
        self.lock.update_expectations(lock);
        let out = self.door.command(
            self.now,
            &Command {
                id: 8,
                cmd,
                reason,
                duration_s,
            },
        );
        self.done();
        self.acked(out)
    }

    fn done(&mut self) {
        self.reader.done();
        self.contact.done();
        self.lock.done();
    }

    fn acked(&mut self, out: Outbound) -> Outbound {
        for e in events(&out) {
            self.door.evt_ack(EvtAck::of(&e));
        }
        out
    }
}

fn ok(out: &Outbound) -> bool {
    ack(out).unwrap().ok
}

fn error(out: &Outbound) -> Option<CommandError> {
    ack(out).unwrap().error
}

#[test]
fn an_allowed_card_unlocks_and_closing_the_door_relocks() {
    let mut r = Rig::new();
    assert!(kinds(&r.tick(Low, b"CARD1\r\n", &[Tx::set(Low)])).is_empty());
    assert!(matches!(r.door.status().mode, LockMode::Unlocked(Some(_))));
    assert!(
        kinds(&r.tick(High, b"", &[])).is_empty(),
        "opened with a card: no alarm"
    );
    assert!(kinds(&r.tick(Low, b"", &[Tx::set(High)])).is_empty());
    assert_eq!(r.door.status().mode, LockMode::Locked);
    assert_eq!(r.door.status().granted, 1);
}

#[test]
fn an_unused_unlock_expires() {
    let mut r = Rig::new();
    r.step(1_000, Low, b"CARD1\n", &[Tx::set(Low)]);
    r.step(5_999, Low, b"", &[]);
    r.step(6_000, Low, b"", &[Tx::set(High)]);
    assert_eq!(r.door.status().mode, LockMode::Locked);
}

#[test]
fn unknown_and_garbled_cards_are_denied() {
    let mut r = Rig::new();
    r.tick(Low, b"CARD2\nCA RD1\nCARD1CARD1CARD1CARD1X\n", &[]);
    assert_eq!((r.door.status().denied, r.door.status().granted), (3, 0));
    assert_eq!(r.door.status().mode, LockMode::Locked);
}

#[test]
fn opening_a_locked_door_is_forced_entry_until_it_closes() {
    let mut r = Rig::new();
    assert_eq!(
        kinds(&r.tick(High, b"", &[])),
        vec![(Alarm, Some(Cause::DoorForced))]
    );
    assert!(r.door.status().forced);
    assert!(kinds(&r.tick(High, b"", &[])).is_empty());
    assert_eq!(
        kinds(&r.tick(Low, b"", &[])),
        vec![(Restore, Some(Cause::DoorForced))]
    );
}

#[test]
fn a_door_held_open_after_a_card_alarms_and_restores() {
    let mut r = Rig::new();
    r.step(1_000, Low, b"CARD1\n", &[Tx::set(Low)]);
    r.step(2_000, High, b"", &[]);
    r.step(6_000, High, b"", &[Tx::set(High)]);
    assert!(kinds(&r.step(31_999, High, b"", &[])).is_empty());
    assert_eq!(
        kinds(&r.step(32_000, High, b"", &[])),
        vec![(Alarm, Some(Cause::DoorHeld))]
    );
    assert!(!r.door.status().forced, "it was opened legitimately");
    assert_eq!(
        kinds(&r.tick(Low, b"", &[])),
        vec![(Restore, Some(Cause::DoorHeld))]
    );
}

#[test]
fn unlock_and_lock_commands_are_acked() {
    let mut r = Rig::new();
    assert!(ok(&r.command(Unlock, Operator, Some(10), &[Tx::set(Low)])));
    r.step(9_999, Low, b"", &[]);
    r.step(10_000, Low, b"", &[Tx::set(High)]);
    assert!(ok(&r.command(Unlock, Schedule, None, &[Tx::set(Low)])));
    r.step(100_000, High, b"", &[]);
    assert!(
        kinds(&r.step(200_000, High, b"", &[])).is_empty(),
        "free access: never held"
    );
    assert!(ok(&r.command(Lock, Operator, None, &[Tx::set(High)])));
    assert_eq!(r.door.status().mode, LockMode::Locked);
}

#[test]
fn a_fire_command_releases_and_holds_until_an_operator_locks() {
    let mut r = Rig::new();
    assert!(ok(&r.command(Unlock, Fire, None, &[Tx::set(Low)])));
    assert_eq!(r.door.status().mode, LockMode::FireRelease);
    assert_eq!(
        error(&r.command(Lock, Schedule, None, &[])),
        Some(CommandError::Refused)
    );
    assert_eq!(
        error(&r.command(Reset, CommandReason::Gas, None, &[])),
        Some(CommandError::Refused)
    );
    assert_eq!(
        error(&r.command(Lock, Fire, None, &[])),
        Some(CommandError::Refused)
    );
    assert!(
        ok(&r.command(Unlock, Operator, Some(5), &[])),
        "already released"
    );
    assert_eq!(
        error(&r.command(CommandKind::Hush, Operator, None, &[])),
        Some(CommandError::Refused)
    );
    assert!(
        kinds(&r.step(60_000, High, b"CARD1\n", &[])).is_empty(),
        "no forced or held alarm"
    );
    assert!(kinds(&r.step(120_000, High, b"", &[])).is_empty());
    assert_eq!(
        r.door.status().mode,
        LockMode::FireRelease,
        "not expired, not re-locked by a card"
    );
    assert!(ok(&r.command(Lock, Operator, None, &[Tx::set(High)])));
    assert_eq!(r.door.status().mode, LockMode::Locked);
}

#[test]
fn an_operator_reset_also_ends_a_fire_release() {
    let mut r = Rig::new();
    assert!(
        ok(&r.command(Reset, Operator, None, &[])),
        "nothing to reset"
    );
    assert_eq!(
        error(&r.command(Lock, Fire, None, &[Tx::set(Low)])),
        Some(CommandError::Refused)
    );
    assert_eq!(
        r.door.status().mode,
        LockMode::FireRelease,
        "fail-safe even for a lock"
    );
    assert!(ok(&r.command(Reset, Operator, None, &[Tx::set(High)])));
    assert_eq!(r.door.status().mode, LockMode::Locked);
}

#[test]
fn a_relay_failure_is_acked_as_hardware_and_reported_once() {
    let mut r = Rig::new();
    let err = MockError::Io(std::io::ErrorKind::Other);
    let out = r.command(Unlock, Operator, None, &[Tx::set(Low).with_error(err)]);
    assert_eq!(error(&out), Some(CommandError::Hardware));
    assert_eq!(kinds(&out), vec![(Fault, Some(Cause::Hardware))]);
    assert!(
        kinds(&r.tick(Low, b"", &[Tx::set(Low)])).is_empty(),
        "retried next tick"
    );
}

#[test]
fn an_unreadable_contact_is_a_hardware_fault() {
    let mut r = Rig::new();
    r.reader
        .update_expectations(&[SerialTx::read_error(nb::Error::WouldBlock)]);
    let err = MockError::Io(std::io::ErrorKind::Other);
    r.contact
        .update_expectations(&[Tx::get(High).with_error(err)]);
    r.lock.update_expectations(&[]);
    let out = r.door.tick(1_000);
    r.done();
    assert_eq!(kinds(&out), vec![(Fault, Some(Cause::Hardware))]);
    assert!(!r.door.status().forced);
}

#[test]
fn commands_a_door_cannot_do_are_unsupported() {
    let mut r = Rig::new();
    for kind in [
        CommandKind::Hush,
        CommandKind::ValveClose,
        CommandKind::SelfTest,
    ] {
        assert_eq!(
            error(&r.command(kind, Operator, None, &[])),
            Some(CommandError::Unsupported)
        );
    }
}
