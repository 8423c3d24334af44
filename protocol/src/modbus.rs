//! Modbus register maps: which table and address holds a field, how its words
//! are laid out, and how raw words become a value in the profile's unit.

use serde::{Deserialize, Serialize};

use crate::kinds::wire_enum;

wire_enum! {
    /// The four Modbus data tables.
    pub enum Table {
        /// Read/write bits (FC 1 read, FC 5/15 write).
        Coil = "coil",
        /// Read-only bits (FC 2).
        Discrete = "discrete",
        /// Read/write 16-bit registers (FC 3 read, FC 6/16 write).
        Holding = "holding",
        /// Read-only 16-bit registers (FC 4).
        Input = "input",
    }
}

impl Table {
    /// The function code that reads this table.
    pub const fn read_function(self) -> u8 {
        match self {
            Self::Coil => 1,
            Self::Discrete => 2,
            Self::Holding => 3,
            Self::Input => 4,
        }
    }

    /// Whether the table can be written.
    pub const fn writable(self) -> bool {
        matches!(self, Self::Coil | Self::Holding)
    }

    /// Whether the table holds single bits.
    pub const fn is_bits(self) -> bool {
        matches!(self, Self::Coil | Self::Discrete)
    }
}

wire_enum! {
    /// How a value is stored in registers.
    pub enum DataType {
        /// One bit (coil or discrete input).
        Bool = "bool",
        /// Unsigned 16-bit, one register.
        U16 = "u16",
        /// Signed 16-bit, one register.
        I16 = "i16",
        /// Unsigned 32-bit, two registers.
        U32 = "u32",
        /// Signed 32-bit, two registers.
        I32 = "i32",
        /// IEEE 754 single, two registers.
        F32 = "f32",
    }
}

impl DataType {
    /// How many registers (or bits) one value takes.
    pub const fn words(self) -> u16 {
        match self {
            Self::Bool | Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
        }
    }
}

wire_enum! {
    /// Order of the two registers of a 32-bit value.
    pub enum WordOrder {
        /// High word first (Modicon convention).
        Big = "big",
        /// Low word first.
        Little = "little",
    }
}

/// Bits `lo..=hi` of a 16-bit register (bit 0 = least significant), read
/// as an unsigned number: a datasheet's "bit 1: sensor fault" is
/// `bits = "1"`, "bits 4-7: zone state" is `bits = "4-7"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bits {
    /// Lowest bit.
    pub lo: u8,
    /// Highest bit (= `lo` for one bit).
    pub hi: u8,
}

impl Bits {
    /// The register mask these bits cover.
    pub const fn mask(self) -> u16 {
        let width = self.hi - self.lo + 1;
        let ones = if width >= 16 {
            u16::MAX
        } else {
            (1u16 << width) - 1
        };
        ones << self.lo
    }

    /// Parses `"N"` or `"A-B"` (0..=15, A <= B).
    ///
    /// # Errors
    /// What is wrong with the text, for people.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let bit = |t: &str| -> Result<u8, &'static str> {
            match t.trim().parse::<u8>() {
                Ok(b) if b <= 15 => Ok(b),
                _ => Err("bits are numbered 0 to 15"),
            }
        };
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (bit(a)?, bit(b)?),
            None => (bit(s)?, bit(s)?),
        };
        if lo > hi {
            return Err("a bit range is written low-high, e.g. \"4-7\"");
        }
        Ok(Self { lo, hi })
    }
}

impl Serialize for Bits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text: heapless::String<8> = heapless::String::new();
        // At most "15-15": fits.
        let _ = if self.lo == self.hi {
            core::fmt::write(&mut text, format_args!("{}", self.lo))
        } else {
            core::fmt::write(&mut text, format_args!("{}-{}", self.lo, self.hi))
        };
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Bits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Bits;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a bit (\"1\") or a bit range (\"4-7\"), 0 to 15")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bits, E> {
                Bits::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Where one field lives in a device's register map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// The table.
    pub table: Table,
    /// Zero-based register or bit address.
    pub address: u16,
    /// The stored type.
    #[serde(rename = "type", default = "default_type")]
    pub data_type: DataType,
    /// Word order for 32-bit types.
    #[serde(default = "default_order")]
    pub word_order: WordOrder,
    /// Value = raw × scale + offset.
    #[serde(default = "one")]
    pub scale: f32,
    /// Value = raw × scale + offset.
    #[serde(default)]
    pub offset: f32,
    /// Only these bits of the (16-bit) register: a status word's flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<Bits>,
    /// Only these bits, as a mask (`0x00F0`), shifted down to bit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<u16>,
}

