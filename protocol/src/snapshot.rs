//! A snapshot reference: where the picture behind an event is kept. Either
//! an identifier the camera or its NVR names a frame by (`cam3-20261123-0001`,
//! the rules of [`crate::ident`], at most 64 characters), or an `http://` /
//! `https://` address of the picture (an ONVIF camera's snapshot URI, at most
//! [`SnapshotRef::MAX`] (160) characters of visible ASCII, none of `"<>\^`{|}`).
//! Anything else is refused while deserializing, so `../etc/passwd` or a
//! string with quotes or spaces never gets in.

use core::fmt;
use core::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::ident::{self, Ident, IdentError};

/// Longest reference, in bytes: room for cameras' snapshot URIs (Dahua's
/// and Axis's run to about 80) without making every event on a node much
/// larger (an event is held inline in a node's outbox).
const MAX_LEN: usize = 160;

/// A frame identifier or a picture's HTTP(S) address.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotRef(heapless::String<MAX_LEN>);

impl SnapshotRef {
    /// Longest reference, in bytes.
    pub const MAX: usize = MAX_LEN;
    /// Longest identifier-style reference, in bytes.
    pub const MAX_ID: usize = 64;

    /// Checks `s` and copies it into a reference.
    ///
    /// # Errors
    /// [`IdentError`] when `s` is empty, too long, or has a character its
    /// form does not allow.
    pub fn new(s: &str) -> Result<Self, IdentError> {
        if is_url(s) {
            check_url(s)?;
        } else {
            ident::check(s, Self::MAX_ID)?;
        }
        let mut out = heapless::String::new();
        // Length was checked above, so this cannot fail.
        out.push_str(s).map_err(|()| IdentError::TooLong {
            len: s.len(),
            max: Self::MAX,
        })?;
        Ok(Self(out))
    }

    /// The reference as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether it is an HTTP(S) address rather than a frame identifier.
    pub fn is_url(&self) -> bool {
        is_url(self.as_str())
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn check_url(s: &str) -> Result<(), IdentError> {
    if s.len() > SnapshotRef::MAX {
        return Err(IdentError::TooLong {
            len: s.len(),
            max: SnapshotRef::MAX,
        });
    }
    let bad = |c: char| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(c);
    match s.char_indices().find(|(_, c)| bad(*c)) {
        Some((at, ch)) => Err(IdentError::BadChar { ch, at }),
        None => Ok(()),
    }
}

impl<const N: usize> From<Ident<N>> for SnapshotRef {
    fn from(id: Ident<N>) -> Self {
        // An identifier of any capacity up to MAX fits and passes the rules.
        let mut out = heapless::String::new();
        let _ = out.push_str(&id.as_str()[..id.len().min(Self::MAX)]);
        Self(out)
    }
}

impl Deref for SnapshotRef {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for SnapshotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SnapshotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SnapshotRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SnapshotRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SnapshotRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a frame identifier [A-Za-z0-9_-] or an http(s) address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SnapshotRef, E> {
                SnapshotRef::new(v)
                    .map_err(|e| E::custom(format_args!("invalid snapshot reference: {e}")))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ids_and_http_addresses_are_references() {
        assert!(SnapshotRef::new("cam3-20261123-0001").is_ok());
        let url = SnapshotRef::new("http://10.0.0.5/onvif/snapshot?profile=Profile_1&x=%20")
            .expect("url");
        assert!(url.is_url());
        assert!(SnapshotRef::new("https://nvr.example/snap/1.jpg").is_ok());
    }

    #[test]
    fn paths_quotes_spaces_and_long_strings_are_refused() {
        for bad in [
            "../etc/passwd",
            "",
            "file:///etc/passwd",
            "http://a b",
            "http://a\"b",
            "http://a<script>",
            "http://a\nb",
        ] {
            assert!(SnapshotRef::new(bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(65);
        assert!(SnapshotRef::new(&long).is_err());
        let long_url = format!("http://{}", "a".repeat(154));
        assert!(matches!(
            SnapshotRef::new(&long_url),
            Err(IdentError::TooLong { max: 160, .. })
        ));
    }
}
