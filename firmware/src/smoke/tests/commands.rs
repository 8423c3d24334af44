//! Commands: reset, hush (and its refusal rule), self-test, unsupported.

use embedded_hal_mock::eh1::digital::Transaction as Tx;
use protocol::{Cause, CommandError, CommandKind, CommandReason};

use super::{CLEAN, DENSE, Rig};
use crate::node::Outbound;
use crate::test_support::{ack, kinds};

use super::EventKind::*;
use super::State::{High, Low};

#[test]
fn reset_is_refused_in_the_hysteresis_band_and_accepted_below_it() {
    let mut r = Rig::new();
    r.alarm();
    r.chamber.set(170); // below alarm_raw, not below clear_raw
    r.tick(&[]);
    let out = r.command(CommandKind::Reset, CommandReason::Operator, None, &[]);
    assert_eq!(ack(&out).unwrap().error, Some(CommandError::Refused));
    r.chamber.set(CLEAN);
    r.tick(&[]);
    let out = r.command(
        CommandKind::Reset,
        CommandReason::Operator,
        None,
        &[Tx::set(Low)],
    );
    assert!(ack(&out).unwrap().ok);
    assert_eq!(kinds(&out), vec![(Restore, Some(Cause::Smoke))]);
    assert!(!r.det.status().latched && !r.det.status().sounding);
}

#[test]
fn reset_without_an_alarm_is_a_no_op() {
    let mut r = Rig::new();
    let out = r.command(CommandKind::Reset, CommandReason::Operator, None, &[]);
    assert!(ack(&out).unwrap().ok);
    assert!(kinds(&out).is_empty());
}

#[test]
fn self_test_command_is_acked_and_reported() {
    let mut r = Rig::new();
    let out = r.command(
        CommandKind::SelfTest,
        CommandReason::Operator,
        None,
        &[Tx::set(High)],
    );
    assert!(ack(&out).unwrap().ok);
    assert_eq!(kinds(&out), vec![(Test, Some(Cause::Smoke))]);
}

#[test]
fn hush_silences_a_nuisance_alarm_for_at_most_the_limit() {
    let mut r = Rig::new();
    r.alarm();
    let out = r.command(
        CommandKind::Hush,
        CommandReason::Operator,
        Some(3_600),
        &[Tx::set(Low)],
    );
    assert!(ack(&out).unwrap().ok);
    r.tick_at(r.now + 599_000, [Tx::get(Low)], [Tx::get(Low)], &[]);
    let out = r.tick_at(
        r.now + 1_000,
        [Tx::get(Low)],
        [Tx::get(Low)],
        &[Tx::set(High)],
    );
    assert!(kinds(&out).is_empty());
    assert!(
        r.det.status().sounding,
        "10 minutes at most, though 1 h was asked"
    );
}

#[test]
fn hush_duration_can_be_shorter() {
    let mut r = Rig::new();
    r.alarm();
    r.command(
        CommandKind::Hush,
        CommandReason::Operator,
        Some(2),
        &[Tx::set(Low)],
    );
    r.tick(&[]);
    r.tick(&[Tx::set(High)]);
    assert!(r.det.status().sounding);
}

#[test]
fn hush_is_refused_in_dense_smoke_in_a_fire_and_when_faulty() {
    let mut r = Rig::new();
    r.alarm();
    let refused = |out: &Outbound| ack(out).unwrap().error == Some(CommandError::Refused);
    assert!(refused(&r.command(
        CommandKind::Hush,
        CommandReason::Fire,
        None,
        &[]
    )));
    r.chamber.set(DENSE);
    r.tick(&[]);
    assert!(refused(&r.command(
        CommandKind::Hush,
        CommandReason::Operator,
        None,
        &[]
    )));
    r.chamber.set(4_095);
    r.tick(&[]);
    assert!(refused(&r.command(
        CommandKind::Hush,
        CommandReason::Operator,
        None,
        &[]
    )));
    assert!(r.det.status().sounding);
}

#[test]
fn a_running_hush_ends_when_smoke_gets_dense() {
    let mut r = Rig::new();
    r.alarm();
    r.command(
        CommandKind::Hush,
        CommandReason::Operator,
        None,
        &[Tx::set(Low)],
    );
    r.tick(&[]);
    r.chamber.set(DENSE);
    r.tick(&[Tx::set(High)]);
    assert!(r.det.status().sounding);
}

#[test]
fn other_commands_are_unsupported() {
    let mut r = Rig::new();
    for kind in [
        CommandKind::Unlock,
        CommandKind::Lock,
        CommandKind::ValveClose,
        CommandKind::ValveOpen,
    ] {
        let out = r.command(kind, CommandReason::Operator, None, &[]);
        assert_eq!(ack(&out).unwrap().error, Some(CommandError::Unsupported));
    }
}
