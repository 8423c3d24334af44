//! Battery-powered optical smoke detector.
//!
//! - **Alarm**: `alarm_samples` consecutive chamber readings at or above
//!   `alarm_raw` raise `alarm` (cause `smoke`). The alarm **latches**: the
//!   sounder keeps sounding after the smoke clears, until a `reset` command,
//!   which is refused while the reading is not below `clear_raw`.
//! - **Fault**: readings at the ADC rails (open/short loop) or failed
//!   conversions, `fault_samples` in a row, raise `fault` with the cause;
//!   as many good readings report `restore`. A faulty chamber cannot alarm.
//! - **Tamper**: the base switch reports `tamper` / `restore`.
//! - **Self-test**: the button or a `self-test` command sounds the sounder for
//!   `test_sound_ms` and reports `test` (cause `smoke`) with the reading.
//! - **Low battery** below `low_battery_pct`, restore above it plus the hysteresis.
//! - **Hush rule**: a hush silences a latched alarm for at most `hush_max_ms`
//!   (the command's `duration_s` can only shorten it). It is refused
//!   (`refused`) when the reason is `fire` (the gateway confirmed a fire), when
//!   the chamber reads at or above `hush_limit_raw`, or when the chamber is
//!   faulty (its reading unknown). A running hush ends as soon as the reading
//!   reaches `hush_limit_raw` or a new alarm is raised. Dense smoke is never
//!   silenced; only a nuisance level, briefly, as detector standards allow.

mod config;

use embedded_hal::digital::{InputPin, OutputPin};
use protocol::{Cause, Command, CommandError, CommandKind, CommandReason, EventKind, EvtAck};

pub use config::{SmokeConfig, SmokePins};

use crate::node::{Node, NodeCore, Outbound, draft};
use crate::sensor::{AdcChannel, Confirm, Health};

/// A smoke detector's externally visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmokeStatus {
    /// An alarm is latched (until reset).
    pub latched: bool,
    /// The chamber's fault, if one is reported.
    pub fault: Option<Cause>,
    /// Removed from its base.
    pub tampered: bool,
    /// Low battery is reported.
    pub low_battery: bool,
    /// The sounder is driven on.
    pub sounding: bool,
    /// Last valid chamber reading (raw).
    pub reading: Option<u16>,
}

/// The smoke detector state machine over its [`SmokePins`], with an outbox of `N` events.
#[derive(Debug)]
pub struct SmokeDetector<C, B, T, K, S, const N: usize = 16> {
    pins: SmokePins<C, B, T, K, S>,
    cfg: SmokeConfig,
    core: NodeCore<N>,
    status: SmokeStatus,
    alarm_confirm: Confirm,
    health: Health,
    pressed: bool,
    next_battery_ms: u64,
    hush_until: Option<u64>,
    test_until: Option<u64>,
    /// What the sounder was last driven to (`None`: not yet, or the write failed).
    driven: Option<bool>,
}

