//! Smoke detector settings and wiring.

use crate::outbox::RetryPolicy;
use crate::sensor::{BatteryCurve, Rails, Scale};

/// Thresholds and timings of a [`super::SmokeDetector`]. Raw values are ADC counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmokeConfig {
    /// Open/short limits of the chamber loop.
    pub rails: Rails,
    /// Chamber reading that raises the alarm.
    pub alarm_raw: u16,
    /// Reading the chamber must fall below before a latched alarm may be reset
    /// (the hysteresis band is `clear_raw..alarm_raw`).
    pub clear_raw: u16,
    /// Hard limit: at or above it a hush is refused, and a running hush ends.
    pub hush_limit_raw: u16,
    /// Longest silence one hush gives, in ms, whatever the command asks.
    pub hush_max_ms: u32,
    /// Raw counts to obscuration (%/m, the `smoke` profile's unit).
    pub scale: Scale,
    /// Consecutive samples at or above `alarm_raw` that raise the alarm.
    pub alarm_samples: u8,
    /// Consecutive bad (open, short, failed) samples that raise a fault, and
    /// good samples that end it.
    pub fault_samples: u8,
    /// Battery divider calibration.
    pub battery: BatteryCurve,
    /// Charge (%) below which `low-battery` is reported.
    pub low_battery_pct: u8,
    /// Charge above `low_battery_pct` needed to report the restore.
    pub battery_hysteresis_pct: u8,
    /// Time between battery readings, in ms (the first is at the first tick).
    pub battery_interval_ms: u32,
    /// How long the sounder sounds for a self-test, in ms.
    pub test_sound_ms: u32,
    /// Heartbeat interval, in ms.
    pub heartbeat_ms: u32,
    /// Repeats of unacknowledged events.
    pub retry: RetryPolicy,
}

impl Default for SmokeConfig {
    /// A 12-bit optical chamber reading 0.01 %/m per count: alarm at 2.0 %/m,
    /// clear below 1.5 %/m, no hush above 4.0 %/m; a 10-minute hush limit.
    fn default() -> Self {
        Self {
            rails: Rails::default(),
            alarm_raw: 200,
            clear_raw: 150,
            hush_limit_raw: 400,
            hush_max_ms: 10 * 60_000,
            scale: Scale {
                counts_per_unit: 100.0,
                offset: 0.0,
            },
            alarm_samples: 2,
            fault_samples: 3,
            battery: BatteryCurve {
                empty: 2_300,
                full: 3_300,
            },
            low_battery_pct: 15,
            battery_hysteresis_pct: 5,
            battery_interval_ms: 60_000,
            test_sound_ms: 2_000,
            heartbeat_ms: 60_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// What a smoke detector is wired to.
#[derive(Debug)]
pub struct SmokePins<C, B, T, K, S> {
    /// Optical chamber ([`crate::AdcChannel`]).
    pub chamber: C,
    /// Battery divider ([`crate::AdcChannel`]).
    pub battery: B,
    /// High when the detector is removed from its base ([`embedded_hal::digital::InputPin`]).
    pub tamper: T,
    /// High while the test button is pressed ([`embedded_hal::digital::InputPin`]).
    pub test_button: K,
    /// Sounder, high = sounding ([`embedded_hal::digital::OutputPin`]).
    pub sounder: S,
}
