//! Line timing of a serial Modbus line: the time one character takes on the
//! wire and the silence that ends a frame, both from the line's framing.
//!
//! The one place these are computed: the RTU transport ([`crate::rtu`])
//! keeps the gap before each request and detects a reply's end by it, and
//! the lab's line emulator (`modbus-lab`) paces bytes and checks the
//! master's gaps with the same numbers.

use std::time::Duration;

/// Above this rate the inter-frame gap is a fixed [`FIXED_GAP`] instead of
/// 3.5 characters (Modbus over serial line, 2.5.1.1).
pub const FIXED_GAP_ABOVE_BAUD: u32 = 19_200;

/// The inter-frame gap above [`FIXED_GAP_ABOVE_BAUD`]: 1.75 ms.
pub const FIXED_GAP: Duration = Duration::from_micros(1750);

/// Serial framing of a line: what its timing follows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTiming {
    /// Bits per second.
    pub baud: u32,
    /// Data bits per character (7 or 8).
    pub data_bits: u8,
    /// Whether a parity bit is sent (even or odd alike).
    pub parity: bool,
    /// Stop bits (1 or 2).
    pub stop_bits: u8,
}

impl LineTiming {
    /// 8 data bits, even parity, 1 stop bit (the Modbus default framing).
    #[must_use]
    pub const fn even(baud: u32) -> Self {
        Self {
            baud,
            data_bits: 8,
            parity: true,
            stop_bits: 1,
        }
    }

    /// Bits on the wire per character: start + data + parity + stop.
    #[must_use]
    pub fn bits_per_char(&self) -> u32 {
        1 + u32::from(self.data_bits) + u32::from(self.parity) + u32::from(self.stop_bits)
    }

    /// Time one character takes on the wire (a baud of 0 counts as 1).
    #[must_use]
    pub fn char_time(&self) -> Duration {
        Duration::from_nanos(
            u64::from(self.bits_per_char()) * 1_000_000_000 / u64::from(self.baud.max(1)),
        )
    }

    /// The silent interval that ends a frame: 3.5 characters, or
    /// [`FIXED_GAP`] (1.75 ms) above 19,200 baud (Modbus over serial line,
    /// 2.5.1.1).
    #[must_use]
    pub fn gap(&self) -> Duration {
        if self.baud > FIXED_GAP_ABOVE_BAUD {
            FIXED_GAP
        } else {
            self.char_time() * 7 / 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_time_and_gap_follow_the_framing() {
        let s = LineTiming::even(19_200);
        assert_eq!(s.bits_per_char(), 11);
        assert_eq!(s.char_time(), Duration::from_nanos(572_916));
        assert_eq!(s.gap(), Duration::from_nanos(2_005_206));
        assert_eq!(LineTiming::even(115_200).gap(), Duration::from_micros(1750));
    }

    #[test]
    fn every_framing_bit_counts() {
        let no_parity_two_stops = LineTiming {
            baud: 9600,
            data_bits: 8,
            parity: false,
            stop_bits: 2,
        };
        assert_eq!(no_parity_two_stops.bits_per_char(), 11);
        let seven_odd_one = LineTiming {
            baud: 9600,
            data_bits: 7,
            parity: true,
            stop_bits: 1,
        };
        assert_eq!(seven_odd_one.bits_per_char(), 10);
        assert_eq!(seven_odd_one.char_time(), Duration::from_nanos(1_041_666));
        assert_eq!(seven_odd_one.gap(), Duration::from_nanos(3_645_831));
    }

    #[test]
    fn the_gap_is_fixed_only_above_19200_baud() {
        // At 19,200 the gap is still 3.5 characters (2.0 ms, above 1.75 ms).
        assert_eq!(
            LineTiming::even(19_200).gap(),
            LineTiming::even(19_200).char_time() * 7 / 2
        );
        for baud in [19_201, 38_400, 57_600, 1_000_000] {
            assert_eq!(LineTiming::even(baud).gap(), FIXED_GAP, "{baud}");
        }
        for baud in [1_200, 2_400, 4_800, 9_600] {
            let t = LineTiming::even(baud);
            assert_eq!(t.gap(), t.char_time() * 7 / 2, "{baud}");
            assert!(t.gap() > FIXED_GAP, "{baud}");
        }
    }

    #[test]
    fn a_zero_baud_does_not_divide_by_zero() {
        assert_eq!(LineTiming::even(0).char_time(), Duration::from_secs(11));
    }
}
