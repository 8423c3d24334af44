use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as Tx};
use protocol::{Cause, Command, CommandKind, CommandReason, EventKind, EvtAck};

use super::{SmokeConfig, SmokeDetector, SmokePins};
use crate::node::{Node, Outbound};
use crate::test_support::{FakeAdc, events, kinds};

use EventKind::*;
use State::{High, Low};

const CLEAN: u16 = 50;
const SMOKE: u16 = 250;
const DENSE: u16 = 500;
const BATT_OK: u16 = 3_300;

fn io_err() -> MockError {
    MockError::Io(std::io::ErrorKind::Other)
}

/// A detector over mocks; every step states exactly which pin operations it expects.
struct Rig {
    chamber: FakeAdc,
    battery: FakeAdc,
    tamper: Pin,
    button: Pin,
    sounder: Pin,
    det: SmokeDetector<FakeAdc, FakeAdc, Pin, Pin, Pin>,
    now: u64,
    /// Acknowledge every event as soon as it is seen, as a healthy gateway does.
    auto_ack: bool,
}

impl Rig {
    /// A detector after its first tick (clean air, sounder driven off).
    fn new() -> Self {
        let (chamber, battery) = (FakeAdc::new(CLEAN), FakeAdc::new(BATT_OK));
        let (tamper, button, sounder) = (Pin::new(&[]), Pin::new(&[]), Pin::new(&[]));
        let pins = SmokePins {
            chamber: chamber.clone(),
            battery: battery.clone(),
            tamper: tamper.clone(),
            test_button: button.clone(),
            sounder: sounder.clone(),
        };
        let det = SmokeDetector::new(pins, SmokeConfig::default());
        let mut rig = Self {
            chamber,
            battery,
            tamper,
            button,
            sounder,
            det,
            now: 0,
            auto_ack: true,
        };
        let out = rig.tick_at(0, [Tx::get(Low)], [Tx::get(Low)], &[Tx::set(Low)]);
        assert_eq!(
            events(&out).iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![Heartbeat]
        );
        assert_eq!(events(&out)[0].battery, Some(100));
        rig
    }

    fn expect(&mut self, tamper: &[Tx], button: &[Tx], sounder: &[Tx]) {
        self.tamper.update_expectations(tamper);
        self.button.update_expectations(button);
        self.sounder.update_expectations(sounder);
    }

    fn done(&mut self) {
        self.tamper.done();
        self.button.done();
        self.sounder.done();
    }

    fn tick_at(&mut self, now: u64, tamper: [Tx; 1], button: [Tx; 1], sounder: &[Tx]) -> Outbound {
        self.now = now;
        self.expect(&tamper, &button, sounder);
        let out = self.det.tick(now);
        self.done();
        self.acked(out)
    }

    /// One second later, base seated and button up.
    fn tick(&mut self, sounder: &[Tx]) -> Outbound {
        self.tick_at(self.now + 1_000, [Tx::get(Low)], [Tx::get(Low)], sounder)
    }

    fn command(
        &mut self,
        kind: CommandKind,
        reason: CommandReason,
        duration_s: Option<u32>,
        sounder: &[Tx],
    ) -> Outbound {
        self.expect(&[], &[], sounder);
        let cmd = Command {
            id: 5,
            cmd: kind,
            reason,
            duration_s,
        };
        let out = self.det.command(self.now, &cmd);
        self.done();
        self.acked(out)
    }

    fn acked(&mut self, out: Outbound) -> Outbound {
        if self.auto_ack {
            for e in events(&out) {
                self.det.evt_ack(EvtAck::of(&e));
            }
        }
        out
    }

    /// Raises and latches the alarm (two samples at SMOKE).
    fn alarm(&mut self) {
        self.chamber.set(SMOKE);
        assert!(
            kinds(&self.tick(&[])).is_empty(),
            "one sample is not enough"
        );
        let out = self.tick(&[Tx::set(High)]);
        assert_eq!(kinds(&out), vec![(Alarm, Some(Cause::Smoke))]);
        assert!(self.det.status().latched && self.det.status().sounding);
    }
}

