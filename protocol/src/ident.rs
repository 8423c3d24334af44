//! Bounded, validated identifiers: device ids, field names, site and grid names.
//!
//! Every identifier may appear as one level of an MQTT topic, so it is limited to
//! `[A-Za-z0-9_-]`, may not be empty, and has a fixed maximum length. Validation
//! happens while deserializing, so a bad id in a payload is an error at its path.

use core::fmt;
use core::ops::Deref;
use core::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    /// The string is empty.
    #[error("is empty")]
    Empty,
    /// The string is longer than the identifier's capacity.
    #[error("is {len} characters long, the limit is {max}")]
    TooLong {
        /// Length of the rejected string in bytes.
        len: usize,
        /// The identifier's capacity.
        max: usize,
    },
    /// The string holds a character outside `[A-Za-z0-9_-]`.
    #[error("has the character {ch:?} at {at}; only letters, digits, '-' and '_' are allowed")]
    BadChar {
        /// The offending character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

/// An identifier of at most `N` bytes from `[A-Za-z0-9_-]`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident<const N: usize>(heapless::String<N>);

/// A device's identity; also its MQTT username and topic level.
pub type DeviceId = Ident<32>;
/// A telemetry field or register name (`temp`, `gas_lel`).
pub type FieldName = Ident<24>;
/// A name in the site or grid tree (building, unit, street, cell ...).
pub type Name = Ident<32>;
/// A device kind or profile name (`smoke`, `smoke-optical-v1`).
pub type KindName = Ident<32>;

impl<const N: usize> Ident<N> {
    /// Checks `s` and copies it into an identifier.
    ///
    /// # Errors
    /// [`IdentError`] when `s` is empty, too long or has a forbidden character.
    pub fn new(s: &str) -> Result<Self, IdentError> {
        check(s, N)?;
        let mut out = heapless::String::new();
        // Length was checked above, so this cannot fail.
        out.push_str(s).map_err(|()| IdentError::TooLong {
            len: s.len(),
            max: N,
        })?;
        Ok(Self(out))
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Checks `s` against the identifier rules with capacity `max`.
///
/// # Errors
/// [`IdentError`] naming the first problem found.
pub fn check(s: &str, max: usize) -> Result<(), IdentError> {
    if s.is_empty() {
        return Err(IdentError::Empty);
    }
    if s.len() > max {
        return Err(IdentError::TooLong { len: s.len(), max });
    }
    match s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some((at, ch)) => Err(IdentError::BadChar { ch, at }),
        None => Ok(()),
    }
}

impl<const N: usize> Deref for Ident<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<str> for Ident<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Display for Ident<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Ident<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> FromStr for Ident<N> {
    type Err = IdentError;
    fn from_str(s: &str) -> Result<Self, IdentError> {
        Self::new(s)
    }
}

impl<const N: usize> TryFrom<&str> for Ident<N> {
    type Error = IdentError;
    fn try_from(s: &str) -> Result<Self, IdentError> {
        Self::new(s)
    }
}

impl<const N: usize> PartialEq<str> for Ident<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for Ident<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> Serialize for Ident<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, const N: usize> Deserialize<'de> for Ident<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = Ident<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an identifier of 1 to {N} characters [A-Za-z0-9_-]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ident<N>, E> {
                Ident::new(v).map_err(|e| E::custom(format_args!("invalid identifier: {e}")))
            }
        }
        d.deserialize_str(V::<N>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_topic_safe_names() {
        assert_eq!(DeviceId::new("smoke-b1-0301").map(|d| d.len()), Ok(13));
    }

    #[test]
    fn rejects_topic_wildcards_and_separators() {
        for bad in ["a/b", "a+", "#", "a b", "é"] {
            assert!(matches!(
                DeviceId::new(bad),
                Err(IdentError::BadChar { .. })
            ));
        }
        assert_eq!(DeviceId::new(""), Err(IdentError::Empty));
        assert_eq!(
            FieldName::new("a_very_long_field_name_over_24"),
            Err(IdentError::TooLong { len: 30, max: 24 })
        );
    }
}
