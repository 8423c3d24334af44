//! Combustible gas detector with a shut-off valve relay.
//!
//! - **Levels**: a reading at or above `pre_alarm_raw` reports `pre-alarm`,
//!   at or above `alarm_raw` reports `alarm` (cause `gas`, value in %LEL).
//!   Going down needs the reading `hysteresis_raw` below a threshold:
//!   `alarm` → `pre-alarm` reports `pre-alarm`, back to normal reports `restore`.
//! - **Valve**: closed (relay high) on entering `alarm` and by `valve-close`;
//!   it never reopens by itself. `valve-open` is refused while the level is
//!   `alarm` or the sensor is faulty (the air cannot be known to be safe).
//! - **Fault**: rail readings or failed conversions, `fault_samples` in a row.

use embedded_hal::digital::OutputPin;
use protocol::{Cause, Command, CommandError, CommandKind, EventKind, EvtAck};

use crate::node::{Node, NodeCore, Outbound, draft};
use crate::outbox::RetryPolicy;
use crate::sensor::{AdcChannel, Health, Rails, Scale};

/// Thresholds and timings of a [`GasDetector`]. Raw values are ADC counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GasConfig {
    /// Open/short limits of the sensor loop.
    pub rails: Rails,
    /// Raw counts to %LEL (the `gas` profile's unit).
    pub scale: Scale,
    /// Reading that raises the pre-alarm.
    pub pre_alarm_raw: u16,
    /// Reading that raises the alarm and closes the valve.
    pub alarm_raw: u16,
    /// How far below a threshold the reading must fall to leave its level.
    pub hysteresis_raw: u16,
    /// Consecutive bad samples that raise a fault, and good ones that end it.
    pub fault_samples: u8,
    /// Whether the valve starts closed (restore it from non-volatile memory).
    pub start_closed: bool,
    /// Heartbeat interval, in ms.
    pub heartbeat_ms: u32,
    /// Repeats of unacknowledged events.
    pub retry: RetryPolicy,
}

impl Default for GasConfig {
    /// 40 counts per %LEL: pre-alarm at 10 %LEL, alarm at 25 %LEL, 2 %LEL hysteresis.
    fn default() -> Self {
        Self {
            rails: Rails::default(),
            scale: Scale {
                counts_per_unit: 40.0,
                offset: 0.0,
            },
            pre_alarm_raw: 400,
            alarm_raw: 1_000,
            hysteresis_raw: 80,
            fault_samples: 3,
            start_closed: false,
            heartbeat_ms: 60_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// The gas level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum GasLevel {
    /// Below the pre-alarm threshold.
    #[default]
    Normal,
    /// Between pre-alarm and alarm.
    PreAlarm,
    /// At or above the alarm threshold.
    Alarm,
}

/// A gas detector's externally visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GasStatus {
    /// Current level.
    pub level: GasLevel,
    /// The sensor's fault, if one is reported.
    pub fault: Option<Cause>,
    /// The valve is (commanded) closed.
    pub valve_closed: bool,
    /// Last valid reading (raw).
    pub reading: Option<u16>,
}

/// The gas detector over a sensor `A` and valve relay `V`, with an outbox of `N` events.
#[derive(Debug)]
pub struct GasDetector<A, V, const N: usize = 16> {
    sensor: A,
    valve: V,
    cfg: GasConfig,
    core: NodeCore<N>,
    status: GasStatus,
    health: Health,
    /// What the relay was last driven to (`None`: not yet, or the write failed).
    driven: Option<bool>,
}

impl<A: AdcChannel, V: OutputPin, const N: usize> GasDetector<A, V, N> {
    /// A detector; the first tick drives the valve to `cfg.start_closed`.
    pub fn new(sensor: A, valve: V, cfg: GasConfig) -> Self {
        Self {
            sensor,
            valve,
            core: NodeCore::with_policy(cfg.retry, cfg.heartbeat_ms),
            status: GasStatus {
                valve_closed: cfg.start_closed,
                ..GasStatus::default()
            },
            health: Health::new(cfg.fault_samples),
            driven: None,
            cfg,
        }
    }

