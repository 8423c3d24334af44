//! Analog inputs: the [`AdcChannel`] seam, rail checks and debouncing.
//!
//! A sensor loop that reads 0 or full scale is open or shorted, not "very
//! clean air" or "a huge fire": [`Rails::classify`] says which. [`Confirm`]
//! requires a condition on several consecutive samples before it counts.

use protocol::Cause;

/// One analog channel (chamber, gas cell, battery divider).
///
/// embedded-hal 1.0 has no ADC trait; a board implements this over its HAL.
pub trait AdcChannel {
    /// The HAL's error; any error is reported as a hardware fault.
    type Error: core::fmt::Debug;
    /// One raw conversion (12-bit boards return `0..=4095`).
    ///
    /// # Errors
    /// The HAL's error when the conversion fails.
    fn read_raw(&mut self) -> Result<u16, Self::Error>;
}

impl<T: AdcChannel + ?Sized> AdcChannel for &mut T {
    type Error = T::Error;
    fn read_raw(&mut self) -> Result<u16, Self::Error> {
        (**self).read_raw()
    }
}

/// What one raw sample means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// A plausible reading.
    Valid(u16),
    /// A broken sensor, with the fault cause to report.
    Bad(Cause),
}

/// The raw values at which a loop is taken as open or shorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rails {
    /// Readings at or below this are an open loop.
    pub open_max: u16,
    /// Readings at or above this are a shorted loop.
    pub short_min: u16,
}

impl Default for Rails {
    /// 12-bit ADC: within 16 counts of either rail.
    fn default() -> Self {
        Self {
            open_max: 16,
            short_min: 4_080,
        }
    }
}

impl Rails {
    /// Classifies a conversion result; an ADC error is a hardware fault.
    pub fn classify<E>(&self, raw: Result<u16, E>) -> Sample {
        match raw {
            Err(_) => Sample::Bad(Cause::Hardware),
            Ok(r) if r <= self.open_max => Sample::Bad(Cause::SensorOpen),
            Ok(r) if r >= self.short_min => Sample::Bad(Cause::SensorShort),
            Ok(r) => Sample::Valid(r),
        }
    }
}

/// Counts consecutive samples of a condition; it holds once `needed` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    needed: u8,
    seen: u8,
}

impl Confirm {
    /// A counter that confirms after `needed` samples (at least 1).
    pub const fn new(needed: u8) -> Self {
        Self {
            needed: if needed == 0 { 1 } else { needed },
            seen: 0,
        }
    }

    /// Feeds one sample; returns whether the condition is now confirmed.
    pub fn feed(&mut self, present: bool) -> bool {
        self.seen = if present {
            self.seen.saturating_add(1)
        } else {
            0
        };
        self.seen >= self.needed
    }
}

/// Supervises a sensor's health: a fault once `n` bad samples come in a
/// row, a restore once `n` good ones do. Shared by every node with an
/// analog sensor, so they all report faults alike.
#[derive(Debug, Clone)]
pub struct Health {
    bad: Confirm,
    good: Confirm,
}

/// What one supervised sample means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The reading, when the sample was plausible.
    pub reading: Option<u16>,
    /// A fault newly confirmed (`Fault`) or a fault that ended (`Restore`).
    pub event: Option<(protocol::EventKind, Cause)>,
}

impl Health {
    /// Confirms faults and restores after `n` samples in a row.
    pub const fn new(n: u8) -> Self {
        Self {
            bad: Confirm::new(n),
            good: Confirm::new(n),
        }
    }

    /// Supervises one sample; `fault` is the node's current fault, updated here.
    pub fn check(&mut self, sample: Sample, fault: &mut Option<Cause>) -> Checked {
        match sample {
            Sample::Bad(cause) => {
                self.good.feed(false);
                let new = self.bad.feed(true) && fault.is_none();
                if new {
                    *fault = Some(cause);
                }
                Checked {
                    reading: None,
                    event: new.then_some((protocol::EventKind::Fault, cause)),
                }
            }
            Sample::Valid(raw) => {
                self.bad.feed(false);
                let ended = if self.good.feed(true) {
                    fault.take()
                } else {
                    None
                };
                Checked {
                    reading: Some(raw),
                    event: ended.map(|c| (protocol::EventKind::Restore, c)),
                }
            }
        }
    }
}

