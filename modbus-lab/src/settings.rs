//! Serial framing of an emulated line and the timing that follows from it.

use std::time::Duration;

/// Serial framing of the emulated line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    /// Bits per second.
    pub baud: u32,
    /// Data bits per character (7 or 8).
    pub data_bits: u8,
    /// Whether a parity bit is sent.
    pub parity: bool,
    /// Stop bits (1 or 2).
    pub stop_bits: u8,
}

impl LineSettings {
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

    /// Time one character takes on the wire.
    #[must_use]
    pub fn char_time(&self) -> Duration {
        Duration::from_nanos(
            u64::from(self.bits_per_char()) * 1_000_000_000 / u64::from(self.baud.max(1)),
        )
    }

    /// The silent interval that ends a frame: 3.5 characters, or 1.75 ms
    /// above 19,200 baud (Modbus over serial line, 2.5.1.1).
    #[must_use]
    pub fn gap(&self) -> Duration {
        if self.baud > 19_200 {
            Duration::from_micros(1750)
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
        let s = LineSettings::even(19_200);
        assert_eq!(s.bits_per_char(), 11);
        assert_eq!(s.char_time(), Duration::from_nanos(572_916));
        assert_eq!(s.gap(), Duration::from_nanos(2_005_206));
        assert_eq!(
            LineSettings::even(115_200).gap(),
            Duration::from_micros(1750)
        );
    }
}