    /// The current state.
    pub const fn status(&self) -> GasStatus {
        self.status
    }

    /// Shared node state (outbox, clock, boot counter).
    pub const fn core_mut(&mut self) -> &mut NodeCore<N> {
        &mut self.core
    }

    fn level_at(&self, raw: u16) -> GasLevel {
        if raw >= self.cfg.alarm_raw {
            GasLevel::Alarm
        } else if raw >= self.cfg.pre_alarm_raw {
            GasLevel::PreAlarm
        } else {
            GasLevel::Normal
        }
    }

    /// Rising follows the thresholds; falling needs the hysteresis margin.
    fn next_level(&self, raw: u16) -> GasLevel {
        let held = self.level_at(raw.saturating_add(self.cfg.hysteresis_raw));
        self.level_at(raw).max(self.status.level.min(held))
    }

    fn sample(&mut self, now: u64) {
        let sample = self.cfg.rails.classify(self.sensor.read_raw());
        let checked = self.health.check(sample, &mut self.status.fault);
        self.status.reading = checked.reading;
        if let Some((kind, cause)) = checked.event {
            self.core.emit(now, draft(kind, Some(cause)));
        }
        if let (Some(raw), None) = (checked.reading, self.status.fault) {
            self.evaluate(now, raw);
        }
    }

    fn evaluate(&mut self, now: u64, raw: u16) {
        let next = self.next_level(raw);
        if next == self.status.level {
            return;
        }
        self.status.level = next;
        let kind = match next {
            GasLevel::Alarm => {
                self.status.valve_closed = true;
                EventKind::Alarm
            }
            GasLevel::PreAlarm => EventKind::PreAlarm,
            GasLevel::Normal => EventKind::Restore,
        };
        self.emit_reading(now, kind, raw);
    }

    fn emit_reading(&mut self, now: u64, kind: EventKind, raw: u16) {
        let mut e = draft(kind, Some(Cause::Gas));
        e.value = Some(self.cfg.scale.value(raw));
        self.core.emit(now, e);
    }

    /// Drives the relay to the wanted position; `false` if the write failed.
    fn drive_valve(&mut self, now: u64) -> bool {
        let want = self.status.valve_closed;
        if self.driven == Some(want) {
            return true;
        }
        let r = if want {
            self.valve.set_high()
        } else {
            self.valve.set_low()
        };
        self.driven = self.core.check(now, r).map(|()| want);
        self.driven.is_some()
    }

    fn valve_open(&mut self) -> Result<(), CommandError> {
        if self.status.level == GasLevel::Alarm || self.status.fault.is_some() {
            return Err(CommandError::Refused);
        }
        self.status.valve_closed = false;
        Ok(())
    }

    fn run(&mut self, now: u64, cmd: &Command) -> Result<(), CommandError> {
        match cmd.cmd {
            CommandKind::ValveClose => self.status.valve_closed = true,
            CommandKind::ValveOpen => self.valve_open()?,
            CommandKind::Reset => self.core.clear_hw_fault(now),
            CommandKind::SelfTest => {
                let mut e = draft(EventKind::Test, Some(Cause::Gas));
                e.value = self.status.reading.map(|r| self.cfg.scale.value(r));
                self.core.emit(now, e);
            }
            _ => return Err(CommandError::Unsupported),
        }
        Ok(())
    }
}

impl<A: AdcChannel, V: OutputPin, const N: usize> Node for GasDetector<A, V, N> {
    fn tick(&mut self, now_ms: u64) -> Outbound {
        self.sample(now_ms);
        self.drive_valve(now_ms);
        self.core.heartbeat(now_ms);
        self.core.finish(now_ms, None)
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        let mut result = self.run(now_ms, cmd);
        if result.is_ok() && !self.drive_valve(now_ms) {
            result = Err(CommandError::Hardware);
        }
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