/// Maps a raw reading to an engineering value: `raw / counts_per_unit + offset`.
///
/// A divisor rather than a factor: `80 / 100.0` is exactly the `f32` nearest
/// 0.8 and encodes as `0.8`, where `80 * 0.01` gives `0.79999995`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// ADC counts per unit (non-zero).
    pub counts_per_unit: f32,
    /// Value at raw 0.
    pub offset: f32,
}

impl Scale {
    /// The engineering value of `raw`.
    pub fn value(&self, raw: u16) -> f32 {
        f32::from(raw) / self.counts_per_unit + self.offset
    }
}

/// Battery charge from a divider reading, linear between `empty` and `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatteryCurve {
    /// Raw reading of an empty battery (0 %).
    pub empty: u16,
    /// Raw reading of a full battery (100 %).
    pub full: u16,
}

impl BatteryCurve {
    /// Percent charge of `raw`, clamped to `0..=100`.
    pub fn percent(&self, raw: u16) -> u8 {
        if self.full <= self.empty || raw <= self.empty {
            return 0;
        }
        let span = u32::from(self.full - self.empty);
        let above = u32::from(raw.min(self.full) - self.empty);
        u8::try_from(above * 100 / span).unwrap_or(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rails_classify_open_short_error_and_valid() {
        let r = Rails::default();
        assert_eq!(r.classify::<()>(Ok(0)), Sample::Bad(Cause::SensorOpen));
        assert_eq!(r.classify::<()>(Ok(16)), Sample::Bad(Cause::SensorOpen));
        assert_eq!(r.classify::<()>(Ok(17)), Sample::Valid(17));
        assert_eq!(r.classify::<()>(Ok(4_079)), Sample::Valid(4_079));
        assert_eq!(r.classify::<()>(Ok(4_095)), Sample::Bad(Cause::SensorShort));
        assert_eq!(r.classify(Err(())), Sample::Bad(Cause::Hardware));
    }

    #[test]
    fn confirm_needs_consecutive_samples() {
        let mut c = Confirm::new(3);
        assert!(!c.feed(true) && !c.feed(true));
        assert!(!c.feed(false), "a gap restarts the count");
        assert!(!c.feed(true) && !c.feed(true));
        assert!(c.feed(true) && c.feed(true));
        assert!(Confirm::new(0).feed(true), "0 means 1");
    }

    #[test]
    fn battery_percent_is_linear_and_clamped() {
        let b = BatteryCurve {
            empty: 2_000,
            full: 3_000,
        };
        assert_eq!(b.percent(1_000), 0);
        assert_eq!(b.percent(2_500), 50);
        assert_eq!(b.percent(3_000), 100);
        assert_eq!(b.percent(4_000), 100);
        let broken = BatteryCurve { empty: 5, full: 5 };
        assert_eq!(broken.percent(9), 0);
    }

    #[test]
    fn scale_maps_raw_to_units() {
        let s = Scale {
            counts_per_unit: 2.0,
            offset: -1.0,
        };
        assert!((s.value(10) - 4.0).abs() < f32::EPSILON);
        let pct = Scale {
            counts_per_unit: 100.0,
            offset: 0.0,
        };
        assert_eq!(pct.value(80).to_bits(), 0.8f32.to_bits());
    }

    #[test]
    fn health_confirms_faults_and_restores_once_each() {
        let mut h = Health::new(2);
        let mut fault = None;
        let open = Sample::Bad(Cause::SensorOpen);
        assert_eq!(
            h.check(open, &mut fault).event,
            None,
            "one bad sample is not a fault"
        );
        let c = h.check(open, &mut fault);
        assert_eq!(
            (c.reading, c.event),
            (None, Some((protocol::EventKind::Fault, Cause::SensorOpen)))
        );
        assert_eq!(h.check(open, &mut fault).event, None, "reported once");
        assert_eq!(h.check(Sample::Valid(100), &mut fault).event, None);
        assert_eq!(
            fault,
            Some(Cause::SensorOpen),
            "still faulty after one good sample"
        );
        let c = h.check(Sample::Valid(101), &mut fault);
        assert_eq!(
            (c.reading, c.event),
            (
                Some(101),
                Some((protocol::EventKind::Restore, Cause::SensorOpen))
            )
        );
        assert_eq!(fault, None);
    }
}