mod commands;

#[test]
fn alarm_needs_consecutive_samples_and_carries_the_reading() {
    let mut r = Rig::new();
    r.chamber.set(SMOKE);
    r.tick(&[]);
    r.chamber.set(CLEAN);
    assert!(
        kinds(&r.tick(&[])).is_empty(),
        "a single spike does not alarm"
    );
    r.chamber.set(SMOKE);
    r.tick(&[]);
    let out = r.tick(&[Tx::set(High)]);
    let alarm = &events(&out)[0];
    assert_eq!((alarm.kind, alarm.seq), (Alarm, 1));
    assert!((alarm.value.unwrap() - 2.5).abs() < 1e-4);
    assert_eq!(alarm.battery, Some(100));
}

#[test]
fn alarm_latches_after_the_smoke_clears() {
    let mut r = Rig::new();
    r.alarm();
    r.chamber.set(CLEAN);
    for _ in 0..5 {
        assert!(kinds(&r.tick(&[])).is_empty());
    }
    let s = r.det.status();
    assert!(s.latched && s.sounding);
    assert_eq!(s.reading, Some(CLEAN));
}

fn fault_cycle(r: &mut Rig, bad: impl Fn(&FakeAdc), cause: Cause) {
    bad(&r.chamber);
    assert!(kinds(&r.tick(&[])).is_empty());
    assert!(kinds(&r.tick(&[])).is_empty());
    assert_eq!(kinds(&r.tick(&[])), vec![(Fault, Some(cause))]);
    assert_eq!(r.det.status().fault, Some(cause));
    assert!(kinds(&r.tick(&[])).is_empty(), "reported once");
    r.chamber.set(CLEAN);
    r.tick(&[]);
    r.tick(&[]);
    assert_eq!(kinds(&r.tick(&[])), vec![(Restore, Some(cause))]);
    assert_eq!(r.det.status().fault, None);
}

#[test]
fn rail_readings_and_failed_conversions_are_faults() {
    let mut r = Rig::new();
    fault_cycle(&mut r, |a| a.set(0), Cause::SensorOpen);
    fault_cycle(&mut r, |a| a.set(4_095), Cause::SensorShort);
    fault_cycle(&mut r, FakeAdc::fail, Cause::Hardware);
    assert!(!r.det.status().latched, "a shorted chamber is not a fire");
}

#[test]
fn a_faulty_chamber_does_not_alarm_until_restored() {
    let mut r = Rig::new();
    r.chamber.set(0);
    for _ in 0..3 {
        r.tick(&[]);
    }
    r.chamber.set(SMOKE);
    assert!(kinds(&r.tick(&[])).is_empty());
    assert!(kinds(&r.tick(&[])).is_empty());
    assert_eq!(
        kinds(&r.tick(&[])),
        vec![(Restore, Some(Cause::SensorOpen))]
    );
    let out = r.tick(&[Tx::set(High)]);
    assert_eq!(
        kinds(&out),
        vec![(Alarm, Some(Cause::Smoke))],
        "confirmed afresh"
    );
}

#[test]
fn tamper_is_reported_and_restored() {
    let mut r = Rig::new();
    let out = r.tick_at(1_000, [Tx::get(High)], [Tx::get(Low)], &[]);
    assert_eq!(kinds(&out), vec![(Tamper, None)]);
    assert!(r.det.status().tampered);
    assert!(kinds(&r.tick_at(2_000, [Tx::get(High)], [Tx::get(Low)], &[])).is_empty());
    assert_eq!(kinds(&r.tick(&[])), vec![(Restore, None)]);
}

