use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as Tx};
use protocol::{Cause, Command, CommandError, CommandKind, CommandReason, EventKind, EvtAck};

use super::{GasConfig, GasDetector, GasLevel};
use crate::node::{Node, Outbound};
use crate::test_support::{FakeAdc, ack, events, kinds};

use EventKind::*;
use State::{High, Low};

const CLEAN: u16 = 100;
const PRE: u16 = 500; // 12.5 %LEL
const ALARM: u16 = 1_200; // 30 %LEL

struct Rig {
    sensor: FakeAdc,
    valve: Pin,
    det: GasDetector<FakeAdc, Pin>,
    now: u64,
}

impl Rig {
    fn new(cfg: GasConfig) -> Self {
        let (sensor, valve) = (FakeAdc::new(CLEAN), Pin::new(&[]));
        let det = GasDetector::new(sensor.clone(), valve.clone(), cfg);
        let mut rig = Self {
            sensor,
            valve,
            det,
            now: 0,
        };
        let first = if cfg.start_closed { High } else { Low };
        let out = rig.tick_at(0, &[Tx::set(first)]);
        assert_eq!(
            events(&out).iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![Heartbeat]
        );
        rig
    }

    fn tick_at(&mut self, now: u64, valve: &[Tx]) -> Outbound {
        self.now = now;
        self.valve.update_expectations(valve);
        let out = self.det.tick(now);
        self.valve.done();
        self.acked(out)
    }

    fn tick(&mut self, raw: u16, valve: &[Tx]) -> Outbound {
        self.sensor.set(raw);
        self.tick_at(self.now + 1_000, valve)
    }

    fn command(&mut self, kind: CommandKind, valve: &[Tx]) -> Outbound {
        self.valve.update_expectations(valve);
        let cmd = Command {
            id: 3,
            cmd: kind,
            reason: CommandReason::Operator,
            duration_s: None,
        };
        let out = self.det.command(self.now, &cmd);
        self.valve.done();
        self.acked(out)
    }

    fn acked(&mut self, out: Outbound) -> Outbound {
        for e in events(&out) {
            self.det.evt_ack(EvtAck::of(&e));
        }
        out
    }
}

fn gas(kind: EventKind) -> Vec<(EventKind, Option<Cause>)> {
    vec![(kind, Some(Cause::Gas))]
}

#[test]
fn rising_gas_pre_alarms_then_alarms_and_closes_the_valve() {
    let mut r = Rig::new(GasConfig::default());
    let out = r.tick(PRE, &[]);
    assert_eq!(kinds(&out), gas(PreAlarm));
    assert!((events(&out)[0].value.unwrap() - 12.5).abs() < 1e-4);
    assert_eq!(kinds(&r.tick(ALARM, &[Tx::set(High)])), gas(Alarm));
    let s = r.det.status();
    assert_eq!((s.level, s.valve_closed), (GasLevel::Alarm, true));
}

#[test]
fn a_jump_straight_to_alarm_skips_the_pre_alarm() {
    let mut r = Rig::new(GasConfig::default());
    assert_eq!(kinds(&r.tick(ALARM, &[Tx::set(High)])), gas(Alarm));
}

#[test]
fn falling_gas_needs_the_hysteresis_margin_and_the_valve_stays_closed() {
    let mut r = Rig::new(GasConfig::default());
    r.tick(ALARM, &[Tx::set(High)]);
    assert!(kinds(&r.tick(950, &[])).is_empty(), "inside the band");
    assert_eq!(kinds(&r.tick(900, &[])), gas(PreAlarm));
    assert!(kinds(&r.tick(350, &[])).is_empty(), "inside the band");
    assert_eq!(kinds(&r.tick(300, &[])), gas(Restore));
    let s = r.det.status();
    assert_eq!((s.level, s.valve_closed), (GasLevel::Normal, true));
}