const fn default_type() -> DataType {
    DataType::U16
}
const fn default_order() -> WordOrder {
    WordOrder::Big
}
const fn one() -> f32 {
    1.0
}

/// Why raw words could not be turned into a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Fewer words than the type needs.
    #[error("{got} words read, {need} needed")]
    Short {
        /// Words needed.
        need: u16,
        /// Words given.
        got: usize,
    },
}

impl RegisterSpec {
    /// Converts raw register words (or bits as 0/1) into the field's value.
    ///
    /// # Errors
    /// [`RegisterError::Short`] when `words` holds fewer words than the type needs.
    pub fn decode(&self, words: &[u16]) -> Result<f32, RegisterError> {
        let need = self.data_type.words();
        if words.len() < usize::from(need) {
            return Err(RegisterError::Short {
                need,
                got: words.len(),
            });
        }
        let pair = || -> u32 {
            let (hi, lo) = match self.word_order {
                WordOrder::Big => (words[0], words[1]),
                WordOrder::Little => (words[1], words[0]),
            };
            (u32::from(hi) << 16) | u32::from(lo)
        };
        if let Some(mask) = self.mask_bits() {
            let v = (words[0] & mask) >> mask.trailing_zeros();
            return Ok(f32::from(v) * self.scale + self.offset);
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
        let raw = match self.data_type {
            DataType::Bool => f32::from(u8::from(words[0] != 0)),
            DataType::U16 => f32::from(words[0]),
            DataType::I16 => f32::from(words[0] as i16),
            DataType::U32 => pair() as f32,
            DataType::I32 => pair() as i32 as f32,
            DataType::F32 => f32::from_bits(pair()),
        };
        Ok(raw * self.scale + self.offset)
    }

    /// The mask of a bit field (`bits` or `mask`), if the field is one.
    pub fn mask_bits(&self) -> Option<u16> {
        self.mask.or(self.bits.map(Bits::mask))
    }

    /// The number of registers (or bits) to read.
    pub const fn count(&self) -> u16 {
        self.data_type.words()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(data_type: DataType, word_order: WordOrder) -> RegisterSpec {
        RegisterSpec {
            table: Table::Holding,
            address: 0,
            data_type,
            word_order,
            scale: 1.0,
            offset: 0.0,
            bits: None,
            mask: None,
        }
    }

    #[test]
    fn bit_fields_take_their_bits_shifted_down() {
        let mut s = spec(DataType::U16, WordOrder::Big);
        s.bits = Some(Bits::parse("1").expect("bit"));
        assert_eq!(s.decode(&[0b0010]), Ok(1.0));
        assert_eq!(s.decode(&[0b1101]), Ok(0.0));
        s.bits = Some(Bits::parse("4-7").expect("range"));
        assert_eq!(s.mask_bits(), Some(0x00F0));
        assert_eq!(s.decode(&[0x0A5F]), Ok(5.0));
        s.bits = None;
        s.mask = Some(0x0300);
        assert_eq!(s.decode(&[0x0200]), Ok(2.0));
        assert_eq!(Bits::parse("0-15").map(Bits::mask), Ok(u16::MAX));
        assert!(Bits::parse("16").is_err());
        assert!(Bits::parse("7-4").is_err());
        assert!(Bits::parse("x").is_err());
    }

    #[test]
    fn decodes_each_type_and_order() {
        assert_eq!(
            spec(DataType::I16, WordOrder::Big).decode(&[0xFFFF]),
            Ok(-1.0)
        );
        assert_eq!(
            spec(DataType::U32, WordOrder::Big).decode(&[1, 2]),
            Ok(65538.0)
        );
        assert_eq!(
            spec(DataType::U32, WordOrder::Little).decode(&[2, 1]),
            Ok(65538.0)
        );
        let bits = 21.5f32.to_bits();
        let w = [(bits >> 16) as u16, bits as u16];
        assert_eq!(spec(DataType::F32, WordOrder::Big).decode(&w), Ok(21.5));
        assert_eq!(
            spec(DataType::U32, WordOrder::Big).decode(&[1]),
            Err(RegisterError::Short { need: 2, got: 1 })
        );
    }

    #[test]
    fn scales_and_offsets() {
        let mut s = spec(DataType::U16, WordOrder::Big);
        s.scale = 0.1;
        s.offset = -40.0;
        assert!((s.decode(&[650]).unwrap_or(0.0) - 25.0).abs() < 1e-4);
    }
}