#[test]
fn test_button_sounds_briefly_and_reports_once_per_press() {
    let mut r = Rig::new();
    let out = r.tick_at(1_000, [Tx::get(Low)], [Tx::get(High)], &[Tx::set(High)]);
    let test = &events(&out)[0];
    assert_eq!((test.kind, test.cause), (Test, Some(Cause::Smoke)));
    assert!((test.value.unwrap() - 0.5).abs() < 1e-4);
    assert!(kinds(&r.tick_at(2_000, [Tx::get(Low)], [Tx::get(High)], &[])).is_empty());
    r.tick_at(3_000, [Tx::get(Low)], [Tx::get(Low)], &[Tx::set(Low)]);
    assert!(!r.det.status().sounding);
}

#[test]
fn low_battery_has_hysteresis_and_is_sampled_per_interval() {
    let mut r = Rig::new();
    r.battery.set(2_400); // 10 %
    assert!(
        kinds(&r.tick(&[])).is_empty(),
        "not sampled before the interval"
    );
    assert_eq!(r.battery.reads(), 1);
    let out = r.tick_at(60_000, [Tx::get(Low)], [Tx::get(Low)], &[]);
    assert_eq!(kinds(&out), vec![(LowBattery, None)]);
    assert_eq!(events(&out)[0].battery, Some(10));
    r.battery.set(2_480); // 18 %: above 15, below 15 + 5
    assert!(kinds(&r.tick_at(120_000, [Tx::get(Low)], [Tx::get(Low)], &[])).is_empty());
    r.battery.set(2_600); // 30 %
    let out = r.tick_at(180_000, [Tx::get(Low)], [Tx::get(Low)], &[]);
    assert_eq!(kinds(&out), vec![(Restore, None)]);
    assert!(!r.det.status().low_battery);
}

#[test]
fn unreadable_battery_is_reported_as_unknown() {
    let mut r = Rig::new();
    r.battery.fail();
    let out = r.tick_at(60_000, [Tx::get(Low)], [Tx::get(Low)], &[]);
    let hb = events(&out)
        .into_iter()
        .find(|e| e.kind == Heartbeat)
        .unwrap();
    assert_eq!(hb.battery, None);
    assert!(!r.det.status().low_battery);
}

#[test]
fn pin_failures_raise_one_hardware_fault_until_reset() {
    let mut r = Rig::new();
    let out = r.tick_at(
        1_000,
        [Tx::get(Low).with_error(io_err())],
        [Tx::get(Low)],
        &[],
    );
    assert_eq!(kinds(&out), vec![(Fault, Some(Cause::Hardware))]);
    let out = r.tick_at(
        2_000,
        [Tx::get(Low)],
        [Tx::get(Low).with_error(io_err())],
        &[],
    );
    assert!(kinds(&out).is_empty(), "latched: reported once");
    let out = r.command(CommandKind::Reset, CommandReason::Operator, None, &[]);
    assert_eq!(kinds(&out), vec![(Restore, Some(Cause::Hardware))]);
}

#[test]
fn a_failed_sounder_write_is_a_fault_and_is_retried() {
    let mut r = Rig::new();
    r.chamber.set(SMOKE);
    r.tick(&[]);
    let out = r.tick(&[Tx::set(High).with_error(io_err())]);
    assert_eq!(
        kinds(&out),
        vec![(Alarm, Some(Cause::Smoke)), (Fault, Some(Cause::Hardware))]
    );
    assert!(!r.det.status().sounding);
    r.tick(&[Tx::set(High)]);
    assert!(r.det.status().sounding);
}

#[test]
fn alarm_is_repeated_until_acked_and_resent_on_reconnect() {
    let mut r = Rig::new();
    r.auto_ack = false;
    r.alarm();
    let resent = |out: &Outbound| kinds(out) == vec![(Alarm, Some(Cause::Smoke))];
    assert!(resent(&r.tick(&[])), "1 s later");
    assert!(!resent(&r.tick(&[])), "then 2 s");
    assert!(resent(&r.tick(&[])));
    r.det.reconnected(r.now);
    assert!(resent(&r.tick(&[])), "due at once after reconnect");
    assert!(r.det.evt_ack(EvtAck { seq: 1, boot: None }));
    for _ in 0..40 {
        assert!(kinds(&r.tick(&[])).is_empty());
    }
}