#[test]
fn valve_open_is_refused_in_alarm_and_accepted_after() {
    let mut r = Rig::new(GasConfig::default());
    r.tick(ALARM, &[Tx::set(High)]);
    let out = r.command(CommandKind::ValveOpen, &[]);
    assert_eq!(ack(&out).unwrap().error, Some(CommandError::Refused));
    r.tick(PRE, &[]);
    let out = r.command(CommandKind::ValveOpen, &[Tx::set(Low)]);
    assert!(ack(&out).unwrap().ok);
    assert!(!r.det.status().valve_closed);
}

#[test]
fn valve_close_command_closes_at_any_level() {
    let mut r = Rig::new(GasConfig::default());
    let out = r.command(CommandKind::ValveClose, &[Tx::set(High)]);
    assert!(ack(&out).unwrap().ok);
    assert!(r.det.status().valve_closed);
    assert!(
        ack(&r.command(CommandKind::ValveClose, &[])).unwrap().ok,
        "idempotent"
    );
}

#[test]
fn valve_starts_closed_when_configured() {
    let cfg = GasConfig {
        start_closed: true,
        ..GasConfig::default()
    };
    let r = Rig::new(cfg);
    assert!(r.det.status().valve_closed);
}

#[test]
fn sensor_faults_block_levels_and_valve_opening() {
    let mut r = Rig::new(GasConfig::default());
    for (bad, cause) in [(0, Cause::SensorOpen), (4_095, Cause::SensorShort)] {
        r.tick(bad, &[]);
        r.tick(bad, &[]);
        assert_eq!(kinds(&r.tick(bad, &[])), vec![(Fault, Some(cause))]);
        let out = r.command(CommandKind::ValveOpen, &[]);
        assert_eq!(ack(&out).unwrap().error, Some(CommandError::Refused));
        r.tick(ALARM, &[]);
        r.tick(ALARM, &[]);
        let out = r.tick(ALARM, &[Tx::set(High)]);
        // Queued together; the alarm outranks the restore, so it goes first.
        assert_eq!(
            kinds(&out),
            vec![(Alarm, Some(Cause::Gas)), (Restore, Some(cause))]
        );
        r.tick(CLEAN, &[]);
        r.command(CommandKind::ValveOpen, &[Tx::set(Low)]);
    }
}

#[test]
fn failed_conversions_are_a_hardware_fault() {
    let mut r = Rig::new(GasConfig::default());
    r.sensor.fail();
    r.tick_at(1_000, &[]);
    r.tick_at(2_000, &[]);
    assert_eq!(
        kinds(&r.tick_at(3_000, &[])),
        vec![(Fault, Some(Cause::Hardware))]
    );
    assert_eq!(r.det.status().reading, None);
}

#[test]
fn a_relay_that_fails_is_acked_as_hardware_error() {
    let mut r = Rig::new(GasConfig::default());
    let err = MockError::Io(std::io::ErrorKind::Other);
    let out = r.command(CommandKind::ValveClose, &[Tx::set(High).with_error(err)]);
    assert_eq!(ack(&out).unwrap().error, Some(CommandError::Hardware));
    assert_eq!(kinds(&out), vec![(Fault, Some(Cause::Hardware))]);
    r.tick(CLEAN, &[Tx::set(High)]);
    let out = r.command(CommandKind::Reset, &[]);
    assert_eq!(kinds(&out), vec![(Restore, Some(Cause::Hardware))]);
}

#[test]
fn self_test_reports_the_reading_and_others_are_unsupported() {
    let mut r = Rig::new(GasConfig::default());
    let out = r.command(CommandKind::SelfTest, &[]);
    assert!(ack(&out).unwrap().ok);
    assert_eq!(kinds(&out), gas(Test));
    assert!((events(&out)[0].value.unwrap() - 2.5).abs() < 1e-4);
    for kind in [CommandKind::Hush, CommandKind::Unlock, CommandKind::Lock] {
        let out = r.command(kind, &[]);
        assert_eq!(ack(&out).unwrap().error, Some(CommandError::Unsupported));
    }
}