impl<C, B, T, K, S, const N: usize> SmokeDetector<C, B, T, K, S, N>
where
    C: AdcChannel,
    B: AdcChannel,
    T: InputPin,
    K: InputPin,
    S: OutputPin,
{
    /// A detector in the normal state; the first [`Node::tick`] reads
    /// everything, drives the sounder off and sends a heartbeat.
    pub fn new(pins: SmokePins<C, B, T, K, S>, cfg: SmokeConfig) -> Self {
        Self {
            pins,
            core: NodeCore::with_policy(cfg.retry, cfg.heartbeat_ms),
            status: SmokeStatus::default(),
            alarm_confirm: Confirm::new(cfg.alarm_samples),
            health: Health::new(cfg.fault_samples),
            pressed: false,
            next_battery_ms: 0,
            hush_until: None,
            test_until: None,
            driven: None,
            cfg,
        }
    }

    /// The current state.
    pub const fn status(&self) -> SmokeStatus {
        self.status
    }

    /// Shared node state (outbox, clock), e.g. to set the clock.
    pub const fn core_mut(&mut self) -> &mut NodeCore<N> {
        &mut self.core
    }

    /// Gives the pins back.
    pub fn release(self) -> SmokePins<C, B, T, K, S> {
        self.pins
    }

    fn sample_battery(&mut self, now: u64) {
        if now < self.next_battery_ms {
            return;
        }
        self.next_battery_ms = now + u64::from(self.cfg.battery_interval_ms.max(1));
        let pct = self
            .pins
            .battery
            .read_raw()
            .ok()
            .map(|r| self.cfg.battery.percent(r));
        self.core.set_battery(pct);
        let Some(pct) = pct else { return };
        let (low, hyst) = (self.cfg.low_battery_pct, self.cfg.battery_hysteresis_pct);
        if !self.status.low_battery && pct < low {
            self.status.low_battery = true;
            self.core.emit(now, draft(EventKind::LowBattery, None));
        } else if self.status.low_battery && pct >= low.saturating_add(hyst) {
            self.status.low_battery = false;
            self.core.emit(now, draft(EventKind::Restore, None));
        }
    }

    fn sample_chamber(&mut self, now: u64) {
        let sample = self.cfg.rails.classify(self.pins.chamber.read_raw());
        let checked = self.health.check(sample, &mut self.status.fault);
        self.status.reading = checked.reading;
        if checked.reading.is_none() {
            // A broken chamber reading never counts towards an alarm.
            self.alarm_confirm.feed(false);
        }
        if let Some((kind, cause)) = checked.event {
            self.core.emit(now, draft(kind, Some(cause)));
        }
        if let (Some(raw), None) = (checked.reading, self.status.fault) {
            self.evaluate(now, raw);
        }
    }

    fn evaluate(&mut self, now: u64, raw: u16) {
        if raw >= self.cfg.hush_limit_raw {
            self.hush_until = None;
        }
        if self.alarm_confirm.feed(raw >= self.cfg.alarm_raw) && !self.status.latched {
            self.status.latched = true;
            self.hush_until = None;
            self.emit_reading(now, EventKind::Alarm, raw);
        }
    }

    fn emit_reading(&mut self, now: u64, kind: EventKind, raw: u16) {
        let mut e = draft(kind, Some(Cause::Smoke));
        e.value = Some(self.cfg.scale.value(raw));
        self.core.emit(now, e);
    }

    fn sample_pins(&mut self, now: u64) {
        let tamper = self.pins.tamper.is_high();
        if let Some(t) = self.core.check(now, tamper)
            && t != self.status.tampered
        {
            self.status.tampered = t;
            let kind = if t {
                EventKind::Tamper
            } else {
                EventKind::Restore
            };
            self.core.emit(now, draft(kind, None));
        }
        let button = self.pins.test_button.is_high();
        if let Some(p) = self.core.check(now, button) {
            if p && !self.pressed {
                self.self_test(now);
            }
            self.pressed = p;
        }
    }

    fn self_test(&mut self, now: u64) {
        self.test_until = Some(now + u64::from(self.cfg.test_sound_ms));
        let mut e = draft(EventKind::Test, Some(Cause::Smoke));
        e.value = self.status.reading.map(|r| self.cfg.scale.value(r));
        self.core.emit(now, e);
    }

    fn drive_sounder(&mut self, now: u64) {
        self.hush_until = self.hush_until.filter(|&t| now < t);
        self.test_until = self.test_until.filter(|&t| now < t);
        let want = (self.status.latched && self.hush_until.is_none()) || self.test_until.is_some();
        if self.driven == Some(want) {
            return;
        }
        let r = if want {
            self.pins.sounder.set_high()
        } else {
            self.pins.sounder.set_low()
        };
        self.driven = self.core.check(now, r).map(|()| want);
        self.status.sounding = want && self.driven.is_some();
    }

    fn hush(&mut self, now: u64, cmd: &Command) -> Result<(), CommandError> {
        let dense = self
            .status
            .reading
            .is_none_or(|r| r >= self.cfg.hush_limit_raw);
        if cmd.reason == CommandReason::Fire || (self.status.latched && dense) {
            return Err(CommandError::Refused);
        }
        let asked = cmd.duration_s.map_or(u64::MAX, |s| u64::from(s) * 1_000);
        self.hush_until = Some(now + asked.min(u64::from(self.cfg.hush_max_ms)));
        self.test_until = None;
        Ok(())
    }

    fn reset(&mut self, now: u64) -> Result<(), CommandError> {
        self.core.clear_hw_fault(now);
        if !self.status.latched {
            return Ok(());
        }
        match self.status.reading {
            Some(r) if r < self.cfg.clear_raw && self.status.fault.is_none() => {
                self.status.latched = false;
                self.hush_until = None;
                self.emit_reading(now, EventKind::Restore, r);
                Ok(())
            }
            _ => Err(CommandError::Refused),
        }
    }
}

impl<C, B, T, K, S, const N: usize> Node for SmokeDetector<C, B, T, K, S, N>
where
    C: AdcChannel,
    B: AdcChannel,
    T: InputPin,
    K: InputPin,
    S: OutputPin,
{
    fn tick(&mut self, now_ms: u64) -> Outbound {
        self.sample_battery(now_ms);
        self.sample_chamber(now_ms);
        self.sample_pins(now_ms);
        self.drive_sounder(now_ms);
        self.core.heartbeat(now_ms);
        self.core.finish(now_ms, None)
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        let result = match cmd.cmd {
            CommandKind::Hush => self.hush(now_ms, cmd),
            CommandKind::Reset => self.reset(now_ms),
            CommandKind::SelfTest => {
                self.self_test(now_ms);
                Ok(())
            }
            _ => Err(CommandError::Unsupported),
        };
        self.drive_sounder(now_ms);
        self.core.answer(now_ms, cmd, result)
    }

    fn evt_ack(&mut self, ack: EvtAck) -> bool {
        self.core.evt_ack(ack)
    }

    fn reconnected(&mut self, now_ms: u64) {
        self.core.reconnected(now_ms);
    }
}

#[cfg(test)]
mod tests;
